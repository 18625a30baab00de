"""Sub-pixel hand motion: track the hands' own texture to refine the compression point.

Why: MediaPipe's landmarks are a learned regression, not a tracker of the
image. On rendered clips with exactly known motion, its heel point moved 1-6 %
less than the hand really did (depending on the view) with about 1 px of
frame-to-frame jitter (about 1 mm of height): too much for millimetre depth.
The back of the hands is nearly rigid while compressing, and it has texture
(knuckles, veins, skin folds). So when a track starts, corner features are
taken inside the palms' convex hull; in every later frame they are found again
with pyramidal Lucas-Kanade (started from where MediaPipe says the hands went),
a similarity transform (shift, rotation, scale) is fitted to them with RANSAC,
and the compression point is carried along by that transform. MediaPipe still
finds the hands and gates the result: too few inliers, an implausible scale,
or a point far from MediaPipe's, and its point is used for that frame; the
reference is kept across gaps (when the hands come back after the breaths the
same texture is looked for first, so the same physical point is followed and
the next set is measured against the same rest baseline), renewed when the
inliers thin out (continuing from the refined point, so the trace has no step),
and started afresh only when the old texture cannot be found.

On the rendered accuracy clips (tests/render) this cut the per-frame height
noise from about 1.2 mm to 0.2-0.4 mm and the per-compression depth error from
about 2 mm to about 0.5 mm (docs/calibration.md).

Pixel-space image processing, so it lives in vision/: it takes the image and
MediaPipe's points and returns a refined point in px; geometry comes later.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

PALM_HULL = (0, 1, 2, 5, 9, 13, 17)  # wrist, thumb base, finger MCPs: the solid back of the hand


@dataclass(frozen=True)
class HandMotionOptions:
    max_features: int = 80
    min_features: int = 6  # fewer trackable corners in the palms: no refinement (MediaPipe's point)
    min_inlier_frac: float = 0.3  # RANSAC inliers below this share of the features: this frame is not trusted
    renew_inlier_frac: float = 0.45  # below this (but trusted): take a fresh reference, continuing from here
    ransac_px: float = 1.0
    max_scale_change: float = 0.25  # |scale - 1| beyond this is not a compression
    max_deviation_palm: float = 0.35  # refined point this far (palm sizes) from MediaPipe's: not trusted
    max_failures: int = 3  # consecutive untrusted frames before the reference is taken anew (once still)
    force_after_frames: int = 45  # ... or after this many, still or not
    still_frames: int = 3  # a reference is taken when MediaPipe's point stayed within
    still_palm: float = 0.04  # ... this many palm sizes over this many frames (anchor: their mean)
    regap_ms: int = 400  # no hands for this long: the stillness history starts over
    lk_win_px: int = 15
    lk_levels: int = 2
    erode_px: int = 2  # keep features off the hull's edge (the chest shows there)
    upscale_below_palm_px: float = 60.0  # smaller hands are tracked in a 2x upscaled image (more corners, finer LK)


@dataclass(frozen=True)
class RefinedPoint:
    xy_px: np.ndarray  # the refined point (MediaPipe's when ``refined`` is False)
    refined: bool
    inliers: int


@dataclass
class _Reference:
    gray: np.ndarray
    feats: np.ndarray  # (n, 2) float32 feature positions in the reference frame
    anchor: np.ndarray  # the compression point in the reference frame
    transform: np.ndarray  # last good reference -> current similarity (2x3)
    last_pt: np.ndarray  # MediaPipe's point when ``transform`` was measured
    offset: float  # |anchor - MediaPipe's point| when the reference was taken (0 unless continued)
    scale: float = 1.0  # the reference (and every frame tracked against it) is in images upscaled by this


class HandMotionRefiner:
    """Per-frame refinement; call :meth:`update` for every frame (point None: no hands)."""

    def __init__(self, options: HandMotionOptions | None = None) -> None:
        self.opt = options or HandMotionOptions()
        self._ref: _Reference | None = None
        self._last_valid_ms: int | None = None
        self._failures = 0
        self._recent: list[np.ndarray] = []
        self._after_gap = False
        self._offset = np.zeros(2)  # refined - MediaPipe point, last known
        self.stats = {"refined": 0, "fallback": 0, "references": 0}

    def reset(self) -> None:
        self._ref = None
        self._last_valid_ms = None
        self._failures = 0
        self._recent = []
        self._after_gap = False
        self._offset = np.zeros(2)

    def update(self, image: np.ndarray, t_ms: int, point_px: np.ndarray | None, landmarks_px: np.ndarray | None,
               palm_size_px: float) -> RefinedPoint | None:
        """``landmarks_px``: (n, 21, >=2) of the hands that made the point. Returns None without hands."""
        if point_px is None or landmarks_px is None or len(landmarks_px) == 0 or not np.all(np.isfinite(point_px)):
            return None
        o = self.opt
        gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        palm_lm = np.asarray(landmarks_px, dtype=np.float64)[:, list(PALM_HULL), :2].reshape(-1, 2)
        pt = np.asarray(point_px, dtype=np.float64).reshape(2)
        palm = float(palm_size_px) if math.isfinite(palm_size_px) and palm_size_px > 0 else float(np.ptp(palm_lm, axis=0).max())
        if self._last_valid_ms is None or t_ms - self._last_valid_ms > o.regap_ms:
            self._recent.clear()
            self._after_gap = self._ref is not None
            self._offset = np.zeros(2)
        self._last_valid_ms = t_ms
        self._recent.append(pt)
        if len(self._recent) > o.still_frames:
            self._recent.pop(0)
        still = len(self._recent) == o.still_frames and float(
            np.max(np.linalg.norm(np.array(self._recent) - np.mean(self._recent, axis=0), axis=1))) <= o.still_palm * palm
        if self._ref is not None and self._after_gap and not still:
            # Back after a gap (the breaths): wait until the hands are placed and still before matching
            # the old texture; a hand still in flight is seen in another perspective and would match
            # with a bias that the rest of the set would inherit.
            self.stats["fallback"] += 1
            return RefinedPoint(pt, False, 0)
        if self._ref is not None:
            # Then the old reference is tried first: when the same texture is found again, the same
            # physical point is followed, so the next set is measured against the same rest baseline.
            res = self._track(gray, pt, palm, strict=self._after_gap)
            self._after_gap = False
            if res is not None:
                q, inliers, frac = res
                self._failures = 0
                self.stats["refined"] += 1
                if frac < o.renew_inlier_frac:
                    self._new_reference(gray, palm_lm, q, pt, palm)
                return RefinedPoint(q, True, inliers)
            self._failures += 1
            self.stats["fallback"] += 1
            if not ((self._failures >= o.max_failures and still) or self._failures >= o.force_after_frames):
                # MediaPipe's point, carried by the offset the refined point last had to it (no step)
                return RefinedPoint(pt + self._offset, False, 0)
            self._failures = 0
        elif not still:
            # A new reference is taken only while the hands are still: MediaPipe's point lags and
            # wanders when they move fast, and the reference's anchor keeps that error for good.
            self.stats["fallback"] += 1
            return RefinedPoint(pt, False, 0)
        anchor = np.mean(self._recent, axis=0) if still else pt
        r = self._new_reference(gray, palm_lm, anchor, pt, palm)
        return r if r.refined else RefinedPoint(pt, False, 0)

    def _new_reference(self, gray: np.ndarray, palm_lm: np.ndarray, anchor: np.ndarray, mp_pt: np.ndarray,
                       palm: float) -> RefinedPoint:
        o = self.opt
        k = 2.0 if palm < o.upscale_below_palm_px else 1.0
        g = _upscaled(gray, k)
        mask = np.zeros(g.shape, np.uint8)
        cv2.fillConvexPoly(mask, cv2.convexHull(_up(palm_lm, k).astype(np.float32)).astype(np.int32), 255)
        if o.erode_px > 0:
            mask = cv2.erode(mask, np.ones((2 * o.erode_px + 1,) * 2, np.uint8))
        feats = cv2.goodFeaturesToTrack(g, o.max_features, 0.005, max(3.0, k * palm / 15.0), mask=mask, blockSize=5)
        if feats is None or len(feats) < o.min_features:
            self._ref = None
            return RefinedPoint(mp_pt, False, 0)
        # the reference outlives this frame: own its pixels (at k = 1, g may be the caller's image)
        self._ref = _Reference(g if g is not gray else gray.copy(), feats.reshape(-1, 2).astype(np.float32), _up(anchor, k),
                               np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), _up(mp_pt, k),
                               float(np.linalg.norm(anchor - mp_pt)), k)
        self._offset = anchor - mp_pt
        self.stats["references"] += 1
        return RefinedPoint(anchor, True, len(feats))

    def _track(self, gray: np.ndarray, pt: np.ndarray, palm: float, strict: bool = False) -> tuple[np.ndarray, int, float] | None:
        """Find the reference's features in this frame; the refined point (frame px), inliers, inlier share."""
        ref = self._ref
        assert ref is not None
        o = self.opt
        k = ref.scale
        g = _upscaled(gray, k)
        pk = _up(pt, k)
        min_frac = o.renew_inlier_frac if strict else o.min_inlier_frac
        # start each feature where the last transform puts it, moved by MediaPipe's displacement since then
        guess = ref.feats @ ref.transform[:, :2].T + ref.transform[:, 2] + (pk - ref.last_pt)
        nxt, st, _ = cv2.calcOpticalFlowPyrLK(
            ref.gray, g, ref.feats, guess.astype(np.float32), winSize=(o.lk_win_px, o.lk_win_px), maxLevel=o.lk_levels,
            criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01), flags=cv2.OPTFLOW_USE_INITIAL_FLOW,
        )
        ok = st.reshape(-1) == 1
        n = len(ref.feats)
        if int(ok.sum()) < o.min_features:
            return None
        m, inl = cv2.estimateAffinePartial2D(ref.feats[ok], nxt[ok], method=cv2.RANSAC, ransacReprojThreshold=o.ransac_px * k)
        if m is None or inl is None:
            return None
        inliers = int(inl.sum())
        if inliers < max(o.min_features, min_frac * n):
            return None
        scale = math.sqrt(abs(float(np.linalg.det(m[:, :2]))))
        if abs(scale - 1.0) > o.max_scale_change:
            return None
        q = _down(m[:, :2] @ ref.anchor + m[:, 2], k)
        if float(np.linalg.norm(q - pt)) > o.max_deviation_palm * palm + ref.offset:
            return None
        ref.transform = m
        ref.last_pt = pk
        self._offset = q - pt
        return q, inliers, inliers / n


def _up(p: np.ndarray, k: float) -> np.ndarray:
    """Frame px -> px of the image upscaled by k (pixel centres at integers in both)."""
    return (np.asarray(p, dtype=np.float64) + 0.5) * k - 0.5 if k != 1.0 else np.asarray(p, dtype=np.float64)


def _down(p: np.ndarray, k: float) -> np.ndarray:
    return (np.asarray(p, dtype=np.float64) + 0.5) / k - 0.5 if k != 1.0 else np.asarray(p, dtype=np.float64)


def _upscaled(gray: np.ndarray, k: float) -> np.ndarray:
    """The image upscaled by k; at k = 1 the image itself (no copy: only a new reference keeps one)."""
    if k == 1.0:
        return gray
    return cv2.resize(gray, None, fx=k, fy=k, interpolation=cv2.INTER_LINEAR)
