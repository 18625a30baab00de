"""A lost marker's pose, carried by the textured plane it lies on.

Why: on a moving camera (a headset) every height needs the frame's camera pose, and the anchor marker on the floor
gives it only while all of it is in view. A livelier head took it out of a 62 deg lens's frame for 71 of 523 frames,
up to a second at a time, and those frames had no heights (session 33; a stack there counted 15 of 16). The floor
around the marker is the same plane and usually has texture (a mat, boards, the marker's own visible part), so the
last frame where the marker was found says where each textured point of it lies on the plane (its ray meets the
plane), and following those points into a frame that lost the marker gives 2D-3D pairs: the camera's pose by PnP.

Only the plane's points are used (the pose of the plane is known); points off it (the manikin's body, a hand, a
shoe) move otherwise and are left out by RANSAC. The key is the last frame where the marker was found, never a
carried one, so carried poses do not drift from one another.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from calibration.camera import CameraIntrinsics
from calibration.geometry import Pose, camera_center, intersect_rays_plane, pixel_rays, project_points


@dataclass(frozen=True)
class PlaneCarryOptions:
    around: float = 3.0  # look for texture within this many marker sizes of the marker's centre, on its plane
    max_points: int = 300
    corner_quality: float = 0.001  # of the strongest corner (the marker's own outshine a floor's texture 100 times)
    min_points: int = 25  # fewer followed points on the plane: no pose (the marker stays lost)
    min_inlier_share: float = 0.5  # ... or fewer than this share of them agreeing on one pose
    ransac_px: float = 2.0  # a point farther than this from the pose's projection is off the plane (or mis-followed)
    max_rms_px: float = 1.0  # the inliers' reprojection RMS accepted
    back_px: float = 1.0  # forward-backward check of the optical flow
    max_patch_diff: float = 12.0  # a followed point's window may differ from the key's by this mean grey level (a
    # frame that shows something else, or nothing: a covered lens, a uniform image)
    repeat_px: int = 16  # a key point whose patch is found again within this many px ...
    repeat_corr: float = 0.9  # ... at this normalised correlation or more is left out (0: none is). On small identical
    # tiles the flow took each point's neighbour one tile over, all at once, and the wrong pose fit them well (12 mm
    # tiles, 62 deg lens: a point read -8 to +12 mm off); on a plain floor the points left were the marker paper's
    # edges, along which the flow slides (carried poses 2-11 mm off in a compression clip; session 36)


class PlaneCarry:
    """``key`` each frame where the marker is found; ``carry`` a frame where it is not."""

    def __init__(self, intrinsics: CameraIntrinsics, marker_size_mm: float, options: PlaneCarryOptions | None = None) -> None:
        self.intr = intrinsics
        self.size_mm = float(marker_size_mm)
        self.opt = options or PlaneCarryOptions()
        self._gray: np.ndarray | None = None
        self._pose: Pose | None = None
        self._pts: tuple[np.ndarray, np.ndarray] | None = None  # (key px (N, 2), plane mm (N, 3)), found on demand
        self._guess: Pose | None = None  # the last pose carried, else the key's: where the points are looked for

    def key(self, gray: np.ndarray, cam_from_plane: Pose) -> None:
        """The marker was found in ``gray`` (kept, not copied: the caller does not write to it) at this pose."""
        self._gray, self._pose, self._pts, self._guess = gray, cam_from_plane, None, cam_from_plane

    def carry(self, gray: np.ndarray) -> Pose | None:
        """The pose of the plane (cam_from_plane) in ``gray`` from its texture around the marker, or None."""
        if self._gray is None or self._guess is None:
            return None
        if self._pts is None:
            self._pts = self._plane_points()
        px0, xyz = self._pts
        o = self.opt
        if len(px0) < o.min_points:
            return None
        p0 = px0.reshape(-1, 1, 2).astype(np.float32)
        k, dist = self.intr.matrix, self.intr.dist_coeffs
        g = self._guess
        # looked for where the last pose puts them (a head turns 100 px in a second: more than the flow's reach)
        init = project_points(g.apply(xyz), k, dist)
        lk = dict(winSize=(21, 21), maxLevel=3, criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01))
        p1, st, err = cv2.calcOpticalFlowPyrLK(self._gray, gray, p0, init.astype(np.float32).reshape(-1, 1, 2),
                                               flags=cv2.OPTFLOW_USE_INITIAL_FLOW, **lk)
        if p1 is None:
            return None
        pb, st2, _ = cv2.calcOpticalFlowPyrLK(gray, self._gray, p1, None, **lk)
        ok = (st.reshape(-1) == 1) & (st2.reshape(-1) == 1) & (err.reshape(-1) <= o.max_patch_diff)
        ok &= np.linalg.norm((pb - p0).reshape(-1, 2), axis=1) <= o.back_px
        if int(ok.sum()) < o.min_points:
            return None
        obj, img = xyz[ok], p1.reshape(-1, 2)[ok].astype(np.float64)
        found, rv, tv, inl = cv2.solvePnPRansac(obj, img, k, dist, g.rvec().reshape(3, 1), g.translation_mm.reshape(3, 1).copy(),
                                                useExtrinsicGuess=True, iterationsCount=100,
                                                reprojectionError=o.ransac_px, confidence=0.999,
                                                flags=cv2.SOLVEPNP_ITERATIVE)
        if not found or inl is None or len(inl) < max(o.min_points, o.min_inlier_share * len(obj)):
            return None
        i = inl.reshape(-1)
        rv, tv = cv2.solvePnPRefineLM(obj[i], img[i], k, dist, rv, tv)
        pose = Pose.from_rvec_tvec(rv, tv)
        rms = float(np.sqrt(np.mean(np.sum((project_points(pose.apply(obj[i]), k, dist) - img[i]) ** 2, axis=1))))
        if rms > o.max_rms_px:
            return None
        self._guess = pose
        return pose

    def _plane_points(self) -> tuple[np.ndarray, np.ndarray]:
        """Corners of the key frame's texture on the plane near the marker: their pixels and where their rays meet it."""
        gray, pose = self._gray, self._pose
        assert gray is not None and pose is not None
        h, w = gray.shape[:2]
        r = self.opt.around * self.size_mm
        quad = np.array([[-r, -r, 0.0], [r, -r, 0.0], [r, r, 0.0], [-r, r, 0.0]])
        if np.any(pose.apply(quad)[:, 2] <= 1.0):  # (the region reaches behind the camera: the marker's own size)
            quad = quad * (self.size_mm / r)
        px = project_points(pose.apply(quad), self.intr.matrix, self.intr.dist_coeffs)
        mask = np.zeros((h, w), np.uint8)
        cv2.fillConvexPoly(mask, np.round(px).astype(np.int32), 255)
        corners = cv2.goodFeaturesToTrack(gray, self.opt.max_points, self.opt.corner_quality, 8, mask=mask, blockSize=7)
        if corners is None:
            return np.zeros((0, 2)), np.zeros((0, 3))
        c = corners.reshape(-1, 2).astype(np.float64)
        c = c[self._distinct(gray, c)]
        # each pixel's ray, in the plane's frame, to z = 0 (NaN: parallel or behind)
        d = pixel_rays(c, self.intr.matrix, self.intr.dist_coeffs) @ pose.rotation
        xyz, _ = intersect_rays_plane(camera_center(pose), d, np.zeros(3), np.array([0.0, 0.0, 1.0]))
        keep = np.all(np.isfinite(xyz), axis=1)
        return c[keep], xyz[keep]

    def _distinct(self, gray: np.ndarray, px: np.ndarray) -> np.ndarray:
        """Which of the points ``px`` (N, 2) have a patch (the flow's 21 px window) that matches nowhere else within
        ``repeat_px`` but at its own place: where it repeats (a tiled floor) or runs on (a straight edge: the marker
        paper's) the flow may slide to another answer, and a pose fit to such points reads a point mm off. Looked at
        in the half-size image (about 10 ms for 300 points, once per loss)."""
        o = self.opt
        keep = np.ones(len(px), bool)
        if o.repeat_corr <= 0 or len(px) == 0:
            return keep
        small = cv2.pyrDown(gray)
        half, r, (h, w) = 5, max(2, int(round(o.repeat_px / 2))), small.shape[:2]
        for i, (x, y) in enumerate(np.round(px / 2).astype(int)):
            if x - half < 0 or y - half < 0 or x + half >= w or y + half >= h:
                continue  # (its patch leaves the image: kept)
            x0, y0 = max(0, x - r - half), max(0, y - r - half)
            area = small[y0:min(h, y + r + half + 1), x0:min(w, x + r + half + 1)]
            score = cv2.matchTemplate(area, small[y - half:y + half + 1, x - half:x + half + 1], cv2.TM_CCOEFF_NORMED)
            cy, cx = y - half - y0, x - half - x0
            score[max(0, cy - 1):cy + 2, max(0, cx - 1):cx + 2] = -1.0  # (its own peak: a corner's is a few px wide)
            keep[i] = not np.any(score >= o.repeat_corr)
        return keep
