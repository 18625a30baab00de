"""The manikin frame, calibrated from a printed ArUco marker seen over many frames.

Manikin frame: origin at the compression point on the chest surface (the marker's
centre), x toward the head (the marker's top edge), z up along the chest normal
(out of the printed face), y = z × x (toward the manikin's right: it lies face up).

Why many frames and a consensus: one frame's marker pose is noisy, and at a
distance IPPE's two solutions can swap (the "flip"). The calibrator keeps both
solutions of every frame, takes the per-frame solution that agrees with the
consensus normal, rejects frames whose pose or reprojection disagrees, and then
refines one pose on all inlier corners at once (the maximum-likelihood pose for
a fixed camera). With an anchor marker the camera may move: then what is
averaged is the anchor->manikin transform, measured in each frame that sees both.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from calibration.camera import CameraIntrinsics
from calibration.geometry import (
    Pose,
    ViewAngles,
    camera_center,
    mean_pose,
    project_points,
    rotation_angle_deg,
    view_angles,
)
from calibration.markers import (
    DEFAULT_DICTIONARY,
    MarkerDetector,
    MarkerPose,
    estimate_marker_pose,
    get_dictionary,
    marker_object_points,
    quad_min_side_px,
    refine_pose,
    reprojection_rms_px,
)

# p_manikin = MANIKIN_FROM_MARKER @ p_marker: x_manikin = y_marker (top edge -> head),
# y_manikin = -x_marker, z_manikin = z_marker (chest normal).
MANIKIN_FROM_MARKER = Pose(np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]), np.zeros(3))
MARKER_FROM_MANIKIN = MANIKIN_FROM_MARKER.inverse()

# The supported viewing range (documented; outside it the calibrator warns, far outside it refuses). The marker's
# pose holds from 8 deg up, but below 25 deg the hands lie nearly edge-on: rendered stacked hands at 15-20 deg were
# lost for up to 1 s and read 1-2 counts wrong (docs/calibration.md, "Viewing range").
SUPPORTED_ELEVATION_DEG = (25.0, 60.0)
SUPPORTED_AZIMUTH_DEG = 45.0


class CalibrationError(ValueError):
    """The manikin calibration could not be made (marker never seen, moved, ...)."""


class DegenerateViewError(CalibrationError):
    """The camera sees the manikin from a view where height cannot be measured well."""


@dataclass(frozen=True)
class MarkerSpec:
    dictionary: str = DEFAULT_DICTIONARY
    marker_id: int = 0
    size_mm: float = 120.0

    def to_dict(self) -> dict:
        return {"dictionary": self.dictionary, "id": self.marker_id, "size_mm": self.size_mm}

    @staticmethod
    def from_dict(d: dict) -> "MarkerSpec":
        spec = MarkerSpec(str(d["dictionary"]), int(d["id"]), float(d["size_mm"]))
        if not spec.size_mm > 0:
            raise ValueError("marker size_mm must be positive")
        get_dictionary(spec.dictionary)  # a hand-edited name fails here (MarkerError), not mid-run
        return spec


@dataclass(frozen=True)
class ManikinCalibrationOptions:
    """How ``calibrate manikin`` judges frames and views."""

    marker: MarkerSpec = MarkerSpec()
    anchor: MarkerSpec | None = None  # static second marker beside the manikin (moving cameras)
    min_frames: int = 10  # good frames needed
    max_frames: int = 200  # stop collecting after this many good frames
    min_marker_px: float = 24.0  # shortest marker side in the image; smaller is refused
    max_reprojection_px: float = 1.5  # a frame whose chosen pose reprojects worse is rejected
    min_elevation_deg: float = 8.0  # below: the marker is seen edge-on, its pose is unreliable
    min_incidence_cos: float = 0.2  # camera rays must cross the sagittal plane at > ~11.5 degrees
    max_spread_mm: float = 4.0  # inlier translations spread more: the camera or marker moved


@dataclass(frozen=True)
class AnchorCalibration:
    """The static anchor marker and where the manikin frame sits relative to it."""

    marker: MarkerSpec
    anchor_from_manikin: Pose
    frames_used: int
    spread_mm: float  # RMS scatter of the per-frame anchor->manikin translations

    def to_dict(self) -> dict:
        return {
            "marker": self.marker.to_dict(),
            "anchor_from_manikin": pose_to_dict(self.anchor_from_manikin),
            "frames_used": self.frames_used,
            "spread_mm": self.spread_mm,
        }

    @staticmethod
    def from_dict(d: dict) -> "AnchorCalibration":
        return AnchorCalibration(MarkerSpec.from_dict(d["marker"]), pose_from_dict(d["anchor_from_manikin"]),
                                 int(d.get("frames_used", 0)), float(d.get("spread_mm", float("nan"))))


@dataclass(frozen=True)
class ManikinCalibration:
    """Where the manikin frame is, seen from the (fixed, at calibration time) camera."""

    marker: MarkerSpec
    cam_from_manikin: Pose
    reprojection_rms_px: float
    view: ViewAngles
    incidence_cos: float  # |cos| between the ray to the origin and the sagittal-plane normal
    mm_per_px_z: float  # how many mm of height one pixel at the origin is worth
    marker_side_px: float  # median shortest marker side in the image
    frames_used: int
    frames_rejected: int
    anchor: AnchorCalibration | None = None
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {
            "marker": self.marker.to_dict(),
            "cam_from_manikin": pose_to_dict(self.cam_from_manikin),
            "reprojection_rms_px": self.reprojection_rms_px,
            "elevation_deg": self.view.elevation_deg,
            "azimuth_from_side_deg": self.view.azimuth_from_side_deg,
            "distance_mm": self.view.distance_mm,
            "incidence_cos": self.incidence_cos,
            "mm_per_px_z": self.mm_per_px_z,
            "marker_side_px": self.marker_side_px,
            "frames_used": self.frames_used,
            "frames_rejected": self.frames_rejected,
            "anchor": None if self.anchor is None else self.anchor.to_dict(),
            "warnings": list(self.warnings),
        }

    @staticmethod
    def from_dict(d: dict) -> "ManikinCalibration":
        pose = pose_from_dict(d["cam_from_manikin"])
        return ManikinCalibration(
            marker=MarkerSpec.from_dict(d["marker"]),
            cam_from_manikin=pose,
            reprojection_rms_px=float(d.get("reprojection_rms_px", float("nan"))),
            view=view_angles(pose),
            incidence_cos=float(d.get("incidence_cos", float("nan"))),
            mm_per_px_z=float(d.get("mm_per_px_z", float("nan"))),
            marker_side_px=float(d.get("marker_side_px", float("nan"))),
            frames_used=int(d.get("frames_used", 0)),
            frames_rejected=int(d.get("frames_rejected", 0)),
            anchor=None if d.get("anchor") is None else AnchorCalibration.from_dict(d["anchor"]),
            warnings=tuple(str(w) for w in d.get("warnings", ())),
        )


def pose_to_dict(p: Pose) -> dict:
    return {"rotation": p.rotation.tolist(), "translation_mm": p.translation_mm.tolist()}


def pose_from_dict(d: dict) -> Pose:
    r = np.asarray(d["rotation"], dtype=np.float64)
    t = np.asarray(d["translation_mm"], dtype=np.float64)
    if r.shape != (3, 3) or t.shape != (3,):
        raise ValueError("a pose needs a 3x3 'rotation' and a 3-vector 'translation_mm'")
    if not (np.all(np.isfinite(r)) and np.all(np.isfinite(t))):
        raise ValueError("a pose holds a non-finite number")
    if np.abs(r @ r.T - np.eye(3)).max() > 1e-4 or np.linalg.det(r) < 0:
        raise ValueError("'rotation' is not a rotation matrix")
    return Pose(r, t)


def cam_from_manikin_of(cam_from_marker: Pose) -> Pose:
    return cam_from_marker.compose(MARKER_FROM_MANIKIN)


def incidence_cos(cam_from_manikin: Pose) -> float:
    """|cos| between the camera->origin ray and the sagittal plane's normal (manikin y).

    It is cos(elevation) * cos(azimuth from side): 1 for a level side view, 0 when the
    camera looks along the body axis or straight down, where height is unobservable.
    """
    c = camera_center(cam_from_manikin)
    return float(abs(c[1]) / np.linalg.norm(c))


def mm_per_px_z(cam_from_manikin: Pose, intr: CameraIntrinsics, dz_mm: float = 10.0) -> float:
    """Height resolution at the origin: mm of z motion per pixel of image motion."""
    pts = cam_from_manikin.apply(np.array([[0.0, 0.0, 0.0], [0.0, 0.0, dz_mm]]))
    px = project_points(pts, intr.matrix, intr.dist_coeffs)
    d = float(np.linalg.norm(px[1] - px[0]))
    return dz_mm / d if d > 0 else float("inf")


@dataclass
class _FrameObs:
    index: int
    corners: np.ndarray
    mp: MarkerPose
    anchor_corners: np.ndarray | None = None
    anchor_mp: MarkerPose | None = None


@dataclass
class FrameReport:
    """What one frame contributed (for progress output)."""

    index: int
    found: bool
    anchor_found: bool | None = None
    reason: str = ""


def _normal(p: Pose) -> np.ndarray:
    return p.rotation[:, 2]


def choose_solution(mp: MarkerPose, consensus_normal: np.ndarray) -> tuple[Pose, float]:
    """The IPPE solution (and its reprojection error) whose marker normal agrees best with ``consensus_normal``."""
    best, err = mp.pose, mp.reprojection_px
    if mp.alternative is not None:
        a1 = float(_normal(mp.pose) @ consensus_normal)
        a2 = float(_normal(mp.alternative) @ consensus_normal)
        if a2 > a1:
            best, err = mp.alternative, mp.alternative_reprojection_px
    return best, err


def _consensus_normal(poses: list[MarkerPose]) -> np.ndarray:
    """The medoid of the per-frame best normals (robust to a minority of flips)."""
    n = np.array([_normal(m.pose) for m in poses])
    cosm = np.clip(n @ n.T, -1.0, 1.0)
    ang = np.arccos(cosm).sum(axis=1)
    return n[int(np.argmin(ang))]


def _robust_inliers(poses: list[Pose], min_angle_deg: float = 0.5, min_dist_mm: float = 1.0) -> np.ndarray:
    """Mask of poses near the robust centre (rotation angle and translation distance)."""
    t = np.array([p.translation_mm for p in poses])
    t_med = np.median(t, axis=0)
    d = np.linalg.norm(t - t_med, axis=1)
    center = mean_pose(poses)
    ang = np.array([rotation_angle_deg(center.rotation.T @ p.rotation) for p in poses])
    d_lim = max(3.0 * 1.4826 * float(np.median(d)), min_dist_mm)
    a_lim = max(3.0 * 1.4826 * float(np.median(ang)), min_angle_deg)
    return (d <= d_lim) & (ang <= a_lim)


class ManikinCalibrator:
    """Accumulates marker observations frame by frame and solves the manikin frame.

    Feed frames with :meth:`add_frame` (from any source: a file, a live camera),
    stop when :attr:`done`, then call :meth:`result`.
    """

    def __init__(self, intrinsics: CameraIntrinsics, options: ManikinCalibrationOptions | None = None) -> None:
        self.intr = intrinsics
        self.opt = options or ManikinCalibrationOptions()
        if self.opt.anchor is not None:
            if self.opt.anchor.dictionary != self.opt.marker.dictionary:
                self._anchor_det = MarkerDetector(self.opt.anchor.dictionary)
            else:
                self._anchor_det = None
            if self.opt.anchor.marker_id == self.opt.marker.marker_id and self.opt.anchor.dictionary == self.opt.marker.dictionary:
                raise CalibrationError("the anchor marker needs another id than the manikin marker")
        self._det = MarkerDetector(self.opt.marker.dictionary)
        self._obs: list[_FrameObs] = []
        self.frames_seen = 0
        self.frames_small = 0
        self.frames_without_anchor = 0
        self._small_side_px: list[float] = []

    @property
    def done(self) -> bool:
        return len(self._obs) >= self.opt.max_frames

    @property
    def good_frames(self) -> int:
        return len(self._obs)

    def add_frame(self, image: np.ndarray) -> FrameReport:
        if image.shape[1] != self.intr.width_px or image.shape[0] != self.intr.height_px:
            raise CalibrationError(
                f"frame is {image.shape[1]}x{image.shape[0]} but the intrinsics are for "
                f"{self.intr.width_px}x{self.intr.height_px}"
            )
        idx = self.frames_seen
        self.frames_seen += 1
        dets = self._det.detect(image)
        m = [d for d in dets if d.marker_id == self.opt.marker.marker_id]
        if not m:
            return FrameReport(idx, False, reason="marker not found")
        det = max(m, key=lambda d: d.min_side_px)
        if det.min_side_px < self.opt.min_marker_px:
            self.frames_small += 1
            self._small_side_px.append(det.min_side_px)
            return FrameReport(idx, False, reason=f"marker too small ({det.min_side_px:.0f} px)")
        k, dc = self.intr.matrix, self.intr.dist_coeffs
        mp = estimate_marker_pose(det.corners_px, self.opt.marker.size_mm, k, dc)
        obs = _FrameObs(idx, det.corners_px, mp)
        anchor_found = None
        if self.opt.anchor is not None:
            adets = dets if self._anchor_det is None else self._anchor_det.detect(image)
            a = [d for d in adets if d.marker_id == self.opt.anchor.marker_id]
            a = [d for d in a if d.min_side_px >= self.opt.min_marker_px]
            anchor_found = bool(a)
            if not a:
                self.frames_without_anchor += 1
                return FrameReport(idx, False, False, reason="anchor marker not found")
            ad = max(a, key=lambda d: d.min_side_px)
            obs.anchor_corners = ad.corners_px
            obs.anchor_mp = estimate_marker_pose(ad.corners_px, self.opt.anchor.size_mm, k, dc)
        self._obs.append(obs)
        return FrameReport(idx, True, anchor_found)

    def marker_focal_px(self) -> float:
        """The focal length (px) the marker's own perspective implies (NaN when it cannot tell).

        Why: ``--hfov`` is often a guess (a webcam's box says 70 deg, the lens is 62 deg), and a wrong
        focal length tilts the measured chest normal: +9 % of depth for that error at 30 deg elevation.
        A slanted square is a homography H = K [r1 r2 t]; with square pixels and the principal point at
        the image centre, r1 . r2 = 0 and |r1| = |r2| leave one unknown, f. The mean corners of all
        frames are used (a fixed camera).
        """
        import cv2

        if not self._obs:
            return math.nan
        c = np.mean([o.corners for o in self._obs], axis=0) - [self.intr.cx_px, self.intr.cy_px]
        h = self.opt.marker.size_mm / 2.0
        obj = np.array([[-h, h], [h, h], [h, -h], [-h, -h]])
        H, _ = cv2.findHomography(obj, c)
        if H is None:
            return math.nan
        h1, h2 = H[:, 0], H[:, 1]
        a = np.array([h1[0] * h2[0] + h1[1] * h2[1], h1[0] ** 2 + h1[1] ** 2 - h2[0] ** 2 - h2[1] ** 2])
        b = -np.array([h1[2] * h2[2], h1[2] ** 2 - h2[2] ** 2])
        ab = float(a @ b)
        if ab <= 0 or float(np.linalg.norm(b)) < 1e-9 * float(np.linalg.norm(a)):
            return math.nan
        # a near-frontal square has almost no perspective (b ~ 0): f is then not observable
        f = math.sqrt(float(a @ a) / ab)
        return f if 0.3 * self.intr.fx_px < f < 3.0 * self.intr.fx_px else math.nan

    def with_intrinsics(self, intrinsics: CameraIntrinsics) -> "ManikinCalibrator":
        """The same observations re-solved with other intrinsics (the corners are kept, the poses redone)."""
        other = ManikinCalibrator(intrinsics, self.opt)
        other.frames_seen, other.frames_small, other.frames_without_anchor = (
            self.frames_seen, self.frames_small, self.frames_without_anchor)
        other._small_side_px = list(self._small_side_px)
        k, dc = intrinsics.matrix, intrinsics.dist_coeffs
        for o in self._obs:
            n = _FrameObs(o.index, o.corners, estimate_marker_pose(o.corners, self.opt.marker.size_mm, k, dc))
            if o.anchor_corners is not None and self.opt.anchor is not None:
                n.anchor_corners = o.anchor_corners
                n.anchor_mp = estimate_marker_pose(o.anchor_corners, self.opt.anchor.size_mm, k, dc)
            other._obs.append(n)
        return other

    # ------------------------------------------------------------------ solving

    def _no_marker_message(self) -> str:
        spec = self.opt.marker
        if self.frames_small:
            side = float(np.median(self._small_side_px))
            return (
                f"the marker is too small in the image ({side:.0f} px per side, at least "
                f"{self.opt.min_marker_px:.0f} px needed): move the camera closer or print a larger marker"
            )
        if self.opt.anchor is not None and self.frames_without_anchor:
            return (
                f"the anchor marker (id {self.opt.anchor.marker_id}) was not visible together with the manikin "
                f"marker in enough frames"
            )
        return (
            f"marker {spec.dictionary} id {spec.marker_id} was found in {len(self._obs)} of {self.frames_seen} "
            f"frames (at least {self.opt.min_frames} needed): check the dictionary/id, the lighting, and that the "
            f"whole marker is in view"
        )

    def result(self) -> ManikinCalibration:
        opt = self.opt
        if len(self._obs) < opt.min_frames:
            raise CalibrationError(self._no_marker_message())
        k, dc = self.intr.matrix, self.intr.dist_coeffs
        obj = marker_object_points(opt.marker.size_mm)
        normal = _consensus_normal([o.mp for o in self._obs])
        chosen: list[tuple[_FrameObs, Pose]] = []
        for o in self._obs:
            p, err = choose_solution(o.mp, normal)
            if err <= opt.max_reprojection_px:
                chosen.append((o, p))
        if len(chosen) < opt.min_frames:
            raise CalibrationError(
                f"only {len(chosen)} frames had a marker pose with a reprojection error below "
                f"{opt.max_reprojection_px} px: check the intrinsics (--hfov or the camera calibration) and "
                f"that the marker is flat"
            )
        warnings: list[str] = []
        if opt.anchor is None:
            mask = _robust_inliers([p for _, p in chosen])
            inl = [c for c, m in zip(chosen, mask) if m]
            t = np.array([p.translation_mm for _, p in inl])
            spread = float(np.sqrt(np.mean(np.sum((t - t.mean(axis=0)) ** 2, axis=1))))
            if spread > opt.max_spread_mm:
                raise CalibrationError(
                    f"the marker pose moved by {spread:.1f} mm RMS during calibration: fix the camera and the "
                    f"marker, or use an anchor marker (--anchor-id) for a moving camera"
                )
            # One pose on all inlier corners: the ML estimate for a fixed camera.
            start = mean_pose([p for _, p in inl])
            objs = np.concatenate([obj] * len(inl))
            imgs = np.concatenate([o.corners for o, _ in inl])
            cam_from_marker = refine_pose(start, objs, imgs, k, dc)
            rms = reprojection_rms_px(cam_from_marker, objs, imgs, k, dc)
            side = float(np.median([quad_min_side_px(o.corners) for o, _ in inl]))
            anchor = None
            rejected = len(self._obs) - len(inl)
        else:
            anchor, cam_from_marker, rms, side, rejected = self._solve_anchor(chosen, obj)
        cam_from_manikin = cam_from_manikin_of(cam_from_marker)
        view = view_angles(cam_from_manikin)
        inc = incidence_cos(cam_from_manikin)
        self._check_view(view, inc, warnings)
        return ManikinCalibration(
            marker=opt.marker,
            cam_from_manikin=cam_from_manikin,
            reprojection_rms_px=rms,
            view=view,
            incidence_cos=inc,
            mm_per_px_z=mm_per_px_z(cam_from_manikin, self.intr),
            marker_side_px=side,
            frames_used=len(self._obs) - rejected,
            frames_rejected=rejected + (self.frames_seen - len(self._obs)),
            anchor=anchor,
            warnings=tuple(warnings),
        )

    def _solve_anchor(self, chosen, obj):
        opt = self.opt
        assert opt.anchor is not None
        k, dc = self.intr.matrix, self.intr.dist_coeffs
        a_normal = _consensus_normal([o.anchor_mp for o, _ in chosen])
        rel: list[Pose] = []
        keep: list[tuple[_FrameObs, Pose, Pose]] = []
        for o, p in chosen:
            ap, aerr = choose_solution(o.anchor_mp, a_normal)
            if aerr > opt.max_reprojection_px:
                continue
            # anchor_from_marker = inv(cam_from_anchor) ∘ cam_from_marker
            rel.append(ap.inverse().compose(p))
            keep.append((o, p, ap))
        if len(rel) < opt.min_frames:
            raise CalibrationError(
                f"only {len(rel)} frames showed both markers with a good pose (at least {opt.min_frames} needed)"
            )
        mask = _robust_inliers(rel)
        rel_in = [r for r, m in zip(rel, mask) if m]
        keep_in = [c for c, m in zip(keep, mask) if m]
        anchor_from_marker = mean_pose(rel_in)
        t = np.array([r.translation_mm for r in rel_in])
        spread = float(np.sqrt(np.mean(np.sum((t - anchor_from_marker.translation_mm) ** 2, axis=1))))
        anchor_from_manikin = anchor_from_marker.compose(MARKER_FROM_MANIKIN)
        # The view is reported for the median frame (the camera may move).
        med = keep_in[len(keep_in) // 2]
        cam_from_marker = med[2].compose(anchor_from_marker)
        rms = float(np.sqrt(np.mean([reprojection_rms_px(p, obj, o.corners, k, dc) ** 2 for o, p, _ in keep_in])))
        side = float(np.median([quad_min_side_px(o.corners) for o, _, _ in keep_in]))
        anchor = AnchorCalibration(opt.anchor, anchor_from_manikin, len(rel_in), spread)
        rejected = len(self._obs) - len(rel_in)
        return anchor, cam_from_marker, rms, side, rejected

    def _check_view(self, view: ViewAngles, inc: float, warnings: list[str]) -> None:
        opt = self.opt
        if inc < opt.min_incidence_cos:
            if abs(view.azimuth_from_side_deg) > 45.0 and view.elevation_deg < 60.0:
                why = (f"the camera looks nearly along the body axis ({view.azimuth_from_side_deg:+.0f} deg from a "
                       f"side view)")
            else:
                why = f"the camera looks down from too high ({view.elevation_deg:.0f} deg elevation)"
            raise DegenerateViewError(
                f"degenerate view: {why}; hand height cannot be measured. Place the camera beside the manikin, "
                f"{SUPPORTED_ELEVATION_DEG[0]:.0f}-{SUPPORTED_ELEVATION_DEG[1]:.0f} deg above the chest and within "
                f"+-{SUPPORTED_AZIMUTH_DEG:.0f} deg of a side view"
            )
        if view.elevation_deg < opt.min_elevation_deg:
            raise DegenerateViewError(
                f"degenerate view: the camera is only {view.elevation_deg:.0f} deg above the chest, the marker is "
                f"seen edge-on and its pose is unreliable; raise the camera to "
                f"{SUPPORTED_ELEVATION_DEG[0]:.0f}-{SUPPORTED_ELEVATION_DEG[1]:.0f} deg"
            )
        lo, hi = SUPPORTED_ELEVATION_DEG
        slack = 1.0  # degrees: a camera set up "at 45" must not be warned about
        if not (lo - slack <= view.elevation_deg <= hi + slack):
            low = " (the hands are seen nearly edge-on and tracked less reliably)" if view.elevation_deg < lo else ""
            warnings.append(f"elevation {view.elevation_deg:.0f} deg is outside the tested {lo:.0f}-{hi:.0f} deg{low}")
        if abs(view.azimuth_from_side_deg) > SUPPORTED_AZIMUTH_DEG + slack:
            warnings.append(
                f"the camera is {view.azimuth_from_side_deg:+.0f} deg from a side view, outside the tested "
                f"+-{SUPPORTED_AZIMUTH_DEG:.0f} deg"
            )


def chest_roi_px(cam_from_manikin: Pose, intr: CameraIntrinsics, half_width_mm: float = 170.0,
                 up_mm: float = 260.0, down_mm: float = 90.0, margin: float = 0.0) -> tuple[int, int, int, int] | None:
    """Image box (x0, y0, x1, y1) around where the hands work on the chest.

    A box in the manikin frame (±half_width along x and y, from ``down_mm`` below to
    ``up_mm`` above the chest) projected and bounded; None when it is off-screen.
    Why: hand detection over a skin-coloured chest needs a region of interest.
    """
    h = half_width_mm
    corners = np.array([[x, y, z] for x in (-h, h) for y in (-h, h) for z in (-down_mm, up_mm)])
    pc = cam_from_manikin.apply(corners)
    if np.any(pc[:, 2] <= 1.0):
        return None
    px = project_points(pc, intr.matrix, intr.dist_coeffs)
    x0, y0 = px.min(axis=0)
    x1, y1 = px.max(axis=0)
    w, hh = x1 - x0, y1 - y0
    x0, x1 = x0 - margin * w, x1 + margin * w
    y0, y1 = y0 - margin * hh, y1 + margin * hh
    x0 = int(max(0, math.floor(x0)))
    y0 = int(max(0, math.floor(y0)))
    x1 = int(min(intr.width_px, math.ceil(x1)))
    y1 = int(min(intr.height_px, math.ceil(y1)))
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    return (x0, y0, x1, y1)
