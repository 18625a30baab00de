"""The one loop: frames -> hands -> compression point -> height (mm) -> core.

Offline analysis (``cpr-coach analyze``) and the live app share this code: the
loop (:func:`run`) takes the frame source and the clock as parameters, and the
per-frame step (:meth:`Pipeline.process`) is what a live loop calls for every
camera frame. Nothing here knows whether frames come from a file or a camera.

Metric geometry comes in three modes, chosen by the calibration:

- ``marker``: a fixed camera; the manikin frame from ``calibrate manikin``;
- ``anchor``: a moving camera (headset); every frame re-measures the static anchor
  marker and places the manikin frame from it;
- ``hand-size``: no manikin calibration; the frame comes from the resting hand's
  own size and orientation (MediaPipe world landmarks). Larger error; see
  docs/calibration.md.

In the two marker modes the tracked hand surface is located in 3D at rest
(:mod:`calibration.handpoint`: the contact at the compression point, the hand's
metric shape and tilt from MediaPipe's world landmarks) and heights are measured
through that point; a worn hand tag (``hand_tag``), when seen, gives the
displacement directly, and the markerless height fills its gaps without a jump.
Every session states its depth uncertainty (``PipelineResult.depth_uncertainty_mm``).

Sub-pixel motion: MediaPipe finds the hands; :mod:`vision.hand_motion` tracks the
palms' texture to measure how far they moved (MediaPipe's landmarks alone are
biased by a few percent of the motion and jitter by about a pixel).

Rest baseline: the first still hold of the hands on the chest (about 2 s,
before compressing) is the depth reference. Until it is known, samples are held
back; then the core is created with ``rest_height_mm`` and the held samples are
pushed, so batch and streaming see the same signal. After a pause the hands may
come back otherwise (one hand instead of a stack, turned): in the marker modes,
when they rest before their first downstroke, they are located again and the
rest measured again (``calibration.rest.ReturnWatcher``), the samples held back
until then as at the start, and heights from then on are shifted so that this
rest reads as the first (the core's known rest stays the rest of what is tracked).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable

import numpy as np

from calibration.camera import CameraIntrinsics
from calibration.geometry import Pose, plane_homography
from calibration.handpoint import (HANDS_PLANE_MM, HandPointOptions, HandTagSpec, HandTagTracker, OffsetMatcher, RestHand,
                                   TrackedPoint, core_floor_mm, depth_uncertainty_mm, level_drift_mm, locate_tracked_point, seen_from,
                                   toward_camera, trace_noise_mm)
from calibration.handscale import HandScaleError, frame_from_samples, resting_hand_sample
from calibration.height import AnchorTracker, HeightEstimator
from calibration.manikin import ManikinCalibration, chest_roi_px
from calibration.plane_carry import PlaneCarryOptions
from calibration.rest import (RecoilTops, RestDetector, RestEstimate, RestOptions, ReturnOptions, ReturnWatcher,
                             RunningMedian, TopFinder, rest_of_tops, still_span)
from coach.core import CoreOptions, StreamingAnalyzer
from coach.core.options import deepest_counted_mm, nominal_dt, shallowest_counted_mm
from coach.core.rest_moves import unresolved_rest_drop_mm
from coach.core.shape_bias import session_shape_bias_mm
from coach.core.types import Compression, SessionResult
from vision.hand_motion import HandMotionRefiner, TranslationField

Clock = Callable[[], float]

MODE_MARKER = "marker"
MODE_ANCHOR = "anchor"
FLAT_SURFACE_COS = math.cos(math.radians(10.0))  # a located surface whose normal is this near the chest's is taken as
# parallel to it: a stack's back (calibration.handpoint sets the chest's normal), a flat hand's (blended a few degrees
# toward its landmarks' plane); a palm turned toward the camera is not (25-45 deg)
MODE_HAND = "hand-size"


@dataclass(frozen=True)
class PipelineOptions:
    """How the pipeline turns frames into compressions."""

    profile: str = "adult"
    rest: RestOptions = RestOptions(valid_range=(-30.0, 150.0))  # mm above the chest surface
    use_rest_baseline: bool = True  # False: the core tracks the baseline from the signal alone
    rest_timeout_s: float = 8.0  # no rest hold by then (after the first hand): go on without one
    min_fps: float = 15.0  # slower video gets a warning: strokes a few frames long (rendered at 12 fps, 20 mm deep:
    # 1 and 9 of 17-18 counted; at the default depth up to 9.8 mm shallow; at 15-20 fps all covered, see docs)
    chest_roi: bool = True  # pass the projected chest region to the tracker (low-contrast hands)
    floor_carry: bool = True  # a moving camera (anchor marker): where the anchor is not found, the floor's texture
    # around it carries the camera's pose (calibration.plane_carry; False: those frames have no pose, as before session
    # 34, for a floor that may mislead it: rendered, 48 mm tiles did not, 12 mm ones did until session 36 left out the
    # points that repeat; docs/calibration.md sessions 35-36)
    refine_motion: bool = True  # track the hands' texture for sub-pixel motion (vision.hand_motion)
    hand_rest_tolerance_mm: float = 4.0  # hand-size mode: rest hold tolerance, turned into px per hand scale
    locate_hands: bool = True  # marker modes: locate the tracked hand surface in 3D at rest (False: the midline plane)
    hand_point: HandPointOptions = HandPointOptions()  # the markerless hand model's priors
    relocate_hands: bool = True  # marker modes with a rest hold: locate the hands again when they come back from a
    # pause and rest still before compressing (they may be put back otherwise; calibration.rest.ReturnWatcher)
    returns: ReturnOptions = ReturnOptions()
    start_at_tops: bool = True  # marker modes: hands that start compressing without a rest hold are located, and the
    # rest taken, at their short still hold before the first stroke, or else at the first strokes' recoil tops, as
    # after a pause; either once all ``returns.tops`` tops have come (fewer may be hands being placed), instead of
    # waiting rest_timeout_s and measuring from the core's baseline
    core_rest_at_tops: bool = True  # a rest taken at the first strokes' recoil tops is the core's known rest, as a rest
    # hold's is (False: the core follows its own baseline, as sessions 20-21 did; an early lean then pulled it down)
    relocate_min_mm: float = 3.0  # measure through the surface located after a pause only if it moved this far: the
    # same hands put back as they were moved 0.0-1.6 mm (rendered, blurred included), and measuring through that
    # cost the blurred stacks at 640x480 0.16 mm; hands put back otherwise moved 22-52 mm
    # located at the first strokes' recoil tops instead (no rest before them), only what a lean cannot do counts
    # (Pipeline._moved_at_tops; a lean slides one seen hand's point toward the camera: 5-13 mm, rendered):
    relocate_tops_level_mm: float = 15.0  # the point up or down by more than leaning (simulated 4-10 mm) or the
    # filmed sets' first tops (-7 to +8 mm off their later rest) move it (a stack put on or taken off: 37-47 mm);
    # the palm read flat at one and fully turned at the other (hand_point's tilt_none_deg / tilt_full_deg; a change of
    # 15 deg was too little: the same stack read 6 then 25 deg at 15 fps); or
    relocate_tops_min_mm: float = 10.0  # the point this far farther from the camera (a stack taken off: 17-21 mm)
    tops_same_margin: float = 0.5  # the first used top shows the same hands at once (no wait for the others) when it
    # is within this fraction of each threshold above, its palm tilt within the flat-to-turned gap (Pipeline._same_at_tops)
    hand_size_rel_sd: float = 0.10  # hand-size mode: 1-sigma scale error (adult hands differ by about +-10 %; on the
    # rendered fallbacks, hands of 165-205 mm seen from the side and at 45 deg/45 deg, depth came out -17 to +13 %)
    hand_tag_rel_sd: float = 0.005  # hand tag: 1-sigma scale error (its printed size, its rest distance)
    unknown_depth_mm: float = 50.0  # the depth the uncertainty is stated at when the session has no compressions


@dataclass(frozen=True)
class FrameRecord:
    """One frame of the trace (what ``analyze --json`` writes per frame)."""

    index: int
    t_s: float
    xy_px: tuple[float, float]  # compression point (NaN when none)
    confidence: float
    n_hands: int
    height_mm: float  # hand height above the chest surface at the compression point (NaN: no measurement)
    axial_mm: float  # position along the body axis, + toward the head (NaN in hand-size mode)


@dataclass
class PipelineStep:
    """What one processed frame produced."""

    record: FrameRecord
    compressions: list[Compression]  # completed by this frame (possibly several when held samples flush)
    state: object | None  # the core's CoreState, None until the core runs


@dataclass
class PipelineResult:
    session: SessionResult
    mode: str
    records: list[FrameRecord]
    rest: RestEstimate | None
    rest_height_mm: float | None
    placement_mm: float  # median body-axis position of the hands while compressing (NaN if unknown)
    frames: int
    frames_with_point: int
    frames_lost: int  # source reported lost (live) or anchor not found
    wall_s: float
    warnings: list[str] = field(default_factory=list)
    depth_uncertainty_mm: float = math.nan  # stated depth uncertainty of this session (about 2 sigma; mode and geometry)
    tracked_point_mm: tuple[float, float, float] | None = None  # markerless: the tracked hand surface at rest (manikin frame)
    hand_tag_frames: int = 0  # frames whose height came from the worn hand tag
    level_drift_mm: float = 0.0  # 1-sigma drift of the markerless trace's level inside the stated uncertainty
    tracker_re_references: int = 0  # the most re-references the trace's level carried (what drives that drift)
    rest_drop_mm: float = 0.0  # recoil tops that dropped after a pause with strokes of the same length: a rest that
    # came back lower or a lean, not told apart (coach.core.rest_moves), inside the stated uncertainty
    relocations: int = 0  # pauses after which the hands were located again from their rest before compressing
    tops_lean_mm: float = 0.0  # after a pause whose rest was taken at the first strokes' recoil tops (no still rest):
    # the lean those tops may have held (every depth of the set reads that much shallow), inside the stated
    # uncertainty: how far the set's later tops rose above them, or else this trainee's leaning before the pause
    tops_raised_mm: float = 0.0  # ... of that, what later tops showed and the rest was raised by
    tops_above_mm: float = 0.0  # ... or what one later top that raised nothing came back above it (a full recoil
    # among leaning strokes, or hands lifted once: ReturnWatcher.top_above_mm; 0: none that far)
    tops_unchecked: bool = False  # ... or nothing compared such a rest with the same hands' full recoil (no rest hold
    # before its set, no later top rising, and the hands around it others or none): the lean held is returns.raise_max_mm
    tops_settled_mm: float = 0.0  # a rest taken at recoil tops that the set's later tops never came back up to, and
    # that was lowered to them (calibration.rest.ReturnOptions.settle_tops): the compressions before read up to that
    # much deep; inside the stated uncertainty
    rest_at_tops: bool = False  # the first rest was taken at the first strokes' recoil tops (no rest hold was seen)
    stroke_shape_bias_mm: float = 0.0  # how far this trainee's stroke shape biases the core's depths (+: deep), from
    # the session's pooled bottoms and tops (coach.core.shape_bias); inside the stated uncertainty
    core_rest_height_mm: float | None = None  # the rest the core started from (``rest_height_mm`` is where the rest is
    # now: ``rest_moves`` moved it)
    rest_moves: list[tuple[float, float]] = field(default_factory=list)  # (time of the sample before which, mm): the
    # rest moved that much, the core told (StreamingAnalyzer.move_rest); a replay of the trace makes the same calls
    feedback_delays_s: list[tuple[float, float]] = field(default_factory=list)  # live: (release time, how long after
    # it the frame that gave the compression out came) for each compression given out by ``process`` (frames held
    # before a rest is known delay theirs; the end of input's are not live and not here)

    def feedback_delay_stats_s(self) -> dict[str, float]:
        """Median, 95th percentile and maximum of the live feedback delays (NaN without any)."""
        d = np.array([x for _, x in self.feedback_delays_s])
        if not d.size:
            return {"median": math.nan, "p95": math.nan, "max": math.nan}
        return {"median": float(np.median(d)), "p95": float(np.percentile(d, 95)), "max": float(d.max())}

    def trace(self) -> dict[str, list]:
        def col(name):
            return [getattr(r, name) for r in self.records]

        return {
            "t_s": col("t_s"),
            "height_mm": col("height_mm"),
            "axial_mm": col("axial_mm"),
            "x_px": [r.xy_px[0] for r in self.records],
            "y_px": [r.xy_px[1] for r in self.records],
            "confidence": col("confidence"),
            "n_hands": col("n_hands"),
        }


class Geometry:
    """Compression point (px) -> (height_mm, axial_mm), per frame."""

    mode = MODE_MARKER

    def __init__(self, intrinsics: CameraIntrinsics, manikin: ManikinCalibration | None,
                 hand_tag: HandTagSpec | None = None, floor_carry: bool = True) -> None:
        self.intr = intrinsics
        self.manikin = manikin
        self.anchor: AnchorTracker | None = None
        self.estimator: HeightEstimator | None = None
        self.tracked: TrackedPoint | None = None  # the located hand surface (None: the sagittal plane)
        self.tracked_pose: Pose | None = None  # ... the camera pose it was located from (anchor mode: one of many)
        # the worn hand tag (marker modes only: its displacement needs the manikin frame)
        self.tag: HandTagTracker | None = HandTagTracker(intrinsics, hand_tag) if (hand_tag and manikin) else None
        self._pose: Pose | None = None
        self._roi_pose: Pose | None = None  # the pose ``_roi`` was projected for (fixed cameras: always the same)
        self._roi: tuple[int, int, int, int] | None = None
        if manikin is None:
            self.mode = MODE_HAND
        else:
            self.estimator = HeightEstimator(intrinsics, manikin.cam_from_manikin)
            self._pose = manikin.cam_from_manikin
            if manikin.anchor is not None:
                self.mode = MODE_ANCHOR
                self.anchor = AnchorTracker(intrinsics, manikin.anchor, manikin.cam_from_manikin,
                                            carry=PlaneCarryOptions() if floor_carry else None)
        # How the chest's motion (along the manikin's normal) moves pixels in this fixed camera: the texture tracker
        # carries the compression point by it (vision.hand_motion). None without a manikin, and for a moving camera
        # (anchor mode), whose field changes with every pose: see refiner_view
        self.field: TranslationField | None = None
        self._view: tuple[TranslationField | None, object | None] = (None, None)  # anchor mode: the last pose's
        if self.mode == MODE_MARKER:
            # (the hands' surface is taken parallel to the chest until the rest hold locates them: see locate)
            self.field = self._field(manikin.cam_from_manikin, np.array([0.0, 0.0, 1.0]))

    def _field(self, pose: Pose, surface_normal: np.ndarray) -> TranslationField:
        """How the chest's motion moves pixels seen from ``pose``, the hands' surface having ``surface_normal``
        (manikin frame)."""
        k, r = self.intr.matrix, pose.rotation
        d, m = r[:, 2], r @ surface_normal
        return TranslationField(float(k[0, 0]), float(k[1, 1]), float(k[0, 2]), float(k[1, 2]),
                                (float(d[0]), float(d[1]), float(d[2])), (float(m[0]), float(m[1]), float(m[2])))

    def frame_pose(self, image: np.ndarray) -> Pose | None:
        """This frame's cam_from_manikin (anchor mode re-measures it; None when the anchor is lost)."""
        if self.anchor is not None:
            self._pose = self.anchor.update(image)
        return self._pose

    def refiner_view(self, pose: Pose | None, drop_mm: float = 0.0) -> tuple[TranslationField | None, object | None]:
        """What the texture tracker needs of this frame's camera (``HandMotionRefiner.field``, ``.view``): a fixed
        camera's field and no view. A moving camera's field for this pose, and as view the pose and how far below
        their rest the hands are now (``drop_mm``), by which the tracker takes the camera's own motion out of the
        features' (``refiner_warp``). Before, it fitted one shift and scale to both, and a stack's slanted back read
        2-5 % deep on the headset (docs/calibration.md, "The moving camera's motion taken out"). Only for a surface
        parallel to the chest (before the hands are located, 40 mm up; then a flat hand's or a stack's back): a palm
        turned toward the camera has its plane from MediaPipe's landmarks, 30 deg off on the rendered palm, and through
        it the camera's motion read as 2-4 mm of height noise per frame; it keeps the shift and scale. A frame without a
        pose keeps the last one's (no height is measured there)."""
        if self.mode != MODE_ANCHOR:
            return self.field, None
        if pose is None:
            return self._view
        _, n = self._hands_plane()
        if float(n[2]) < FLAT_SURFACE_COS:
            return None, None
        self._view = (self._field(pose, n), (pose, drop_mm if math.isfinite(drop_mm) else 0.0))
        return self._view

    def refiner_warp(self, view_from, view_to) -> tuple[np.ndarray, np.ndarray]:
        """``HandMotionRefiner.warp``: pixels seen as ``view_from`` (a pose, the hands' drop then) -> those seen at
        ``view_to``'s pose: the homographies of the plane the features lay on then and of the tracked point's own
        (the same one before the hands are located). The planes are the ones located now, the best estimate of where the
        features are: a reference taken before the hands were located (or located again, after the pause) is carried
        through where they are, not through the guess it was taken with (measured: the same on a stack put back as one
        hand, seed 54). Why two: the point lies on the tracked ray at the features' depth, 10-11 mm under a flat hand's
        back or above a stack's; through the point's plane the features' parallax read a headset going down with the
        strokes as -2.2 % / +3 % of depth (docs/calibration.md, "A headset that goes down with the compressions")."""
        (pose_from, drop_mm), pose_to = view_from, view_to[0]
        p0, n = self._hands_plane()
        feats = plane_homography(self.intr.matrix, pose_from, pose_to, p0 + drop_mm * n, n)
        if self.tracked is None or self.tracked.surface_mm is None:  # (the point is on the features' plane)
            return feats, feats
        return feats, plane_homography(self.intr.matrix, pose_from, pose_to, self.tracked.point_mm + drop_mm * n, n)

    def _hands_plane(self) -> tuple[np.ndarray, np.ndarray]:
        """A point on the surface the texture tracker's features lie on at rest, and its normal (manikin frame): where
        they were located (``TrackedPoint.surface_point_mm``), else a guess parallel to the chest."""
        if self.tracked is None:
            return np.array([0.0, 0.0, HANDS_PLANE_MM]), np.array([0.0, 0.0, 1.0])
        return self.tracked.surface_point_mm, self.tracked.surface_normal

    def roi(self, pose: Pose | None) -> tuple[int, int, int, int] | None:
        """The chest region for ``pose``; projected again only when the pose changes (anchor mode). No pose (the
        anchor lost): the last region."""
        if pose is not None and pose is not self._roi_pose:
            self._roi_pose, self._roi = pose, chest_roi_px(pose, self.intr)
        return self._roi

    def measure(self, xy: np.ndarray, pose: Pose | None) -> tuple[float, float]:
        if self.estimator is None or pose is None:
            return math.nan, math.nan
        hp = self.estimator.measure(xy, pose)
        return hp.height_mm, hp.axial_mm

    def locate(self, samples: list[RestHand], pose: Pose, options: HandPointOptions) -> TrackedPoint:
        """Measure from now on through the tracked hand surface located from the resting frames."""
        return self.use(locate_tracked_point(samples, self.intr, pose, options), pose)

    def use(self, tracked: TrackedPoint, pose: Pose) -> TrackedPoint:
        """Measure from now on through ``tracked`` (located with ``pose``)."""
        assert self.estimator is not None
        self.tracked, self.tracked_pose = tracked, pose
        self.estimator = HeightEstimator(self.intr, self.estimator.cam_from_manikin, self.estimator.min_incidence_cos,
                                         plane_y_mm=float(self.tracked.point_mm[1]))
        if self.field is not None:  # the texture's plane: a hand turned toward the camera is not parallel to the chest
            self.field = self._field(pose, self.tracked.surface_normal)
        return self.tracked


