"""Rescuer pose: MediaPipe ``PoseLandmarker`` (VIDEO mode) -> shoulders, elbows, wrists.

Why a wrapper: the posture coach needs six joints, in frame pixels for drawing
and in metric world coordinates (metres, camera-aligned axes, origin between
the hips) for angles, each with its visibility. Timestamps are made strictly
increasing, as VIDEO mode requires. The model comes from
``models.ensure_model("pose_landmarker")`` (built from the mediapipe 0.10.21
wheel, verified) unless a ``model_path`` is given.

Usage::

    with PoseTracker.create_from_options() as pose:
        arms = pose.process(frame_bgr, t_ms)   # ArmLandmarks, or None when nobody is found
        arms.world_m[RIGHT, ELBOW], arms.visibility
"""
from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models import check_model_file, ensure_model
from models.errors import ModelError
from vision.tracker import _close_all, _to_rgb

# MediaPipe pose landmark indices: (shoulder, elbow, wrist) of the person's left and right arm.
ARM_LANDMARKS: tuple[tuple[int, int, int], tuple[int, int, int]] = ((11, 13, 15), (12, 14, 16))
HIP_LANDMARKS = (23, 24)
POSE_MEMBERS = ("pose_detector.tflite", "pose_landmarks_detector.tflite")


@dataclass(frozen=True)
class PoseTrackerOptions:
    """Options of ``PoseTracker`` (MediaPipe's own option names)."""

    model_path: str | Path | None = None  # None: the cached, verified registry model
    cache_dir: str | Path | None = None
    fetch: bool = True  # fetch the model on first use when it is not cached
    running_mode: str = "video"  # "video" (tracking between frames) or "image"
    min_pose_detection_confidence: float = 0.3  # lower than MediaPipe's 0.5: a kneeling rescuer is often cut off
    min_pose_presence_confidence: float = 0.5
    min_tracking_confidence: float = 0.5


@dataclass(frozen=True)
class ArmLandmarks:
    """Both arms of one person in one frame. Index [arm, joint]: arm 0 left, 1 right; joint 0 shoulder, 1 elbow, 2 wrist."""

    t_ms: int
    image_px: np.ndarray  # (2, 3, 2) frame pixels
    world_m: np.ndarray  # (2, 3, 3) metres, camera-aligned axes, origin between the hips
    visibility: np.ndarray  # (2, 3) in [0, 1]
    size_wh: tuple[int, int]  # frame size the pixels refer to

    def to_dict(self) -> dict:
        """Image-space arm lines for the protocol: [[x, y], ...] per arm (shoulder, elbow, wrist)."""
        return {
            "arms_px": [[[round(float(v), 1) for v in p] for p in arm] for arm in self.image_px],
            "visibility": [[round(float(v), 2) for v in arm] for arm in self.visibility],
            "size_px": [int(self.size_wh[0]), int(self.size_wh[1])],
        }


def arms_from_result(result, size_wh: tuple[int, int], t_ms: int) -> ArmLandmarks | None:
    """The first person's arms from a MediaPipe ``PoseLandmarkerResult`` (None when no pose)."""
    if not result.pose_landmarks:
        return None
    lms = result.pose_landmarks[0]
    world = result.pose_world_landmarks[0] if result.pose_world_landmarks else None
    w, h = size_wh
    px = np.array([[(lms[i].x * w, lms[i].y * h) for i in arm] for arm in ARM_LANDMARKS], dtype=np.float64)
    vis = np.array([[float(lms[i].visibility or 0.0) for i in arm] for arm in ARM_LANDMARKS], dtype=np.float64)
    if world is not None:
        wm = np.array([[(world[i].x, world[i].y, world[i].z) for i in arm] for arm in ARM_LANDMARKS], dtype=np.float64)
    else:
        wm = np.full((2, 3, 3), np.nan)
    return ArmLandmarks(int(t_ms), px, wm, vis, (int(w), int(h)))


class PoseTracker:
    """Typed pose tracking over BGR frames. Not thread-safe across threads: one caller (the posture worker)."""

    def __init__(self, options: PoseTrackerOptions, model_path: Path) -> None:
        if options.running_mode not in ("video", "image"):
            raise ValueError(f"running_mode must be 'video' or 'image', not {options.running_mode!r}")
        self.options = options
        self.model_path = model_path
        self._open: list = []
        self._finalizer = weakref.finalize(self, _close_all, self._open)
        self._lock = threading.Lock()
        self._last_ts = -1
        self._lm = self._make()

    @classmethod
    def create_from_options(cls, options: PoseTrackerOptions | None = None) -> "PoseTracker":
        """Resolve the model (``model_path`` or the verified cache) and build the landmarker.

        Raises ``models.ModelError`` (one line) when no usable model is available.
        """
        options = options or PoseTrackerOptions()
        return cls(options, resolve_pose_model(options))

    def _make(self):
        from mediapipe.tasks.python import BaseOptions, vision

        o = self.options
        try:
            lm = vision.PoseLandmarker.create_from_options(
                vision.PoseLandmarkerOptions(
                    base_options=BaseOptions(model_asset_path=str(self.model_path)),
                    running_mode=vision.RunningMode.VIDEO if o.running_mode == "video" else vision.RunningMode.IMAGE,
                    num_poses=1,
                    min_pose_detection_confidence=o.min_pose_detection_confidence,
                    min_pose_presence_confidence=o.min_pose_presence_confidence,
                    min_tracking_confidence=o.min_tracking_confidence,
                    output_segmentation_masks=False,
                )
            )
        except (RuntimeError, ValueError, OSError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"MediaPipe cannot load the pose model {self.model_path}: {first}") from None
        self._open.append(lm)
        return lm

    def process(self, image_bgr: np.ndarray, t_ms: int | None = None) -> ArmLandmarks | None:
        """Arms of the (single) rescuer in a BGR frame, or None when no pose is found."""
        import mediapipe as mp

        with self._lock:
            t = self._last_ts + 1 if t_ms is None else int(t_ms)
            t = max(t, self._last_ts + 1)  # VIDEO mode needs strictly increasing timestamps
            self._last_ts = t
            h, w = image_bgr.shape[:2]
            image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(_to_rgb(image_bgr)))
            if self.options.running_mode == "video":
                result = self._lm.detect_for_video(image, t)
            else:
                result = self._lm.detect(image)
        return arms_from_result(result, (w, h), t)

    def close(self) -> None:
        with self._lock:
            _close_all(self._open)

    def __enter__(self) -> "PoseTracker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def resolve_pose_model(options: PoseTrackerOptions) -> Path:
    """The checked pose bundle: ``options.model_path``, else the cache (fetched when allowed). ``ModelError``."""
    if options.model_path is not None:
        return Path(check_model_file(options.model_path, members=POSE_MEMBERS))
    return Path(ensure_model("pose_landmarker", cache_dir=options.cache_dir, fetch=options.fetch))
