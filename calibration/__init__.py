"""Camera and manikin geometry: pixels -> millimetres on the manikin (NumPy + OpenCV only).

Takes points in pixels; never imports vision, coach or overlays. The pieces:

- :mod:`calibration.camera`: intrinsics from ``--hfov`` or from board images;
- :mod:`calibration.markers`: ArUco detection and IPPE_SQUARE marker pose;
- :mod:`calibration.manikin`: the manikin frame from many frames of the marker (and an anchor);
- :mod:`calibration.height`: compression point -> hand height and body-axis position;
- :mod:`calibration.rest`: the resting-hand baseline;
- :mod:`calibration.handscale`: the no-marker fallback from the hand's own size;
- :mod:`calibration.store`: the versioned calibration JSON;
- :mod:`calibration.marker_sheet`: the true-scale printable marker (PDF).
"""
from calibration.camera import CameraCalibrationError, CameraIntrinsics, ChessboardPattern, CharucoPattern, calibrate_camera
from calibration.geometry import Pose, ViewAngles, view_angles
from calibration.height import AnchorTracker, HandPosition, HeightEstimator
from calibration.manikin import (
    AnchorCalibration,
    CalibrationError,
    DegenerateViewError,
    ManikinCalibration,
    ManikinCalibrationOptions,
    ManikinCalibrator,
    MarkerSpec,
    chest_roi_px,
)
from calibration.rest import RestDetector, RestEstimate, RestOptions
from calibration.store import CalibrationFileError, StationCalibration, load_calibration, save_calibration

__all__ = [
    "AnchorCalibration",
    "AnchorTracker",
    "CalibrationError",
    "CalibrationFileError",
    "CameraCalibrationError",
    "CameraIntrinsics",
    "ChessboardPattern",
    "CharucoPattern",
    "DegenerateViewError",
    "HandPosition",
    "HeightEstimator",
    "ManikinCalibration",
    "ManikinCalibrationOptions",
    "ManikinCalibrator",
    "MarkerSpec",
    "Pose",
    "RestDetector",
    "RestEstimate",
    "RestOptions",
    "StationCalibration",
    "ViewAngles",
    "calibrate_camera",
    "chest_roi_px",
    "load_calibration",
    "save_calibration",
    "view_angles",
]
