"""Where the tracked hand surface is: its 3D position at rest, and a worn hand tag.

Why: the marker gives the camera, and a pixel gives a ray; depth in millimetres needs the
tracked surface's distance along that ray. A feature 9 mm nearer or farther than assumed, at
0.9 m, is 1 % of depth. Real hands put the tracked surface anywhere from the chest (the heel) to
60 mm above it, and up to 45 mm toward the camera from the midline, so assuming it lies on the
sagittal plane (the first geometry) is worth up to ±5 % of depth.

Markerless (:func:`locate_tracked_point`): at rest, the heel of the bottom hand touches the chest
at the compression point, on the midline. A hand lying flat is tracked near its heel, so near the
midline; a hand turned toward the camera (the top hand of a stack, or wrists lifted) has its palm
centre over the midline and is tracked near its heel, which then lies toward the camera by the
heel-to-palm-centre offset. MediaPipe's world landmarks, posed by PnP in the calibrated camera, give
that offset in mm and the palm's tilt. That lateral prior places the point on the tracked ray; the
chest bounds it from below. The lateral
spread over the ray's incidence is the stated along-ray uncertainty. Where the texture tracker carries
the point (``vision.hand_motion`` with the chest's motion field), what it measures is the motion of a
point at its features' depth, not the tracked pixel's: so the point is then placed on the tracked ray
at that depth. On a flat hand or a stack the features lie on the back of the top hand, a known height
above the chest (one hand 28 mm, a stack 52 mm: which one, from how high the tracked point rests),
so the features' centroid ray meets that height; a hand turned toward the camera keeps the lateral
prior (blended by its tilt). On the rendered stacked hands this took the depth scale from
+0.6 to +7 % (one-sided) to within +-2.5 %. Heights are then measured in
the plane through that point parallel to the sagittal plane
(:class:`calibration.height.HeightEstimator` with ``plane_y_mm``).

Hand tag (:class:`HandTagTracker`, most accurate): a small printed ArUco tag on the back of the
top hand or a wristband (``cpr-coach calibrate print-marker --hand``). Its corners are found in
every frame (IPPE_SQUARE gives its pose); at rest its pose is averaged, and from then on each
frame's four corners are fitted with that rigid tag moved along the chest normal (plus a small
sideways slip), which gives the hands' displacement in mm without any assumption about the hand.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from calibration.camera import CameraIntrinsics
from calibration.geometry import Pose, camera_center, intersect_rays_plane, pixel_rays, project_points

HAND_TAG_DICTIONARY = "DICT_4X4_50"
HAND_TAG_ID = 7  # the chest marker is id 0, an anchor id 1: the hand tag never gets mistaken for either
HAND_TAG_MM = 40.0
PALM = (0, 5, 9, 13, 17)
HEEL_FRACTION = 0.4  # as vision.hand_geometry: the heel lies 40 % of the way from the wrist to the palm centre
HANDS_PLANE_MM = 40.0  # a plane parallel to the chest this high stands for the hands' surface before they are located
# (their backs lie 15-60 mm up): what carries pixels from one camera pose to another (a headset)


@dataclass(frozen=True)
class HandPointOptions:
    """Priors of the markerless hand model (mm, degrees). Ranges from the issue's hand geometry."""

    one_hand_mm: float = 28.0  # back of one hand above the chest (where the texture's features are, on a flat hand)
    stacked_mm: float = 52.0  # back of a stacked top hand above the chest (idem, on a stack)
    back_sd_mm: float = 6.0  # spread of those: hands 20-35 mm thick (the stack's variants rendered: 48-56 mm)
    stack_min_height_mm: float = 34.0  # a tracked point resting this high (where its ray crosses the midline) is
    # a stack's top hand: a single hand's heel rests below its own back (renders: flat hands 13-18 mm, turned ones up
    # to 26; stacks 38-58 mm) ...
    stack_band_mm: float = 12.0  # ... and up to this much lower it may be either (a stack's top hand shifted far
    # toward the camera, seen from 45/45, read 28): the features are then put between the two backs, with a spread
    # that covers both. So too when the ray meets the midline only under the chest (a top hand shifted 45 mm across
    # the body, seen from 45/45: one hand would have to lie 17-26 mm off the midline, a stack's top hand 43)
    top_shift_mm: float = 32.0  # a stacked top hand's shift toward the camera (20-45 mm)
    height_sd_mm: float = 14.0  # spread of those heights (one hand or a stack: a single seen hand may hide one)
    min_height_mm: float = 0.0  # the tracked surface is not below the chest (20, a palm's thickness, cost the
    # 45/45 view of a flat hand 2.7 mm on the first renders: the texture tracker's point sits off the pixel's surface)
    lateral_sd_mm: float = 12.0  # spread of the tracked point's offset from the predicted line
    tilt_full_deg: float = 30.0  # a palm tilted this far (or more) toward the camera has its centre on the midline
    tilt_across_min_deg: float = 5.0  # ... and at least this much of it across the body (about the body axis)
    tilt_none_deg: float = 15.0  # ... this little (or less): its heel on the midline. PnP's tilt noise is ~10 deg and
    # lies mostly toward the camera (a hand at arm's length is nearly weak-perspective): flat hands seen from 45 deg
    # toward the feet or 60 deg up read 11-14 deg, and 8 here blended them toward a turned hand (-1.2 mm)
    vision_rel_sd: float = 0.012  # where the texture tracker's motion really is, against the tracked point's
    # surface: on rendered hand families, with the true surface point, depth still came out -2 to +2 % (docs)
    vision_rel_sd_stacked: float = 0.03  # ... and for two stacked hands. Measured before the motion field: the
    # features on the top hand lay nearer the camera than the point located, +0.6 to +5.8 % on five rendered stacks.
    # With the field and the features' depth (session 7) the stacked scales read 0.955-1.024 (two hands and a
    # forearm under the features, and the back height's own spread), so 3 % is kept (docs/calibration.md)
    coverage: float = 2.0  # the stated uncertainty is this many standard deviations


