"""ArUco markers: dictionaries, marker bits, detection and single-marker pose.

Why IPPE_SQUARE: for one square marker it is the closed-form, exact solution of
the planar pose problem and returns BOTH poses that explain the four corners.
At a distance the two can be close in reprojection error (the well-known
"flip"); returning both lets the manikin calibration pick, per frame, the one
that agrees with the consensus of many frames instead of trusting each frame.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calibration.geometry import Pose

DEFAULT_DICTIONARY = "DICT_4X4_50"


class MarkerError(ValueError):
    """Unknown dictionary, bad id, or a marker that cannot be used."""


def get_dictionary(name: str):
    import cv2

    key = name.upper()
    if not key.startswith("DICT_"):
        key = "DICT_" + key
    if not hasattr(cv2.aruco, key):
        raise MarkerError(f"unknown ArUco dictionary {name!r}; e.g. DICT_4X4_50, DICT_5X5_100, DICT_APRILTAG_36H11")
    return cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, key))


def marker_bits(dictionary: str, marker_id: int) -> np.ndarray:
    """The marker as a bool grid (True = black), including its one-cell black border.

    Row 0 is the marker's TOP edge, column 0 its left edge (as printed).
    """
    import cv2

    d = get_dictionary(dictionary)
    n_ids = d.bytesList.shape[0]
    if not (0 <= marker_id < n_ids):
        raise MarkerError(f"marker id {marker_id} is not in {dictionary} (ids 0..{n_ids - 1})")
    cells = d.markerSize + 2
    img = cv2.aruco.generateImageMarker(d, int(marker_id), cells, borderBits=1)
    return img < 128


def marker_object_points(size_mm: float) -> np.ndarray:
    """Corner coordinates in the marker frame, in ArUco's corner order.

    Marker frame: origin at the centre, x to the right, y toward the TOP edge,
    z out of the printed face. Corners: top-left, top-right, bottom-right, bottom-left
    (the order ArucoDetector returns and SOLVEPNP_IPPE_SQUARE requires).
    """
    h = size_mm / 2.0
    return np.array([[-h, h, 0.0], [h, h, 0.0], [h, -h, 0.0], [-h, -h, 0.0]])


@dataclass(frozen=True)
class MarkerDetection:
    marker_id: int
    corners_px: np.ndarray  # (4, 2) TL, TR, BR, BL

    @property
    def min_side_px(self) -> float:
        return quad_min_side_px(self.corners_px)


def quad_min_side_px(corners_px: np.ndarray) -> float:
    """The shortest side of a quadrilateral (4, 2), in pixels."""
    c = corners_px
    return float(min(np.linalg.norm(c[i] - c[(i + 1) % 4]) for i in range(4)))


@dataclass(frozen=True)
class MarkerPose:
    """One frame's pose of one marker: ``cam_from_marker`` and its RMS reprojection error."""

    pose: Pose
    reprojection_px: float
    alternative: Pose | None = None  # the other IPPE solution
    alternative_reprojection_px: float = float("nan")


class MarkerDetector:
    """cv2.aruco.ArucoDetector with sub-pixel corners (pose accuracy needs them).

    ``refine_edges`` re-measures each corner from the four edge lines
    (:func:`refine_corners_by_edges`), which removes cornerSubPix's inward bias.
    """

    def __init__(self, dictionary: str = DEFAULT_DICTIONARY, refine_edges: bool = True) -> None:
        import cv2

        params = cv2.aruco.DetectorParameters()
        params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_SUBPIX
        params.cornerRefinementWinSize = 6
        params.cornerRefinementMaxIterations = 50
        params.cornerRefinementMinAccuracy = 0.01
        self.dictionary_name = dictionary
        d = get_dictionary(dictionary)
        self._cells = int(d.markerSize) + 2
        self.refine_edges = refine_edges
        self._det = cv2.aruco.ArucoDetector(d, params)

    def detect(self, image: np.ndarray) -> list[MarkerDetection]:
        import cv2

        gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        corners, ids, _ = self._det.detectMarkers(gray)
        if ids is None:
            return []
        out = []
        for c, i in zip(corners, ids.reshape(-1)):
            c = np.asarray(c, dtype=np.float64).reshape(4, 2)
            if self.refine_edges:
                c = refine_corners_by_edges(gray, c, self._cells)
            out.append(MarkerDetection(int(i), c))
        return out

    def find(self, image: np.ndarray, marker_id: int) -> MarkerDetection | None:
        """The detection of one id, or None (the largest one if the id appears twice)."""
        hits = [d for d in self.detect(image) if d.marker_id == marker_id]
        if not hits:
            return None
        return max(hits, key=lambda d: d.min_side_px)