class Pipeline:
    """Per-frame processing with held-back samples until the rest baseline is known.

    ``tracker`` is a ``vision.tracker.HandTracker`` (VIDEO or LIVE_STREAM-style
    synchronous ``detect``), ``points`` a ``vision.compression_point.CompressionPointTracker``.
    """

    def __init__(self, tracker, points, geometry: Geometry, options: PipelineOptions | None = None) -> None:
        self.tracker = tracker
        self.points = points
        self.geo = geometry
        self.opt = options or PipelineOptions()
        self.records: list[FrameRecord] = []
        self.warnings: list[str] = []
        self._core: StreamingAnalyzer | None = None
        self._held: list[int] = []  # record indices not yet pushed to the core
        self._rest: RestEstimate | None = None
        self._rest_height: float | None = None
        self._rest_at_tops = False
        self._rest_det: RestDetector | None = None
        self._start_watch: ReturnWatcher | None = None  # no rest hold yet: a short one, or the recoil tops (start_at_tops)
        # a rest hold found, until the first stroke's recoil top has come back near it: (the hold, the top finder, when)
        self._hold_check: tuple[RestEstimate, TopFinder, float] | None = None
        self._t_first_hand: float | None = None
        self._last_t: float | None = None
        # hand-size mode keeps the used hands' landmarks of held frames
        self._hand_obs: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._hand_est: HeightEstimator | None = None
        # marker modes keep, for held frames, what re-measuring them needs once the rest is known
        self._rest_obs: dict[int, RestHand] = {}
        self._poses: dict[int, Pose] = {}
        self._tag_corners: dict[int, np.ndarray] = {}
        self._tag_z0: float = math.nan  # the tag's heights are its displacement added to this rest level
        # after a pause: the hands' return is watched for, and when they rest before compressing they are located
        # again; heights from then on are shifted by the new rest's level minus the first's, so the core's rest
        # (the first hold's) stays the rest of whatever surface is tracked now
        self._returns: ReturnWatcher | None = None
        self._offset_mm = 0.0
        self._located: list[TrackedPoint] = []  # every location of the hands (the first at the rest hold)
        self._rest_measured_s: list[float] = []  # when the rest was measured again after a pause
        self._tops_rests: list[_TopsRest] = []  # ... each taken at recoil tops, and what later tops said of it
        self._settled_mm = 0.0  # ... the most later tops that never came back lowered it (calibration.rest.ReturnWatcher)
        self._rest_moves: dict[int, float] = {}  # record index -> how far the rest moved before it (_raise)
        self._baseline_due = False  # the core gave out compressions whose baseline the watcher has not been shown
        # the hands located at recoil tops: (those frames, the pose, how far below the rest later tops showed them)
        self._tops_fix: tuple[list[RestHand], Pose, float] | None = None
        self._tops_rest = False  # the rest now measured from was taken at recoil tops (later tops are watched)
        self._last_pose: Pose | None = None
        self.relocations = 0
        self._delays: list[tuple[float, float]] = []  # (release, delay) of each compression given out live
        self._matcher = OffsetMatcher()
        self.hand_tag_frames = 0
        self.frames_lost = 0
        # anchor mode: frames whose anchor marker was not found (no pose, so no height), and since when it has been
        # missing (None: seen in the last frame); a user must hear why the clip gave no depth, not of a missing rest
        self.anchor_lost_frames = 0
        self.anchor_lost_since_s: float | None = None
        self._anchor_first_lost_s = math.nan
        self.frames_with_point = 0
        self.frames_failed = 0  # frames that raised while being processed (counted as frames without hands)
        self._first_failure = ""
        self.refiner = HandMotionRefiner() if self.opt.refine_motion else None
        if self.refiner is not None:
            self.refiner.warp = geometry.refiner_warp
        if geometry.mode != MODE_HAND:
            if self.opt.use_rest_baseline:
                self._rest_det = RestDetector(self.opt.rest)
            else:  # nothing to wait for: the core tracks the baseline from the first frame
                self._start_core(None)

    @property
    def mode(self) -> str:
        return self.geo.mode

    @property
    def core_started(self) -> bool:
        return self._core is not None

    @property
    def settled_records(self) -> int:
        """How many of ``records`` are final: all but the frames held back while the hands are located again after a
        pause (they are re-measured then). A live consumer takes records up to here, so that it measures what
        ``analyze`` measures (0 before the core starts: every frame is held until the rest is known)."""
        if self._core is None:
            return 0
        return self._held[0] if self._held else len(self.records)

    @classmethod
    def from_calibration(cls, station, size_wh: tuple[int, int], *, model_path, options: PipelineOptions | None = None,
                          hfov_deg: float | None = None, source_name: str = "the source",
                          calibration_name: str = "the calibration", backend: str = "mediapipe",
                          onnx_options=None, hand_tag=None) -> "Pipeline":
        """The one place that wires the tracker, the compression point and the geometry for a station.

        ``station`` is a ``calibration.store.StationCalibration`` (marker or anchor mode) or None with
        ``hfov_deg`` (hand-size mode). Frames are ``size_wh``. The tracker runs in VIDEO mode (frames
        with increasing timestamps, from a file or a camera); close it with ``pipeline.tracker.close()``.
        Raises ``PipelineSetupError`` (resolution mismatch, no geometry), ``CameraCalibrationError``
        and ``models.ModelError`` (a model MediaPipe cannot load). ``backend`` is "mediapipe" or "onnx"
        (``vision.tracker.create_tracker``; ``onnx_options`` picks the execution providers). ``hand_tag``
        (``calibration.handpoint.HandTagSpec``) turns on the worn hand tag (needs a manikin calibration).
        """
        from calibration.camera import CameraIntrinsics
        from calibration.store import StationCalibration
        from vision.compression_point import CompressionPointOptions, CompressionPointTracker
        from vision.tracker import HandTrackerOptions, create_tracker

        w, h = size_wh
        if station is not None:
            intr = station.camera.scaled_to(w, h)
            if station.manikin is not None and (intr.width_px, intr.height_px) != (station.camera.width_px, station.camera.height_px):
                raise PipelineSetupError(
                    f"{source_name} is {w}x{h} but {calibration_name} was calibrated at "
                    f"{station.camera.width_px}x{station.camera.height_px}: film at the calibrated resolution")
        elif hfov_deg is not None:
            station = StationCalibration(CameraIntrinsics.from_hfov(hfov_deg, w, h), None)
            intr = station.camera
        else:
            raise PipelineSetupError("no geometry: give a calibration file or the camera's horizontal field of view")
        geometry = Geometry(intr, station.manikin, hand_tag=hand_tag,
                            floor_carry=(options or PipelineOptions()).floor_carry)
        man = station.manikin
        roi = geometry.roi(man.cam_from_manikin) if (man is not None and man.anchor is None) else None
        tracker = create_tracker(HandTrackerOptions(model_path=model_path, running_mode="video", num_hands=2, roi_px=roi),
                                 backend=backend, onnx_options=onnx_options)
        points = CompressionPointTracker(CompressionPointOptions(roi_px=roi))
        return cls(tracker, points, geometry, options)

    @property
    def rest_height_mm(self) -> float | None:
        """The rest baseline (mm above the chest) once the core has started; None before or without one."""
        return self._rest_height

    @property
    def core_rest_height_mm(self) -> float | None:
        """The rest the core measures depth from (``rest_height_mm``, or None where the core follows its own baseline:
        without a rest, or with one taken at recoil tops and ``core_rest_at_tops`` off). A live station's core takes this
        one."""
        return self._core.options.rest_height_mm if self._core is not None else None

    @property
    def first_hand_t_s(self) -> float | None:
        """When the hands were first seen (the rest hold is waited for from then on); None before."""
        return self._t_first_hand

    # ------------------------------------------------------------------ per frame

    def process(self, image: np.ndarray, t_ms: int, index: int | None = None) -> PipelineStep:
        """One frame. A frame that cannot be processed (no or odd image, a tracker or geometry
        error) is recorded as a frame without hands: the loop goes on, and ``finish`` reports it."""
        idx = len(self.records) if index is None else int(index)
        t_s = t_ms / 1000.0
        if self._last_t is not None and t_s <= self._last_t:
            t_s = self._last_t + 1e-6  # the core wants strictly increasing time; sources guarantee it anyway
        self._last_t = t_s
        try:
            xy, conf, n_hands, h, ax = self._measure(image, int(t_ms), t_s)
        except Exception as exc:  # live loops never die on one bad frame
            self._frame_failed(idx, exc)
            xy, conf, n_hands, h, ax = (math.nan, math.nan), 0.0, 0, math.nan, math.nan
        rec = FrameRecord(idx, t_s, xy, conf, n_hands, h, ax)
        self.records.append(rec)
        out = self._feed(len(self.records) - 1)
        self._delays += [(c.t_release_s, t_s - c.t_release_s) for c in out]
        return PipelineStep(rec, out, self._core.state if self._core else None)

    def _measure(self, image: np.ndarray, t_ms: int, t_s: float) -> tuple[tuple[float, float], float, int, float, float]:
        """(xy_px, confidence, n_hands, height_mm, axial_mm) of one frame."""
        pose = self.geo.frame_pose(image) if self.geo.mode != MODE_HAND else None
        if self.geo.mode == MODE_ANCHOR:
            if pose is None:
                self.frames_lost += 1
                self.anchor_lost_frames += 1
                if self.anchor_lost_since_s is None:
                    self.anchor_lost_since_s = t_s
                    if self.anchor_lost_frames == 1:
                        self._anchor_first_lost_s = t_s
            else:
                self.anchor_lost_since_s = None
        # (no pose: the hands are looked for where the last one put the chest; the region only says where to look, and
        # without it they go unseen on a skin-coloured chest: a plain floor's stack, 27 frames, session 36)
        roi = self.geo.roi(pose) if self.opt.chest_roi else None
        result = self.tracker.detect(image, t_ms, roi_px=roi)
        cp = self.points.update(result)
        valid = bool(cp.valid) and np.all(np.isfinite(cp.xy_px))
        xy = (float(cp.xy_px[0]), float(cp.xy_px[1])) if valid else (math.nan, math.nan)
        rp = None
        if self.refiner is not None:
            self.refiner.field, self.refiner.view = self.geo.refiner_view(pose, self._drop_mm())
            rp = self.refiner.update(image, t_ms, cp.xy_px if valid else None, cp.landmarks_px, cp.palm_size_px)
            if rp is not None:
                xy = (float(rp.xy_px[0]), float(rp.xy_px[1]))
                if rp.restated is not None and self.geo.mode != MODE_HAND:
                    self._restate_held(*rp.restated)
        if self.geo.mode == MODE_HAND:
            h, ax = self._hand_measure(len(self.records), cp, valid, xy)
        else:
            h, ax = self.geo.measure(np.array(xy), pose) if valid else (math.nan, math.nan)
            h -= self._offset_mm  # the hands located again after a pause: their rest reads as the first one's
            self._last_pose = pose
            # the features' place matters where the field carried the point (it moved as a point at their depth)
            by_field = rp is not None and rp.refined and self.refiner is not None and self.refiner.field is not None
            h = self._marker_modes_extra(len(self.records), image, cp, valid, xy, pose, h,
                                         rp.features_px if by_field else None)
        if valid:
            self.frames_with_point += 1
            if self._t_first_hand is None:
                self._t_first_hand = t_s
        return xy, float(cp.confidence), int(cp.n_hands), float(h), float(ax)

    def _drop_mm(self) -> float:
        """How far below their rest the hands were in the last frame (mm; 0 before the rest is known)."""
        if self._rest_height is None or not self.records:
            return 0.0
        return self.records[-1].height_mm - self._rest_height

    def _restate_held(self, t_ms: tuple[int, ...], shift_px: np.ndarray) -> None:
        """The texture tracker restated frames MediaPipe's point stood in for: found the hands' old texture again after
        a gap (they were carried ``shift_px`` off: its bias follows the hands' look), or took its first reference while
        the hands moved from the first frame (each tracked back: one shift per frame). Those still held are measured
        again where the texture says they were; frames already given to the core stay as they went."""
        shifts = np.broadcast_to(np.asarray(shift_px, float), (len(t_ms), 2))
        want = dict(zip(t_ms, shifts))
        for i in self._held:
            r = self.records[i]
            pose = self._poses.get(i)
            shift = want.get(int(round(r.t_s * 1000.0)))
            if shift is None or pose is None or not math.isfinite(r.height_mm):
                continue
            xy = np.array(r.xy_px) + shift
            h, ax = self.geo.measure(xy, pose)
            self.records[i] = replace(r, xy_px=(float(xy[0]), float(xy[1])), height_mm=h - self._offset_mm, axial_mm=ax)
            if i in self._rest_obs:
                self._rest_obs[i] = replace(self._rest_obs[i], xy_px=xy)

    def _marker_modes_extra(self, ri: int, image: np.ndarray, cp, valid: bool, xy, pose: Pose | None, h: float,
                            features_px: np.ndarray | None = None) -> float:
        """Keep what the rest-time location needs (held frames), and follow the hand tag when it is seen."""
        corners = None
        if self.geo.tag is not None and pose is not None:
            corners = self.geo.tag.find(image)
        if self._holding:  # held: re-measured once the rest (or the rest after a pause) is known
            if pose is not None:
                self._poses[ri] = pose
            if valid and cp.landmarks_px.shape[0] > 0:
                self._rest_obs[ri] = RestHand(np.array(xy), np.array(cp.landmarks_px), np.array(cp.world_landmarks_m),
                                              None if features_px is None else np.array(features_px))
            if corners is not None:
                self._tag_corners[ri] = corners
            return h
        if self.geo.tag is None or not self.geo.tag.has_reference:
            return h
        tag_h = math.nan
        if corners is not None and pose is not None:
            tag_h = self._tag_z0 + self.geo.tag.displacement_mm(corners, pose)
        out, from_tag = self._matcher.combine(tag_h, h)
        self.hand_tag_frames += int(from_tag)
        return out

    def _frame_failed(self, idx: int, exc: Exception) -> None:
        """Count a frame that could not be processed; the first reason goes into the warnings."""
        self.frames_failed += 1
        if self.frames_failed == 1:
            why = str(exc).strip().splitlines()
            self._first_failure = f"frame {idx}: {type(exc).__name__}" + (f": {why[0]}" if why else "")
        if self.refiner is not None:
            self.refiner.reset()  # e.g. the frame size changed: its texture reference no longer fits

    def _hand_measure(self, ri: int, cp, valid: bool, xy) -> tuple[float, float]:
        if self._hand_est is not None:
            if not valid:
                return math.nan, math.nan
            hp = self._hand_est.measure(np.array(xy))
            return hp.height_mm, math.nan
        if valid and cp.landmarks_px.shape[0] > 0:
            self._hand_obs[ri] = (np.array(cp.landmarks_px), np.array(cp.world_landmarks_m))
            if self._rest_det is None and math.isfinite(cp.px_per_m):
                # the rest hold is judged in image px: tolerance = mm * (px per mm at the hands)
                tol = self.opt.hand_rest_tolerance_mm * cp.px_per_m / 1000.0
                self._rest_det = RestDetector(replace(self.opt.rest, tolerance=tol, valid_range=(-math.inf, math.inf)))
        return math.nan, math.nan

    # ------------------------------------------------------------------ rest and core

    def _rest_value(self, rec: FrameRecord) -> float:
        return rec.xy_px[1] if self.geo.mode == MODE_HAND else rec.height_mm

    @property
    def _starts_at_tops(self) -> bool:
        """Whether hands that compress before a rest hold are watched for one (``start_at_tops``; marker modes)."""
        return self.opt.start_at_tops and self.geo.mode != MODE_HAND

    @property
    def _holding(self) -> bool:
        return self._core is None or (self._returns is not None and self._returns.holding)

    def _feed(self, ri: int) -> list[Compression]:
        if self._core is not None:
            rec = self.records[ri]
            ev = self._returns.push(rec.t_s, rec.height_mm) if self._returns is not None else None
            if ev is None and self._returns is not None and self._baseline_due:
                self._baseline_due = False  # (its baseline after each compression: a full recoil now and then)
                ev = self._returns.core_baseline(self._core.state.baseline_mm)
            if isinstance(ev, tuple) and ev[0] == ReturnWatcher.RAISE:
                rec = self._raise(ri, ev[1])
                if ev[1] > 0:  # (the set's own tops rose: the rest they were taken at was a lean's)
                    self._tops_rests[-1].checked = True
                ev = None
            elif isinstance(ev, tuple) and ev[0] == ReturnWatcher.TOPS:  # the tops so far: the same hands already?
                ev = (ReturnWatcher.END, self._returns.finish()) if self._same_at_tops(ev[1]) else None
            if ev is None and not self._holding:
                return self._push(rec)
            self._held.append(ri)
            if ev == ReturnWatcher.START:
                if self._last_pose is not None:
                    self._poses[ri] = self._last_pose
                depths = [c.depth_mm for c in self._core.compressions[-10:]]  # (the set before the pause)
                base = return_watch_options(self.opt)
                self._returns.opt = base.for_depth(float(np.median(depths))) if depths else base
            return self._end_return(ev[1]) if isinstance(ev, tuple) else []
        self._held.append(ri)
        rec = self.records[ri]
        if self._rest_det is not None:
            r = self._confirmed_hold(rec)
            if r is not None:
                return self._start_core(r)
            if self._watch_start(rec):
                ev = self._start_watch.push(rec.t_s, rec.height_mm)
                if isinstance(ev, tuple) and ev[0] == ReturnWatcher.END:
                    if ev[1] is not None:  # compressing in rhythm without a rest hold: its short hold, or the tops
                        return self._start_core(ev[1])
                    self._start_watch = None  # a few tops, or a hold and no rhythm (hands being placed?): look again
        if self._t_first_hand is not None and rec.t_s - self._t_first_hand > self.opt.rest_timeout_s:
            if self._starts_at_tops:  # strokes too shallow for the start's rise?
                # (a trainee compressing 20 mm and leaning 6-7 comes back up 13-14 mm: no rest was taken at all, and
                # the core measured from its own leaning tops; rendered straight in, seed 11: -6.4 mm, stated +-0.8)
                # The frames after the rest's tops go on as live ones do: the set's later tops are followed (a lean
                # at the tops shows when they rise; one back above the rest is stated). (A raise among them locates
                # the hands again for the frames after these, which were measured before it.)
                rest = watch_start([(self.records[i].t_s, self.records[i].height_mm) for i in self._held],
                                   shallow_start_options(self.opt))
                if rest is not None:
                    return self._start_core(rest, watch_after_s=rest.t_end_s)
            self.warnings.append(
                f"no resting hold of the hands (about {self.opt.rest.hold_s:g} s without pushing) was seen in the first "
                f"{self.opt.rest_timeout_s:g} s: depth is measured against the baseline the core tracks instead"
            )
            return self._start_core(None)
        return []

    def _confirmed_hold(self, rec: FrameRecord) -> RestEstimate | None:
        """The rest hold, once the first stroke's recoil top has come back near it (``returns.hold_top_below_mm`` to
        ``hold_top_above_mm``; marker modes with ``start_at_tops``), or the end of ``returns.tops_wait_s`` without a
        top. Why: hands held still above the chest for as long as a rest hold and then landing and compressing (a
        rendered stack 30 mm up, straight in) had their hover taken for the rest, and the session read ~30 mm deep. A
        hold the top does not come back to is dropped and the rest hold looked for again, while the start watcher
        goes on with the tops. Costs the session's first compression the wait for its top (~0.2 s)."""
        o = self.opt.returns
        if self._hold_check is None:
            r = self._rest_det.push(rec.t_s, self._rest_value(rec))
            if r is None or not (o.checks_holds and self._starts_at_tops):
                return r
            finder = TopFinder(o, RunningMedian.of(o.rest), False, math.inf, math.nan)
            self._hold_check = (r, finder, rec.t_s)
        hold, finder, t0 = self._hold_check
        if finder.push(rec.t_s, rec.height_mm) is None:
            if rec.t_s - t0 < o.tops_wait_s:
                return None
            self._hold_check = None  # no top came (one stroke, then stillness?): the hold it is, as before
            return hold
        self._hold_check = None
        if o.top_confirms(hold.value, finder.peak):
            return hold
        self._rest_det = RestDetector(self._rest_det.opt)  # not the rest: look for another
        return None

    def _watch_start(self, rec: FrameRecord) -> bool:
        """Whether the first hands are watched for compressing before a rest hold (marker modes, ``start_at_tops``):
        from the first height on (and again after each look that found no tops), as hands coming back from a pause
        are, waiting as long as it takes; the rest hold, if one comes first, wins."""
        if self._start_watch is None:
            if not (self._starts_at_tops and math.isfinite(rec.height_mm)):
                return False
            self._start_watch = ReturnWatcher(math.nan, start_watch_options(self.opt))
            self._start_watch.begin(rec.t_s, rec.height_mm)
            return False
        return self._start_watch.holding

    def _raise(self, ri: int, rise_mm: float, relocate: bool = True) -> FrameRecord:
        """The set's tops rose above the rest taken at its first recoil tops (they were leaning; ``rise_mm`` > 0), or
        all stayed below it (it settled lower; ``rise_mm`` < 0): the rest moves by that much, here (the level hands
        located again after a pause are measured to) and in the core (the watcher moved its own), before this frame;
        the heights stay as they are, the compressions already out stay as read, and the session states the move.

        Why the core's rest and not the heights: the core's baseline is its rest tops, and by the raise it may already
        stand at the risen tops (it follows tops above its known rest: they are no lean) or still hold leaning ones (a
        trainee who leans on most strokes). Heights lowered under the first read every later compression that much
        deep (rendered straight in, a trainee leaning on the second and third strokes: +5 mm on 11 compressions in a
        row); the core told instead forgets those tops and measures from the moved rest, which also makes every top
        below it a lean. ``rest_move_at`` gives the move to whoever feeds another core the same records (the live
        station), ``PipelineResult.rest_moves`` to a replay. ``relocate``: locate the hands again as pressed that far
        (not when a still hold after a pause is about to locate them)."""
        if self._rest_height is not None:
            self._rest_height += rise_mm
        assert self._core is not None
        self._core.move_rest(rise_mm)
        self._rest_moves[ri] = self._rest_moves.get(ri, 0.0) + rise_mm
        if rise_mm > 0:
            self._tops_rests[-1].raised_mm += rise_mm
            if relocate:
                self._locate_pressed(rise_mm)
        else:
            self._settled_mm = max(self._settled_mm, -rise_mm)  # (the compressions before read up to that much deep)
        return self.records[ri]

    def _locate_pressed(self, rise_mm: float) -> None:
        """The hands located at recoil tops that leant ``rise_mm`` (more): locate them again from those frames, this much
        further below the rest (``locate_tracked_point(pressed_mm=...)``), and measure on through that point at the same
        level. Why: a flat hand's point is placed where its features' ray meets the back of a hand resting on the
        chest, so a lean there slid it along the ray (rendered straight in, 5.7 mm at the tops: 11.7 mm toward the
        camera, every later depth 1.5 % shallow). Not with a worn tag: it measures where it is."""
        if self._tops_fix is None or self.geo.tracked is None or (self.geo.tag is not None and self.geo.tag.has_reference):
            return
        samples, pose, pressed = self._tops_fix
        pressed += rise_mm
        try:
            tp = locate_tracked_point(samples, self.geo.intr, pose, self.opt.hand_point, pressed_mm=pressed)
        except ValueError:
            return
        before = np.median([self.geo.measure(np.asarray(x.xy_px), pose)[0] for x in samples])
        self._located.append(self.geo.use(tp, pose))
        after = np.median([self.geo.measure(np.asarray(x.xy_px), pose)[0] for x in samples])
        if math.isfinite(after - before):
            self._offset_mm += float(after - before)  # (the heights read on at the level they had)
        self._tops_fix = (samples, pose, pressed)

    def _tops_rest_of(self, tops: RecoilTops, checked: bool = False) -> _TopsRest:
        """A rest taken at these tops; one of them 5-10 mm above it already shows a lean (``RecoilTops.above_mm``; held
        out, seed 17: a stack leaning on all ten strokes before the pause, then one hand, whose one full recoil after
        it was among the tops the rest was taken from: -8.6 mm against +-5.3)."""
        assert self._returns is not None
        a = tops.above_mm
        return _TopsRest(tops.t_start_s, above_mm=a if self._returns.opt.shows_lean(a) else -math.inf, checked=checked)

    def _hold_raise_mm(self, rest: RestEstimate | RecoilTops | None, rise_mm: float, compared: bool) -> float:
        """How far a still hold after a pause shows the rest the set before was read from, taken at its recoil tops,
        stood under the chest's rest (0: not). The same hands holding ``rise_mm`` above it say so themselves; other
        hands' hold cannot, but the core's baseline can: it follows tops above its known rest, so standing above it it
        says the set's full recoils did (a lean under the 5 mm ``returns.raise_mm``, which nothing raised)."""
        if not (self._tops_rest and isinstance(rest, RestEstimate) and self._held and self._returns is not None):
            return 0.0
        up = rise_mm if compared else self._core.state.baseline_mm - self._returns.level
        return up if 0.0 < up < self._returns.opt.raise_max_mm else 0.0

    def _return_rise_mm(self, rest: RestEstimate | RecoilTops | None) -> float:
        """How far hands back from a pause stand above the rest the set before was read from (mm, either sign; NaN:
        nothing to compare): the highest of their recoil tops after the first, or their still hold, read through the
        surface the set before was measured through."""
        if self._returns is None:
            return math.nan
        if isinstance(rest, RecoilTops):
            return self._returns.rise_mm(max(rest.levels[1:])) if len(rest.levels) > 1 else math.nan
        return self._returns.rise_mm(rest.value) if isinstance(rest, RestEstimate) else math.nan

    def _note_tops_above(self) -> None:
        """Fold the highest followed top above the rest (``ReturnWatcher.top_above_mm``) into the rest taken at tops
        it was followed from: at the end of its set, before the watcher follows the next one."""
        if self._returns is not None and self._tops_rests:
            r = self._tops_rests[-1]
            r.above_mm = max(r.above_mm, self._returns.top_above_mm)

    def rest_move_at(self, index: int) -> float:
        """How far the rest moved before record ``index`` was given to the core (mm; 0.0: not)."""
        return self._rest_moves.get(index, 0.0)

    def _start_core(self, rest: RestEstimate | RecoilTops | None, watch_after_s: float = math.inf) -> list[Compression]:
        tops = rest if isinstance(rest, RecoilTops) else None
        self._rest = rest_of_tops(tops) if tops is not None else rest
        self._rest_at_tops = tops is not None
        if self.geo.mode == MODE_HAND:
            self._build_hand_frame(rest)
        else:
            self._remeasure_held(rest)
        if rest is not None:
            vals = self._rest_levels(rest, [i for i in self._held if math.isfinite(self.records[i].height_mm)])
            self._rest_height = float(np.median(vals)) if vals else None
        # a first rest taken at recoil tops is the core's rest too (core_rest_at_tops): followed by the core's own
        # baseline, a trainee who leant on five of the first eight strokes pulled it down (rendered straight in, seed
        # 12: 2.3 mm shallow, a compression after the pause 11 mm). Tops that then stay below it never coming back
        # settled lower (ReturnOptions.settle_tops), and tops that rise above it show a lean: the rest moves (_raise)
        level = self._rest_height if self.opt.use_rest_baseline else None
        core_options = CoreOptions(profile=self.opt.profile,
                                   rest_height_mm=level if (tops is None or self.opt.core_rest_at_tops) else None)
        self._core = StreamingAnalyzer(core_options)
        tagged = self.geo.tag is not None and self.geo.tag.has_reference
        if self.opt.relocate_hands and level is not None and (self.geo.tracked is not None or tagged):
            # a "rest" the first stroke then goes deeper below than the core counts is a hover
            self._returns = ReturnWatcher(level, return_watch_options(self.opt))
            if tops is not None:  # the rest was taken at recoil tops: a lean there shows when later tops rise
                self._tops_rests.append(self._tops_rest_of(tops))
                self._returns.follow()
                self._tops_rest = True
        self._start_watch = None
        return self._flush_held(watch_after_s)

    def _rest_levels(self, rest: RestEstimate | RecoilTops, frames: list[int]) -> list[float]:
        """The heights that say the rest's level: the hold's frames, or each used recoil top's highest frame (a top's
        frames lie up to ``top_mm`` below it)."""
        if isinstance(rest, RecoilTops):
            return [max(self.records[i].height_mm for i in f) for f in self._top_frames(rest, frames)]
        return [self.records[i].height_mm for i in frames if rest.covers(self.records[i].t_s)]

    def _push(self, rec: FrameRecord) -> list[Compression]:
        assert self._core is not None
        out = self._core.push(rec.t_s, rec.height_mm)
        self._baseline_due |= bool(out)
        return out

    def _flush_held(self, watch_after_s: float = math.inf) -> list[Compression]:
        """The held frames to the core; those after ``watch_after_s`` through ``_feed``, as if they came now (the
        watcher follows their tops: a rest found late, from tops long passed)."""
        assert self._core is not None
        held, self._held = self._held, []
        self._rest_obs.clear()
        self._poses.clear()
        self._tag_corners.clear()
        out: list[Compression] = []
        for i in held:
            out += self._push(self.records[i]) if self.records[i].t_s <= watch_after_s else self._feed(i)
        return out

    def _end_return(self, rest: RestEstimate | RecoilTops | None) -> list[Compression]:
        """The hands came back from a pause: located again from their rest before compressing (if they rested; else
        from the first strokes' recoil tops), the held frames re-measured through the new surface, shifted so that
        this rest reads as the first; a worn tag is referenced again to the same rest (it came back with the hands,
        turned or moved with them). At recoil tops a seen tag decides whether the hands are others: it measures
        where it is, while the markerless location slides along the ray with a lean or a misread tilt."""
        self._note_tops_above()  # (the set before the pause)
        # how far the hands came back above the rest the set before was read from (before a relocation measures anew):
        # within a lean's reach, the same hands compared it (a lean's rise, 5-10 mm: the set before leant); farther,
        # others came, and a set read from recoil tops stays unchecked
        raw = self._return_rise_mm(rest)
        compared = self._returns is not None and self._returns.within_lean(raw)
        rise = raw if self._tops_rest and compared and self._returns.opt.shows_lean(raw) else -math.inf
        if self._tops_rest and compared:
            self._tops_rests[-1].checked = True
        up = self._hold_raise_mm(rest, raw, compared)
        if up > 0:
            # a still hold after a set read from a rest taken at its recoil tops, that rest a lean's: raised, as later
            # tops rising raise it (the core forgets the tops it followed): else the hold, read as the old rest, stood
            # under the core's baseline, which had followed the set's full recoils up (held out, seed 44 at 35 mm: a
            # 4.5 mm lean under the 5 mm bar; every compression after the pause +4.5 mm deep, the tag +-0.97)
            self._raise(self._held[0], up, relocate=False)
            self._returns.move(up)
            rise = -math.inf  # (stated as raised)
        tag = self.geo.tag
        tagged = tag is not None and tag.has_reference and self._rest_height is not None
        tag_moved = self._reference_tag_again(rest) if tagged else None
        idx = self._rest_frames(rest, self._rest_obs) if rest is not None else []
        relocated = bool(idx) and self.geo.tracked is not None and tag_moved is not False and self._relocate(idx, rest, tag_moved)
        if tagged:
            self._combine_tag(self._held)
        if (relocated or tag_moved) and rest is not None:
            if not tag_moved and self._tops_rests:
                # located again at tops 5-10 mm above the set before's rest, where a lean could not have moved them:
                # the set before may have leaned by as much. Its tops were a lean's, and the one seen hand's point slid
                # along its ray toward the camera; at full recoil now it lies farther, which reads as other hands
                # (held out, seed 26, real strokes leaning 5-10 mm before the pause, straight in: -5.1 mm against
                # +-4.2, the tops after it 8.2 mm up). Other hands put back move it further (a stack on or off:
                # 24-48 mm), which shows no lean
                r = self._tops_rests[-1]
                r.above_mm = max(r.above_mm, rise)
            self.relocations += 1
            self._rest_measured_s.append(rest.t_start_s)
            self._tops_rest = isinstance(rest, RecoilTops)
            if self._tops_rest and self._returns is not None:
                self._tops_rests.append(self._tops_rest_of(rest, checked=compared))
                self._returns.follow()
        elif self._tops_rest and self._returns is not None:  # the same hands, still measured from a rest taken at
            # recoil tops: watch on; the tops it held were the set's, and one back above that rest shows a lean as a
            # followed one does (at 15 fps the tag's tops did not show the same hands until the third, the one full
            # recoil, 8 mm up: held out, seed 17, -7.2 mm against +-2.9)
            if self._tops_rests:
                r = self._tops_rests[-1]
                r.above_mm = max(r.above_mm, rise)
            self._returns.follow()
        return self._flush_held()

    def _reference_tag_again(self, rest: RestEstimate | RecoilTops | None) -> bool | None:
        """A worn tag's rest pose from the rest after a pause (True), or kept because at recoil tops it had not
        moved (False); None if it was not seen there: the markerless location decides."""
        tag = self.geo.tag
        assert tag is not None and self._rest_height is not None
        tops = isinstance(rest, RecoilTops)
        old = self._tag_reference_at(rest) if rest is not None else None
        if old is None:
            return None
        if tops and not self._tag_moved(tag.reference_mm - old, 1.0):
            tag.restore_reference(old)  # the tag is where it was: a top's level is no rest's
            return False
        tidx = self._rest_frames(rest, self._tag_corners)
        self._tag_z0, self._matcher = self._rest_height, OffsetMatcher()
        if tops:
            self._tag_z0 -= self._tag_at_peaks_mm(rest, tidx)
        return True

    def _tag_at_peaks_mm(self, tops: RecoilTops, frames: list[int]) -> float:
        """The tag's displacement at the used tops' highest frames (median; 0 if none): its reference is their frames'
        median pose, up to ``top_mm`` below the highest, so its level less this reads each top's highest as the rest."""
        peaks = [max(f, key=lambda i: self.records[i].height_mm)
                 for f in self._top_frames(tops, [i for i in frames if i in self._poses])]
        tag = self.geo.tag
        return float(np.median([tag.displacement_mm(self._tag_corners[i], self._poses[i]) for i in peaks])) if peaks else 0.0

    def _relocate(self, idx: list[int], rest: RestEstimate | RecoilTops, tag_moved: bool | None = None) -> bool:
        """Locate the hands from the held rest frames ``idx`` and re-measure the held frames through them."""
        assert self._rest_height is not None and self.geo.tracked is not None
        try:
            tp, mid = self._locate_at(idx)
        except ValueError as exc:
            self.warnings.append(f"the hands could not be located again after a pause ({exc})")
            return False
        old = self.geo.tracked
        if isinstance(rest, RecoilTops):
            return (tag_moved or self._moved_at_tops(tp, old, mid)) and self._remeasure_from(tp, mid, idx, rest)
        if float(np.linalg.norm(tp.point_mm - old.point_mm)) < self.opt.relocate_min_mm:
            return True  # the same surface, resting where it did: measured, and nothing to change
        if self.geo.mode == MODE_ANCHOR and not self._moved_at_tops(tp, old, mid, tilt_gap=True):
            # a moving camera saw this rest from elsewhere, and MediaPipe's point lies elsewhere on a hand seen from
            # elsewhere: the same hand put back as it was located 20 mm away, 12 mm up its ray (a livelier headset, bob
            # 6 cm and sway 3 deg), into the band where it may be a stack, and its set read 3-4 mm shallow. So only
            # what a view cannot do counts, as at recoil tops for a lean; a palm turned by the flat-to-turned gap too
            # (one hand put back turned read 16 -> 43 deg: not flat at one and fully turned at the other)
            return True
        return self._remeasure_from(tp, mid, idx, rest)

    def _locate_at(self, idx: list[int]) -> tuple[TrackedPoint, Pose | None]:
        """The hands located again from the held frames ``idx``, and the manikin pose they were located from; ValueError
        if not. A moving camera locates them from the pose they were first located from (each frame's pixels carried
        to it): the priors place the point where its ray meets them, and from elsewhere the same hands' ray meets them
        elsewhere (a livelier headset, bob 6 cm and sway 3 deg: one hand put back as it was located 23 mm along its
        ray, into the band where it may be a stack, and its next set read 2-5 mm shallow). A fixed camera has one."""
        at = self.geo.tracked_pose or self._poses.get(idx[len(idx) // 2], self._last_pose)
        obs = self._rest_obs_from(idx, at) if at is not None else [self._rest_obs[i] for i in idx]
        return locate_tracked_point(obs, self.geo.intr, at, self.opt.hand_point), at

    def _rest_obs_from(self, idx: list[int], pose: Pose) -> list[RestHand]:
        """The held frames' rest evidence as seen from ``pose`` (``calibration.handpoint.seen_from``): a moving camera
        (anchor mode) saw each from its own pose; a fixed one's poses are all the calibration's (nothing changes). Once
        the hands are located, each frame's pixels are carried through where they were located (the point's height,
        the features' surface), else through a guess 40 mm up."""
        tp = self.geo.tracked
        at = {} if tp is None else dict(height_mm=float(tp.point_mm[2]), features_height_mm=float(tp.surface_point_mm[2]))
        return [seen_from(self._rest_obs[i], self.geo.intr, self._poses.get(i, pose), pose, **at) for i in idx]

    def _moved_at_tops(self, tp: TrackedPoint, old: TrackedPoint, pose: Pose | None, k: float = 1.0,
                       tilt_gap: bool = False) -> bool:
        """Whether hands located at recoil tops are others than before. A top's level is no rest's: a lean lowers
        it, and one seen hand's point then slides along its ray toward the camera (twice the lean, from 30 deg up), so
        only what a lean cannot do counts: a point higher or lower by more than a lean (a stack put on or taken off),
        a palm turned more or less toward the camera, or a point farther from the camera. ``k`` < 1 judges by that
        fraction of the thresholds, and any tilt change of the flat-to-turned gap counts (``_same_at_tops``: not
        moved then is clearly the same); ``tilt_gap`` takes that tilt rule at the full thresholds (a moving camera's
        rest, which slides the point along its ray as a lean does: ``_relocate``)."""
        o = self.opt
        d = tp.point_mm - old.point_mm
        if abs(d[2]) >= k * o.relocate_tops_level_mm:
            return True
        flat, turned = o.hand_point.tilt_none_deg, o.hand_point.tilt_full_deg
        lo, hi = sorted((tp.tilt_deg, old.tilt_deg))
        if (lo <= flat and hi >= turned) if k >= 1.0 and not tilt_gap else hi - lo >= turned - flat:  # (NaN: False)
            return True
        if pose is None:
            return False
        return float(-d @ toward_camera(pose)) >= k * o.relocate_tops_min_mm

    def _same_at_tops(self, tops: RecoilTops) -> bool:
        """Whether the recoil tops so far already show the same hands, clearly: every move ``_end_return`` would see
        (the tag's, else the markerless point's) within ``tops_same_margin`` of its threshold, the palm tilts closer
        than the flat-to-turned gap. Then the held frames go on at once: the hold otherwise lasts ~2 s into the set,
        and its first compressions reach the live feed that late. Changes nothing; anything less clear waits."""
        k = self.opt.tops_same_margin
        tag = self.geo.tag
        if tag is not None and tag.has_reference and self._rest_height is not None:
            old = self._tag_reference_at(tops)
            if old is not None:  # a seen tag decides, as at the end
                d = tag.reference_mm - old
                tag.restore_reference(old)
                return not self._tag_moved(d, k)
        idx = self._rest_frames(tops, self._rest_obs)
        if self.geo.tracked is None or not idx or self._rest_height is None:
            return self.geo.tracked is None  # (nothing to locate again: nothing the end could change)
        try:
            tp, mid = self._locate_at(idx)
        except ValueError:
            return False
        return not self._moved_at_tops(tp, self.geo.tracked, mid, k)

    def _tag_reference_at(self, rest: RestEstimate | RecoilTops) -> np.ndarray | None:
        """The worn tag's rest pose read again at ``rest``'s frames; returns the one it replaced (``restore_reference``
        puts it back), or None if the tag was not seen there (nothing changed)."""
        tag = self.geo.tag
        assert tag is not None
        tidx = self._rest_frames(rest, self._tag_corners)
        pose0 = self.geo.manikin.cam_from_manikin if self.geo.manikin is not None else None
        old = tag.reference_mm
        if not tidx or pose0 is None or not tag.set_reference([self._tag_corners[i] for i in tidx],
                                                              [self._poses.get(i, pose0) for i in tidx]):
            return None
        return old

    def _tag_moved(self, d: np.ndarray, k: float) -> bool:
        """Whether the tag's rest corners moved by ``d`` (4 x 3, mm) count as other hands at recoil tops (``k``: the
        fraction of the thresholds to judge by; a lean moves a tag little)."""
        o = self.opt
        return bool(np.abs(d[:, :2]).max() >= k * o.relocate_tops_min_mm or abs(d[:, 2].mean()) >= k * o.relocate_tops_level_mm)

    def _remeasure_from(self, tp: TrackedPoint, mid: Pose | None, idx: list[int], rest: RestEstimate | RecoilTops) -> bool:
        """Measure through the surface located again: the held frames anew, shifted so that the rest reads as the first."""
        self._located.append(self.geo.use(tp, mid))
        tops = isinstance(rest, RecoilTops) and mid is not None
        self._tops_fix = (self._rest_obs_from(idx, mid), mid, 0.0) if tops else None
        raw = {}
        for i in self._held:
            r = self.records[i]
            pose = self._poses.get(i, self._last_pose)
            if math.isfinite(r.height_mm) and pose is not None:
                raw[i] = self.geo.measure(np.array(r.xy_px), pose)
        have = [i for i in idx if i in raw and math.isfinite(raw[i][0])]
        level = [raw[i][0] for i in have]
        if isinstance(rest, RecoilTops):  # each top's highest frame, as the watcher read them (their median)
            level = [max(raw[i][0] for i in f) for f in self._top_frames(rest, have)]
        if not level:
            return False
        self._offset_mm = float(np.median(level)) - self._rest_height
        for i, (h, ax) in raw.items():
            self.records[i] = replace(self.records[i], height_mm=h - self._offset_mm, axial_mm=ax)
        return True

    def _combine_tag(self, indices: list[int]) -> None:
        """Held frames' heights: the tag's where it was seen, the markerless ones (matched to it) elsewhere."""
        tag = self.geo.tag
        assert tag is not None
        for i in indices:
            r = self.records[i]
            c = self._tag_corners.get(i)
            th = self._tag_z0 + tag.displacement_mm(c, self._poses[i]) if (c is not None and i in self._poses) else math.nan
            h, from_tag = self._matcher.combine(th, r.height_mm)
            self.hand_tag_frames += int(from_tag)
            self.records[i] = replace(r, height_mm=h)

    def _top_frames(self, tops: RecoilTops, frames: list[int]) -> list[list[int]]:
        """``frames`` grouped by the used top they belong to (tops without any left out)."""
        groups = [[i for i in frames if a <= self.records[i].t_s <= b] for a, b in tops.used_spans]
        return [g for g in groups if g]

    def _rest_frames(self, rest: RestEstimate | RecoilTops | None, have: dict) -> list[int]:
        """Held frames of the rest hold (or recoil tops) that have an entry in ``have`` (no hold: the first 60)."""
        if rest is None:
            return [i for i in self._held if i in have][:60]
        idx = [i for i in self._held if rest.covers(self.records[i].t_s) and i in have]
        if isinstance(rest, RestEstimate):  # (its ends still at its level: recoil tops are at their own levels)
            idx = idx[still_span([self.records[i].height_mm for i in idx], self.opt.rest.tolerance)]
        return idx

    def _remeasure_held(self, rest: RestEstimate | RecoilTops | None) -> None:
        """Marker modes: locate the tracked hand surface from the rest hold, set up the hand tag, and re-measure
        every held frame with them (the rest hold itself was found on the midline plane's heights)."""
        pose0 = self.geo.manikin.cam_from_manikin if self.geo.manikin is not None else None
        idx = self._rest_frames(rest, self._rest_obs)
        if self.opt.locate_hands and idx and pose0 is not None:
            try:
                pose = self._poses.get(idx[len(idx) // 2], pose0)
                obs = self._rest_obs_from(idx, pose)
                self._located.append(self.geo.locate(obs, pose, self.opt.hand_point))
                self._tops_fix = (obs, pose, 0.0) if isinstance(rest, RecoilTops) else None
            except ValueError as exc:
                self.warnings.append(f"the hands could not be located at rest ({exc}): heights on the midline plane")
        if self.geo.tracked is not None:
            for i in self._held:
                r = self.records[i]
                if math.isfinite(r.height_mm) and i in self._poses:
                    h, ax = self.geo.measure(np.array(r.xy_px), self._poses[i])
                    self.records[i] = replace(r, height_mm=h, axial_mm=ax)
        tag = self.geo.tag
        if tag is not None:
            tidx = self._rest_frames(rest, self._tag_corners)
            if not tag.set_reference([self._tag_corners[i] for i in tidx], [self._poses.get(i, pose0) for i in tidx]):
                self.warnings.append("the hand tag was not seen during the rest hold: depth is markerless")
            else:
                fin = [i for i in tidx if math.isfinite(self.records[i].height_mm)]
                ri = self._rest_levels(rest, fin) if rest is not None else [self.records[i].height_mm for i in fin]
                self._tag_z0 = float(np.median(ri)) if ri else 0.0
                if isinstance(rest, RecoilTops):
                    self._tag_z0 -= self._tag_at_peaks_mm(rest, fin)
                self._combine_tag(self._held)

    def _depth_uncertainty(self, session: SessionResult, drift: float, dt_s: float, shape_bias_mm: float) -> float:
        """The stated uncertainty (mm): the mode's and the geometry's scale spread at this session's depth, and
        the drift of the markerless trace's level that this session's tracking shows (its per-frame noise times
        the square root of the longest chain of re-references its tracker's level carried: a clean session has a
        few, a blurred or occluded one dozens unless the tracker keeps returning to its rest reference). The hand
        tag's share of the frames is free of that drift."""
        o = self.opt
        depths = [c.depth_mm for c in session.compressions if math.isfinite(c.depth_mm)]
        depth = float(np.mean(depths)) if depths else o.unknown_depth_mm
        # the core's share grows below 30 fps (dt_s: the session's median frame interval), and with a stroke shape that
        # biases its fits (a trapezoid held for a session; the floor covers the simulated families on average)
        floor = core_floor_mm(dt_s) + abs(shape_bias_mm)
        if self.mode == MODE_HAND:
            return depth_uncertainty_mm(o.hand_size_rel_sd, depth, o.hand_point.coverage, floor, level_sd_mm=drift)
        hp = o.hand_point
        # unlocated (the midline plane): up to ±5 % from the point; located again after a pause: the widest
        rel = (max(p.scale_rel_sd(hp) for p in self._located) if self._located
               else math.hypot(hp.lateral_sd_mm * 4 / 900.0, hp.vision_rel_sd))
        markerless = depth_uncertainty_mm(rel, depth, hp.coverage, floor, level_sd_mm=drift)
        with_hands = max(self.frames_with_point, 1)
        tagged = depth_uncertainty_mm(o.hand_tag_rel_sd, depth, o.hand_point.coverage, floor)
        if self.hand_tag_frames >= 0.9 * with_hands:
            return tagged
        share = self.hand_tag_frames / with_hands  # a tag part of the time: the markerless figure for the rest
        return share * tagged + (1 - share) * markerless

    def _level_drift(self, dt_s: float) -> tuple[float, int]:
        """(1-sigma drift of the markerless trace's level, the most re-references the tracker's level carried):
        its per-frame noise, random-walked by those re-references ((0, 0) without the tracker). A return to the
        reference the hands rested on drops the chain back to that reference's, so the longest chain counts,
        not every re-reference of the session. ``dt_s``: the session's median frame interval."""
        if self.refiner is None:
            return 0.0, 0
        re_refs = int(self.refiner.stats["chain"])
        return level_drift_mm(trace_noise_mm([r.height_mm for r in self.records], dt_s), re_refs), re_refs

    def _build_hand_frame(self, rest: RestEstimate | None) -> None:
        """Hand-size mode: the frame from the resting frames, then heights for every held frame."""
        if rest is not None:
            idx = [i for i in self._held if rest.t_start_s <= self.records[i].t_s <= rest.t_end_s and i in self._hand_obs]
        else:
            idx = [i for i in self._held if i in self._hand_obs][:60]
            self.warnings.append("hand-size mode without a resting hold: the frame is taken from the first hands seen")
        samples = []
        for i in idx:
            lms, world = self._hand_obs[i]
            xy = np.array(self.records[i].xy_px)
            for k in range(lms.shape[0]):
                try:
                    samples.append(resting_hand_sample(lms[k, :, :2], world[k], xy, self.geo.intr))
                except HandScaleError:
                    continue
        try:
            pose = frame_from_samples(samples)
        except HandScaleError as exc:
            self.warnings.append(f"hand-size mode: {exc}; no heights")
            self._hand_obs.clear()
            return
        self._hand_est = HeightEstimator(self.geo.intr, pose)
        for i in self._held:
            r = self.records[i]
            if math.isfinite(r.xy_px[0]):
                hp = self._hand_est.measure(np.array(r.xy_px))
                self.records[i] = FrameRecord(r.index, r.t_s, r.xy_px, r.confidence, r.n_hands, hp.height_mm, math.nan)
        self._hand_obs.clear()

    # ------------------------------------------------------------------ end

    def finish(self, wall_s: float = math.nan) -> PipelineResult:
        if self._core is None:
            r = self._rest_det.finish() if self._rest_det is not None else None
            if r is None and self._start_watch is not None and self._start_watch.holding:
                r = self._start_watch.finish()  # (ended while compressing without a rest hold: its rest, if complete)
            self._start_core(r)
        assert self._core is not None
        if self._returns is not None and self._returns.holding:
            self._end_return(self._returns.finish())
        session = self._core.result()
        placement = self._placement(session)
        warnings = list(self.warnings)
        dt = nominal_dt([r.t_s for r in self.records])  # (the session's median frame interval)
        slow = low_frame_rate_warning(dt, self.opt.min_fps)
        if slow:
            warnings.append(slow)
        if self.anchor_lost_frames:
            warnings.append(anchor_lost_warning(self.anchor_lost_frames, len(self.records), self._anchor_first_lost_s,
                                                self.geo.anchor.anchor.marker.marker_id))
        carried = self.geo.anchor.frames_carried if self.geo.anchor is not None else 0
        if carried:
            warnings.append(f"the anchor marker was not found in {carried} of {len(self.records)} frames: the floor's "
                            "texture around it carried the camera's pose there (keep it in view: a plain floor cannot)")
        if self.frames_failed:
            warnings.append(f"{self.frames_failed} frame(s) could not be processed and count as frames without hands "
                            f"(first: {self._first_failure})")
        tp = self._located[0] if self._located else None
        drift, re_refs = self._level_drift(dt)
        # how far this trainee's stroke shape biases the core's depths, over the trace the core was given
        shape_bias = session_shape_bias_mm([r.t_s for r in self.records], [r.height_mm for r in self.records])
        # with the rest hold's rest, a set whose tops came back lower with strokes as long reads too deep by that
        # much if the hands were put back otherwise, and right if the trainee leans: say it, do not guess
        drop = (unresolved_rest_drop_mm(session.compressions, rest_measured_s=self._rest_measured_s)
                if self._rest_height is not None else 0.0)
        self._note_tops_above()
        lean = max((self._tops_lean_mm(session, r) for r in self._tops_rests), default=0.0)
        raised = max((r.raised_mm for r in self._tops_rests), default=0.0)
        above = max((max(r.above_mm, 0.0) for r in self._tops_rests), default=0.0)
        unchecked = any(r.unchecked for r in self._tops_rests)
        return PipelineResult(session, self.mode, self.records, self._rest, self._rest_height, placement, len(self.records),
                              self.frames_with_point, self.frames_lost, wall_s, warnings,
                              depth_uncertainty_mm=stated_uncertainty_mm(
                                  self._depth_uncertainty(session, drift, dt, shape_bias), drop, lean, self._settled_mm),
                              tracked_point_mm=None if tp is None else tuple(float(v) for v in tp.point_mm),
                              hand_tag_frames=self.hand_tag_frames, level_drift_mm=drift, tracker_re_references=re_refs,
                              rest_drop_mm=drop, relocations=self.relocations, tops_lean_mm=lean,
                              tops_raised_mm=raised, tops_above_mm=above, tops_unchecked=unchecked,
                              tops_settled_mm=self._settled_mm,
                              rest_at_tops=self._rest_at_tops, stroke_shape_bias_mm=shape_bias,
                              core_rest_height_mm=self.core_rest_height_mm,
                              rest_moves=[(self.records[i].t_s, mm) for i, mm in sorted(self._rest_moves.items())],
                              feedback_delays_s=list(self._delays))

    def _tops_lean_mm(self, session: SessionResult, r: _TopsRest) -> float:
        """The lean a rest taken at the recoil tops at ``r.t_s`` (the start, or after a pause) may hold. Later tops
        that rose above it show one (``r.raised_mm``: raised, the rest may still be a lean's; counted only for the
        compressions before the raise, a trainee leaning from the first tops on at seed 8 read -6.2 against +-6.1).
        So does one top that came back 5-10 mm above it and raised nothing (``r.above_mm``: a full recoil among
        leaning strokes; rendered straight in, 16 of 17 strokes leaning 7-10 mm read 9 mm shallow, the one full
        recoil 8 mm above what the core measured from). Tops that did not may still all lean, which nothing in the
        set tells (a lean lowers the top, not the bottom, and the rest is unknown), so this trainee's leaning before
        the pause stands in: the upper quartile of the recoil residuals measured against the rest held then. A rest
        that nothing compared with the same hands' full recoil (``_TopsRest.unchecked``) may hold any lean short of
        hands off the chest (``returns.raise_max_mm``): held out, seed 26, a stack leaning 5-10 mm on every stroke of
        the first set, then one hand that did not, both straight in, read -5.1 mm against +-4.3 (nothing leant before
        the stack's set; the hand's tops, another surface, could not be compared with its rest)."""
        before = [c.recoil_residual_mm for c in session.compressions
                  if c.t_release_s < r.t_s and math.isfinite(c.recoil_residual_mm)]
        habit = float(np.percentile(before, 75)) if len(before) >= 3 else 0.0
        unseen = self.opt.returns.raise_max_mm if r.unchecked else 0.0
        return max(r.raised_mm, habit, r.above_mm, unseen)

    def _placement(self, session: SessionResult) -> float:
        if self.mode == MODE_HAND or not session.compressions:
            return math.nan
        t = np.array([r.t_s for r in self.records])
        ax = np.array([r.axial_mm for r in self.records])
        # frames inside any compression (start..release), in O(frames + compressions): times are sorted
        lo = np.searchsorted(t, [c.t_start_s for c in session.compressions], side="left")
        hi = np.searchsorted(t, [c.t_release_s for c in session.compressions], side="right")
        inside = np.zeros(t.size + 1, int)
        np.add.at(inside, lo, 1)
        np.add.at(inside, hi, -1)
        m = np.cumsum(inside[:-1]) > 0
        v = ax[m & np.isfinite(ax)]
        return float(np.median(v)) if v.size else math.nan


def run(source: Iterable, pipeline: Pipeline, clock: Clock = time.monotonic,
        on_frame: Callable[[PipelineStep, float], None] | None = None, max_frames: int | None = None) -> PipelineResult:
    """Drive ``pipeline`` with every frame of ``source`` (any ``vision.sources`` FrameSource).

    ``clock`` times the run (and is what a live caller compares capture times with);
    ``on_frame(step, elapsed_s)`` is called after each frame (progress bars, live
    publishing). Lost-source markers are counted and skipped: the loop never dies on them.
    """
    t0 = clock()
    n = 0
    for frame in source:
        if getattr(frame, "lost", False):
            pipeline.frames_lost += 1
            continue
        step = pipeline.process(frame.image, frame.t_ms, frame.index)
        n += 1
        if on_frame is not None:
            on_frame(step, clock() - t0)
        if max_frames is not None and n >= max_frames:
            break
    return pipeline.finish(wall_s=clock() - t0)


def stated_uncertainty_mm(base_mm: float, drop_mm: float, lean_mm: float, settled_mm: float) -> float:
    """The session's stated depth uncertainty: the mode's and the geometry's (``base_mm``, either sign) and what the
    rest may hold. A rest drop no move explained and a rest that settled lower may read depths too deep (``drop_mm``,
    ``settled_mm``); a rest taken at recoil tops that leant reads them too shallow (``lean_mm``). Errors of opposite
    signs do not add, so the larger side counts: summed, a trainee whose lean showed both as a drop after the pause and
    at the tops stated +-18.8 mm for -5.6 (rendered straight in, seed 18); now +-12.9."""
    return base_mm + max(drop_mm + settled_mm, lean_mm)


def low_frame_rate_warning(dt_s: float, min_fps: float) -> str | None:
    """A warning when frames ``dt_s`` apart (the session's median interval) run under ``min_fps`` (5 % slack for
    rounded stamps); None otherwise. Why: a stroke then spans a handful of frames, its top and bottom fall between
    them, and shallow strokes are missed; the stated uncertainty grows with the interval, but the counts cannot."""
    fps = 1.0 / dt_s
    if fps >= 0.95 * min_fps:
        return None
    return (f"the video runs at {fps:.0f} fps, under {min_fps:g}: each compression spans only a few frames, so some "
            f"may be missed and depths read shallow; film at 24-30 fps")


def anchor_lost_warning(lost: int, frames: int, first_s: float, marker_id: int) -> str:
    """The warning for frames whose anchor marker was not found. Why: without it a moving camera has no pose, those
    frames have no heights, and a clip where the anchor never showed gave no compressions and only a warning about a
    missing rest hold (session 31: every hand family rendered without the anchor)."""
    if lost >= frames:
        return (f"the anchor marker (id {marker_id}) was not found in any of the {frames} frames: no heights, so no "
                f"depth or compressions; keep the anchor in the camera's view (or calibrate without it)")
    return (f"the anchor marker (id {marker_id}) was not found in {lost} of {frames} frames (first at {first_s:.1f} s): "
            f"those frames have no heights; keep it in the camera's view")


def return_watch_options(options: PipelineOptions) -> ReturnOptions:
    """What hands coming back from a pause are watched with: ``options.returns``, a hold the first stroke then goes
    further below than the core counts being a hover (``max_depth_mm``)."""
    return replace(options.returns, max_depth_mm=deepest_counted_mm(CoreOptions(profile=options.profile)))


def start_watch_options(options: PipelineOptions) -> ReturnOptions:
    """What the first hands are watched with when they compress before a rest hold (``start_at_tops``): the return
    watcher's options, waiting as long as it takes, a short still hold counting only with all the tops (hands being
    placed rest and dip too), no early end (there are no hands before to be the same as), and no still hold after a
    stroke the core would count (``hold_above_dip_mm``: a top between strokes)."""
    return replace(return_watch_options(options), wait_s=math.inf, tops_early=False, rest_needs_tops=True,
                   hold_above_dip_mm=shallowest_counted_mm(CoreOptions(profile=options.profile)))


def shallow_start_options(options: PipelineOptions) -> ReturnOptions:
    """What the held frames are watched with again when the start found no rest by ``rest_timeout_s``: the start's
    options, a stroke's rise as short as a compression the core counts (10 mm; a return's 15 mm, or half the set
    before, needs a set before to say how deep this trainee compresses). Why not from the start: a trainee who leans
    on the second and third strokes only has those tops in the rest then (rendered straight in, 25 mm, seed 17: the
    first compression lost and -2.1 mm, against -0.12 with 15 mm, which passed over them)."""
    first = min(options.returns.rise_mm, shallowest_counted_mm(CoreOptions(profile=options.profile)))
    return replace(start_watch_options(options), rise_mm=first)


def watch_start(samples, options: ReturnOptions) -> RestEstimate | RecoilTops | None:
    """The first rest a start watcher finds in these (t_s, height_mm) samples, looking again after each look that
    found none (as ``Pipeline._watch_start`` does live); None if none."""
    w: ReturnWatcher | None = None
    for t_s, h in samples:
        if w is None:
            if math.isfinite(h):
                w = ReturnWatcher(math.nan, options)
                w.begin(t_s, h)
            continue
        ev = w.push(t_s, h)
        if isinstance(ev, tuple) and ev[0] == ReturnWatcher.END:
            if ev[1] is not None:
                return ev[1]
            w = None
    return None


@dataclass
class _TopsRest:
    """A rest taken at recoil tops (no rest hold: at the start or after a pause) and what later tops said of it."""

    t_s: float  # when its first used top began
    raised_mm: float = 0.0  # how far later tops raised it (Pipeline._raise)
    above_mm: float = -math.inf  # how far one later top came back above it, no move explaining it
    # (ReturnWatcher.top_above_mm)
    checked: bool = False  # the set's own tops rose above it (raised), or the same hands came back from a pause next to
    # it (before or after), within a lean's reach of its level (Pipeline._end_return). Not: raised after other hands'
    # hold by the core's baseline alone (which shows a lean under the bar, not one on every stroke)

    @property
    def unchecked(self) -> bool:
        """Whether nothing compared it with a full recoil of the same hands: no later top rose above it, and the hands
        on either side of its set, if any, were others (a stack put on or off) or there were none (the session's
        only set). A lean then held from its first stroke to its last is unseen."""
        return not (self.checked or self.above_mm > 0)


class PipelineSetupError(ValueError):
    """The calibration does not fit the source (one line naming both)."""
