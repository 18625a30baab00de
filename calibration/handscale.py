"""No-marker fallback: a metric frame from the resting hand's own size and orientation.

MediaPipe's world landmarks are a metric 3D hand (metres, about the hand's
centre) at a typical adult size. Fitting them to the image landmarks (PnP)
gives the hand's distance from the camera (the scale) and the palm's plane.
While the hands rest flat on the chest, the palm normal is the chest normal
(its sign and its tilt mirror are fixed by assuming an upright camera: the
chest's "up" points up in the image).
The fallback frame therefore has its origin at the resting compression point,
z along the palm normal, and its measuring plane (the frame's x-z plane)
contains z and faces the camera as squarely as possible; from there the same
ray-plane intersection as the marker path gives height in mm.

Why it is only a fallback: the scale is as good as "this hand is a typical
hand" (adult hands differ by about ±10 %), and the palm is only roughly parallel
to the chest. docs/calibration.md reports its measured error.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calibration.camera import CameraIntrinsics
from calibration.geometry import Pose, intersect_rays_plane, pixel_rays

PALM = (0, 5, 9, 13, 17)  # wrist and the four finger MCPs: the rigid palm


class HandScaleError(ValueError):
    """The resting hands did not give a usable frame."""


@dataclass(frozen=True)
class HandFrameSample:
    """One frame's resting-hand measurement, in the camera frame (mm)."""

    origin_mm: np.ndarray  # the compression point on the palm plane
    normal: np.ndarray  # unit palm normal, pointing toward the camera side (up from the chest)
    distance_mm: float
    reprojection_px: float


def hand_pose(landmarks_px: np.ndarray, world_landmarks_m: np.ndarray, intr: CameraIntrinsics) -> tuple[Pose, float]:
    """``cam_from_hand`` (hand frame = MediaPipe's world landmarks, in mm) and its RMS reprojection."""
    import cv2

    obj = np.ascontiguousarray(np.asarray(world_landmarks_m, dtype=np.float64)[:, :3] * 1000.0)
    img = np.ascontiguousarray(np.asarray(landmarks_px, dtype=np.float64)[:, :2])
    if obj.shape[0] != 21 or img.shape[0] != 21 or not (np.all(np.isfinite(obj)) and np.all(np.isfinite(img))):
        raise HandScaleError("a hand needs 21 finite image and world landmarks")
    k, dc = intr.matrix, intr.dist_coeffs
    ok, rv, tv = cv2.solvePnP(obj.reshape(-1, 1, 3), img.reshape(-1, 1, 2), k, dc, flags=cv2.SOLVEPNP_SQPNP)
    if not ok:
        raise HandScaleError("PnP found no hand pose")
    rv, tv = cv2.solvePnPRefineLM(obj.reshape(-1, 1, 3), img.reshape(-1, 1, 2), k, dc, rv, tv)
    pose = Pose.from_rvec_tvec(rv, tv)
    proj, _ = cv2.projectPoints(obj.reshape(-1, 1, 3), rv, tv, k, dc)
    err = float(np.sqrt(np.mean(np.sum((proj.reshape(-1, 2) - img) ** 2, axis=1))))
    if pose.translation_mm[2] <= 0:
        raise HandScaleError("PnP put the hand behind the camera")
    return pose, err


def resting_hand_sample(landmarks_px: np.ndarray, world_landmarks_m: np.ndarray, point_px: np.ndarray,
                        intr: CameraIntrinsics) -> HandFrameSample:
    """The compression point and palm normal of one resting frame."""
    pose, err = hand_pose(landmarks_px, world_landmarks_m, intr)
    palm = pose.apply(np.asarray(world_landmarks_m, dtype=np.float64)[list(PALM), :3] * 1000.0)
    c = palm.mean(axis=0)
    _, _, vt = np.linalg.svd(palm - c)
    n = vt[2]
    if float(n @ (-c)) < 0:  # toward the camera: the camera is above the chest
        n = -n
    # Under the weak perspective of a hand at arm's length, a palm tilted toward the camera's up or
    # down reprojects almost alike, and PnP may return the mirror image. The camera is upright (the
    # chest's "up" points up in the image, -y): if this normal points down the image, take its mirror
    # about the line of sight.
    v = c / np.linalg.norm(c)
    if n[1] > 0:
        n = 2.0 * float(n @ v) * v - n
        n /= np.linalg.norm(n)
    ray = pixel_rays(np.asarray(point_px, dtype=np.float64).reshape(1, 2), intr.matrix, intr.dist_coeffs)
    o, cos_inc = intersect_rays_plane(np.zeros(3), ray, c, n)
    if not np.all(np.isfinite(o)):
        o = c[None]
    return HandFrameSample(o[0], n, float(np.linalg.norm(o[0])), err)


def frame_from_samples(samples: list[HandFrameSample]) -> Pose:
    """``cam_from_frame`` of the fallback frame from resting samples (robust mean).

    Origin: median resting compression point. z: mean palm normal. The x-z plane
    holds z and is turned to face the camera: its normal is the part of the
    viewing direction perpendicular to z.
    """
    if not samples:
        raise HandScaleError("no resting hand was seen")
    o = np.median(np.array([s.origin_mm for s in samples]), axis=0)
    n = np.array([s.normal for s in samples]).mean(axis=0)
    n /= np.linalg.norm(n)
    v = o / np.linalg.norm(o)  # viewing direction toward the origin
    m = v - (v @ n) * n  # plane normal: view direction without its z part
    if np.linalg.norm(m) < 1e-3:
        raise HandScaleError("the camera looks straight along the palm normal: height is unobservable")
    y = m / np.linalg.norm(m)
    x = np.cross(y, n)
    r = np.stack([x, y, n], axis=1)  # columns: frame axes in the camera
    return Pose(r, o)
