"""Sub-pixel hand motion: track the hands' own texture to refine the compression point.

Why: MediaPipe's landmarks are a learned regression, not a tracker of the
image. On rendered clips with exactly known motion, its heel point moved 1-6 %
less than the hand really did (depending on the view) with about 1 px of
frame-to-frame jitter (about 1 mm of height): too much for millimetre depth.
The back of the hands is nearly rigid while compressing, and it has texture
(knuckles, veins, skin folds). So when a track starts, corner features are
taken inside the palms' convex hull; in every later frame they are found again
with pyramidal Lucas-Kanade (started from where MediaPipe says the hands went),
a similarity transform (shift, rotation, scale) picks the inliers by RANSAC,
and a shift and scale without rotation fitted to those carries the compression
point. Why no rotation: the chest moves along its normal and the hands ride on
it, which the image sees as a shift and a change of scale (distance); a fitted
rotation is only the few features' noise turning the fit about their centroid,
and the point, at the hull's edge, moves by it times the lever arm (on the
rendered stacked hands it took the side view's depth MAE from 0.77 to 0.25 mm
and 640x480's from 1.97 to 1.55 mm). MediaPipe still finds the hands and gates
the result: too few inliers, an implausible scale, or a point far from
MediaPipe's, and its point is used for that frame; the reference is kept across
gaps (when the hands come back after the breaths the same texture is looked for
first, so the same physical point is followed and the next set is measured
against the same rest baseline), renewed when the
inliers thin out (continuing from the refined point, so the trace has no step;
waiting for a slow turn of the stroke instead was tried: on the stacked hands
the inliers thinned to 6 by then, and each renewal's error drifted the level by
up to 6 mm over a set).

Every new reference taken while the hands stay in view continues the refined
trace; none restarts from MediaPipe's point. Why: MediaPipe's point has a bias
that depends on what the hands look like, and it changes when their look does
(a worn tag covered, a forearm crossing the palm): on the rendered clips it
jumped 10-12 px (about 11 mm of height) in one frame when the hand tag was
covered. So when the reference's texture is lost, this frame is fitted to the
last refined frame (features of both, tracked both ways, so texture that
appeared or vanished between them leaves the rest to fit), the refined point is
carried across, and this frame becomes the reference: a chain of transforms,
so the new reference carries only that one step's sub-pixel error. That frame
is mid-motion (blurred by the exposure in a real camera), so the first still
frame after it replaces it, continuing from the refined point.
Only when that fails too does MediaPipe's point stand in, carried by the offset
the refined point last had to it, and a reference forced after that continues
from there.

Each renewal carries one frame's error for good, so a chain of them is a random
walk in the trace's level; on poor frames (blur, flicker, noise, JPEG) the
inliers thin out every few frames and the chain grows by dozens a set: on the
rendered stacked hands seen from 45 deg/45 deg the level walked 5-7 mm and the
depth came out 5 mm deep. So the reference the hands rest on (MediaPipe's point
within 0.1 palm of its median for half a second) is kept as the key, and a
renewal first tracks the frame against the key again (as strictly as a
renewal): the hands come back near where they rested at the top of every
stroke, and a frame that matches the rest texture measures its point from the
key directly, with no chain between. The key's own chain depth is what the
level carries from then on (``stats["chain"]``, the longest, drives the stated
drift). Returning on every still frame instead (tops and bottoms) was tried: it
broke the long-lived mid-stroke references that clean frames keep for a whole
set, and each stroke then renewed mid-motion (stacked side view: MAE 0.25 to
1.24 mm). A chain whose last reference still fits is not renewed, so it never
returned, and kept its error through every top: on the rendered stacks at
640x480 the level sat 1.3 mm high from the first stroke to the last, and on the
blurred ones it walked -3 then +4 mm. So at the tops (the hands back near
where they rested, slow: little blur, the rest pose) the frame is measured
against the key as well, and the level is pulled toward it without switching
references, by a gain that weighs the renewals since the last agreement against
one check's own error (a small Kalman filter on the level): a long chain is
pulled all the way, a fresh one barely, so clean frames are not given the
checks' noise.

Where the camera and the chest are calibrated, the point is carried by the motion the chest can make
(:class:`TranslationField`) instead of the shift and scale. Why: the hands translate along the chest
normal, so each feature moves along a direction the calibration knows, by δ/Z (its own depth Z).
The shift-and-scale fit carries the point by one isotropic scale, which takes only part of the
depth gradient across a slanted hand and extrapolates it to the point at the hull's edge: on the
rendered stacked hands that was +0.6 to +5.8 % of depth, one-sided, and it changed with the view.
With the field, the point moves by the features' mean δ/Z along its own direction: the motion of
a point at the features' (harmonic mean) depth, whose place the geometry then locates
(``RefinedPoint.features_px`` -> ``calibration.handpoint``). An affine δ/Z field extrapolated to
the point was tried too: exact on one plane, but the features of a stack lie on two (and a
forearm), and its extrapolation scattered the stacked rows by ±3 %.

Which point that is must not change from one reference to the next: a renewal takes other corners,
whose mean depth differs (a stack's back spans ~150 mm toward the camera), while the geometry converts
the motion at the one point it located at rest. So when the field knows the surface's plane (the
chest's for a flat hand or a stack, the palm's for a hand turned toward the camera: set by the caller
once the hands are located), each feature's δ/Z is scaled to one depth point's depth on that plane
(the ratio of two depths on a plane follows from the pixels alone), and the depth point (the first
reference's features' centroid) is carried from reference to reference like the compression point.

On the rendered accuracy clips (tests/render) this cut the per-frame height
noise from about 1.2 mm to 0.2-0.4 mm and the per-compression depth error from
about 2 mm to about 0.5 mm (docs/calibration.md).

Pixel-space image processing, so it lives in vision/: it takes the image and
MediaPipe's points and returns a refined point in px; geometry comes later.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Callable

import cv2
import numpy as np

PALM_HULL = (0, 1, 2, 5, 9, 13, 17)  # wrist, thumb base, finger MCPs: the solid back of the hand


@dataclass(frozen=True)
class HandMotionOptions:
    max_features: int = 80
    min_features: int = 6  # fewer trackable corners in the palms: no refinement (MediaPipe's point)
    min_inlier_frac: float = 0.3  # RANSAC inliers below this share of the features: this frame is not trusted
    renew_inlier_frac: float = 0.45  # below this (but trusted): take a fresh reference, continuing from here
    bridge_inlier_frac: float = 0.7  # a bridge over lost texture needs this share of both frames' features to agree
    # (it carries the point for good: bridges on motion-blurred renders fitted 0.39-0.61 and, all taken, drifted the
    # scale by up to 19 %; a covered tag fitted 0.75-0.84)
    ransac_px: float = 1.0
    max_scale_change: float = 0.25  # |scale - 1| beyond this is not a compression
    return_to_key: bool = True  # a renewal first tries the key reference (False: plain chains, for comparison)
    key_rest_frames: int = 15  # hands within key_rest_palm of their median this long (0.5 s at 30 fps): resting;
    key_rest_palm: float = 0.1  # the reference they rest on is the key, which a chain of renewals returns to
    retry_unguided: bool = True  # a reference's features not found from MediaPipe's move: look again from where the
    # last frame's transform put them (False: MediaPipe's move only, for comparison) ...
    retry_jump_palm: float = 0.08  # ... kept only where MediaPipe's point then jumped this far against the hands (palms):
    # a frame the guided look lost for another reason (motion blur) goes on as before (a bridge, or MediaPipe's point)
    key_first_after_ms: int = 3000  # no rest this long after the first reference: that reference is the key (until
    # the hands rest): hands compressing from the first frame have no rest, and their chain had nothing to return to (a
    # stack at 600 mm, straight in: 106 re-anchorings, the level walked 12 mm over 40 s). Not at once: a rest hold
    # makes its key within a second or two (blurred frames: 1.5 s), from a reference taken at rest, not at the landing
    # (a negative value: no key until a rest, for comparison)
    max_deviation_palm: float = 0.35  # refined point this far (palm sizes) from MediaPipe's: not trusted
    return_deviation_palm: float = 0.6  # ... while the hands' old texture is looked for again after a gap: they were
    # lifted and put back, and MediaPipe's point moves with their look (blurred stacks at 640x480: 15 px, 0.4 palm,
    # its palm 20 % smaller, while the old texture was found where the hands had rested, 20-26 of 45 features)
    max_failures: int = 3  # consecutive untrusted frames before the reference is taken anew (once still)
    force_after_frames: int = 45  # ... or after this many, still or not
    unreferenced_frames: int = 30  # frames kept while no reference is held yet (hands moving from the first frame):
    # once one is taken, they are tracked back against it and restated (RefinedPoint.restated)
    still_frames: int = 3  # a reference is taken when MediaPipe's point stayed within
    still_palm: float = 0.04  # ... this many palm sizes over this many frames (anchor: their mean)
    regap_ms: int = 400  # no hands for this long: the stillness history starts over
    lk_win_px: int = 15
    lk_levels: int = 2
    erode_px: int = 2  # keep features off the hull's edge (the chest shows there)
    upscale_below_palm_px: float = 60.0  # smaller hands are tracked in a 2x upscaled image (more corners, finer LK)
    match_gain: bool = True  # features brighter or darker than in the reference: match, find again (False: comparison)
    gain_tolerance: float = 0.02  # a brightness ratio beyond 1 +- this is matched (rendered clean hands: up to 1.4 %)
    key_check: bool = True  # near the rest (a stroke's top), measure against the key too and pull the level to it
    key_check_palm: float = 0.25  # MediaPipe's point this near (palms) where the hands rested ...
    key_check_still_palm: float = 0.05  # ... and moving less than this (palms) since the last frame: a top
    key_check_meas_palm: float = 0.007  # one key check's own error (palms, s.d.; rendered stacks at 640x480: 0.3 px)
    key_check_renew_palm: float = 0.007  # ... and what each renewal adds to the level's (the gain weighs the two)
    key_check_max_palm: float = 0.1  # a disagreement beyond this (palms) is not a chain's drift: ignored
    plane_depth: bool = True  # with a field that knows the surface's plane: each feature's motion scaled to one fixed
    # point's depth (False: the features' own mean depth, which each renewal changes)


@dataclass(frozen=True)
class TranslationField:
    """Where a rigid translation along one fixed 3D direction moves each pixel: along
    ``f * d_xy - d_z * (p - c)`` by a factor δ/(Z + δ d_z), for a point at depth Z moved by δ (a pinhole camera,
    ``d`` the unit direction in the camera frame). Pixel-space numbers only: the caller (which knows the
    calibration) builds it; vision/ stays free of the manikin frame."""

    fx_px: float
    fy_px: float
    cx_px: float
    cy_px: float
    direction: tuple[float, float, float]  # unit, camera frame (x right, y down, z forward)
    plane_normal: tuple[float, float, float] | None = None  # the hands' tracked surface, taken as a plane with this
    # normal (camera frame): the features' depths relative to each other follow from their pixels. None: unknown

    def at(self, px: np.ndarray) -> np.ndarray:
        """(n, 2) image directions of the motion at pixels (n, 2), unnormalised (their length is the px per unit
        of δ/Z)."""
        p = np.asarray(px, dtype=np.float64).reshape(-1, 2)
        dx, dy, dz = self.direction
        return np.column_stack([self.fx_px * dx - dz * (p[:, 0] - self.cx_px), self.fy_px * dy - dz * (p[:, 1] - self.cy_px)])

    def plane_inverse_depth(self, px: np.ndarray) -> np.ndarray:
        """(n,) 1/Z, up to one factor, of the points at pixels (n, 2) on the surface plane (``plane_normal`` n, which
        must be set): its points X satisfy n . X = const, and X = Z (x', y', 1), so 1/Z is proportional to
        n . (x', y', 1). The ratio of two such values is the ratio of the points' depths, whatever the plane's offset."""
        assert self.plane_normal is not None
        p = np.asarray(px, dtype=np.float64).reshape(-1, 2)
        dx, dy, dz = self.plane_normal
        return dx * (p[:, 0] - self.cx_px) / self.fx_px + dy * (p[:, 1] - self.cy_px) / self.fy_px + dz


@dataclass(frozen=True)
class RefinedPoint:
    xy_px: np.ndarray  # the refined point (MediaPipe's when ``refined`` is False)
    refined: bool
    inliers: int
    features_px: np.ndarray | None = None  # where the motion measured is a point's: with a TranslationField the depth
    # point (see HandMotionRefiner._carry), else the centroid of the features that measured it; the geometry
    # locates the surface there
    restated: tuple[tuple[int, ...], np.ndarray] | None = None  # (t_ms of earlier frames, shift px): the frames
    # MediaPipe's point stood in for since the hands came back from a gap, and how far off it was carried for them, now
    # that the old texture is found again (each kept frame tracked back against it; see _restate_standins), or the
    # frames before the first reference, each tracked back against it (_track_back): (n, 2), one shift per frame


@dataclass(frozen=True)
class _Fit:
    transform: np.ndarray  # 2x3 shift and scale, reference -> this frame (upscaled px)
    inliers: int
    src: np.ndarray  # (m, 2) the inliers in the reference, upscaled px
    dst: np.ndarray  # (m, 2) ... and in this frame


@dataclass
class _Reference:
    gray: np.ndarray
    feats: np.ndarray  # (n, 2) float32 feature positions in the reference frame
    anchor: np.ndarray  # the compression point in the reference frame
    transform: np.ndarray  # last good reference -> current similarity (2x3)
    last_pt: np.ndarray  # MediaPipe's point when ``transform`` was measured
    offset: float  # |anchor - MediaPipe's point| when the reference was taken (0 unless continued)
    scale: float = 1.0  # the reference (and every frame tracked against it) is in images upscaled by this
    provisional: bool = False  # taken by a bridge over lost texture (mid-motion): renewed at the next still frame
    depth: int = 0  # re-anchorings between the first reference and this one (each carries one frame's error)
    depth_px: np.ndarray | None = None  # with a field: the point (frame px, in this reference's frame) whose depth the
    # motion is measured at: the first reference's features' centroid, carried from reference to reference
    view: object | None = None  # a moving camera: this reference's frame's view (HandMotionRefiner.view)


@dataclass
class _Refined:
    """The last refined frame: what a bridging reference is taken from when the reference's texture is lost."""

    gray: np.ndarray  # the frame (upscaled by ``scale``, as the reference it was tracked against)
    hand_lm: np.ndarray  # all landmarks of the hands (frame px): a bridge takes features over the whole hands
    point: np.ndarray  # the refined point (frame px)
    mp_pt: np.ndarray  # MediaPipe's point (frame px)
    scale: float
    depth_px: np.ndarray | None = None  # where its motion was a point's (RefinedPoint.features_px): with a field, the
    # depth point a bridge carries on (see _Reference.depth_px)
    view: object | None = None  # a moving camera: its view (HandMotionRefiner.view)


