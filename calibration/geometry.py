"""Projective geometry: rigid poses, pixel rays, ray-plane intersection, viewing angles.

Why a module of plain functions on NumPy arrays: every metric number the coach
reports (depth, hand placement) goes through these few lines, so they are kept
small, pure and tested against exact hand-computed values.

Conventions (OpenCV's):
- camera frame: x right, y down, z forward (along the optical axis), in mm;
- pixel centres at integer coordinates, (0, 0) is the centre of the top-left pixel;
- ``Pose`` maps points of a source frame into a target frame: ``p_target = R @ p_source + t``.
  ``cam_from_manikin`` therefore holds the manikin's axes as columns, seen from the camera.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Pose:
    """A rigid transform ``p_target = rotation @ p_source + translation_mm``."""

    rotation: np.ndarray  # (3, 3), orthonormal, det +1
    translation_mm: np.ndarray  # (3,)

    def __post_init__(self) -> None:
        r = np.asarray(self.rotation, dtype=np.float64).reshape(3, 3)
        t = np.asarray(self.translation_mm, dtype=np.float64).reshape(3)
        object.__setattr__(self, "rotation", r)
        object.__setattr__(self, "translation_mm", t)

    @staticmethod
    def identity() -> "Pose":
        return Pose(np.eye(3), np.zeros(3))

    @staticmethod
    def from_rvec_tvec(rvec: np.ndarray, tvec: np.ndarray) -> "Pose":
        """From OpenCV's Rodrigues vector and translation (solvePnP's output)."""
        import cv2

        r, _ = cv2.Rodrigues(np.asarray(rvec, dtype=np.float64).reshape(3, 1))
        return Pose(r, np.asarray(tvec, dtype=np.float64).reshape(3))

    def rvec(self) -> np.ndarray:
        import cv2

        v, _ = cv2.Rodrigues(self.rotation)
        return v.reshape(3)

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Transform points (..., 3) from the source frame into the target frame."""
        p = np.asarray(points, dtype=np.float64)
        return p @ self.rotation.T + self.translation_mm

    def apply_dir(self, dirs: np.ndarray) -> np.ndarray:
        """Rotate direction vectors (..., 3) (no translation)."""
        return np.asarray(dirs, dtype=np.float64) @ self.rotation.T

    def inverse(self) -> "Pose":
        rt = self.rotation.T
        return Pose(rt, -rt @ self.translation_mm)

    def compose(self, inner: "Pose") -> "Pose":
        """``self ∘ inner``: first ``inner`` (A->B), then ``self`` (B->C), giving A->C."""
        return Pose(self.rotation @ inner.rotation, self.rotation @ inner.translation_mm + self.translation_mm)

    def as_matrix(self) -> np.ndarray:
        m = np.eye(4)
        m[:3, :3] = self.rotation
        m[:3, 3] = self.translation_mm
        return m


def rotation_angle_deg(r: np.ndarray) -> float:
    """The angle of a rotation matrix (how far it turns), in degrees.

    From its sine (half the norm of the skew part) and cosine together: ``acos`` of the cosine alone turns the last
    bit of the trace into ~1e-6 deg near zero (one ulp of 1.0 is an angle of 2e-8 rad), so two poses equal to the
    last bits read a micro-degree apart, differently with each NumPy build."""
    r = np.asarray(r, dtype=float)
    c = (float(np.trace(r)) - 1.0) / 2.0
    s = 0.5 * math.sqrt((r[2, 1] - r[1, 2]) ** 2 + (r[0, 2] - r[2, 0]) ** 2 + (r[1, 0] - r[0, 1]) ** 2)
    return math.degrees(math.atan2(s, c))


def nearest_rotation(m: np.ndarray) -> np.ndarray:
    """The rotation closest to ``m`` in the Frobenius norm (SVD projection).

    Why: the chordal mean of rotations is the sum of the matrices projected back
    onto SO(3); it is the standard, well-behaved way to average poses.
    """
    u, _, vt = np.linalg.svd(np.asarray(m, dtype=np.float64))
    d = np.sign(np.linalg.det(u @ vt))
    return u @ np.diag([1.0, 1.0, d]) @ vt


