"""Rotated hand regions in pixels: palm -> hand ROI, landmarks -> next ROI, crops and their inverse.

Why in pixels: MediaPipe keeps rectangles normalised to the image and
corrects for the aspect ratio at every step; the same arithmetic in pixels
is shorter and equal (every rectangle here is square in pixels). Each
function names the MediaPipe calculator whose result it reproduces, so the
ONNX backend's ROIs match the MediaPipe graph's:

* ``rect_from_palm``: DetectionsToRects (rotation from palm keypoints 0 -> 2,
  target 90 deg) + RectTransformation (scale 2.6, shift_y -0.5, square_long);
* ``rect_from_landmarks``: HandLandmarksToRect (on MediaPipe's 12-landmark subset) + RectTransformation
  (scale 2.0, shift_y -0.1, square_long), the ROI tracked into the next frame;
* ``crop``: ImageToTensor's rotated crop (cv2.boxPoints -> warpPerspective);
* ``project``: LandmarkProjection (crop-normalised -> frame pixels).

Example::

    r = rect_from_palm(box_px, keypoints_px)
    patch = crop(image, r, 224)                    # (224, 224, 3) uint8
    lms_px = project(model_xyz / 224.0, r)          # (21, 3) frame pixels
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

PALM_SCALE = 2.6  # hand ROI = palm box x this (hand_detector_graph.cc)
PALM_SHIFT_Y = -0.5  # ... moved towards the fingers by half its height
TRACK_SCALE = 2.0  # next frame's ROI = landmarks' box x this (hand_landmarks_detector_graph.cc)
TRACK_SHIFT_Y = -0.1


@dataclass(frozen=True)
class RotatedRect:
    """A rectangle in frame pixels, rotated by ``rotation_rad`` about its centre (image y down)."""

    cx_px: float
    cy_px: float
    w_px: float
    h_px: float
    rotation_rad: float

    def aabb(self) -> np.ndarray:
        """(xmin, ymin, xmax, ymax) of the unrotated rectangle (MediaPipe's overlap tests ignore rotation)."""
        return np.array([self.cx_px - self.w_px / 2, self.cy_px - self.h_px / 2,
                         self.cx_px + self.w_px / 2, self.cy_px + self.h_px / 2], np.float64)


def normalize_radians(angle: float) -> float:
    """Angle in [-pi, pi)."""
    return angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))


def _rotation(x0: float, y0: float, x1: float, y1: float) -> float:
    """Rotation that makes the vector (x0, y0) -> (x1, y1) point up in the crop."""
    return normalize_radians(math.pi / 2 - math.atan2(-(y1 - y0), x1 - x0))


def transform(r: RotatedRect, scale: float, shift_y: float, shift_x: float = 0.0) -> RotatedRect:
    """RectTransformation with square_long: shift in the rectangle's own axes, square, scale."""
    cx, cy = r.cx_px, r.cy_px
    if r.rotation_rad == 0.0:
        cx += r.w_px * shift_x
        cy += r.h_px * shift_y
    else:
        c, s = math.cos(r.rotation_rad), math.sin(r.rotation_rad)
        cx += r.w_px * shift_x * c - r.h_px * shift_y * s
        cy += r.w_px * shift_x * s + r.h_px * shift_y * c
    side = max(r.w_px, r.h_px)
    return RotatedRect(cx, cy, side * scale, side * scale, r.rotation_rad)


