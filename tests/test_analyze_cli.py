"""``cpr-coach analyze``: bad input gives one clear line; the progress bar; a short real run."""
from __future__ import annotations

import io
import json

import pytest

from calibration.camera import CameraIntrinsics
from calibration.store import StationCalibration, save_calibration
from coach.cli import main
from coach.cli.analyze import FrameProgress


def _err(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("cpr-coach: error:"), err
    assert "\n" not in err and "Traceback" not in err
    return err


@pytest.fixture
def video(hands_dir):
    return hands_dir / "one_hand_640x360.mp4"


def test_needs_a_calibration_or_hfov(capsys, video):
    assert main(["analyze", str(video)]) == 2
    assert "--calibration station.json" in _err(capsys)


@pytest.mark.parametrize(
    "content,match",
    [
        (None, "not found"),
        ("{ garbled", "not valid JSON"),
        ('{"format": "cpr-coach/calibration", "version": 9, "camera": {}}', "version 9"),
        ('{"format": "nope"}', "not a cpr-coach calibration file"),
    ],
    ids=["missing", "garbled", "wrong-version", "wrong-format"],
)
def test_bad_calibration_files(tmp_path, capsys, video, content, match):
    p = tmp_path / "station.json"
    if content is not None:
        p.write_text(content)
    assert main(["analyze", str(video), "--calibration", str(p)]) == 2
    err = _err(capsys)
    assert match in err and "station.json" in err


def test_missing_or_broken_video(tmp_path, capsys):
    cal = save_calibration(StationCalibration(CameraIntrinsics.from_hfov(60, 640, 360)), tmp_path / "cam.json")
    assert main(["analyze", str(tmp_path / "none.mp4"), "--calibration", str(cal)]) == 2
    assert "does not exist" in _err(capsys)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"this is not a video" * 100)
    assert main(["analyze", str(bad), "--hfov", "60"]) == 2
    assert "bad.mp4" in _err(capsys)


def test_resolution_of_another_aspect_is_refused(tmp_path, capsys, video):
    cal = save_calibration(StationCalibration(CameraIntrinsics.from_hfov(60, 640, 480)), tmp_path / "cam.json")
    assert main(["analyze", str(video), "--calibration", str(cal)]) == 2
    assert "calibrate at this resolution" in _err(capsys)


def test_unknown_profile_and_bad_output_folder(tmp_path, capsys, video):
    assert main(["analyze", str(video), "--hfov", "60", "--profile", "martian"]) == 2
    assert "unknown profile" in _err(capsys)
    assert main(["analyze", str(video), "--hfov", "60", "--json", str(tmp_path / "no" / "out.json")]) == 2
    assert "does not exist" in _err(capsys)
    assert main(["analyze", str(video), "--hfov", "60", "--max-frames", "0"]) == 2
    assert "--max-frames must be at least 1" in _err(capsys)


def test_progress_bar_draws_one_line():
    buf = io.StringIO()
    bar = FrameProgress("analyze x.mp4", 200, True, buf, min_interval_s=0.0)
    bar.update(50, 2.0)
    bar.update(100, 4.0)
    bar.close(200, 8.0)
    text = buf.getvalue()
    assert text.count("\r") == 3 and text.endswith("\n")
    assert "100/200 frames" in text and " 25.0 fps" in text and "100.0%" in text and "ETA    4 s" in text
    silent = io.StringIO()
    FrameProgress("x", 10, False, silent).update(5, 1.0)
    assert silent.getvalue() == ""


@pytest.mark.slow
def test_short_real_run_without_marker(tmp_path, capsys, video, hand_model_path):
    """A real clip (a hand moving, no CPR) through the whole path, with the progress bar forced on."""
    out = tmp_path / "out.json"
    rc = main(["analyze", str(video), "--hfov", "65", "--json", str(out), "--max-frames", "40", "--progress",
               "--model", str(hand_model_path)])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    assert "\r" in cap.err and "40/40 frames" in cap.err
    doc = json.loads(out.read_text())
    assert doc["samples"] == 40 and len(doc["trace"]["t_s"]) == 40
    assert doc["calibration"]["mode"] == "hand-size"
    assert doc["source"]["frames_with_hands"] >= 30
    assert {"summary", "compressions", "pauses", "sets", "trace", "warnings"} <= set(doc)


def test_model_mediapipe_cannot_load_is_one_line(tmp_path, capsys, video):
    import zipfile

    bad = tmp_path / "bad.task"
    with zipfile.ZipFile(bad, "w") as zf:  # the right members, but not TFLite models
        zf.writestr("hand_detector.tflite", b"x" * 64)
        zf.writestr("hand_landmarks_detector.tflite", b"y" * 64)
    assert main(["analyze", str(video), "--hfov", "60", "--model", str(bad), "--max-frames", "3"]) == 2
    assert "bad.task" in _err(capsys)


def test_truncated_video_keeps_the_frames_it_has(tmp_path, capsys, hand_model_path):
    import cv2
    import numpy as np

    full = tmp_path / "full.avi"
    w = cv2.VideoWriter(str(full), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (160, 120))
    rng = np.random.default_rng(0)
    for _ in range(40):
        w.write(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8))
    w.release()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])  # a recording that stopped half-way
    out = tmp_path / "out.json"
    rc = main(["analyze", str(cut), "--hfov", "60", "--json", str(out), "--model", str(hand_model_path)])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    doc = json.loads(out.read_text())
    assert 5 <= doc["samples"] < 40
    assert any("cut.avi ends early" in w for w in doc["warnings"])
    assert "cut.avi ends early" in cap.err


def test_a_folder_of_frames_is_analysed(tmp_path, capsys, hands_dir, hand_model_path):
    import shutil

    for i in range(3):
        shutil.copy(hands_dir / "thumbs_up.jpg", tmp_path / f"frame{i}.jpg")
    out = tmp_path / "out.json"
    rc = main(["analyze", str(tmp_path), "--hfov", "60", "--json", str(out), "--model", str(hand_model_path)])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    doc = json.loads(out.read_text())
    assert doc["samples"] == 3 and doc["source"]["size_wh"] == [640, 427]