def mean_pose(poses: list[Pose], weights: np.ndarray | None = None) -> Pose:
    """Chordal L2 mean of rotations and the arithmetic mean of translations."""
    if not poses:
        raise ValueError("mean_pose needs at least one pose")
    w = np.ones(len(poses)) if weights is None else np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    r = sum(wi * p.rotation for wi, p in zip(w, poses))
    t = sum(wi * p.translation_mm for wi, p in zip(w, poses))
    return Pose(nearest_rotation(r), t)


def undistort_px(points_px: np.ndarray, camera_matrix: np.ndarray, dist: np.ndarray | None) -> np.ndarray:
    """Pixels -> normalised image coordinates (x/z, y/z), removing lens distortion."""
    p = np.asarray(points_px, dtype=np.float64).reshape(-1, 2)
    k = np.asarray(camera_matrix, dtype=np.float64)
    if dist is None or not np.any(np.asarray(dist)):
        x = (p[:, 0] - k[0, 2]) / k[0, 0]
        y = (p[:, 1] - k[1, 2]) / k[1, 1]
        # a skew term, if any, is folded in exactly
        x = x - k[0, 1] * y / k[0, 0]
        return np.stack([x, y], axis=1)
    import cv2

    out = cv2.undistortPoints(np.ascontiguousarray(p).reshape(-1, 1, 2), k, np.asarray(dist, dtype=np.float64))
    return out.reshape(-1, 2)


