"""The renderer's known camera: an ideal pinhole placed in the manikin frame.

Written independently of ``calibration/`` on purpose: this is the ground truth
the calibration must recover, so it must not share code (or bugs) with it.
World frame = manikin frame: origin at the compression point on the chest,
x toward the head, y toward the manikin's right (it lies face up), z up; millimetres.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RenderCamera:
    width: int
    height: int
    fx: float
    cx: float
    cy: float
    rotation: np.ndarray  # (3, 3) rows: camera x (right), y (down), z (forward) in world coordinates
    position: np.ndarray  # (3,) optical centre in the world, mm

    @property
    def K(self) -> np.ndarray:
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fx, self.cy], [0.0, 0.0, 1.0]])

    @property
    def hfov_deg(self) -> float:
        return math.degrees(2.0 * math.atan((self.width / 2.0) / self.fx))

    def to_cam(self, pts_world: np.ndarray) -> np.ndarray:
        p = np.asarray(pts_world, dtype=np.float64).reshape(-1, 3)
        return (p - self.position) @ self.rotation.T

    def project(self, pts_world: np.ndarray) -> np.ndarray:
        """World points (N, 3) -> pixels (N, 2); points behind the camera give NaN."""
        c = self.to_cam(pts_world)
        z = np.where(c[:, 2] > 1e-6, c[:, 2], np.nan)
        return np.stack([self.fx * c[:, 0] / z + self.cx, self.fx * c[:, 1] / z + self.cy], axis=1)

    def pixel_rays_world(self) -> np.ndarray:
        """Unit ray directions (H, W, 3) in the world for every pixel centre."""
        u = (np.arange(self.width, dtype=np.float32) - self.cx) / self.fx
        v = (np.arange(self.height, dtype=np.float32) - self.cy) / self.fx
        d = np.empty((self.height, self.width, 3), np.float32)
        d[..., 0] = u[None, :]
        d[..., 1] = v[:, None]
        d[..., 2] = 1.0
        d /= np.linalg.norm(d, axis=2, keepdims=True)
        return d @ self.rotation.astype(np.float32)  # camera -> world: R^T d

    def moved(self, offset_mm: np.ndarray, extra_rotation: np.ndarray | None = None) -> "RenderCamera":
        """The same camera translated (and optionally turned about its own centre)."""
        r = self.rotation if extra_rotation is None else extra_rotation @ self.rotation
        return RenderCamera(self.width, self.height, self.fx, self.cx, self.cy, r,
                            self.position + np.asarray(offset_mm, dtype=np.float64))


def make_camera(width: int, height: int, hfov_deg: float, elevation_deg: float, azimuth_deg: float,
                distance_mm: float, target=(0.0, 0.0, 0.0), side: int = -1) -> RenderCamera:
    """A camera on a sphere around ``target``: ``elevation`` above the chest plane,
    ``azimuth`` away from a pure side view (positive toward the head), on the -y side
    (the manikin's left) by default, looking at the target with the image upright."""
    e, a = math.radians(elevation_deg), math.radians(azimuth_deg)
    tgt = np.asarray(target, dtype=np.float64)
    pos = tgt + distance_mm * np.array([math.cos(e) * math.sin(a), side * math.cos(e) * math.cos(a), math.sin(e)])
    fwd = tgt - pos
    fwd /= np.linalg.norm(fwd)
    right = np.cross(fwd, np.array([0.0, 0.0, 1.0]))
    right /= np.linalg.norm(right)
    down = np.cross(fwd, right)
    rot = np.stack([right, down, fwd])
    fx = (width / 2.0) / math.tan(math.radians(hfov_deg) / 2.0)
    return RenderCamera(width, height, fx, (width - 1) / 2.0, (height - 1) / 2.0, rot, pos)


def small_rotation(rx_deg: float, ry_deg: float, rz_deg: float) -> np.ndarray:
    """A rotation about the camera's own axes (for head-like wobble)."""
    ax, ay, az = (math.radians(v) for v in (rx_deg, ry_deg, rz_deg))
    rx = np.array([[1, 0, 0], [0, math.cos(ax), -math.sin(ax)], [0, math.sin(ax), math.cos(ax)]])
    ry = np.array([[math.cos(ay), 0, math.sin(ay)], [0, 1, 0], [-math.sin(ay), 0, math.cos(ay)]])
    rz = np.array([[math.cos(az), -math.sin(az), 0], [math.sin(az), math.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx
