"""Regions of interest: where to look when the whole frame fails (NumPy + cv2).

Why crops help: the palm detector sees the frame shrunk to 192 px. Over a
flat, skin-coloured manikin chest the hand's edges then vanish into the
background and detection fails in every frame. Cropping about twice the
hands' size and upscaling it gives the detector the hand at several times
the resolution, which restored detection in our low-contrast test (CLAHE
did not). A crop can come from the previous frame's landmarks, from where
calibration says the chest is, or from a coarse tile search.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in px (x1, y1 exclusive)


def clip_box(box: tuple[float, float, float, float], size_wh: tuple[int, int], min_side: int = 16) -> Box | None:
    """Integer box inside the image, or None if nothing of it is left."""
    w, h = size_wh
    x0, y0, x1, y1 = box
    x0, x1 = sorted((x0, x1))
    y0, y1 = sorted((y0, y1))
    x0, y0 = max(int(np.floor(x0)), 0), max(int(np.floor(y0)), 0)
    x1, y1 = min(int(np.ceil(x1)), w), min(int(np.ceil(y1)), h)
    if x1 - x0 < min_side or y1 - y0 < min_side:
        return None
    return (x0, y0, x1, y1)


def square_around(cx: float, cy: float, side: float, size_wh: tuple[int, int]) -> Box:
    """A square of ``side`` centred on (cx, cy), shifted (not cut) to stay inside the image."""
    w, h = size_wh
    side_x = min(side, w)
    side_y = min(side, h)
    x0 = min(max(cx - side_x / 2.0, 0.0), w - side_x)
    y0 = min(max(cy - side_y / 2.0, 0.0), h - side_y)
    return (int(round(x0)), int(round(y0)), int(round(x0 + side_x)), int(round(y0 + side_y)))


def hint_box(hint: tuple[float, float, float, float] | None, size_wh: tuple[int, int], min_side: int) -> Box | None:
    """A caller's region (x0, y0, x1, y1) inside the image, tiny ones grown to ``min_side`` (a point-like
    "the chest is here"); None when there is no hint or nothing of it is inside."""
    if hint is None:
        return None
    box = clip_box(tuple(float(v) for v in hint), size_wh)
    if box is None:
        return None
    x0, y0, x1, y1 = box
    if max(x1 - x0, y1 - y0) < min_side:
        box = square_around((x0 + x1) / 2, (y0 + y1) / 2, min_side, size_wh)
    return box


def roi_from_landmarks(
    bbox: tuple[float, float, float, float], size_wh: tuple[int, int], scale: float = 2.0, min_side: int = 160
) -> Box:
    """Square crop of ``scale`` times the hands' bounding box (the "2x crop around the hands")."""
    x0, y0, x1, y1 = bbox
    side = max(max(x1 - x0, y1 - y0) * scale, float(min_side))
    return square_around((x0 + x1) / 2.0, (y0 + y1) / 2.0, side, size_wh)


def keeps_roi(current: Box, bbox: tuple[float, float, float, float], scale: float, margin: float = 0.1) -> bool:
    """Hysteresis: keep the current crop while the hands stay well inside it at a similar size.

    Why: the ROI landmarker runs in VIDEO mode and tracks in crop
    coordinates; a crop that follows every jitter would break its tracking.
    """
    cx0, cy0, cx1, cy1 = current
    side = max(cx1 - cx0, cy1 - cy0)
    m = margin * side
    x0, y0, x1, y1 = bbox
    inside = x0 >= cx0 + m and y0 >= cy0 + m and x1 <= cx1 - m and y1 <= cy1 - m
    want = max(x1 - x0, y1 - y0) * scale
    return inside and 0.75 * side <= want <= 1.33 * side


def tile_boxes(size_wh: tuple[int, int], grid: int = 3) -> list[Box]:
    """Overlapping tiles of half the frame each, centre tile first (the chest is usually central)."""
    w, h = size_wh
    tw, th = w / 2.0, h / 2.0
    boxes = []
    for j in range(grid):
        for i in range(grid):
            x0 = (w - tw) * i / max(grid - 1, 1)
            y0 = (h - th) * j / max(grid - 1, 1)
            boxes.append((int(round(x0)), int(round(y0)), int(round(x0 + tw)), int(round(y0 + th))))
    centre = len(boxes) // 2
    return [boxes[centre]] + boxes[:centre] + boxes[centre + 1 :]


@dataclass(frozen=True)
class Crop:
    """A crop fed to the detector and how to map its normalised landmarks back to frame pixels."""

    box: Box
    image: np.ndarray  # the (upscaled) crop, RGB or BGR as given

    def to_frame_px(self, norm_xyz: np.ndarray) -> np.ndarray:
        """(21, 3) normalised crop coordinates -> frame pixels (z scaled like x, in frame px)."""
        x0, y0, x1, y1 = self.box
        cw, ch = x1 - x0, y1 - y0
        out = np.empty_like(norm_xyz, dtype=float)
        out[:, 0] = x0 + norm_xyz[:, 0] * cw
        out[:, 1] = y0 + norm_xyz[:, 1] * ch
        out[:, 2] = norm_xyz[:, 2] * cw
        return out


def make_crop(image: np.ndarray, box: Box, upscale: float = 2.0, max_side_px: int = 1024) -> Crop:
    """Cut ``box`` out of ``image`` and upscale it (capped at ``max_side_px``)."""
    x0, y0, x1, y1 = box
    sub = image[y0:y1, x0:x1]
    side = max(x1 - x0, y1 - y0)
    s = min(upscale, max_side_px / max(side, 1))
    if s > 1.01:
        sub = cv2.resize(sub, (int(round((x1 - x0) * s)), int(round((y1 - y0) * s))), interpolation=cv2.INTER_LINEAR)
    return Crop(box, np.ascontiguousarray(sub))