def pixel_rays(points_px: np.ndarray, camera_matrix: np.ndarray, dist: np.ndarray | None = None) -> np.ndarray:
    """Unit ray directions (N, 3) in the camera frame through the given pixels."""
    n = undistort_px(points_px, camera_matrix, dist)
    d = np.concatenate([n, np.ones((n.shape[0], 1))], axis=1)
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def project_points(points: np.ndarray, camera_matrix: np.ndarray, dist: np.ndarray | None = None) -> np.ndarray:
    """Project camera-frame points (N, 3) to pixels (N, 2) (with distortion when given)."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    k = np.asarray(camera_matrix, dtype=np.float64)
    if dist is None or not np.any(np.asarray(dist)):
        x = p[:, 0] / p[:, 2]
        y = p[:, 1] / p[:, 2]
        return np.stack([k[0, 0] * x + k[0, 1] * y + k[0, 2], k[1, 1] * y + k[1, 2]], axis=1)
    import cv2

    out, _ = cv2.projectPoints(np.ascontiguousarray(p).reshape(-1, 1, 3), np.zeros(3), np.zeros(3), k,
                               np.asarray(dist, dtype=np.float64))
    return out.reshape(-1, 2)


def plane_homography(k: np.ndarray, pose_from: Pose, pose_to: Pose, point: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """3x3: the pixels of points on a plane (``point``, ``normal`` in the source frame of the poses, e.g. the
    manikin's) seen by a camera at ``pose_from`` -> the same points seen at ``pose_to`` (pinhole ``k``, no distortion).
    Why: a moving camera's own motion, taken out of the motion of what lies on that plane."""
    n = np.asarray(normal, dtype=np.float64).reshape(3)
    n = n / np.linalg.norm(n)
    e1 = np.cross(n, [0.0, 1.0, 0.0] if abs(n[1]) < 0.9 else [1.0, 0.0, 0.0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(n, e1)
    p0 = np.asarray(point, dtype=np.float64).reshape(3)

    def img_from_plane(pose: Pose) -> np.ndarray:
        r = pose.rotation
        return k @ np.column_stack([r @ e1, r @ e2, r @ p0 + pose.translation_mm])

    return img_from_plane(pose_to) @ np.linalg.inv(img_from_plane(pose_from))

def intersect_rays_plane(
    origin: np.ndarray, dirs: np.ndarray, plane_point: np.ndarray, plane_normal: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Intersect rays ``origin + s * dirs`` with a plane.

    Returns (points (N, 3), cos_incidence (N,)): the cosine between each ray and
    the plane normal; near zero means the ray grazes the plane and the point is
    ill-conditioned (NaN is returned when it is exactly parallel or behind).
    """
    o = np.asarray(origin, dtype=np.float64).reshape(3)
    d = np.asarray(dirs, dtype=np.float64).reshape(-1, 3)
    n = np.asarray(plane_normal, dtype=np.float64).reshape(3)
    n = n / np.linalg.norm(n)
    denom = d @ n
    num = (np.asarray(plane_point, dtype=np.float64).reshape(3) - o) @ n
    with np.errstate(divide="ignore", invalid="ignore"):
        s = num / denom
    bad = ~np.isfinite(s) | (s <= 0)
    s = np.where(bad, np.nan, s)
    pts = o + s[:, None] * d
    cos_inc = np.abs(denom) / np.linalg.norm(d, axis=1)
    return pts, cos_inc


def camera_center(cam_from_frame: Pose) -> np.ndarray:
    """The camera's optical centre expressed in the frame (``-R^T t``)."""
    return -cam_from_frame.rotation.T @ cam_from_frame.translation_mm


@dataclass(frozen=True)
class ViewAngles:
    """How a camera sees the manikin frame (x toward the head, z up).

    ``elevation_deg``: angle of the camera above the chest plane, seen from the origin
    (0 = level with the chest, 90 = straight above). ``azimuth_from_side_deg``: how far
    the camera is turned from a pure side view, positive toward the head (0 = it looks
    across the body, ±90 = along the body axis). ``distance_mm``: origin to camera.
    """

    elevation_deg: float
    azimuth_from_side_deg: float
    distance_mm: float


def view_angles(cam_from_manikin: Pose) -> ViewAngles:
    c = camera_center(cam_from_manikin)
    horiz = math.hypot(c[0], c[1])
    elev = math.degrees(math.atan2(c[2], horiz))
    az = math.degrees(math.atan2(c[0], abs(c[1]))) if horiz > 0 else 0.0
    return ViewAngles(elev, az, float(np.linalg.norm(c)))


def look_at(camera_pos: np.ndarray, target: np.ndarray, up: np.ndarray = (0.0, 0.0, 1.0), roll_deg: float = 0.0) -> Pose:
    """``cam_from_world`` for a camera at ``camera_pos`` looking at ``target`` with ``up`` up.

    Used by tests and the test renderer to place known cameras.
    """
    c = np.asarray(camera_pos, dtype=np.float64)
    z = np.asarray(target, dtype=np.float64) - c
    z /= np.linalg.norm(z)
    u = np.asarray(up, dtype=np.float64)
    x = np.cross(z, u)  # image right
    if np.linalg.norm(x) < 1e-9:
        raise ValueError("look_at: view direction is parallel to 'up'")
    x /= np.linalg.norm(x)
    y = np.cross(z, x)  # image down
    r = np.stack([x, y, z])  # rows: camera axes in world coordinates
    if roll_deg:
        a = math.radians(roll_deg)
        rz = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1.0]])
        r = rz @ r
    return Pose(r, -r @ c)


def camera_from_angles(elevation_deg: float, azimuth_from_side_deg: float, distance_mm: float,
                       side: int = -1, target: np.ndarray = (0.0, 0.0, 0.0), roll_deg: float = 0.0) -> Pose:
    """``cam_from_manikin`` for a camera on a sphere around ``target``.

    ``side`` = -1 puts the camera on the manikin's -y side (its left when x is the
    head and z is up), +1 on the +y side. The inverse of :func:`view_angles`.
    """
    e = math.radians(elevation_deg)
    a = math.radians(azimuth_from_side_deg)
    tgt = np.asarray(target, dtype=np.float64)
    pos = tgt + distance_mm * np.array([math.cos(e) * math.sin(a), side * math.cos(e) * math.cos(a), math.sin(e)])
    return look_at(pos, tgt, roll_deg=roll_deg)
