"""Synthetic rescuers and cameras for the posture tests (no model needed).

A rescuer kneels at the manikin's left side (manikin y < 0) facing across it
(+y), hands stacked on the compression point; each arm is built from its
elbow angle by the law of cosines, so the truth is exact. Cameras sit at the
placements docs/posture.md documents (far side of the manikin, azimuth from the
pure side view, elevation above the chest) and "see" what the pose model
gives: hip-centred metric landmarks in camera axes (with noise), pixels, and
visibility.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from calibration.posture import PostureMeasurement, measure_posture, sight_rays_cam

UP = np.array([0.0, 0.0, 1.0])
FACING = np.array([0.0, 1.0, 0.0])  # the rescuer faces +y (across the manikin)
RIGHT = np.array([1.0, 0.0, 0.0])  # so the rescuer's right is toward the head (+x)


@dataclass(frozen=True)
class Rescuer:
    """Ground truth in the manikin frame (metres)."""

    arms_m: np.ndarray  # (2, 3, 3) [left/right, shoulder/elbow/wrist]
    hips_m: np.ndarray  # (3,)
    elbow_deg: tuple[float, float]
    offset_front_mm: float
    offset_side_mm: float


def make_rescuer(
    elbow_deg: tuple[float, float],
    *,
    offset_front_mm: float = 0.0,
    offset_side_mm: float = 0.0,
    upper_arm_m: float = 0.30,
    forearm_m: float = 0.27,
    shoulder_width_m: float = 0.36,
    bend_dir: np.ndarray = np.array([0.7, -0.7, 0.0]),  # elbows out and back (mirrored for the left arm)
) -> Rescuer:
    """Shoulders placed so each arm has exactly its elbow angle and the shoulder midpoint sits at the offset."""
    wrist_mid = np.array([0.0, 0.0, 0.06])  # hands on the chest, wrists a few cm above its surface
    wrists = [wrist_mid - 0.03 * RIGHT, wrist_mid + 0.03 * RIGHT]
    half = shoulder_width_m / 2
    # Shoulder-wrist distance of each arm from its angle (law of cosines).
    d = [math.sqrt(upper_arm_m**2 + forearm_m**2 - 2 * upper_arm_m * forearm_m * math.cos(math.radians(a))) for a in elbow_deg]
    # The shoulder midpoint's height follows from the mean reach; the horizontal offset is exact.
    off = offset_front_mm / 1000 * FACING + offset_side_mm / 1000 * RIGHT
    arms = np.zeros((2, 3, 3))
    for arm, sign in ((0, -1.0), (1, 1.0)):
        lateral = sign * (half - 0.03) * RIGHT
        horiz = off + lateral
        h = math.sqrt(max(1e-6, d[arm] ** 2 - float(horiz @ horiz)))
        s = wrists[arm] + horiz + h * UP
        w = wrists[arm]
        line = (s - w) / d[arm]
        bend = np.array([sign * bend_dir[0], bend_dir[1], bend_dir[2]])
        bend = bend - (bend @ line) * line
        bend /= np.linalg.norm(bend)
        p = (forearm_m**2 - upper_arm_m**2 + d[arm] ** 2) / (2 * d[arm])  # from the wrist along the line
        q = math.sqrt(max(0.0, forearm_m**2 - p**2))
        arms[arm] = [s, w + p * line + q * bend, w]
    shoulder_mid = arms[:, 0].mean(axis=0)
    hips = shoulder_mid - 0.5 * UP - 0.15 * FACING
    true_off = shoulder_mid - arms[:, 2].mean(axis=0)
    return Rescuer(arms, hips, tuple(elbow_deg), float(true_off @ FACING) * 1000, float(true_off @ RIGHT) * 1000)


@dataclass(frozen=True)
class Camera:
    """A pinhole camera in the manikin frame: ``p_cam = rotation @ (p - position)``."""

    rotation: np.ndarray
    position: np.ndarray
    k: np.ndarray

    def project(self, pts: np.ndarray) -> np.ndarray:
        pc = (np.asarray(pts) - self.position) @ self.rotation.T
        uv = pc @ self.k.T
        return uv[..., :2] / uv[..., 2:3]


def camera_at(azimuth_deg: float, elevation_deg: float, distance_m: float = 1.6,
              target=(0.0, -0.1, 0.35), size_wh=(1280, 720), hfov_deg: float = 70.0) -> Camera:
    """Camera on the far side of the manikin (+y), ``azimuth`` from the pure side view toward the head."""
    a, e = math.radians(azimuth_deg), math.radians(elevation_deg)
    t = np.asarray(target, float)
    c = t + distance_m * np.array([math.sin(a) * math.cos(e), math.cos(a) * math.cos(e), math.sin(e)])
    z = (t - c) / np.linalg.norm(t - c)
    x = np.cross(z, UP)
    if np.linalg.norm(x) < 1e-6:  # looking straight down: pick the head direction as image right
        x = np.cross(z, FACING)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    w, h = size_wh
    f = (w / 2) / math.tan(math.radians(hfov_deg) / 2)
    k = np.array([[f, 0, (w - 1) / 2], [0, f, (h - 1) / 2], [0, 0, 1.0]])
    return Camera(np.vstack([x, y, z]), c, k)


def camera_above(height_m: float = 1.2, size_wh=(1280, 720)) -> Camera:
    """Straight above the rescuer's shoulders, looking down the arms: the end-on view."""
    r = make_rescuer((180.0, 180.0))
    sh = r.arms_m[:, 0].mean(axis=0)
    cam = camera_at(0.0, 89.999, distance_m=height_m, target=tuple(sh), size_wh=size_wh)
    return cam


def observe(r: Rescuer, cam: Camera, rng: np.random.Generator, *, sigma_xy_m=0.005, sigma_z_m=0.010,
            calibrated: bool = True, t_ms: int = 0) -> PostureMeasurement:
    """What the pose model would give for this camera, measured as the worker does."""
    world_cam = (r.arms_m - r.hips_m) @ cam.rotation.T  # hip-centred, camera axes
    noise = rng.normal(0.0, 1.0, world_cam.shape) * np.array([sigma_xy_m, sigma_xy_m, sigma_z_m])
    px = cam.project(r.arms_m)
    rays = sight_rays_cam(px[:, 1], cam.k)
    return measure_posture(
        world_cam + noise,
        np.full((2, 3), 0.95),
        t_ms=t_ms,
        cam_from_manikin_rotation=cam.rotation if calibrated else None,
        sight_dirs_cam=rays,
    )


def require_pose_model():
    """The verified, cached pose model's path; skips the test when it cannot be had."""
    import pytest

    from models import ModelError, ensure_model

    try:
        return ensure_model("pose_landmarker")
    except ModelError as exc:
        pytest.skip(f"pose model unavailable: {exc}")
