"""Pixel -> millimetres: hand height above the chest and position along the body axis.

The compression point (a pixel) defines a camera ray. The hands push down the
manikin's midline, so the point lies in the sagittal plane (through the origin,
spanned by x = toward the head and z = the chest normal). Intersecting the ray
with that plane gives the point in mm: its z is the hand height above the chest,
its x the hand position along the body axis (for placement feedback).

With a moving camera (a headset), :class:`AnchorTracker` re-measures, in every
frame, the pose of the static anchor marker and places the manikin frame from
it, so head motion cancels out.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from calibration.camera import CameraIntrinsics
from calibration.geometry import Pose, camera_center, intersect_rays_plane, pixel_rays
from calibration.manikin import AnchorCalibration, choose_solution
from calibration.markers import MarkerDetector, estimate_marker_pose
from calibration.plane_carry import PlaneCarry, PlaneCarryOptions

SAGITTAL_POINT = np.zeros(3)
SAGITTAL_NORMAL = np.array([0.0, 1.0, 0.0])  # the plane y = 0 holds x (head) and z (chest normal)


@dataclass(frozen=True)
class HandPosition:
    """The compression point in the manikin frame."""

    height_mm: float  # z: above the chest surface at the compression point (NaN: unmeasurable)
    axial_mm: float  # x: along the body axis, + toward the head, 0 at the calibrated compression point
    incidence_cos: float  # how squarely the ray meets the sagittal plane (small: ill-conditioned)


def sagittal_points(points_px: np.ndarray, intr: CameraIntrinsics, cam_from_manikin: Pose,
                    min_incidence_cos: float = 0.05, plane_y_mm: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Intersect the rays through ``points_px`` (N, 2) with the sagittal plane (or the parallel plane
    ``y = plane_y_mm``: through the tracked hand surface, :mod:`calibration.handpoint`).

    Returns (points (N, 3) in the manikin frame, incidence cos (N,)); rows are NaN
    where the ray misses the plane, or grazes it (cos < ``min_incidence_cos``).
    """
    pts = np.asarray(points_px, dtype=np.float64).reshape(-1, 2)
    rays_cam = pixel_rays(pts, intr.matrix, intr.dist_coeffs)
    rays_m = rays_cam @ cam_from_manikin.rotation  # = (R^T d^T)^T: camera directions in the manikin frame
    c = camera_center(cam_from_manikin)
    p, cos_inc = intersect_rays_plane(c, rays_m, SAGITTAL_POINT + plane_y_mm * SAGITTAL_NORMAL, SAGITTAL_NORMAL)
    p[cos_inc < min_incidence_cos] = np.nan
    return p, cos_inc


class HeightEstimator:
    """Maps compression points (px) to hand height and axial position (mm).

    ``cam_from_manikin`` is the calibrated, fixed pose; :meth:`measure` takes a
    per-frame pose instead when an anchor tracker supplies one. ``plane_y_mm`` moves the measuring
    plane off the midline to where the tracked hand surface is (0: the sagittal plane itself).
    """

    def __init__(self, intrinsics: CameraIntrinsics, cam_from_manikin: Pose, min_incidence_cos: float = 0.05,
                 plane_y_mm: float = 0.0) -> None:
        self.intr = intrinsics
        self.cam_from_manikin = cam_from_manikin
        self.min_incidence_cos = min_incidence_cos
        self.plane_y_mm = plane_y_mm

    def measure(self, xy_px: np.ndarray | None, cam_from_manikin: Pose | None = None) -> HandPosition:
        if xy_px is None:
            return HandPosition(float("nan"), float("nan"), float("nan"))
        xy = np.asarray(xy_px, dtype=np.float64).reshape(2)
        if not np.all(np.isfinite(xy)):
            return HandPosition(float("nan"), float("nan"), float("nan"))
        pose = cam_from_manikin or self.cam_from_manikin
        p, cos_inc = sagittal_points(xy[None], self.intr, pose, self.min_incidence_cos, self.plane_y_mm)
        return HandPosition(float(p[0, 2]), float(p[0, 0]), float(cos_inc[0]))


