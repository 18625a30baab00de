"""Registry data, cache paths, deterministic bundles, and the real cached model."""
from __future__ import annotations

import hashlib
import struct
import zipfile
from pathlib import Path

import pytest

from models import cache_status, get_spec, load_registry
from models.bundle import build_bundle_bytes, read_members
from models.integrity import sha256_file
from models.paths import default_cache_dir
from models.wheel import pip_download_command


def test_registry_pins_every_source():
    reg = load_registry()
    full = reg["hand_landmarker"]
    assert [s.kind for s in full.sources] == ["url", "wheel"]  # official first, then the wheel build
    assert "storage.googleapis.com/mediapipe-models/hand_landmarker" in full.sources[0].url
    assert full.sources[0].sha256 == "fbc2a30080c3c557093b5ddfc334698132eb341044ccee322ccf8bcf3607cde1"
    for spec in reg.values():
        assert spec.licence == "Apache-2.0"
        for s in spec.sources:
            assert len(s.sha256) == 64
            for m in s.members:
                assert len(m.sha256) == 64
    assert get_spec("hand_landmarker", variant="lite").name == "hand_landmarker_lite"
    with pytest.raises(Exception, match="unknown model"):
        get_spec("nope")


def test_pip_command_names_no_index_host():
    src = get_spec("hand_landmarker").sources[1]
    cmd = pip_download_command(src, Path("/tmp/x"))
    assert cmd[1:4] == ["-m", "pip", "download"]
    assert "--no-deps" in cmd and "mediapipe==0.10.21" in cmd
    assert not any("://" in c or "pypi" in c.lower() for c in cmd)


def test_cache_dir_env_and_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("CPR_COACH_MODELS", str(tmp_path / "m"))
    assert default_cache_dir() == tmp_path / "m"
    monkeypatch.delenv("CPR_COACH_MODELS")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    import sys

    if sys.platform.startswith("linux"):
        assert default_cache_dir() == tmp_path / "xdg" / "cpr-coach" / "models"


def test_bundle_is_deterministic_stored_and_aligned():
    members = [("hand_detector.tflite", b"a" * 1001), ("hand_landmarks_detector.tflite", b"bc" * 777)]
    one, two = build_bundle_bytes(members), build_bundle_bytes(list(members))
    assert one == two
    import io

    with zipfile.ZipFile(io.BytesIO(one)) as z:
        assert z.testzip() is None
        infos = z.infolist()
        assert [i.filename for i in infos] == [m[0] for m in members]
        for info, (_, data) in zip(infos, members):
            assert info.compress_type == zipfile.ZIP_STORED and info.date_time == (1980, 1, 1, 0, 0, 0)
            name_len, extra_len = struct.unpack("<HH", one[info.header_offset + 26 : info.header_offset + 30])
            start = info.header_offset + 30 + name_len + extra_len
            assert start % 4 == 0  # mmap-friendly, like MediaPipe's own bundler
            assert one[start : start + len(data)] == data


def test_real_cached_model_verifies_and_rebuilds_to_its_pin(hand_model_path):
    st = cache_status("hand_landmarker", hand_model_path.parent)
    assert st.ok, st
    assert sha256_file(hand_model_path) == st.sha256
    wheel_src = get_spec("hand_landmarker").sources[1]
    members = read_members(hand_model_path, [m.name for m in wheel_src.members])
    for m in wheel_src.members:
        assert hashlib.sha256(members[m.name]).hexdigest() == m.sha256
    if st.source is wheel_src:  # built here: our builder must reproduce the pinned bytes exactly
        rebuilt = build_bundle_bytes([(m.name, members[m.name]) for m in wheel_src.members])
        assert hashlib.sha256(rebuilt).hexdigest() == wheel_src.sha256