@dataclass(frozen=True)
class RestHand:
    """One resting frame's evidence: the tracked pixel and the used hands' landmarks."""

    xy_px: np.ndarray  # (2,) the tracked point
    landmarks_px: np.ndarray  # (n, 21, >=2)
    world_landmarks_m: np.ndarray  # (n, 21, 3)
    features_px: np.ndarray | None = None  # (2,) the texture tracker's features' centroid: the motion measured is
    # a point's at their depth (vision.hand_motion.TranslationField); None: the tracked pixel's own



@dataclass(frozen=True)
class TrackedPoint:
    """The tracked surface at rest, in the manikin frame."""

    point_mm: np.ndarray  # (3,) where the tracked ray meets the hand surface at rest
    along_ray_sd_mm: float  # 1-sigma of its distance along the ray
    distance_mm: float  # camera to the point
    tilt_deg: float  # palm tilt from the chest normal (median over frames), NaN without hands
    stacked: bool  # two hands were seen in most resting frames
    lateral_prior_mm: float  # the two constraints used (y and z of the tracked point), for reports
    height_prior_mm: float
    # the plane of the surface the texture tracker follows (unit, manikin frame): the chest's for a flat hand or a
    # stack, the palm's (from PnP) for a hand turned toward the camera, blended by its tilt
    surface_normal: np.ndarray = field(default_factory=lambda: np.array([0.0, 0.0, 1.0]))
    # a point of that surface: the features' centroid at rest, at the point's depth on its own ray (None: point_mm).
    # The point is on the tracked ray, which crosses the depth elsewhere: a flat hand's heel 11 mm under its back
    surface_mm: np.ndarray | None = None

    @property
    def surface_point_mm(self) -> np.ndarray:
        """A point of the surface the texture tracker's features lie on (manikin frame)."""
        return self.point_mm if self.surface_mm is None else self.surface_mm

    @property
    def rel_sd(self) -> float:
        """Relative 1-sigma of the depth scale from the point's position (distance along the ray)."""
        return self.along_ray_sd_mm / self.distance_mm

    def scale_rel_sd(self, o: HandPointOptions) -> float:
        """Relative 1-sigma of the markerless depth scale: the point's position and where the texture tracker's motion
        really is. A stack (two hands seen, or one resting higher than one hand's back can) has the wider second."""
        stacked = reads_as_stack(self.stacked, self.height_prior_mm, o)
        return math.hypot(self.rel_sd, o.vision_rel_sd_stacked if stacked else o.vision_rel_sd)