def _bilinear(gray: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    h, w = gray.shape
    x = np.clip(x, 0, w - 1.001)
    y = np.clip(y, 0, h - 1.001)
    x0 = np.floor(x).astype(int)
    y0 = np.floor(y).astype(int)
    fx, fy = x - x0, y - y0
    g = gray.astype(np.float64)
    return ((1 - fx) * (1 - fy) * g[y0, x0] + fx * (1 - fy) * g[y0, x0 + 1] + (1 - fx) * fy * g[y0 + 1, x0]
            + fx * fy * g[y0 + 1, x0 + 1])


def refine_corners_by_edges(gray: np.ndarray, corners_px: np.ndarray, cells: int) -> np.ndarray:
    """Corners as intersections of lines fitted to the square's four edges.

    Why: cornerSubPix treats a marker corner like a chessboard saddle, but it is an
    L-corner of a black square on white, and the estimate lands ~0.2 px inside the
    square; the marker then reads ~0.5 % small (far). Here each edge point is the
    sub-pixel crossing of the mid grey between the black border and the white paper
    along the edge normal (unbiased for any symmetric blur), the points of each side
    (away from the corners) are fitted with a line, and adjacent lines intersect.
    Returns the input when an edge cannot be measured.
    """
    c = np.asarray(corners_px, dtype=np.float64).reshape(4, 2)
    center = c.mean(axis=0)
    lines = []
    for i in range(4):
        a, b = c[i], c[(i + 1) % 4]
        length = float(np.linalg.norm(b - a))
        if length < 8:
            return c
        u = (b - a) / length
        n = np.array([-u[1], u[0]])
        if float(n @ (a - center)) < 0:
            n = -n  # outward
        cell = length / cells
        half = float(np.clip(0.45 * cell, 1.5, 4.0))
        k = max(8, int(length / 2))
        s = np.linspace(0.15, 0.85, k) * length
        offs = np.linspace(-half, half, int(2 * half / 0.25) + 1)
        px = a[0] + s[:, None] * u[0] + offs[None, :] * n[0]
        py = a[1] + s[:, None] * u[1] + offs[None, :] * n[1]
        prof = _bilinear(gray, px, py)  # (k, m): inside (black) -> outside (white)
        m = prof.shape[1]
        q = max(2, m // 6)
        lo = prof[:, :q].mean(axis=1)
        hi = prof[:, -q:].mean(axis=1)
        ok = hi - lo > 20.0
        mid = (lo + hi) / 2.0
        pts = []
        for j in np.nonzero(ok)[0]:
            above = np.nonzero(prof[j] >= mid[j])[0]
            if above.size == 0 or above[0] == 0:
                continue
            t = above[0]
            p0, p1 = prof[j, t - 1], prof[j, t]
            f = (mid[j] - p0) / (p1 - p0) if p1 != p0 else 0.5
            d = offs[t - 1] + f * (offs[t] - offs[t - 1])
            pts.append(a + s[j] * u + d * n)
        if len(pts) < 5:
            return c
        p = np.array(pts)
        pc = p.mean(axis=0)
        _, _, vt = np.linalg.svd(p - pc)
        lines.append((pc, vt[0]))
    out = np.empty((4, 2))
    for i in range(4):
        (p1, d1), (p2, d2) = lines[(i - 1) % 4], lines[i]  # corner i joins side i-1 and side i
        m = np.column_stack([d1, -d2])
        if abs(np.linalg.det(m)) < 1e-9:
            return c
        st = np.linalg.solve(m, p2 - p1)
        out[i] = p1 + st[0] * d1
    if np.abs(out - c).max() > 2.0:  # a refinement that moves a corner this far is not trusted
        return c
    return out


def reprojection_rms_px(pose: Pose, object_pts: np.ndarray, image_pts: np.ndarray, camera_matrix: np.ndarray,
                        dist: np.ndarray | None) -> float:
    import cv2

    proj, _ = cv2.projectPoints(np.ascontiguousarray(object_pts, dtype=np.float64).reshape(-1, 1, 3), pose.rvec(),
                                pose.translation_mm,
                                np.asarray(camera_matrix, dtype=np.float64),
                                None if dist is None else np.asarray(dist, dtype=np.float64))
    e = proj.reshape(-1, 2) - np.asarray(image_pts, dtype=np.float64).reshape(-1, 2)
    return float(np.sqrt(np.mean(np.sum(e * e, axis=1))))


def estimate_marker_pose(corners_px: np.ndarray, size_mm: float, camera_matrix: np.ndarray,
                         dist: np.ndarray | None) -> MarkerPose:
    """Both IPPE_SQUARE solutions for one marker, best (lowest reprojection) first."""
    import cv2

    obj = marker_object_points(size_mm)
    img = np.ascontiguousarray(corners_px, dtype=np.float64).reshape(4, 1, 2)
    k = np.asarray(camera_matrix, dtype=np.float64)
    dc = None if dist is None else np.asarray(dist, dtype=np.float64)
    n, rvecs, tvecs, errs = cv2.solvePnPGeneric(obj.reshape(4, 1, 3), img, k, dc, flags=cv2.SOLVEPNP_IPPE_SQUARE)
    if n < 1:
        raise MarkerError("IPPE_SQUARE found no pose for the marker")
    sols = []
    for rv, tv in zip(rvecs, tvecs):
        p = Pose.from_rvec_tvec(rv, tv)
        sols.append((reprojection_rms_px(p, obj, img, k, dc), p))
    sols.sort(key=lambda s: s[0])
    best = sols[0]
    alt = sols[1] if len(sols) > 1 else (float("nan"), None)
    return MarkerPose(best[1], best[0], alt[1], alt[0])


def refine_pose(pose: Pose, object_pts: np.ndarray, image_pts: np.ndarray, camera_matrix: np.ndarray,
                dist: np.ndarray | None) -> Pose:
    """Levenberg-Marquardt refinement of a pose on many correspondences."""
    import cv2

    rv, tv = cv2.solvePnPRefineLM(
        np.ascontiguousarray(object_pts, dtype=np.float64).reshape(-1, 1, 3),
        np.ascontiguousarray(image_pts, dtype=np.float64).reshape(-1, 1, 2),
        np.asarray(camera_matrix, dtype=np.float64),
        None if dist is None else np.asarray(dist, dtype=np.float64),
        pose.rvec().reshape(3, 1).copy(),
        pose.translation_mm.reshape(3, 1).copy(),
    )
    return Pose.from_rvec_tvec(rv, tv)
