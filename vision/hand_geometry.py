"""Hand geometry from the 21 MediaPipe landmarks (NumPy only).

Why here and not in calibration: the compression point, the tracker's
region of interest and calibration's "no marker" fallback all need the same
few measures (palm centre, heel of the hand, palm size, pixels per metre),
and calibration must take plain arrays, not vision objects.

All functions accept one hand (21, k) or a stack (n, 21, k) of landmarks.
"""
from __future__ import annotations

import numpy as np

WRIST = 0
THUMB_CMC = 1
INDEX_MCP = 5
MIDDLE_MCP = 9
RING_MCP = 13
PINKY_MCP = 17
PALM = (WRIST, INDEX_MCP, MIDDLE_MCP, RING_MCP, PINKY_MCP)  # the rigid part of the hand
PALM_WITH_THUMB_BASE = (WRIST, THUMB_CMC, INDEX_MCP, MIDDLE_MCP, RING_MCP, PINKY_MCP)
_PAIRS = [(a, b) for i, a in enumerate(PALM_WITH_THUMB_BASE) for b in PALM_WITH_THUMB_BASE[i + 1 :]]

# heel = wrist + HEEL_FRACTION * (palm centre - wrist): the fleshy base of the palm that
# pushes on the sternum lies between the wrist crease and the palm centre.
HEEL_FRACTION = 0.4


def palm_centre(landmarks: np.ndarray) -> np.ndarray:
    """Mean of the wrist and the four finger MCP joints, (..., k)."""
    lm = np.asarray(landmarks, dtype=float)
    return lm[..., PALM, :].mean(axis=-2)


def heel_point(landmarks: np.ndarray, fraction: float = HEEL_FRACTION) -> np.ndarray:
    """The heel of the hand: between the wrist and the palm centre, (..., k)."""
    lm = np.asarray(landmarks, dtype=float)
    wrist = lm[..., WRIST, :]
    return wrist + fraction * (palm_centre(lm) - wrist)


def palm_size(landmarks: np.ndarray) -> np.ndarray | float:
    """Largest distance between rigid palm points in x, y: a rotation-robust hand size.

    Why the largest pair: in a side view the hand is foreshortened along one
    axis; the longest palm chord survives on the other.
    """
    lm = np.asarray(landmarks, dtype=float)[..., :2]
    a = lm[..., [p[0] for p in _PAIRS], :]
    b = lm[..., [p[1] for p in _PAIRS], :]
    d = np.linalg.norm(a - b, axis=-1).max(axis=-1)
    return float(d) if np.ndim(d) == 0 else d


# Chords used for the metric scale: wrist to index/middle/ring MCP. MediaPipe's world
# palm is implausibly narrow across the knuckles (index-pinky MCP ~27 mm on hands.jpg,
# ~75 mm on a real adult hand), so chords across the palm are left out.
SCALE_CHORDS = ((WRIST, INDEX_MCP), (WRIST, MIDDLE_MCP), (WRIST, RING_MCP))


def chord_lengths(landmarks: np.ndarray, chords=SCALE_CHORDS, dims: int = 2) -> np.ndarray:
    """Lengths of landmark chords, (..., n_chords), using the first ``dims`` coordinates."""
    lm = np.asarray(landmarks, dtype=float)[..., :dims]
    a = lm[..., [c[0] for c in chords], :]
    b = lm[..., [c[1] for c in chords], :]
    return np.linalg.norm(a - b, axis=-1)


def px_per_m(landmarks_px: np.ndarray, world_landmarks_m: np.ndarray, chords=SCALE_CHORDS) -> np.ndarray | float:
    """Image scale at the hand (pixels per metre) from image vs world chords.

    Each chord has a "true" length (world landmarks, metres) and an image
    length (px) shortened by its tilt out of the image plane; the largest
    ratio is the least foreshortened chord. Accuracy is bounded by
    MediaPipe's learned, typical hand size, so this is a fallback scale for
    when there is no marker, not a calibration (calibration measures its error).
    """
    lp = chord_lengths(landmarks_px, chords, 2)
    lw = chord_lengths(world_landmarks_m, chords, 3)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(lw > 1e-4, lp / lw, np.nan)
    q = np.nanmax(r, axis=-1) if np.isfinite(r).any() else np.full(r.shape[:-1], np.nan)
    return float(q) if np.ndim(q) == 0 else q


def bbox_xy(landmarks: np.ndarray) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) around all given landmarks (any leading shape)."""
    xy = np.asarray(landmarks, dtype=float)[..., :2].reshape(-1, 2)
    return (float(xy[:, 0].min()), float(xy[:, 1].min()), float(xy[:, 0].max()), float(xy[:, 1].max()))