def reads_as_stack(two_seen: bool, rest_height_mm: float, o: HandPointOptions) -> bool:
    """Two hands seen, or the tracked point resting higher than one hand's heel can: a stack's top hand."""
    return two_seen or rest_height_mm >= o.stack_min_height_mm


def _hand_evidence(lms_px: np.ndarray, world_m: np.ndarray, intr: CameraIntrinsics,
                   cam_from_manikin: Pose) -> tuple[np.ndarray, np.ndarray] | None:
    """(palm normal, heel -> palm-centre vector in mm), both in the manikin frame; None when PnP fails."""
    from calibration.handscale import HandScaleError, hand_pose

    try:
        pose, _ = hand_pose(lms_px[:, :2], world_m, intr)
    except HandScaleError:
        return None
    w = np.asarray(world_m, dtype=np.float64)[:, :3] * 1000.0
    pc = w[list(PALM)].mean(axis=0)
    heel = w[0] + HEEL_FRACTION * (pc - w[0])
    # in the camera frame: the palm's normal from its two long chords (MediaPipe's world palm is narrow across
    # the knuckles, a plane fitted to its five points may take the long axis for the normal), toward the camera
    r = pose.rotation
    n = r @ np.cross(w[5] - w[0], w[17] - w[0])
    n /= np.linalg.norm(n)
    centre = pose.apply(pc)
    if float(n @ -centre) < 0:
        n = -n
    off = r @ (pc - heel)
    # a hand at arm's length is nearly weak-perspective: PnP may return its mirror image about the line of
    # sight (as calibration.handscale). The camera is upright and above the chest, so a palm normal pointing
    # down the image is the mirror: reflect the normal and the offset's depth.
    v = centre / np.linalg.norm(centre)
    if n[1] > 0:
        n = 2.0 * float(n @ v) * v - n
        off = off - 2.0 * float(off @ v) * v
    to_manikin = cam_from_manikin.rotation.T
    n_m = to_manikin @ n
    if n_m[2] < 0:
        n_m = -n_m
    return n_m / np.linalg.norm(n_m), to_manikin @ off


def toward_camera(cam_from_manikin: Pose) -> np.ndarray:
    """The horizontal unit direction from the compression point toward the camera (manikin frame)."""
    c = camera_center(cam_from_manikin)
    return np.array([c[0], c[1], 0.0]) / (math.hypot(c[0], c[1]) or 1.0)


