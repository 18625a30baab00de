"""Calibration files: round trip, and one clear line for missing, garbled or wrong-version files."""
from __future__ import annotations

import json

import numpy as np
import pytest

from calibration.camera import CameraIntrinsics
from calibration.geometry import camera_from_angles, view_angles
from calibration.manikin import AnchorCalibration, ManikinCalibration, MarkerSpec
from calibration.store import FORMAT, VERSION, CalibrationFileError, StationCalibration, load_calibration, save_calibration


def _station(anchor: bool = True) -> StationCalibration:
    pose = camera_from_angles(30.0, 10.0, 900.0)
    anc = None
    if anchor:
        anc = AnchorCalibration(MarkerSpec(marker_id=1, size_mm=150.0), camera_from_angles(80.0, 5.0, 400.0), 40, 0.8)
    man = ManikinCalibration(MarkerSpec(), pose, 0.05, view_angles(pose), 0.85, 0.9, 74.0, 58, 2, anc, ("a warning",))
    cam = CameraIntrinsics(1280, 720, 1100.0, 1101.0, 641.0, 359.0, (-0.1, 0.02, 0.0, 0.0, 0.0), "chessboard", 0.2, 12)
    return StationCalibration(cam, man, note="station 3")


def test_round_trip(tmp_path):
    st = _station()
    p = save_calibration(st, tmp_path / "station.json")
    back = load_calibration(p)
    assert back.camera == st.camera
    np.testing.assert_allclose(back.manikin.cam_from_manikin.as_matrix(), st.manikin.cam_from_manikin.as_matrix(), atol=1e-12)
    assert back.manikin.view.elevation_deg == pytest.approx(30.0)
    assert back.manikin.marker == MarkerSpec()
    assert back.manikin.anchor.marker.size_mm == 150.0
    np.testing.assert_allclose(back.manikin.anchor.anchor_from_manikin.as_matrix(),
                               st.manikin.anchor.anchor_from_manikin.as_matrix(), atol=1e-12)
    assert back.manikin.warnings == ("a warning",)
    assert back.note == "station 3"
    raw = json.loads(p.read_text())
    assert raw["format"] == FORMAT and raw["version"] == VERSION
    assert not (tmp_path / "station.json.tmp").exists()  # written atomically


def test_camera_only_file(tmp_path):
    st = StationCalibration(CameraIntrinsics.from_hfov(70.0, 640, 480))
    back = load_calibration(save_calibration(st, tmp_path / "cam.json"))
    assert back.manikin is None
    assert back.camera.hfov_deg == pytest.approx(70.0)


def _write(tmp_path, obj, name="bad.json"):
    p = tmp_path / name
    p.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return p


def _good(tmp_path):
    return json.loads(save_calibration(_station(), tmp_path / "good.json").read_text())


@pytest.mark.parametrize(
    "mutate,match",
    [
        (lambda d: "{ not json", r"not valid JSON \(line 1, column 3\)"),
        (lambda d: "", "is empty"),
        (lambda d: [1, 2], "not a cpr-coach calibration file"),
        (lambda d: {**d, "format": "something-else"}, "not a cpr-coach calibration file"),
        (lambda d: {**d, "version": 2}, "version 2, this cpr-coach reads version 1 \\(a newer format\\)"),
        (lambda d: {**d, "version": 0}, "an older format"),
        (lambda d: {**d, "version": "1"}, "'version' must be an integer"),
        (lambda d: {k: v for k, v in d.items() if k != "camera"}, "field 'camera' is missing"),
        (lambda d: {**d, "camera": {**d["camera"], "fx_px": -5}}, "field 'camera' is invalid: .*positive"),
        (lambda d: {**d, "camera": {k: v for k, v in d["camera"].items() if k != "cy_px"}}, "missing field 'cy_px'"),
        (lambda d: {**d, "camera": {**d["camera"], "dist": [0.1, 0.2, 0.3]}}, "'dist' must have"),
        (lambda d: {**d, "camera": {**d["camera"], "cx_px": float("nan")}}, "must be finite numbers"),
        (lambda d: {**d, "manikin": 7}, "'manikin' must be an object or null"),
        (lambda d: {**d, "manikin": {**d["manikin"], "cam_from_manikin": {"rotation": [[1, 0], [0, 1]],
                                                                          "translation_mm": [0, 0, 0]}}},
         "3x3 'rotation'"),
        (lambda d: {**d, "manikin": {**d["manikin"], "cam_from_manikin": {"rotation": [[2, 0, 0], [0, 1, 0], [0, 0, 1]],
                                                                          "translation_mm": [0, 0, 0]}}},
         "not a rotation matrix"),
        (lambda d: {**d, "manikin": {**d["manikin"], "marker": {"dictionary": "DICT_4X4_50", "id": 0, "size_mm": 0}}},
         "size_mm must be positive"),
        (lambda d: {**d, "manikin": {**d["manikin"], "anchor": {**d["manikin"]["anchor"], "marker": {
            "dictionary": "DICT_9X9_7", "id": 1, "size_mm": 150}}}},
         "unknown ArUco dictionary 'DICT_9X9_7'"),
    ],
    ids=["garbled", "empty", "list", "format", "newer", "older", "version-type", "no-camera", "neg-focal",
         "missing-field", "dist", "nan-centre", "manikin-type", "rot-shape", "not-rotation", "marker-size", "anchor-dictionary"],
)
def test_bad_files_give_one_clear_line(tmp_path, mutate, match):
    p = _write(tmp_path, mutate(_good(tmp_path)))
    with pytest.raises(CalibrationFileError, match=match) as ei:
        load_calibration(p)
    msg = str(ei.value)
    assert "\n" not in msg
    assert str(p) in msg or "bad.json" in msg


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(CalibrationFileError, match=r"nope\.json not found.*calibrate manikin"):
        load_calibration(tmp_path / "nope.json")
    with pytest.raises(CalibrationFileError, match="is a folder"):
        load_calibration(tmp_path)


def test_unwritable_destination(tmp_path):
    with pytest.raises(CalibrationFileError, match="does not exist"):
        save_calibration(_station(), tmp_path / "no" / "such" / "dir.json")
