"""Hostile or absurd calibration files: one line naming the file and the field, never a traceback or a wrong mm."""
from __future__ import annotations

import json

import pytest

from calibration.camera import CameraIntrinsics
from calibration.geometry import camera_from_angles, view_angles
from calibration.manikin import ManikinCalibration, MarkerSpec
from calibration.store import CalibrationFileError, StationCalibration, load_calibration, save_calibration
from coach.cli import main as cli_main


def _good(tmp_path) -> dict:
    pose = camera_from_angles(30.0, 10.0, 900.0)
    man = ManikinCalibration(MarkerSpec(), pose, 0.05, view_angles(pose), 0.85, 0.9, 74.0, 58, 2, None, ())
    cam = CameraIntrinsics(1280, 720, 1100.0, 1101.0, 641.0, 359.0, (-0.1, 0.02, 0.0, 0.0, 0.0), "chessboard", 0.2, 12)
    return json.loads(save_calibration(StationCalibration(cam, man), tmp_path / "good.json").read_text())


def _set(d: dict, path: str, value) -> dict:
    *parents, last = path.split(".")
    node = d
    for k in parents:
        node = node[k]
    node[last] = value
    return d


CASES = [  # (field path, value, what the one line must say)
    ("camera.width_px", float("inf"), "camera.width_px"),
    ("camera.views", float("inf"), "camera.views"),
    ("manikin.marker.id", float("inf"), "manikin.marker.id"),
    ("camera.fx_px", float("nan"), "camera.fx_px"),
    ("camera.width_px", "__5000_DIGITS__", "camera.width_px' holds a number longer"),
    ("camera.width_px", 10 ** 30, "camera.width_px' must be 1..100000"),
    ("camera.width_px", 10 ** 45, "camera.width_px' holds a number longer"),
    ("camera.width_px", 10 ** 12, "camera.width_px' must be 1..100000"),
    ("camera.views", -3, "camera.views' must be 0.."),
    ("manikin.marker.size_mm", 1e300, "manikin.marker.size_mm' must be 0..1000"),
    ("manikin.marker.id", 10 ** 9, "manikin.marker.id' must be a marker id"),
    ("manikin.cam_from_manikin.translation_mm", [0.0, 0.0, 0.0], "translation_mm' puts the camera 0 mm"),
    ("manikin.frames_used", 10 ** 15, "manikin.frames_used' must be 0.."),
]


@pytest.mark.parametrize("field, value, says", CASES, ids=[f"{c[0]}={str(c[1])[:12]}" for c in CASES])
def test_absurd_values_are_refused_naming_file_and_field(tmp_path, field, value, says):
    p = tmp_path / "bad.json"
    text = json.dumps(_set(_good(tmp_path), field, value))  # json writes inf as Infinity
    p.write_text(text.replace('"__5000_DIGITS__"', "9" * 5000))
    with pytest.raises(CalibrationFileError) as info:
        load_calibration(p)
    msg = str(info.value)
    assert "\n" not in msg and str(p) in msg and says in msg


def test_deep_nesting_and_huge_files_are_refused(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text('{"format": "cpr-coach/calibration", "version": 1, "camera": ' + "[" * 200_000 + "]" * 200_000 + "}")
    with pytest.raises(CalibrationFileError, match="nests deeper"):
        load_calibration(deep)
    medium = tmp_path / "medium.json"
    medium.write_text(json.dumps(_set(_good(tmp_path), "note", [[[[[[[[[[1]]]]]]]]]])))
    with pytest.raises(CalibrationFileError, match=r"'note\[0\].*' nests deeper than 8"):
        load_calibration(medium)
    huge = tmp_path / "huge.json"
    huge.write_text(json.dumps(_set(_good(tmp_path), "note", "x" * (2 << 20))))
    with pytest.raises(CalibrationFileError, match="at most"):
        load_calibration(huge)


def test_the_cli_prints_one_line(tmp_path, capsys):
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(_set(_good(tmp_path), "camera.width_px", float("inf"))))
    rc = cli_main(["analyze", str(tmp_path / "none.mp4"), "--calibration", str(p)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "Traceback" not in err[0]