class HandMotionRefiner:
    """Per-frame refinement; call :meth:`update` for every frame (point None: no hands)."""

    def __init__(self, options: HandMotionOptions | None = None) -> None:
        self.opt = options or HandMotionOptions()
        # the chest's motion in the image, set by the caller when the calibration knows it (None: shift and scale)
        self.field: TranslationField | None = None
        # a moving camera (a headset): this frame's view, whatever the caller's ``warp`` takes, set by the caller each
        # frame with this frame's field (None: a fixed camera); ``warp(a, b)``: two 3x3 homographies from the pixels of
        # a frame seen as view a to those of one seen as b, for the features' surface as it was in the first and for
        # the tracked point's own plane (the point lies off the features' plane). See _carry
        self.view: object | None = None
        self.warp: Callable[[object, object], tuple[np.ndarray, np.ndarray]] | None = None
        self._depth = -1  # the current reference's depth (re-anchorings since the first; none taken yet: -1). Not
        # reset: a reference taken after a reset re-anchors the same trace
        # frames refined / not; references taken (the first, re-references, bridges: each re-anchors the trace);
        # bridges across lost texture
        # "chain": the most re-anchorings any reference carried (a return to the key drops back to the key's)
        self.stats = {"refined": 0, "fallback": 0, "references": 0, "bridged": 0, "returns": 0, "chain": 0,
                      "gain_matched": 0, "key_checks": 0, "unguided": 0}
        self.reset()

    def reset(self) -> None:
        """Forget the texture (e.g. the frame size changed): the next still frame takes a new reference."""
        o = self.opt
        self._ref: _Reference | None = None
        self._key: _Reference | None = None  # the reference the hands rested on: where a chain returns to
        self._key_pt: np.ndarray | None = None  # MediaPipe's point while they rested there (frame px)
        self._last_valid_ms: int | None = None
        self._failures = 0
        self._recent: deque[np.ndarray] = deque(maxlen=o.still_frames)  # MediaPipe's last points (still: all close)
        self._rest_pts: deque[np.ndarray] = deque(maxlen=o.key_rest_frames)  # ... over longer (resting: all close)
        self._rest_keyed = False  # a key was made during the current rest
        self._key_first = False  # the key is the first reference, taken before any rest (the first rest replaces it)
        self._key_cand: tuple[_Reference, np.ndarray, int] | None = None  # ... that reference, its point, its t_ms
        self._after_gap = False
        self._rematching = False  # back after a gap, the old texture not found again yet (the wider deviation gate)
        self._still = False  # MediaPipe's point still over the last frames (this frame's: see update)
        self._standin_ms: list[int] = []  # ... the frames MediaPipe's point stood in for meanwhile
        # ... the last of them as the unreferenced ones below (each tracked back when the texture is found again)
        self._standin: deque[tuple[int, np.ndarray, np.ndarray, float, np.ndarray, object | None]] = deque(
            maxlen=o.unreferenced_frames)
        self._restated: tuple[tuple[int, ...], np.ndarray] | None = None  # ... restated when the texture is found
        self._offset = np.zeros(2)  # refined - MediaPipe point, last known
        # ... and while the hands rested on the chest (refined frames): what stands in for the refinement when they
        # come back after a gap and are not yet still (see update)
        self._rest_offsets: deque[np.ndarray] = deque(maxlen=o.key_rest_frames)
        self._level_var = 0.0  # variance of the level the current reference carries against the key's (palms^2)
        self._last: _Refined | None = None  # the last refined frame (None after a gap)
        self._features_px: np.ndarray | None = None  # where the last carry's motion is a point's (frame px): the depth
        # point with a field, else the inliers' centroid (RefinedPoint.features_px)
        # frames given MediaPipe's point while no reference was held (t_ms, grey, MediaPipe's point, palm, the point
        # given): tracked back against the next reference (_track_back)
        self._unreferenced: deque[tuple[int, np.ndarray, np.ndarray, float, np.ndarray, object | None]] = deque(
            maxlen=o.unreferenced_frames)

    def update(self, image: np.ndarray, t_ms: int, point_px: np.ndarray | None, landmarks_px: np.ndarray | None,
               palm_size_px: float) -> RefinedPoint | None:
        """``landmarks_px``: (n, 21, >=2) of the hands that made the point. Returns None without hands."""
        if point_px is None or landmarks_px is None or len(landmarks_px) == 0 or not np.all(np.isfinite(point_px)):
            return None
        o = self.opt
        gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        hand_lm = np.asarray(landmarks_px, dtype=np.float64)[:, :, :2]
        palm_lm = hand_lm[:, list(PALM_HULL)].reshape(-1, 2)
        hand_lm = hand_lm.reshape(-1, 2)
        pt = np.asarray(point_px, dtype=np.float64).reshape(2)
        palm = float(palm_size_px) if math.isfinite(palm_size_px) and palm_size_px > 0 else float(np.ptp(palm_lm, axis=0).max())
        if self._last_valid_ms is None or t_ms - self._last_valid_ms > o.regap_ms:
            self._recent.clear()
            self._rest_pts.clear()
            self._after_gap = self._rematching = self._ref is not None
            self._offset = self._rest_offset()
            self._last = None
            self._unreferenced.clear()
        self._last_valid_ms = t_ms
        cand = self._key_cand
        if cand is not None and self._key is None and t_ms - cand[2] >= o.key_first_after_ms:
            # no rest so far: the first reference is where the chain returns to and tops are checked against from now on
            self._key, self._key_pt, self._key_first, self._key_cand = cand[0], cand[1], True, None
            self._level_var = (self._depth - cand[0].depth) * o.key_check_renew_palm ** 2
        # MediaPipe's point's move since the last frame (palms; none after a gap)
        step_palm = float(np.linalg.norm(pt - self._recent[-1])) / palm if self._recent else math.inf
        self._recent.append(pt)
        still = len(self._recent) == o.still_frames and float(
            np.max(np.linalg.norm(np.array(self._recent) - np.mean(self._recent, axis=0), axis=1))) <= o.still_palm * palm
        self._still = still
        # resting: MediaPipe's point stayed near its median for key_rest_frames (looser than "still", which on poor
        # frames MediaPipe's jitter alone breaks); the moment the hands come to rest makes the key
        self._rest_pts.append(pt)
        resting = len(self._rest_pts) == o.key_rest_frames and float(np.max(
            np.linalg.norm(np.array(self._rest_pts) - np.median(self._rest_pts, axis=0), axis=1))) <= o.key_rest_palm * palm
        self._rest_keyed = self._rest_keyed and resting
        if self._ref is not None and self._after_gap and not still:
            # Back after a gap (the breaths): wait until the hands are placed and still before matching
            # the old texture; a hand still in flight is seen in another perspective and would match
            # with a bias that the rest of the set would inherit.
            # Meanwhile MediaPipe's point stands in, carried by the offset the refined point had to it while the
            # hands rested: they land where they rested, and MediaPipe's bias follows their look (the same hands, the
            # same place), which a bare point does not (rendered stacks at 640x480: it read 15 mm low for the
            # frames between landing and stillness, and the step back up counted as a compression)
            self.stats["fallback"] += 1
            self._stand_in(t_ms, image, gray, pt, palm)
            return RefinedPoint(pt + self._offset, False, 0)
        if self._ref is not None:
            # Then the old reference is tried first: when the same texture is found again, the same
            # physical point is followed, so the next set is measured against the same rest baseline.
            res = self._track(gray, pt, palm, strict=self._after_gap)
            self._after_gap = False
            provisional = False
            renew = res is not None and (res[2] < o.renew_inlier_frac or (self._ref.provisional and still))
            if (res is None or renew) and o.return_to_key and self._key is not None and self._ref is not self._key:
                back = self._return_to_key(gray, pt, palm)
                if back is not None:
                    res, renew = back, False
            make_key = res is not None and resting and not self._rest_keyed and (self._ref is not self._key
                                                                                 or self._key_first)
            if make_key and not renew and not self._key_first:  # resting on a reference that still fits well: it is
                self._make_key()  # the key as it is (the first reference, taken before any rest, is not: the hands may
                make_key = False  # have been landing then; a reference taken now, at rest, is the key)
            renew = renew or make_key
            if res is not None:
                q, inliers, frac, g = res
                # a bridge's reference is a frame taken mid-motion (blurred by a camera's exposure): the first still
                # frame replaces it, continuing from the refined point (renew, above)
            elif self._last is not None:
                res = self._bridge(gray, hand_lm, pt, palm)
                if res is not None:
                    # this frame becomes the reference, over the palms as usual (else the bridge's whole hands)
                    q, inliers = res
                    g, renew, provisional = self._ref.gray, True, True
            if res is not None:
                self._failures = 0
                self.stats["refined"] += 1
                if not renew and self._near_top(pt, palm, step_palm):
                    q = self._key_check(gray, pt, palm, q)
                # kept for a bridge (a grey input is the caller's buffer: own a copy of it)
                self._last = _Refined(g.copy() if g is image else g, hand_lm, q, pt, self._ref.scale, self._features_px,
                                      self.view)
                if renew:
                    prev = self._ref
                    # (continuing from the refined point: the depth point too, as carried to this frame)
                    if self._new_reference(gray, palm_lm, hand_lm, q, pt, palm, self._features_px).refined:
                        self._ref.provisional = provisional
                        if make_key:
                            self._make_key()
                    elif provisional:  # too few corners in the palms: keep the bridge's whole-hand reference
                        self._ref = prev
                        self.stats["references"] += 1
                if resting:
                    self._rest_offsets.append(q - pt)
                restated, self._restated = self._restated, None
                return RefinedPoint(q, True, inliers, self._features_px, restated)
            self._failures += 1
            self.stats["fallback"] += 1
            if not ((self._failures >= o.max_failures and still) or self._failures >= o.force_after_frames):
                # MediaPipe's point, carried by the offset the refined point last had to it (no step)
                if self._rematching:
                    self._stand_in(t_ms, image, gray, pt, palm)
                return RefinedPoint(pt + self._offset, False, 0)
            self._failures = 0
        elif not still:
            # A new reference is taken only while the hands are still: MediaPipe's point lags and
            # wanders when they move fast, and the reference's anchor keeps that error for good.
            # Meanwhile MediaPipe's point stands in; the frame is kept to be tracked back once a reference is taken
            self.stats["fallback"] += 1
            self._unreferenced.append((t_ms, gray.copy() if gray is image else gray, pt, palm, pt + self._offset,
                                      self.view))
            return RefinedPoint(pt + self._offset, False, 0)
        # a new reference continues from the carried point (MediaPipe's plus the last offset; after a gap, the rest one)
        anchor = (np.mean(self._recent, axis=0) if still else pt) + self._offset
        r = self._new_reference(gray, palm_lm, hand_lm, anchor, pt, palm)
        if not r.refined:
            self._unreferenced.append((t_ms, gray.copy() if gray is image else gray, pt, palm, anchor, self.view))
            return RefinedPoint(anchor, False, 0)
        if (o.key_first_after_ms >= 0 and self._key is None and self._key_cand is None and self.field is not None
                and self.view is None):
            # no rest yet: this first reference, taken where the hands were still, becomes the key if none comes soon.
            # (A fixed camera only: a moving one sees a key taken seconds ago from elsewhere, and a shift and scale
            # fitted to it read a stack 2.6 mm deeper, seed 57 straight in on the headset, 1.13 -> 3.68 mm)
            self._key_cand = (self._ref, np.mean(self._recent, axis=0), t_ms)
        back = self._track_back(gray.shape)
        return r if back is None else replace(r, restated=back)

    def _stand_in(self, t_ms: int, image: np.ndarray, gray: np.ndarray, pt: np.ndarray, palm: float) -> None:
        """MediaPipe's point (carried by the offset) stands in for this frame while the old texture is looked for again
        after a gap: noted, and the frame kept to be tracked back once it is found (``_restate_standins``)."""
        self._standin_ms.append(t_ms)
        self._standin.append((t_ms, gray.copy() if gray is image else gray, pt, palm, pt + self._offset, self.view))

    def _restate_standins(self, shape: tuple[int, ...],
                          shift: np.ndarray | None) -> tuple[tuple[int, ...], np.ndarray] | None:
        """The old texture found again: where the frames MediaPipe's point stood in for since the gap were (t_ms, shift
        px per frame). The kept ones are tracked back against the reference found, each by its own shift (one that does
        not fit, between two that do: theirs interpolated, MediaPipe's error lasts some frames); the others take
        ``shift`` (this frame's offset against the one they were carried by), or stay (None). Why each its own:
        MediaPipe's bias follows the hands' look, which the landing may change, but in motion its point also lags and,
        on poor frames, jumps: held out, seed 17, blurred stacks at 15 fps, found again mid-downstroke with its point
        27 px above the texture's, and the 2.9 s of frames it had stood in for, all restated by that, located the hands
        52 mm low (the set after the pause read 22-31 mm shallow)."""
        times, frames = self._standin_ms, list(self._standin)
        self._standin_ms, self._standin = [], deque(maxlen=self.opt.unreferenced_frames)
        back = self._tracked_back(frames, shape, wide=True)
        each = dict(zip(*back)) if back is not None else {}
        if len(each) > 1:  # a frame between two tracked ones that did not fit itself: their shifts interpolated
            tt = np.array(sorted(each), float)
            ss = np.array([each[t] for t in sorted(each)])
            for t in times:
                if tt[0] < t < tt[-1] and t not in each:
                    each[t] = np.array([np.interp(t, tt, ss[:, 0]), np.interp(t, tt, ss[:, 1])])
        t_ms = [t for t in times if t in each or shift is not None]
        if not t_ms:
            return None
        return tuple(t_ms), np.array([each[t] if t in each else shift for t in t_ms])

    def _track_back(self, shape: tuple[int, ...]) -> tuple[tuple[int, ...], np.ndarray] | None:
        """The frames given MediaPipe's point while no reference was held, tracked back against the one just taken
        (newest first, each from the last one's fit): their times and how far off the point given was (n, 2). Why: hands
        compressing from the first frame (a rescuer straight in) are never still before the first stroke's bottom, and
        MediaPipe's point lags and wanders in motion: rendered stacks on the side view read the first downstroke up to
        9 mm high, a first compression 8 mm shallow whose short stroke then let leaning tops into the core's baseline.
        Frames that do not fit (or are not of this frame's ``shape``) keep the point they had."""
        frames, self._unreferenced = list(self._unreferenced), deque(maxlen=self.opt.unreferenced_frames)
        return self._tracked_back(frames, shape)

    def _tracked_back(self, frames: list, shape: tuple[int, ...],
                      wide: bool = False) -> tuple[tuple[int, ...], np.ndarray] | None:
        """``frames`` (t_ms, grey, MediaPipe's point, palm, the point given, its view) tracked against the current
        reference, newest first, each from the last one's fit: their times and how far off the point given was (n, 2).
        ``wide``: as after a gap (see ``_track``)."""
        if not frames or self._ref is None:
            return None
        ref = replace(self._ref)  # (its own transform and last point: the reference itself stays as taken)
        t_ms, shifts = [], []
        for t, g, pt, palm, given, view in reversed(frames):
            if g.shape != shape:
                continue
            res = self._track(g, pt, palm, ref=ref, wide=wide, view=view)
            if res is not None:
                t_ms.append(t)
                shifts.append(res[0] - given)
        if not t_ms:
            return None
        return tuple(t_ms), np.array(shifts)

    def _rest_offset(self) -> np.ndarray:
        """Refined - MediaPipe point over the last resting frames (their mean: MediaPipe jitters ~1 px a frame);
        zero before the hands have rested on a reference."""
        return np.mean(self._rest_offsets, axis=0) if self._rest_offsets else np.zeros(2)

    def _make_key(self) -> None:
        """The current reference, which the hands rest on, is the key from now on (and the level's reference)."""
        self._key, self._rest_keyed, self._key_first, self._key_cand = self._ref, True, False, None
        self._key_pt = np.median(self._rest_pts, axis=0)
        self._level_var = 0.0

    def _return_to_key(self, gray: np.ndarray, pt: np.ndarray, palm: float):
        """Track this frame against the key again (as strictly as a renewal); on success it is the
        reference from now on. Why: every renewal continues the trace from a point measured in one frame, so a
        chain of them carries each step's error for good (a random walk in the level; in motion-blurred frames a
        gain too). The hands come back to where they rested at the top of every stroke: a frame that matches the
        rest texture measures its point from the rest reference directly, with no chain between."""
        cur, self._ref = self._ref, self._key
        res = self._track(gray, pt, palm, strict=True)
        if res is None:
            self._ref = cur
            return None
        self.stats["returns"] += 1
        self._depth = self._key.depth
        self._level_var = 0.0
        return res

    def _near_top(self, pt: np.ndarray, palm: float, step_palm: float) -> bool:
        """A frame to measure against the key as well: the hands back near where they rested, barely moving
        (a stroke's top), on another reference."""
        o = self.opt
        return (o.key_check and self._key is not None and self._ref is not self._key and self._key_pt is not None
                and step_palm <= o.key_check_still_palm
                and float(np.linalg.norm(pt - self._key_pt)) <= o.key_check_palm * palm)

    def _key_check(self, gray: np.ndarray, pt: np.ndarray, palm: float, q: np.ndarray) -> np.ndarray:
        """The point ``q`` measured on the current reference, pulled toward where the key (strictly tracked)
        puts it; the current reference's anchor moves with it, so the trace goes on from the corrected level.
        Why: a reference renewed mid-stroke carries that frame's error for good, and a chain of them walks the
        level (blurred stacks at 640x480: -3 then +4 mm over a set); a return to the key happens only when the
        current reference fails, so a chain that still fits kept its error through every top. At a top the hands
        are slow (little blur) and near their rest pose: the key measures the point there with no chain between.
        The current reference stays (the key's texture fails mid-stroke; switching to it renewed each stroke
        mid-motion)."""
        o = self.opt
        res = self._track(gray, pt, palm, strict=True, ref=self._key)
        if res is None:
            return q
        d = res[0] - q
        if float(np.linalg.norm(d)) > o.key_check_max_palm * palm:
            return q
        m2 = o.key_check_meas_palm ** 2
        gain = self._level_var / (self._level_var + m2) if self._level_var > 0 else 0.0
        self._level_var *= 1.0 - gain
        step = gain * d
        cur = self._ref
        cur.anchor = cur.anchor + step * cur.scale  # (reference px, upscaled by its scale)
        self._offset = self._offset + step
        self.stats["key_checks"] += 1
        return q + step

    def _next_depth(self) -> int:
        """The depth of a reference taken now: one more re-anchoring than the last (the first one: 0)."""
        self._depth += 1
        self._level_var += self.opt.key_check_renew_palm ** 2
        self.stats["chain"] = max(self.stats["chain"], self._depth)
        return self._depth

    def _bridge(self, gray: np.ndarray, hand_lm: np.ndarray, pt: np.ndarray,
                palm: float) -> tuple[np.ndarray, int] | None:
        """The reference's texture is lost: fit this frame to the last refined one and carry the refined point
        across; this frame becomes the reference. Features are taken in both frames (the last one's tracked
        forward, this one's backward), so texture that appeared or vanished between them (a tag put on or
        covered) leaves enough of the other frame's to fit, and over the whole hands, fingers too (a tag on the
        wrist covers much of the palm). None: the old reference stays (it may come back)."""
        o = self.opt
        last = self._last
        assert last is not None
        k = last.scale
        g = _upscaled(gray, k)
        move = _up(pt, k) - _up(last.mp_pt, k)  # MediaPipe's displacement: the first guess
        fa = self._features(last.gray, last.hand_lm, k, palm)
        fb = self._features(g, hand_lm, k, palm)
        if fa is None or fb is None:
            return None
        ta, oka = self._lk(last.gray, g, fa, fa + move)
        tb, okb = self._lk(g, last.gray, fb, fb - move)
        src = np.concatenate([fa[oka], tb[okb]])
        dst = np.concatenate([ta[oka], fb[okb]])
        fit = self._fit(src, dst, len(fa) + len(fb), o.bridge_inlier_frac, k)
        if fit is None:
            return None
        q, q0 = self._carry(fit, _up(last.point, k), k, last.depth_px, last.view)
        if float(np.linalg.norm(q - pt)) > o.max_deviation_palm * palm + float(np.linalg.norm(last.point - last.mp_pt)):
            return None
        self._ref = _Reference(g.copy() if g is gray else g, fb, _up(q, k), np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]),
                               _up(pt, k), float(np.linalg.norm(q - pt)), k, provisional=True, depth=self._next_depth(),
                               depth_px=q0, view=self.view)
        self._offset = q - pt
        self._features_px = _motion_point(q0, fit, k)
        self.stats["bridged"] += 1
        return q, fit.inliers

    def _new_reference(self, gray: np.ndarray, palm_lm: np.ndarray, hand_lm: np.ndarray, anchor: np.ndarray,
                       mp_pt: np.ndarray, palm: float, depth_px: np.ndarray | None = None) -> RefinedPoint:
        """A reference on this frame, its point at ``anchor``; ``depth_px``: the depth point carried to this frame
        (None: a fresh one, this reference's features' centroid)."""
        o = self.opt
        self._rematching = False  # (a new reference: the old texture is no longer looked for)
        self._standin_ms, self._standin = [], deque(maxlen=o.unreferenced_frames)
        k = 2.0 if palm < o.upscale_below_palm_px else 1.0
        g = _upscaled(gray, k)
        feats = self._features(g, palm_lm, k, palm)
        if feats is None:
            self._ref = None
            return RefinedPoint(mp_pt, False, 0)
        # the reference outlives this frame: own its pixels (at k = 1, g may be the caller's image)
        self._ref = _Reference(g if g is not gray else gray.copy(), feats, _up(anchor, k),
                               np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), _up(mp_pt, k),
                               float(np.linalg.norm(anchor - mp_pt)), k, depth=self._next_depth(), view=self.view)
        centroid = _down(feats.mean(axis=0), k)
        if self.field is not None:  # the depth point: carried on, or (a fresh one) this reference's centroid
            self._ref.depth_px = centroid if depth_px is None else np.asarray(depth_px, float)
        self._features_px = centroid if self._ref.depth_px is None else self._ref.depth_px
        self._offset = anchor - mp_pt
        self._last = _Refined(self._ref.gray, hand_lm, np.asarray(anchor, float), mp_pt, k, self._features_px, self.view)
        self.stats["references"] += 1
        return RefinedPoint(anchor, True, len(feats), self._features_px)

    def _features(self, g: np.ndarray, hull_px: np.ndarray, k: float, palm: float) -> np.ndarray | None:
        """Corner features (n, 2) of ``g`` (a frame upscaled by k) inside the hull of ``hull_px`` (frame px);
        None: too few."""
        o = self.opt
        mask = np.zeros(g.shape, np.uint8)
        cv2.fillConvexPoly(mask, cv2.convexHull(_up(hull_px, k).astype(np.float32)).astype(np.int32), 255)
        if o.erode_px > 0:
            mask = cv2.erode(mask, np.ones((2 * o.erode_px + 1,) * 2, np.uint8))
        feats = cv2.goodFeaturesToTrack(g, o.max_features, 0.005, max(3.0, k * palm / 15.0), mask=mask, blockSize=5)
        if feats is None or len(feats) < o.min_features:
            return None
        return feats.reshape(-1, 2).astype(np.float32)

    def _lk(self, a: np.ndarray, b: np.ndarray, pts: np.ndarray, guess: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``pts`` of image a found in image b (pyramidal Lucas-Kanade from ``guess``): positions, found mask. When
        the features found are brighter or darker in b than in a (a flickering light), b is brought to a's
        brightness and they are found again from there (:func:`_gain_ratio`)."""
        o = self.opt
        crit = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01)
        win = (o.lk_win_px, o.lk_win_px)
        nxt, st, _ = cv2.calcOpticalFlowPyrLK(a, b, pts, guess.astype(np.float32), winSize=win, maxLevel=o.lk_levels,
                                              criteria=crit, flags=cv2.OPTFLOW_USE_INITIAL_FLOW)
        found = st.reshape(-1) == 1
        if o.match_gain:
            ratio = _gain_ratio(a, b, pts[found], nxt[found])
            if abs(ratio - 1.0) > o.gain_tolerance:
                self.stats["gain_matched"] += 1
                nxt, st, _ = cv2.calcOpticalFlowPyrLK(a, cv2.convertScaleAbs(b, alpha=ratio), pts, nxt, winSize=win,
                                                      maxLevel=o.lk_levels, criteria=crit,
                                                      flags=cv2.OPTFLOW_USE_INITIAL_FLOW)
                found = st.reshape(-1) == 1
        return nxt, found

    def _fit(self, src: np.ndarray, dst: np.ndarray, n: int, min_frac: float, k: float) -> _Fit | None:
        """src -> dst: inliers by a RANSAC similarity (at least ``min_frac`` of ``n`` features, a scale a
        compression can give), then shift and scale fitted to them; None: not trusted."""
        o = self.opt
        if len(src) < o.min_features:
            return None
        m, inl = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=o.ransac_px * k)
        if m is None or inl is None:
            return None
        inliers = int(inl.sum())
        if inliers < max(o.min_features, min_frac * n):
            return None
        if abs(math.sqrt(abs(float(np.linalg.det(m[:, :2])))) - 1.0) > o.max_scale_change:
            return None
        keep = inl.reshape(-1).astype(bool)
        a, b = src[keep].astype(np.float64), dst[keep].astype(np.float64)
        ca, cb = a.mean(axis=0), b.mean(axis=0)
        da, db = a - ca, b - cb
        sc = float(np.sum(da * db) / max(float(np.sum(da * da)), 1e-9))  # no rotation: shift and scale only
        m = np.array([[sc, 0.0, cb[0] - sc * ca[0]], [0.0, sc, cb[1] - sc * ca[1]]])
        return _Fit(m, inliers, a, b)

    def _carry(self, fit: _Fit, point: np.ndarray, k: float, depth_px: np.ndarray | None = None,
               view_from: object | None = None, view_to: object | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """Where ``point`` (reference px, upscaled by k) went, and where the depth point ``depth_px`` (reference
        frame px; with a field only) went: by the field when there is one (each inlier's δ/Z along its direction,
        their mean carried along the point's own direction, plus their mean sideways slip), else by the shift and
        scale. Frame px.

        With a field that knows the surface's plane, each inlier's δ/Z is first scaled to the depth point's depth
        (``plane_depth``): on a plane the depths' ratio follows from the pixels alone. Why: the plain mean δ/Z is
        the motion of a point at the inliers' mean depth, and each renewal takes other corners, elsewhere on the
        hand (a stack's span ~150 mm toward the camera), so each reference carried the motion of another point
        while the geometry converts it at the one located at rest. Measured on the rendered families (34 cases per
        seed): summed depth MAE 18.1 -> 17.2, 18.8 -> 15.8 and, held out, 20.2 -> 17.4 mm; the flat hands gained
        most (docs/calibration.md, "Features scaled to one point's depth").

        A moving camera (``view_from``: the reference's view, ``view_to``: this frame's, default ``self.view``): the
        features' motion holds the camera's own, which the field would read as depth. So the reference's pixels are
        first carried into this frame's camera as points on the hands' surface as it was in the reference frame
        (``warp``), and what is left is the hands' own motion, read by this frame's field. Features off that surface
        move with some parallax: their distance from it times the camera's move between the two frames, over the
        distance to the camera."""
        view_to = self.view if view_to is None else view_to
        if self.field is None or (view_to is not None and (view_from is None or self.warp is None)):
            # (a reference seen from no known view: the field would read the camera's move as the hands')
            return _down(fit.transform[:, :2] @ point + fit.transform[:, 2], k), None
        src = _down(fit.src, k)
        point = _down(point, k)
        if view_from is not None and view_to is not None and view_from is not view_to:
            # reference px -> this frame's px: the features and the depth point (their centroid) as points on their
            # surface, the point on its own plane
            h_feats, h_point = self.warp(view_from, view_to)
            pts = [src] + ([] if depth_px is None else [np.asarray(depth_px, float)[None]])
            out = cv2.perspectiveTransform(np.concatenate(pts)[:, None], h_feats)[:, 0]
            src, depth_px = out[:len(src)], (None if depth_px is None else out[-1])
            point = cv2.perspectiveTransform(point[None, None], h_point)[0, 0]
            move = _down(fit.dst, k) - src
        else:
            move = (fit.dst - fit.src) / k
        d = self.field.at(src)
        f = np.sum(move * d, axis=1) / np.maximum(np.sum(d * d, axis=1), 1e-12)
        slip = move - f[:, None] * d
        if depth_px is not None and self.opt.plane_depth and self.field.plane_normal is not None:
            w = self.field.plane_inverse_depth(src)
            w0 = float(self.field.plane_inverse_depth(depth_px)[0])
            if np.all(w * w0 > 0.0):  # (all in front of the plane's horizon)
                # f = δ/(Z + δ d_z) (see TranslationField) with Z_i/Z_0 = w0/w_i: the same δ at the depth point's Z_0
                dz = self.field.direction[2]
                f = f / ((1.0 - dz * f) * (w / w0) + dz * f)
        fm, sm = float(f.mean()), slip.mean(axis=0)
        q0 = None if depth_px is None else depth_px + fm * self.field.at(depth_px)[0] + sm
        return point + fm * self.field.at(point)[0] + sm, q0

    def _track(self, gray: np.ndarray, pt: np.ndarray, palm: float, strict: bool = False,
               ref: _Reference | None = None, wide: bool = False,
               view: object | None = None) -> tuple[np.ndarray, int, float, np.ndarray] | None:
        """Find the reference's features in this frame; the refined point (frame px), inliers, inlier share and
        the frame as tracked (upscaled like the reference). ``ref``: another reference than the current one, to
        measure against (the current one's offset and features are then left as they are). ``wide``: MediaPipe's
        point may be as far off as after a gap (``return_deviation_palm``). ``view``: that frame's, when it is not this
        one (a frame tracked back)."""
        own = ref is None
        ref = self._ref if own else ref
        assert ref is not None
        o = self.opt
        k = ref.scale
        g = _upscaled(gray, k)
        pk = _up(pt, k)
        # start each feature where the last transform puts it, moved by MediaPipe's displacement since then
        guess = ref.feats @ ref.transform[:, :2].T + ref.transform[:, 2] + (pk - ref.last_pt)
        nxt, ok = self._lk(ref.gray, g, ref.feats, guess)
        n = len(ref.feats)
        min_frac = o.renew_inlier_frac if strict else o.min_inlier_frac
        fit = self._fit(ref.feats[ok], nxt[ok], n, min_frac, k)
        retried = False
        if fit is None and own and o.retry_unguided and self._last is not None:
            # MediaPipe's point may have jumped while the hands did not (a stack seen from 600 mm: the point went 18 px
            # across and stayed level while the hands went down 12 px; from that guess no feature was found, the
            # point fell back to MediaPipe's for 6 frames and the bottom read 16 mm shallow). The hands move smoothly:
            # start each feature where the last frame's transform put it
            nxt, ok = self._lk(ref.gray, g, ref.feats, ref.feats @ ref.transform[:, :2].T + ref.transform[:, 2])
            fit = self._fit(ref.feats[ok], nxt[ok], n, min_frac, k)
            retried = True
        if fit is None:
            return None
        q, q0 = self._carry(fit, ref.anchor, k, ref.depth_px, ref.view, view)
        if retried:
            if float(np.linalg.norm((q - pt) - self._offset)) < o.retry_jump_palm * palm:
                return None  # (MediaPipe's point went with the hands: its move was no bad guess)
            self.stats["unguided"] += 1
        dev = o.return_deviation_palm if (wide or (own and self._rematching)) else o.max_deviation_palm
        if float(np.linalg.norm(q - pt)) > dev * palm + ref.offset:
            return None
        ref.transform = fit.transform
        ref.last_pt = pk
        if own and self._rematching:
            # the old texture found again: the frames MediaPipe's point stood in for since the gap were carried by the
            # offset it had while the hands rested, but its bias follows their look, which the landing may have
            # changed (blurred stacks at 640x480: 15 px, read as a 15 mm dip counted as a compression); the caller
            # may restate them (RefinedPoint.restated): each tracked back against this frame's fit, the older ones by
            # this frame's offset if it is still (in motion MediaPipe's point lags: see _restate_standins)
            shift = (q - pt) - self._offset if self._still else None
            self._rematching = False
            if self._standin_ms:
                self._restated = self._restate_standins(gray.shape, shift)
        if own:
            self._offset = q - pt
            self._features_px = _motion_point(q0, fit, k)
        return q, fit.inliers, fit.inliers / n, g


def _motion_point(q0: np.ndarray | None, fit: _Fit, k: float) -> np.ndarray:
    """Where a carry's motion is a point's, in this frame (RefinedPoint.features_px): the depth point when the carry
    had one, else the inliers' centroid."""
    return q0 if q0 is not None else _down(fit.dst.mean(axis=0), k)


def _gain_ratio(a: np.ndarray, b: np.ndarray, pts_a: np.ndarray, pts_b: np.ndarray, patch_px: int = 7) -> float:
    """How much brighter a is than b on the same features (a at ``pts_a``, b at ``pts_b``): the median of their
    patches' mean ratios; 1 with too few. Why: Lucas-Kanade assumes constant brightness, and lighting that
    flickers from frame to frame (mains light beating with the frame rate, auto exposure) breaks it with a bias,
    not only noise: on the rendered stacked hands an 8 % flicker read the depth 4 % low (640x480) with every other
    error removed. Measured on the features themselves, as found: a box around them takes in the chest and the
    hands' edges, which move, and scaling clean frames by its drift cost the stacked renders 1-3 mm."""
    if len(pts_a) < 6:
        return 1.0
    ma, mb = _patch_means(a, pts_a, patch_px), _patch_means(b, pts_b, patch_px)
    ok = mb > 1.0
    return float(np.median(ma[ok] / mb[ok])) if ok.sum() >= 6 else 1.0


@lru_cache(maxsize=4)
def _patch_offsets(patch_px: int) -> tuple[np.ndarray, np.ndarray]:
    d = np.arange(patch_px, dtype=np.float32) - (patch_px - 1) / 2.0
    dx, dy = np.meshgrid(d, d)
    return dx.reshape(1, -1), dy.reshape(1, -1)


def _patch_means(img: np.ndarray, pts: np.ndarray, patch_px: int) -> np.ndarray:
    """Mean intensity of a patch_px square around each point (sub-pixel, bilinear): one remap for all of them."""
    dx, dy = _patch_offsets(patch_px)
    p = np.asarray(pts, dtype=np.float32).reshape(-1, 2)
    mx = p[:, :1] + dx
    my = p[:, 1:] + dy
    return cv2.remap(img, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).mean(axis=1)


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