def seen_from(sample: RestHand, intr: CameraIntrinsics, pose_from: Pose, pose_to: Pose,
              height_mm: float = HANDS_PLANE_MM, features_height_mm: float | None = None) -> RestHand:
    """One resting frame's evidence (seen from ``pose_from``) as the camera at ``pose_to`` would have seen it.

    Why: the location takes the resting frames' median pixel and one camera pose; a moving camera (anchor mode) saw
    each frame from elsewhere (a headset's bob of 3 cm moved the hands ~20 px over a 2 s rest), so each frame's pixels
    are carried to one pose first, through the point at ``height_mm`` above the chest on their ray (the hands' backs
    lie 15-60 mm up: a 2 cm error there moves a 3 cm bob's mapping by under 1 mm); the features through
    ``features_height_mm`` if given (where their surface is), else the same."""
    if pose_from is pose_to:
        return sample
    k, dist = intr.matrix, intr.dist_coeffs
    c = camera_center(pose_from)

    def carry(px: np.ndarray, z_mm: float = height_mm) -> np.ndarray:
        a = np.asarray(px, dtype=np.float64)
        r = pixel_rays(a.reshape(-1, a.shape[-1])[:, :2], k, dist) @ pose_from.rotation  # (manikin frame)
        pts, _ = intersect_rays_plane(c, r, np.array([0.0, 0.0, z_mm]), np.array([0.0, 0.0, 1.0]))
        out = project_points(pose_to.apply(pts), k, dist)
        if a.shape[-1] > 2:  # (landmarks with a z: kept as they are)
            out = np.concatenate([out, a.reshape(-1, a.shape[-1])[:, 2:]], axis=1)
        return out.reshape(a.shape)

    lms = carry(sample.landmarks_px) if np.size(sample.landmarks_px) else sample.landmarks_px
    z_feats = height_mm if features_height_mm is None else features_height_mm
    feats = None if sample.features_px is None else carry(sample.features_px, z_feats)
    return RestHand(carry(sample.xy_px), lms, sample.world_landmarks_m, feats)


