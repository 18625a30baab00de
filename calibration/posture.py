"""Rescuer posture geometry: elbow angles and shoulders over the hands, in the manikin frame.

Why here: "vertical" must be the chest normal, not the image's vertical. With a
calibrated station the camera's rotation relative to the manikin is known
(``cam_from_manikin``), so the pose model's metric world landmarks (camera-aligned
axes, metres, origin between the hips) can be turned into the manikin frame,
where z is the chest normal. Without a calibration the camera's "up" (-y) is
used instead and the result says so (``frame == "camera"``).

Conventions (``arms_m`` and ``visibility`` as made by ``vision.pose``):
    arms_m[arm, joint] with arm 0 = the rescuer's left, 1 = right, and joint
    0 = shoulder, 1 = elbow, 2 = wrist; (2, 3, 3) in metres, camera axes
    (x right, y down, z away from the camera, as OpenCV's camera frame).

What is measured, per frame:
* elbow angle per arm (180 deg = straight), with a confidence; "not visible"
  (NaN, ``elbow_visible`` False) where the arm is seen nearly end-on, i.e. the
  shoulder-wrist line is within ``end_on_max_deg`` of the camera's line of
  sight: then the bend lies almost entirely along the model's least reliable
  axis (depth), so we do not guess;
* lean: angle of the shoulders-midpoint -> wrists-midpoint line from the
  vertical;
* shoulders over the hands: the horizontal offset of the shoulders' midpoint
  from the wrists' midpoint, split front-to-back (+ = shoulders ahead of the
  hands, toward where the rescuer faces) and side-to-side (+ = toward the
  rescuer's right).

Usage::

    m = measure_posture(arms_m, visibility, t_ms=t, cam_from_manikin_rotation=cal.cam_from_manikin.rotation)
    m.elbow_deg, m.shoulder_offset_front_mm
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

LEFT, RIGHT = 0, 1
SHOULDER, ELBOW, WRIST = 0, 1, 2


def rounded(v: float | None, nd: int = 1) -> float | None:
    """A figure for JSON: rounded, None for NaN/None (the protocol's "not measured")."""
    return None if v is None or not math.isfinite(v) else round(float(v), nd)


@dataclass(frozen=True)
class PostureGeometryOptions:
    """How posture figures are measured and when they are withheld."""

    end_on_max_deg: float = 30.0  # arm line within this of the line of sight: elbow "not visible"
    min_visibility: float = 0.5  # a joint below this landmark visibility does not count as seen
    full_confidence_view_deg: float = 45.0  # arm at least this far from the line of sight: view factor 1


@dataclass(frozen=True)
class PostureMeasurement:
    """One frame's posture figures. NaN where not measurable; confidences in [0, 1]."""

    t_ms: int
    frame: str  # "manikin" (vertical = chest normal) or "camera" (vertical = image up; uncalibrated)
    elbow_deg: tuple[float, float]  # (left, right); 180 = straight; NaN = not visible
    elbow_visible: tuple[bool, bool]
    elbow_confidence: tuple[float, float]
    end_on_deg: tuple[float, float]  # angle between each arm's shoulder-wrist line and the line of sight
    lean_deg: float  # shoulders-mid -> wrists-mid line from the vertical
    shoulder_offset_front_mm: float  # + = shoulders ahead of the hands (toward where the rescuer faces)
    shoulder_offset_side_mm: float  # + = shoulders toward the rescuer's right of the hands
    offset_confidence: float
    extra: dict = field(default_factory=dict, compare=False)  # "arm_vectors": (2, 2, 3) unit vectors at the elbows

    @property
    def elbow_min_deg(self) -> float:
        """The more bent of the visible arms (NaN when neither is visible)."""
        vals = [a for a, ok in zip(self.elbow_deg, self.elbow_visible) if ok]
        return float(min(vals)) if vals else math.nan

    @property
    def shoulder_offset_mm(self) -> float:
        """Horizontal distance of the shoulders from over the hands."""
        return float(math.hypot(self.shoulder_offset_front_mm, self.shoulder_offset_side_mm))

    def to_dict(self) -> dict:
        r = rounded
        return {
            "t_ms": int(self.t_ms),
            "frame": self.frame,
            "elbow_deg": [r(a) for a in self.elbow_deg],
            "elbow_visible": list(self.elbow_visible),
            "elbow_confidence": [r(c, 2) for c in self.elbow_confidence],
            "lean_deg": r(self.lean_deg),
            "shoulder_offset_front_mm": r(self.shoulder_offset_front_mm),
            "shoulder_offset_side_mm": r(self.shoulder_offset_side_mm),
            "offset_confidence": r(self.offset_confidence, 2),
        }


def smoothed_elbow_deg(arm_vectors: list[np.ndarray], median: bool = False) -> float:
    """Elbow angle from the mean of recent (elbow->shoulder, elbow->wrist) unit vectors of one arm.

    Why vectors and not angles: near 180 deg noise can only lower an angle, so a
    mean of angles is biased low (about 3 deg at 1 cm noise); averaging the
    vectors first shrinks the noise before the fold. ``median``: the
    component-wise median instead of the mean (robust to a bad frame).
    """
    v = np.asarray(arm_vectors, dtype=np.float64).reshape(-1, 2, 3)
    v = v[np.isfinite(v).all(axis=(1, 2))]
    if not len(v):
        return math.nan
    m = np.median(v, axis=0) if median else v.mean(axis=0)
    return angle_deg(m[0], m[1])


def angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    """Angle between two vectors in degrees (NaN for a zero vector)."""
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na < 1e-12 or nb < 1e-12:
        return math.nan
    c = float(np.dot(a, b)) / (na * nb)
    return math.degrees(math.acos(max(-1.0, min(1.0, c))))


def elbow_angle_deg(shoulder: np.ndarray, elbow: np.ndarray, wrist: np.ndarray) -> float:
    """Inner angle at the elbow (180 = straight arm)."""
    return angle_deg(np.asarray(shoulder) - elbow, np.asarray(wrist) - elbow)


def sight_rays_cam(elbows_px: np.ndarray, camera_matrix: np.ndarray) -> np.ndarray:
    """Unit camera rays (2, 3) through the elbows' pixels (2, 2), for ``measure_posture``."""
    k_inv = np.linalg.inv(np.asarray(camera_matrix, dtype=np.float64))
    px = np.asarray(elbows_px, dtype=np.float64).reshape(-1, 2)
    rays = np.c_[px, np.ones(len(px))] @ k_inv.T
    return rays / np.linalg.norm(rays, axis=1, keepdims=True)


def _to_frame(arms_cam: np.ndarray, rotation: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, str]:
    """(points in the measuring frame, its up vector, frame name)."""
    if rotation is None:
        return arms_cam, np.array([0.0, -1.0, 0.0]), "camera"
    r = np.asarray(rotation, dtype=np.float64).reshape(3, 3)
    # p_cam = R p_manikin -> p_manikin = R^T p_cam (rows: p @ R)
    return arms_cam @ r, np.array([0.0, 0.0, 1.0]), "manikin"


def _view_factor(end_on: float, opts: PostureGeometryOptions) -> float:
    if not math.isfinite(end_on):
        return 0.0
    lo, hi = opts.end_on_max_deg, opts.full_confidence_view_deg
    return float(min(1.0, max(0.0, (end_on - lo) / max(1e-6, hi - lo)))) if end_on < hi else 1.0


def measure_posture(
    arms_m: np.ndarray,
    visibility: np.ndarray,
    *,
    t_ms: int = 0,
    cam_from_manikin_rotation: np.ndarray | None = None,
    sight_dirs_cam: np.ndarray | None = None,
    options: PostureGeometryOptions = PostureGeometryOptions(),
) -> PostureMeasurement:
    """Posture figures of one frame (see the module docstring for the conventions).

    Args:
        arms_m: (2, 3, 3) shoulders/elbows/wrists of both arms, metres, camera axes.
        visibility: (2, 3) landmark visibility in [0, 1].
        cam_from_manikin_rotation: (3, 3) rotation of the calibrated station, or None.
        sight_dirs_cam: (2, 3) camera ray to each elbow (``sight_rays_cam``), or None for the optical axis.
    """
    arms_cam = np.asarray(arms_m, dtype=np.float64).reshape(2, 3, 3)
    vis = np.nan_to_num(np.asarray(visibility, dtype=np.float64).reshape(2, 3), nan=0.0)
    seen = vis >= options.min_visibility
    pts, up, frame = _to_frame(arms_cam, cam_from_manikin_rotation)

    elbows, visible, confs, end_ons = [], [], [], []
    vectors = np.full((2, 2, 3), np.nan)  # [arm, (elbow->shoulder, elbow->wrist)] unit vectors, for smoothing
    for arm in (LEFT, RIGHT):
        s_c, e_c, w_c = arms_cam[arm]
        # Line of sight to the elbow: the world landmarks are hip-centred, so the ray
        # comes from the elbow's pixel (``sight_rays_cam``); without it, the optical axis.
        sight = np.array([0.0, 0.0, 1.0]) if sight_dirs_cam is None else np.asarray(sight_dirs_cam, float)[arm]
        line = w_c - s_c
        end_on = angle_deg(line, sight)
        end_on = min(end_on, 180.0 - end_on) if math.isfinite(end_on) else math.nan
        ok = bool(seen[arm].all()) and math.isfinite(end_on) and end_on >= options.end_on_max_deg
        ang = elbow_angle_deg(*pts[arm]) if ok else math.nan
        ok = ok and math.isfinite(ang)
        if ok:
            s_m, e_m, w_m = pts[arm]
            vectors[arm] = [(s_m - e_m) / np.linalg.norm(s_m - e_m), (w_m - e_m) / np.linalg.norm(w_m - e_m)]
        elbows.append(ang if ok else math.nan)
        visible.append(ok)
        confs.append(float(vis[arm].min()) * _view_factor(end_on, options) if ok else 0.0)
        end_ons.append(end_on)

    # Shoulders over the hands: mid-shoulders relative to mid-wrists, needs all four joints.
    need = seen[:, [SHOULDER, WRIST]].all()
    if need:
        sh = pts[:, SHOULDER].mean(axis=0)
        wr = pts[:, WRIST].mean(axis=0)
        d = sh - wr
        lean = angle_deg(d, up)
        side = pts[RIGHT, SHOULDER] - pts[LEFT, SHOULDER]
        side_h = side - np.dot(side, up) * up
        if np.linalg.norm(side_h) < 1e-9:
            front_mm = side_mm = math.nan
            off_conf = 0.0
        else:
            side_u = side_h / np.linalg.norm(side_h)
            front_u = np.cross(up, side_u)  # facing = up x right (a person facing +y with up +z has right = +x)
            front_mm = float(np.dot(d, front_u)) * 1000.0
            side_mm = float(np.dot(d, side_u)) * 1000.0
            off_conf = float(vis[:, [SHOULDER, WRIST]].min()) * (1.0 if frame == "manikin" else 0.5)
    else:
        lean = front_mm = side_mm = math.nan
        off_conf = 0.0
    return PostureMeasurement(
        t_ms=int(t_ms),
        frame=frame,
        elbow_deg=(elbows[0], elbows[1]),
        elbow_visible=(visible[0], visible[1]),
        elbow_confidence=(confs[0], confs[1]),
        end_on_deg=(end_ons[0], end_ons[1]),
        lean_deg=lean,
        shoulder_offset_front_mm=front_mm,
        shoulder_offset_side_mm=side_mm,
        offset_confidence=off_conf,
        extra={"arm_vectors": vectors},
    )


def measurer(
    camera_matrix: np.ndarray | None = None,
    cam_from_manikin_rotation: np.ndarray | None = None,
    options: PostureGeometryOptions = PostureGeometryOptions(),
):
    """A ``measure(image_px, world_m, visibility, t_ms)`` for ``vision.posture_worker``, bound to one camera.

    ``camera_matrix`` (3x3) gives the true rays to the elbows; ``cam_from_manikin_rotation``
    (``ManikinCalibration.cam_from_manikin.rotation``) makes the chest normal the vertical.
    """
    k = None if camera_matrix is None else np.asarray(camera_matrix, dtype=np.float64)
    r = None if cam_from_manikin_rotation is None else np.asarray(cam_from_manikin_rotation, dtype=np.float64)

    def measure(image_px: np.ndarray, world_m: np.ndarray, visibility: np.ndarray, t_ms: int) -> PostureMeasurement:
        rays = None if k is None else sight_rays_cam(np.asarray(image_px)[:, ELBOW], k)
        return measure_posture(world_m, visibility, t_ms=t_ms, cam_from_manikin_rotation=r, sight_dirs_cam=rays, options=options)

    return measure