def rect_from_palm(box_px: np.ndarray, keypoints_px: np.ndarray) -> RotatedRect:
    """Hand ROI from a palm box (xmin, ymin, xmax, ymax) and its 7 keypoints (wrist 0, middle-finger MCP 2)."""
    x0, y0, x1, y1 = (float(v) for v in box_px)
    rot = _rotation(keypoints_px[0, 0], keypoints_px[0, 1], keypoints_px[2, 0], keypoints_px[2, 1])
    palm = RotatedRect((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0, rot)
    return transform(palm, PALM_SCALE, PALM_SHIFT_Y)


# HandLandmarksToRect works on 12 of the 21 landmarks: wrist, thumb CMC/MCP/IP and the MCP and PIP of
# the four fingers (MediaPipe's SplitNormalizedLandmarkList ranges 0-4, 5-7, 9-11, 13-15, 17-19).
# Fingertips stay out, so the ROI does not jump when fingers curl.
ROI_LANDMARKS = (0, 1, 2, 3, 5, 6, 9, 10, 13, 14, 17, 18)


def rect_from_landmarks(lms_px: np.ndarray) -> RotatedRect:
    """Next frame's ROI from the 21 landmarks (x, y px).

    The rotation points from the wrist to the mean of the index and ring
    MCPs averaged with the middle MCP (the subset's indices 4, 8 and 6); the
    box is the subset's extent in that rotated frame. Checked against the
    reference landmarks of the asl clip: the model run on this ROI of frame
    t-1 reproduces frame t to 0.04 px.
    """
    xy = np.asarray(lms_px, np.float64)[ROI_LANDMARKS, :2]
    x1 = ((xy[4, 0] + xy[8, 0]) / 2 + xy[6, 0]) / 2
    y1 = ((xy[4, 1] + xy[8, 1]) / 2 + xy[6, 1]) / 2
    rot = _rotation(xy[0, 0], xy[0, 1], x1, y1)
    centre = (xy.min(0) + xy.max(0)) / 2
    c, s = math.cos(-rot), math.sin(-rot)
    d = xy - centre
    proj = np.stack([d[:, 0] * c - d[:, 1] * s, d[:, 0] * s + d[:, 1] * c], axis=1)
    pmin, pmax = proj.min(0), proj.max(0)
    pc = (pmin + pmax) / 2
    cr, sr = math.cos(rot), math.sin(rot)
    cx = pc[0] * cr - pc[1] * sr + centre[0]
    cy = pc[0] * sr + pc[1] * cr + centre[1]
    tight = RotatedRect(float(cx), float(cy), float(pmax[0] - pmin[0]), float(pmax[1] - pmin[1]), rot)
    return transform(tight, TRACK_SCALE, TRACK_SHIFT_Y)


def corners(r: RotatedRect) -> np.ndarray:
    """(4, 2) corners in cv2.boxPoints order: bottom-left, top-left, top-right, bottom-right (of the crop)."""
    c, s = math.cos(r.rotation_rad), math.sin(r.rotation_rad)
    hw, hh = r.w_px / 2, r.h_px / 2
    local = np.array([[-hw, hh], [-hw, -hh], [hw, -hh], [hw, hh]])
    return np.stack([r.cx_px + local[:, 0] * c - local[:, 1] * s, r.cy_px + local[:, 0] * s + local[:, 1] * c], 1)


def crop(image: np.ndarray, r: RotatedRect, size_px: int, border: int = cv2.BORDER_REPLICATE) -> np.ndarray:
    """The rotated rectangle resampled to ``size_px`` square (bilinear), as ImageToTensor does on the CPU."""
    s = float(size_px)
    dst = np.array([[0, s], [0, 0], [s, 0], [s, s]], np.float32)
    m = cv2.getPerspectiveTransform(corners(r).astype(np.float32), dst)
    return cv2.warpPerspective(image, m, (size_px, size_px), flags=cv2.INTER_LINEAR, borderMode=border, borderValue=0)


def square_rect(size_wh: tuple[int, int], box: tuple[float, float, float, float] | None = None) -> RotatedRect:
    """The square around ``box`` (default: the whole image) that a letterboxed model input covers."""
    x0, y0, x1, y1 = box if box is not None else (0.0, 0.0, float(size_wh[0]), float(size_wh[1]))
    side = max(x1 - x0, y1 - y0)
    return RotatedRect((x0 + x1) / 2, (y0 + y1) / 2, side, side, 0.0)


def project(norm_xyz: np.ndarray, r: RotatedRect) -> np.ndarray:
    """(21, 3) crop-normalised landmarks (0..1; z already normalised like x) -> frame pixels, z scaled like x."""
    c, s = math.cos(r.rotation_rad), math.sin(r.rotation_rad)
    x = norm_xyz[:, 0] - 0.5
    y = norm_xyz[:, 1] - 0.5
    out = np.empty((norm_xyz.shape[0], 3), np.float64)
    out[:, 0] = (c * x - s * y) * r.w_px + r.cx_px
    out[:, 1] = (s * x + c * y) * r.h_px + r.cy_px
    out[:, 2] = norm_xyz[:, 2] * r.w_px
    return out


def rotate_world(world_xyz: np.ndarray, r: RotatedRect) -> np.ndarray:
    """WorldLandmarkProjection: world landmarks turned by the ROI's rotation about z."""
    c, s = math.cos(r.rotation_rad), math.sin(r.rotation_rad)
    out = np.array(world_xyz, np.float64, copy=True)
    out[:, 0] = c * world_xyz[:, 0] - s * world_xyz[:, 1]
    out[:, 1] = s * world_xyz[:, 0] + c * world_xyz[:, 1]
    return out