def locate_tracked_point(samples: list[RestHand], intr: CameraIntrinsics, cam_from_manikin: Pose,
                         options: HandPointOptions | None = None, pressed_mm: float = 0.0) -> TrackedPoint:
    """The tracked surface point at rest from the resting frames (see the module docstring).

    ``pressed_mm``: the frames were that far below the rest (recoil tops that later tops showed to lean): the chest and
    the hands on it stood that much lower, so the priors' heights are taken from there, and the point returned is
    where it is at rest. Why: a flat hand's point is placed where its features' ray meets the back of the hand's
    height, so a lean there slides it along the ray, twice the lean from 30 deg up (rendered straight in, a 5.7 mm lean
    at the tops: 11.7 mm toward the camera, the depth 1.5 % shallow)."""
    o = options or HandPointOptions()
    if not samples:
        raise ValueError("no resting frames with a tracked point")
    xy = np.median(np.array([s.xy_px for s in samples]), axis=0)
    # (in the frame of the pressed chest: the camera stands that much higher above it; the point comes out at rest)
    c = camera_center(cam_from_manikin) + np.array([0.0, 0.0, float(pressed_mm)])
    r = pixel_rays(xy[None], intr.matrix, intr.dist_coeffs)[0] @ cam_from_manikin.rotation
    r = r / np.linalg.norm(r)
    normals, offsets, n_hands = [], [], []
    for s in samples[:: max(1, len(samples) // 20)]:  # ~20 frames are plenty for a median
        lms = np.asarray(s.landmarks_px, dtype=np.float64)
        n_hands.append(lms.shape[0])
        for k in range(lms.shape[0]):
            ev = _hand_evidence(lms[k], s.world_landmarks_m[k], intr, cam_from_manikin)
            if ev is not None:
                normals.append(ev[0])
                offsets.append(ev[1])
    stacked = bool(n_hands) and float(np.mean(np.array(n_hands) >= 2)) >= 0.5
    side = np.array([0.0, np.sign(c[1]) or -1.0, 0.0])  # horizontal, toward the camera's side of the midline
    toward = toward_camera(cam_from_manikin)
    if normals:
        n = np.median(np.array(normals), axis=0)
        n /= np.linalg.norm(n)
        a = np.median(np.array(offsets), axis=0)  # the tracked heel -> palm centre
        tilt = math.degrees(math.atan2(float(n @ toward), float(n[2])))  # the palm turned toward the camera
        # ... which must show across the body too: PnP can lean a flat hand's normal along the body axis
        # (20 deg on a hand with its fingers straight across, seen from 45 deg off the side view)
        if math.degrees(math.atan2(float(n @ side), float(n[2]))) < o.tilt_across_min_deg:
            tilt = min(tilt, 0.0)
    else:
        a, tilt = np.zeros(3), math.nan
    w_tilt = 0.0 if not math.isfinite(tilt) else min(max((tilt - o.tilt_none_deg) / (o.tilt_full_deg - o.tilt_none_deg), 0.0), 1.0)
    if stacked:
        # the tracked point is the two heels' mean: the bottom one on the midline, the top one shifted toward
        # the camera by 20-45 mm
        y_prior = 0.5 * o.top_shift_mm * float(side[1])
        lat_sd = 1.5 * o.lateral_sd_mm
    else:
        # from "heel on the midline" (a flat hand) to "palm centre on the midline" (a hand turned toward the
        # camera, resting on the other hand): the tracked heel then lies toward the camera by the offset
        y_prior = -w_tilt * float(a[1])
        lat_sd = o.lateral_sd_mm
    if abs(r[1]) > 0.05:
        s_mm = (y_prior - c[1]) / r[1]
        sd = lat_sd / abs(r[1])
    else:  # looking along the body axis (calibration refuses most such views): the height alone
        s_mm = (0.5 * (o.one_hand_mm + o.stacked_mm) - c[2]) / r[2]
        sd = o.height_sd_mm / abs(r[2])
    # the hands rest on the chest: their tracked surface is not below min_height_mm. A reading below it (the
    # ray crosses the midline under that) means the surface is nearer: slide it up the ray.
    z = c[2] + s_mm * r[2]
    # ... and then it is not where the prior put it: off the midline toward the camera (the ray reaches the
    # midline only under the chest), as a stack's top hand is by design and one hand only when misplaced
    off_prior = z < o.min_height_mm and r[2] < -1e-3
    if off_prior:
        s_new = (o.min_height_mm - c[2]) / r[2]
        sd = max(sd, abs(s_new - s_mm) / 2.0)
        s_mm = s_new
    z_prior = float(c[2] + s_mm * r[2])
    # how level the tracked surface (the back of the top hand) is: a stack's or a flat hand's is, a hand turned toward
    # the camera's is not (blended by its tilt)
    is_stack = reads_as_stack(stacked, z_prior, o)
    flat = 1.0 if is_stack else 1.0 - w_tilt
    feats = [x.features_px for x in samples if x.features_px is not None]
    if feats:
        # the texture tracker measures the motion of a point at its features' depth (vision.hand_motion): convert
        # there. On a flat hand or a stack the features lie on the back of the top hand, at a known height; a hand
        # turned toward the camera (its back not level) keeps the lateral prior above, blended by the tilt
        either = not is_stack and (z_prior >= o.stack_min_height_mm - o.stack_band_mm or off_prior)
        rf = pixel_rays(np.median(np.array(feats), axis=0)[None], intr.matrix, intr.dist_coeffs)[0] @ cam_from_manikin.rotation
        rf = rf / np.linalg.norm(rf)
        if flat > 0.0 and rf[2] < -0.05:
            axis = cam_from_manikin.rotation[2]  # the optical axis in the manikin frame: depth = axis . (X - c)
            back = o.stacked_mm if is_stack else o.one_hand_mm
            back_sd = o.back_sd_mm
            if not is_stack:
                # one seen hand may be a stack's top hand with the bottom one hidden, wherever its ray crosses the
                # midline (a 30 mm stack across the body, seen from 45 deg toward the feet, read 15 mm; flat hands
                # 13-30): its spread covers a stack's back
                back_sd = math.hypot(o.back_sd_mm, 0.5 * (o.stacked_mm - o.one_hand_mm))
            if either:  # ... and where it may as well be either, it is put between the two
                back = 0.5 * (o.one_hand_mm + o.stacked_mm)
            per_mm = float(axis @ rf) / rf[2]  # depth of the features' ray per mm of height
            depth = flat * per_mm * (back - c[2]) + (1.0 - flat) * float(axis @ r) * s_mm
            sd = flat * back_sd * abs(per_mm) / float(axis @ r) + (1.0 - flat) * sd
            s_mm = depth / float(axis @ r)  # the point on the tracked ray at that depth
    p = c + s_mm * r
    q = None  # the features' centroid at the point's depth: where their surface is (TrackedPoint.surface_mm)
    if feats:
        depth_axis = cam_from_manikin.rotation[2]
        q = c + (float(depth_axis @ (p - c)) / float(depth_axis @ rf)) * rf
    surface = np.array([0.0, 0.0, 1.0])  # the texture's plane (vision.hand_motion scales its features' motion on it)
    if normals and flat < 1.0:
        surface = flat * surface + (1.0 - flat) * n
        surface /= np.linalg.norm(surface)
    return TrackedPoint(p, sd, s_mm, tilt, stacked, y_prior, z_prior, surface, q)


CORE_FLOOR_MM = 0.6  # the core's own reading of tops and bottoms at >= 30 fps: its depth bias on simulated stroke shapes
# (raised cosine, trapezoid, asymmetric, real stroke templates, mixed; 0-2 mm noise, regular or uneven frames) is
# up to 0.56 mm (0.3 until session 17 covered the default shape only; docs/calibration.md, "Stated uncertainty")
CORE_FLOOR_DT_S = 1.0 / 30.0


def core_floor_mm(frame_interval_s: float) -> float:
    """The core's share of the stated uncertainty at a frame interval: CORE_FLOOR_MM up to 30 fps, growing with the
    interval squared below it (a curved top or bottom read from frames further apart). Why this size: over the five
    simulated stroke families, 0-2 mm noise, regular or uneven frames (10 seeds each), the core's |depth bias| was
    at most 0.56 mm at 30 fps, 0.64 at 24-25, 0.83 at 20 and 2.11 at 15 fps with uneven frames; this gives 0.6,
    0.86-0.94, 1.35 and 2.4 mm. It does not cover a single stroke shape held for a whole session (a sharp corner up to
    -5.3 mm, a held bottom +1.8: docs/core.md, "One shape held fixed"): the pipeline adds the session's own figure for
    that (``coach.core.shape_bias``)."""
    if not (frame_interval_s > 1.05 * CORE_FLOOR_DT_S):  # (30 fps with millisecond stamps)
        return CORE_FLOOR_MM
    return CORE_FLOOR_MM * (frame_interval_s / CORE_FLOOR_DT_S) ** 2


def depth_uncertainty_mm(rel_sd: float, depth_mm: float, coverage: float = 2.0, floor_mm: float = CORE_FLOOR_MM,
                         level_sd_mm: float = 0.0) -> float:
    """The stated depth uncertainty: ``coverage`` sigma of a relative scale spread at ``depth_mm`` and of the
    trace's level drift ``level_sd_mm`` (in quadrature), plus a floor for the core's own reading of tops and
    bottoms (:func:`core_floor_mm`)."""
    return coverage * math.hypot(rel_sd * depth_mm, level_sd_mm) + floor_mm


NOISE_SPAN_S = 0.26  # the longest window trace_noise_mm fits a cubic over (7 samples up to 24 fps)


def trace_noise_mm(height_mm, dt_s: float = math.nan) -> float:
    """Per-frame noise of a measured height trace (mm): the robust spread of each sample's residual from a cubic
    fitted over the 7 samples around it (smooth chest motion is nearly cubic over 0.2 s at 30 fps; blur, noise
    and a struggling tracker are not). NaN with fewer than 20 such windows. Frames ``dt_s`` apart (the median
    interval) with 7 samples spanning more than ``NOISE_SPAN_S``: the 5 around it. Why: over 0.4 s (7 frames at
    15 fps) a stroke is not cubic, and its shape read as noise: clean simulated strokes 1.7-2.3 mm at 15 fps
    (0.5-1.1 at 30), 5 samples 1.0-1.7; blurred stacks at 15 fps (real strokes, seed 12) 4.46 mm against 1.50,
    stated ±70 mm for a 4.4 mm error (docs/calibration.md, session 27)."""
    from numpy.lib.stride_tricks import sliding_window_view

    h = np.asarray(height_mm, dtype=np.float64)
    n = 5 if 6.0 * dt_s > NOISE_SPAN_S else 7  # (NaN: 7)
    if h.size < n:
        return math.nan
    x = np.arange(n, dtype=np.float64) - (n - 1) / 2
    a = np.vander(x, 4)
    w = (np.eye(n) - a @ np.linalg.pinv(a))[n // 2]  # the centre sample's residual from the window's cubic
    win = sliding_window_view(h, n)
    win = win[np.all(np.isfinite(win), axis=1)]
    if len(win) < 20:
        return math.nan
    return float(1.4826 * np.median(np.abs(win @ w)) / math.sqrt(float(w @ w)))


def level_drift_mm(trace_noise: float, re_references: int) -> float:
    """1-sigma drift of a trace's level after ``re_references`` re-anchorings of its tracker: each new reference
    continues from the point measured in that frame, so it carries that frame's noise for good (a random walk)."""
    if not math.isfinite(trace_noise) or re_references <= 0:
        return 0.0
    return trace_noise * math.sqrt(re_references)


# ---------------------------------------------------------------------------------------------- hand tag


@dataclass(frozen=True)
class HandTagSpec:
    """The worn hand tag: dictionary, id and black-square size (mm)."""

    dictionary: str = HAND_TAG_DICTIONARY
    marker_id: int = HAND_TAG_ID
    size_mm: float = HAND_TAG_MM


class HandTagTracker:
    """Per-frame hand tag corners; after the rest hold, the tag's displacement along the chest normal.

    Why fit the rest pose moved along the normal rather than take each frame's IPPE translation:
    a 40 mm tag's distance from a single frame is uncertain by about 1 % (its apparent size), which
    along the chest normal is ~5 mm at 30 deg elevation. The rest pose averages many frames; each
    frame then needs only the displacement, which all four corners pin to a fraction of a mm.
    """

    def __init__(self, intrinsics: CameraIntrinsics, spec: HandTagSpec | None = None, max_reprojection_px: float = 2.5) -> None:
        from calibration.markers import MarkerDetector

        self.intr = intrinsics
        self.spec = spec or HandTagSpec()
        self._det = MarkerDetector(self.spec.dictionary)
        self.max_reprojection_px = max_reprojection_px
        self._ref: tuple[np.ndarray, np.ndarray] | None = None  # (corners in the manikin frame at rest, chest normal)
        self.frames_seen = 0

    def find(self, image: np.ndarray, roi_px: tuple[int, int, int, int] | None = None) -> np.ndarray | None:
        """The tag's four corners (4, 2) in this frame, or None."""
        img, off = image, np.zeros(2)
        if roi_px is not None:
            x0, y0, x1, y1 = (int(v) for v in roi_px)
            img, off = image[max(y0, 0):y1, max(x0, 0):x1], np.array([max(x0, 0), max(y0, 0)], float)
        det = self._det.find(img, self.spec.marker_id)
        if det is None:
            return None
        self.frames_seen += 1
        return det.corners_px + off

    @property
    def has_reference(self) -> bool:
        return self._ref is not None

    def set_reference(self, corners: list[np.ndarray], cam_from_manikin: Pose | list[Pose]) -> bool:
        """The tag's rest pose from the rest frames' corners (IPPE per frame, flip resolved, median).

        ``cam_from_manikin``: the camera's pose, or each frame's (a moving camera: anchor mode). Why each frame's: the
        corners are seen from where the camera was then; read with the calibration's pose, a headset's 3 cm bob moved
        the rest pose, and every depth after it read up to 25 mm off (session 31, the tag on a moving camera: +9 mm)."""
        from calibration.manikin import choose_solution
        from calibration.markers import MarkerError, estimate_marker_pose, marker_object_points

        obj = marker_object_points(self.spec.size_mm)
        pts = []
        poses = cam_from_manikin if isinstance(cam_from_manikin, (list, tuple)) else [cam_from_manikin] * len(corners)
        if len(poses) != len(corners):
            raise ValueError(f"{len(corners)} frames of tag corners, {len(poses)} camera poses")
        for c, pose in zip(corners, poses):
            toward_cam = -np.asarray(pose.translation_mm)  # faces the camera: normal against the view
            try:
                mp = estimate_marker_pose(c, self.spec.size_mm, self.intr.matrix, self.intr.dist_coeffs)
            except MarkerError:
                continue
            cam_pose, err = choose_solution(mp, toward_cam / np.linalg.norm(toward_cam))
            if err > self.max_reprojection_px:
                continue
            pts.append(pose.inverse().apply(cam_pose.apply(obj)))
        if len(pts) < 3:
            return False
        self._ref = (np.median(np.array(pts), axis=0), np.array([0.0, 0.0, 1.0]))
        return True

    @property
    def reference_mm(self) -> np.ndarray | None:
        """The tag's corners at rest (4 x 3, manikin frame), or None before the rest."""
        return None if self._ref is None else self._ref[0]

    def restore_reference(self, corners_mm: np.ndarray) -> None:
        """Go back to an earlier rest pose (``reference_mm``), e.g. after one that was measured at a stroke's top."""
        self._ref = (np.asarray(corners_mm, dtype=float), np.array([0.0, 0.0, 1.0]))

    def displacement_mm(self, corners_px: np.ndarray, cam_from_manikin: Pose) -> float:
        """The tag's displacement from rest along the chest normal (mm, + up), from this frame's corners."""
        assert self._ref is not None
        ref, n = self._ref
        c = camera_center(cam_from_manikin)
        view = ref.mean(axis=0) - c
        side = np.cross(n, view)
        side /= np.linalg.norm(side)
        basis = np.stack([n, side], axis=1)  # the tag moves along the normal and may slip sideways
        q = np.zeros(2)
        obs = np.asarray(corners_px, dtype=np.float64).reshape(4, 2)
        for _ in range(3):  # Gauss-Newton on two unknowns (the model is nearly linear over a stroke)
            p0 = project_points(cam_from_manikin.apply(ref + basis @ q), self.intr.matrix, self.intr.dist_coeffs)
            jac = np.zeros((8, 2))
            for k in range(2):
                dq = np.zeros(2)
                dq[k] = 0.5
                moved = cam_from_manikin.apply(ref + basis @ (q + dq))
                jac[:, k] = ((project_points(moved, self.intr.matrix, self.intr.dist_coeffs) - p0) / 0.5).reshape(-1)
            res = (obs - p0).reshape(-1)
            step, *_ = np.linalg.lstsq(jac, res, rcond=None)
            q = q + step
            if np.max(np.abs(step)) < 1e-3:
                break
        return float(q[0])


class OffsetMatcher:
    """Follows the hand tag when it is seen, the markerless height when it is not, without a jump.

    While both are measured, the difference (tag - markerless) is tracked as a running median of the
    last ``window`` frames; a frame without the tag gets markerless + that difference.
    """

    def __init__(self, window: int = 15) -> None:
        self.window = window
        self._diffs: list[float] = []

    def combine(self, tag_mm: float, markerless_mm: float) -> tuple[float, bool]:
        """(height, from the tag)."""
        if math.isfinite(tag_mm):
            if math.isfinite(markerless_mm):
                self._diffs.append(tag_mm - markerless_mm)
                del self._diffs[:-self.window]
            return tag_mm, True
        if not math.isfinite(markerless_mm):
            return math.nan, False
        off = float(np.median(self._diffs)) if self._diffs else 0.0
        return markerless_mm + off, False