class AnchorTracker:
    """Per-frame ``cam_from_manikin`` from the static anchor marker.

    Why keep both IPPE solutions here too: a single frame may flip; the solution
    whose normal is nearer the last accepted one is used. A lost anchor holds the
    last pose for ``hold_frames`` frames (a blink of occlusion), then reports None.
    Held, the camera goes on as it moved over the last poses found (a line or a parabola through them,
    extrapolated): a headset moves ~3 mm a frame, and a pose held still read that as height
    (a rendered anchor half out of view: a 7 mm one-frame dip counted as a compression,
    session 31). A lively head turns within a few frames, so each held frame takes the model that
    would have told the last poses found best as many frames ahead, and none at all where even that
    one was off by more than ``hold_max_mm`` there: no pose rather than a wrong one (session 36).
    Before that, the floor's texture around it carries the pose from the last frame
    where it was found (``calibration.plane_carry``; ``carry=None``: never), as long as enough of it
    is followed: a livelier head took the anchor out of view for up to a second at a time.
    """

    def __init__(self, intrinsics: CameraIntrinsics, anchor: AnchorCalibration, initial_cam_from_manikin: Pose,
                 hold_frames: int = 5, max_reprojection_px: float = 2.0, velocity_frames: int = 20,
                 carry: PlaneCarryOptions | None = PlaneCarryOptions(), hold_max_mm: float = 2.0) -> None:
        self.intr = intrinsics
        self.anchor = anchor
        self._det = MarkerDetector(anchor.marker.dictionary)
        self._manikin_from_anchor = anchor.anchor_from_manikin.inverse()
        # The anchor's normal as the calibrated camera saw it seeds the flip check.
        cam_from_anchor0 = initial_cam_from_manikin.compose(self._manikin_from_anchor)
        self._last_normal = cam_from_anchor0.rotation[:, 2]
        self._last: Pose | None = None
        self._missing = 0
        self._frame = 0  # frames seen
        # (frame, pose found): what a hold extrapolates, and tries its models on
        self._track: deque[tuple[int, Pose]] = deque(maxlen=velocity_frames)
        self.hold_frames = hold_frames
        self.hold_max_mm = hold_max_mm
        self.max_reprojection_px = max_reprojection_px
        self.frames_lost = 0  # frames where the anchor was not found ...
        self.frames_carried = 0  # ... and of those, the ones whose pose the floor carried
        self._carry = None if carry is None else PlaneCarry(intrinsics, anchor.marker.size_mm, carry)

    def update(self, image: np.ndarray) -> Pose | None:
        # (converted once for both; a grey frame copied only for the floor's carry, which keeps the last found one)
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else (
            image.copy() if self._carry is not None else image)
        det = self._det.find(gray, self.anchor.marker.marker_id)
        pose = None
        if det is not None:
            mp = estimate_marker_pose(det.corners_px, self.anchor.marker.size_mm, self.intr.matrix, self.intr.dist_coeffs)
            cand, err = choose_solution(mp, self._last_normal)
            if err <= self.max_reprojection_px:
                pose = cand
        self._frame += 1
        if pose is None:
            self._missing += 1
            self.frames_lost += 1
            carried = None if self._carry is None else self._carry.carry(gray)
            if carried is not None:
                self.frames_carried += 1
                self._last = carried.compose(self.anchor.anchor_from_manikin)
                return self._last
            if self._last is not None and self._missing <= self.hold_frames:
                return self._extrapolated()
            return None
        if self._missing > self.hold_frames:  # (lost for longer: the camera did who knows what meanwhile)
            self._track.clear()
        self._missing = 0
        if self._carry is not None:
            self._carry.key(gray, pose)
        self._last_normal = pose.rotation[:, 2]
        self._last = pose.compose(self.anchor.anchor_from_manikin)
        self._track.append((self._frame, self._last))  # (converted only when a pose is held: not every frame)
        return self._last

    # A hold's models: (poses used, polynomial degree). Over a 2 s headset bob of 6 cm, a point read through the held
    # pose k frames out (k = 1 / 3 / 5) was off by 1.3 / 4.7 / 10 mm with the line, 0.5 / 1.6 / 4.0 with the parabola;
    # over a bob of 8 mm the line does better (0.5 / 0.9 / 1.6 against 0.6 / 1.3 / 2.4): which one, the poses say.
    HOLD_MODELS = ((4, 1), (6, 2))
    HOLD_TRIALS = 6  # the last poses found that each model is tried on (at least 2 of them)

    def _extrapolated(self) -> Pose | None:
        """The pose at this frame as the camera went on, from the model that best told the last poses found as far
        ahead; None where it missed them by more than ``hold_max_mm``. Too few poses found to try any: one frame is
        held (a line through those there are, three at least, or the last one), no more."""
        # (frame, rotation vector and translation): what the models are fit to
        track = [(f, np.concatenate([p.rvec(), p.translation_mm])) for f, p in self._track]
        k = self._frame - track[-1][0] if track else 0
        best: tuple[float, np.ndarray] | None = None
        for n, deg in self.HOLD_MODELS:
            miss = self._hold_miss(track, n, deg, k)
            if miss is not None and (best is None or miss < best[0]):
                best = (miss, self._fit(track[-n:], deg, self._frame))
        if best is None:
            if k > 1:
                return None
            return self._last if len(track) < 3 else self._from_vec(self._fit(track[-4:], 1, self._frame))
        return None if best[0] > self.hold_max_mm else self._from_vec(best[1])

    def _hold_miss(self, track: list[tuple[int, np.ndarray]], n: int, deg: int, k: int) -> float | None:
        """How far (RMS, mm) a point 30 mm above the compression point read through the model's pose, k frames ahead,
        from where the pose found there puts it, over the last poses found (up to ``HOLD_TRIALS``); None: fewer than 2
        tries (each needs n poses found k frames before it, not spread over more than 2n frames)."""
        preds, found = [], []
        for j in range(len(track) - 1, -1, -1):
            f = track[j][0]
            before = [t for t in track[:j] if t[0] <= f - k][-n:]
            if len(before) < n or before[0][0] < f - k - 2 * n:
                break
            preds.append(self._fit(before, deg, f))
            found.append(track[j][1])
            if len(preds) == self.HOLD_TRIALS:
                break
        return self._reading_miss(preds, found) if len(preds) >= 2 else None

    def _reading_miss(self, preds: list[np.ndarray], found: list[np.ndarray]) -> float:
        """RMS (mm, in the sagittal plane) of the point read through each predicted pose where each found one shows it."""
        point = np.array([[0.0, 0.0, 30.0]])
        miss = []
        for vp, vf in zip(preds, found):
            px, _ = cv2.projectPoints(point, vf[:3], vf[3:], self.intr.matrix, self.intr.dist_coeffs)
            p, _ = sagittal_points(px.reshape(1, 2), self.intr, self._from_vec(vp))
            miss.append(float(np.sum((p[0] - point[0])[[0, 2]] ** 2)) if np.all(np.isfinite(p)) else float("inf"))
        return float(np.sqrt(np.mean(miss)))

    @staticmethod
    def _from_vec(v: np.ndarray) -> Pose:
        return Pose.from_rvec_tvec(v[:3], v[3:])

    @staticmethod
    def _fit(poses: list[tuple[int, np.ndarray]], deg: int, frame: int) -> np.ndarray:
        """A polynomial of degree ``deg`` through (frame, pose vector), evaluated at ``frame``."""
        f = np.array([t[0] for t in poses], float) - frame
        x = np.array([t[1] for t in poses])
        a = np.vander(f, deg + 1)
        coef, *_ = np.linalg.lstsq(a, x, rcond=None)
        return coef[-1]
