"""Typed hand observations: what the tracker reports per frame (NumPy only).

Why our own types over MediaPipe's: landmarks in pixels (not normalised to
whatever crop was fed to the model), world landmarks as arrays, and a
record of which detection path found the hand, so every later layer works
in image pixels and never imports MediaPipe.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vision import hand_geometry as hg

PATH_FULL = "full"  # the whole frame
PATH_ROI = "roi"  # an upscaled crop around the previous hands or the caller's region
PATH_TILE = "tile"  # a zoomed tile of a search over the frame
PATH_NONE = "none"


@dataclass(frozen=True, eq=False)
class HandObservation:
    """One hand in one frame.

    ``landmarks_px``: (21, 3) x_px, y_px and MediaPipe's relative depth z,
    scaled like x (pixels; smaller = nearer the camera; origin at the wrist).
    ``world_landmarks_m``: (21, 3) metres, origin near the hand's centre.
    ``handedness``: "Left"/"Right" as MediaPipe reports it; ``score`` its confidence.
    """

    landmarks_px: np.ndarray
    world_landmarks_m: np.ndarray
    handedness: str
    score: float
    path: str = PATH_FULL

    @property
    def palm_centre_px(self) -> np.ndarray:
        return hg.palm_centre(self.landmarks_px[:, :2])

    @property
    def heel_px(self) -> np.ndarray:
        return hg.heel_point(self.landmarks_px[:, :2])

    @property
    def palm_size_px(self) -> float:
        return float(hg.palm_size(self.landmarks_px))

    @property
    def px_per_m(self) -> float:
        """Image scale at this hand from its world landmarks (see ``hand_geometry.px_per_m``)."""
        return float(hg.px_per_m(self.landmarks_px, self.world_landmarks_m))

    def to_dict(self) -> dict[str, Any]:
        return {
            "handedness": self.handedness,
            "score": float(self.score),
            "path": self.path,
            "landmarks_px": np.round(self.landmarks_px, 2).tolist(),
            "world_landmarks_m": np.round(self.world_landmarks_m, 5).tolist(),
        }


@dataclass(frozen=True, eq=False)
class HandTrackingResult:
    """All hands of one frame (up to ``num_hands``), in the frame's pixel coordinates."""

    t_ms: int
    hands: list[HandObservation] = field(default_factory=list)
    image_size_wh: tuple[int, int] = (0, 0)
    path: str = PATH_NONE  # the detection path that produced ``hands``
    roi_px: tuple[int, int, int, int] | None = None  # crop used by the roi/tile path

    @property
    def n_hands(self) -> int:
        return len(self.hands)

    def landmarks_px(self) -> np.ndarray:
        """(n, 21, 3) image landmarks of all hands."""
        return np.stack([h.landmarks_px for h in self.hands]) if self.hands else np.zeros((0, 21, 3))

    def world_landmarks_m(self) -> np.ndarray:
        """(n, 21, 3) world landmarks of all hands."""
        return np.stack([h.world_landmarks_m for h in self.hands]) if self.hands else np.zeros((0, 21, 3))

    def to_dict(self) -> dict[str, Any]:
        return {
            "t_ms": int(self.t_ms),
            "image_size_wh": list(self.image_size_wh),
            "path": self.path,
            "roi_px": list(self.roi_px) if self.roi_px else None,
            "hands": [h.to_dict() for h in self.hands],
        }
