"""Video files: every frame, in order, with timestamps from PTS or index/fps.

Why validate up front: a missing, empty or non-video file must fail at
open with a one-line error naming the file, not as a silent zero-frame run
(OpenCV happily "opens" nothing and reads nothing). A file that ends early
(a truncated recording) is detected by comparing decoded frames with the
container's frame count: the good frames are yielded first, so nothing
already decoded is lost, then the error is raised (or only warned).
"""
from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

import cv2
import numpy as np

from vision.source_base import DEFAULT_FPS, Frame, FrameSource, SourceError, SourceOptions, SourceState

# Containers often report an estimated frame count; only a clear shortfall counts as truncation.
TRUNCATION_TOLERANCE = 0.05


def check_video_path(path: Path) -> None:
    """Raise ``SourceError`` naming ``path`` if it cannot possibly be a video."""
    if not path.exists():
        raise SourceError(f"video file {path} does not exist")
    if path.is_dir():
        raise SourceError(f"{path} is a folder, not a video file")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise SourceError(f"video file {path} cannot be read ({exc.strerror})") from None
    if size == 0:
        raise SourceError(f"video file {path} is empty (0 bytes)")
    if not os.access(path, os.R_OK):
        raise SourceError(f"video file {path} is not readable (permissions)")


MIN_VIDEO_SIDE_PX = 32  # smaller frames hold no trackable hand (a 1x1 clip is a broken export)


class VideoFileSource(FrameSource):
    """Decode a video file with OpenCV (FFmpeg backend)."""

    kind = "file"
    is_live = False

    def __init__(self, path: str | os.PathLike[str], options: SourceOptions | None = None) -> None:
        self.options = options or SourceOptions()
        if self.options.timestamps not in ("auto", "pts", "index"):
            raise ValueError(f"timestamps must be auto, pts or index, not {self.options.timestamps!r}")
        self.path = Path(path)
        self.name = str(self.path)
        check_video_path(self.path)
        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"{self.path} cannot be opened as a video (not a video file, or truncated/corrupt)")
        self._cap = cap
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self._fps = float(self.options.fps) if self.options.fps else (fps if math.isfinite(fps) and fps > 0 else DEFAULT_FPS)
        n = cap.get(cv2.CAP_PROP_FRAME_COUNT)
        self.frames_expected: int | None = int(n) if math.isfinite(n) and n > 0 else None
        self._index = 0
        self._last_t = -1
        self._pts0: float | None = None
        self._use_pts = self.options.timestamps != "index"
        self._state = SourceState.LIVE
        self.truncated = False
        # Decode the first frame now: "opens but yields nothing" is an open-time error.
        self._pending = self._read()
        if self._pending is None:
            self.close()
            raise SourceError(f"{self.path} contains no decodable video frames (truncated or corrupt?)")
        h, w = self._pending.image.shape[:2]
        self._size = (int(w), int(h))
        if w < MIN_VIDEO_SIDE_PX or h < MIN_VIDEO_SIDE_PX:  # nothing a hand tracker can use (OpenCV would assert)
            self.close()
            raise SourceError(f"{self.path} is {w}x{h} pixels; a video must be at least "
                              f"{MIN_VIDEO_SIDE_PX}x{MIN_VIDEO_SIDE_PX}")

    def _timestamp(self) -> int:
        t: int | None = None
        if self._use_pts:
            pts = self._cap.get(cv2.CAP_PROP_POS_MSEC)
            if math.isfinite(pts) and pts >= 0:
                if self._pts0 is None:
                    self._pts0 = pts
                t = int(round(pts - self._pts0))
                if t <= self._last_t and self.options.timestamps == "auto" and self._index > 0:
                    # PTS not usable (missing/duplicated): fall back to index/fps for the rest.
                    self._use_pts = False
                    t = None
        if t is None:
            t = int(round(self._index * 1000.0 / self._fps))
        if t <= self._last_t:
            t = self._last_t + 1
        self._last_t = t
        return t

    def _read(self) -> Frame | None:
        ok, img = self._cap.read()
        if not ok or img is None:
            return None
        if img.ndim == 2:
            img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
        elif img.shape[2] == 4:
            img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
        if img.dtype != np.uint8:
            img = cv2.convertScaleAbs(img, alpha=255.0 / max(float(img.max()), 1.0))
        frame = Frame(img, self._timestamp(), self._index)
        self._index += 1
        return frame

    def __next__(self) -> Frame:
        if self._state is SourceState.ENDED:
            raise StopIteration
        if self._pending is not None:
            frame, self._pending = self._pending, None
            return frame
        frame = self._read()
        if frame is not None:
            return frame
        self.close()
        exp = self.frames_expected
        if exp and self._index < exp * (1.0 - TRUNCATION_TOLERANCE) - 1:
            self.truncated = True
            msg = (
                f"{self.path} ends early: decoded {self._index} of {exp} frames "
                f"(last at {self._last_t / 1000:.2f} s); the file is truncated or corrupt"
            )
            if self.options.on_truncated == "error":
                raise SourceError(msg)
            warnings.warn(msg, RuntimeWarning, stacklevel=2)
        raise StopIteration

    @property
    def frames_read(self) -> int:
        return self._index

    def close(self) -> None:
        self._state = SourceState.ENDED
        cap = getattr(self, "_cap", None)
        if cap is not None:
            cap.release()
            self._cap = None  # type: ignore[assignment]
