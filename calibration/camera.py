"""Camera intrinsics: from a horizontal field of view, or calibrated from board images.

Why both: a lab webcam is often uncalibrated, and its data-sheet field of view
is good to a few percent, which costs a few percent of depth; a few photos of a
printed chessboard or ChArUco board remove that error (and the lens distortion).
Either way the result is one ``CameraIntrinsics`` stored in the calibration JSON.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Iterable, Sequence

import numpy as np


class CameraCalibrationError(ValueError):
    """Camera calibration could not produce intrinsics (too few views, bad board...)."""


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole intrinsics plus OpenCV distortion (k1, k2, p1, p2, k3) for one image size."""

    width_px: int
    height_px: int
    fx_px: float
    fy_px: float
    cx_px: float
    cy_px: float
    dist: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0, 0.0)
    source: str = "hfov"  # "hfov" | "chessboard" | "charuco" | "given"
    rms_px: float | None = None  # reprojection RMS of the calibration, when calibrated
    views: int | None = None  # images used, when calibrated

    @property
    def matrix(self) -> np.ndarray:
        return np.array([[self.fx_px, 0.0, self.cx_px], [0.0, self.fy_px, self.cy_px], [0.0, 0.0, 1.0]])

    @property
    def dist_coeffs(self) -> np.ndarray:
        return np.asarray(self.dist, dtype=np.float64)

    @property
    def hfov_deg(self) -> float:
        return math.degrees(2.0 * math.atan2(self.width_px / 2.0, self.fx_px))

    @staticmethod
    def from_hfov(hfov_deg: float, width_px: int, height_px: int) -> "CameraIntrinsics":
        """An ideal pinhole with square pixels and the principal point at the image centre."""
        if not (1.0 < hfov_deg < 179.0):
            raise CameraCalibrationError(f"--hfov must be between 1 and 179 degrees, got {hfov_deg:g}")
        if width_px <= 0 or height_px <= 0:
            raise CameraCalibrationError(f"image size must be positive, got {width_px}x{height_px}")
        f = (width_px / 2.0) / math.tan(math.radians(hfov_deg) / 2.0)
        return CameraIntrinsics(int(width_px), int(height_px), f, f, (width_px - 1) / 2.0, (height_px - 1) / 2.0,
                                source="hfov")

    def scaled_to(self, width_px: int, height_px: int) -> "CameraIntrinsics":
        """The same camera at another resolution (same aspect ratio: a scaled sensor mode).

        Raises when the aspect ratio differs: that is a crop, and the principal point
        cannot be known.
        """
        if (width_px, height_px) == (self.width_px, self.height_px):
            return self
        sx = width_px / self.width_px
        sy = height_px / self.height_px
        if abs(sx / sy - 1.0) > 0.01:
            raise CameraCalibrationError(
                f"the camera was calibrated at {self.width_px}x{self.height_px} but the video is "
                f"{width_px}x{height_px} (another aspect ratio: a crop); calibrate at this resolution"
            )
        return replace(
            self,
            width_px=int(width_px),
            height_px=int(height_px),
            fx_px=self.fx_px * sx,
            fy_px=self.fy_px * sy,
            cx_px=(self.cx_px + 0.5) * sx - 0.5,
            cy_px=(self.cy_px + 0.5) * sy - 0.5,
        )

    def to_dict(self) -> dict:
        return {
            "width_px": self.width_px,
            "height_px": self.height_px,
            "fx_px": self.fx_px,
            "fy_px": self.fy_px,
            "cx_px": self.cx_px,
            "cy_px": self.cy_px,
            "dist": list(self.dist),
            "source": self.source,
            "rms_px": self.rms_px,
            "views": self.views,
            "hfov_deg": self.hfov_deg,
        }

    @staticmethod
    def from_dict(d: dict) -> "CameraIntrinsics":
        dist = tuple(float(x) for x in d.get("dist") or ())
        if len(dist) not in (0, 4, 5, 8, 12, 14):
            raise ValueError(f"'dist' must have 4, 5, 8, 12 or 14 coefficients, got {len(dist)}")
        cam = CameraIntrinsics(
            width_px=int(d["width_px"]),
            height_px=int(d["height_px"]),
            fx_px=float(d["fx_px"]),
            fy_px=float(d["fy_px"]),
            cx_px=float(d["cx_px"]),
            cy_px=float(d["cy_px"]),
            dist=dist or (0.0, 0.0, 0.0, 0.0, 0.0),
            source=str(d.get("source", "given")),
            rms_px=None if d.get("rms_px") is None else float(d["rms_px"]),
            views=None if d.get("views") is None else int(d["views"]),
        )
        if cam.width_px <= 0 or cam.height_px <= 0 or cam.fx_px <= 0 or cam.fy_px <= 0:
            raise ValueError("image size and focal lengths must be positive")
        if not all(math.isfinite(v) for v in (cam.fx_px, cam.fy_px, cam.cx_px, cam.cy_px, *cam.dist)):
            raise ValueError("focal lengths, principal point and 'dist' must be finite numbers")  # JSON NaN/Infinity
        return cam


# ----------------------------------------------------------------------------------------- boards


@dataclass(frozen=True)
class ChessboardPattern:
    """A chessboard counted by its INNER corners (e.g. 9x6 for a 10x7-square board)."""

    cols: int
    rows: int
    square_mm: float

    def object_points(self) -> np.ndarray:
        g = np.mgrid[0 : self.cols, 0 : self.rows].T.reshape(-1, 2).astype(np.float64)
        return np.concatenate([g * self.square_mm, np.zeros((g.shape[0], 1))], axis=1)


@dataclass(frozen=True)
class CharucoPattern:
    """A ChArUco board counted in SQUARES (e.g. 7x5), with its square and marker sizes."""

    cols: int
    rows: int
    square_mm: float
    marker_mm: float
    dictionary: str = "DICT_4X4_50"

    def board(self):
        import cv2

        from calibration.markers import get_dictionary

        return cv2.aruco.CharucoBoard((self.cols, self.rows), self.square_mm, self.marker_mm,
                                      get_dictionary(self.dictionary))


@dataclass
class CameraCalibrationResult:
    intrinsics: CameraIntrinsics
    used: list[str] = field(default_factory=list)  # image names with a usable board view
    rejected: list[str] = field(default_factory=list)  # image names without one


def _gray(img: np.ndarray) -> np.ndarray:
    import cv2

    return img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)


def calibrate_camera(
    images: Iterable[tuple[str, np.ndarray]],
    pattern: ChessboardPattern | CharucoPattern,
    min_views: int = 5,
    fix_k3: bool = True,
) -> CameraCalibrationResult:
    """Intrinsics from images of a planar board (chessboard or ChArUco).

    ``images`` yields (name, BGR or gray image) pairs, all of one size. At least
    ``min_views`` images must show the board; ``fix_k3`` keeps the 6th-order radial
    term at zero, which is safer with few views of an ordinary webcam lens.
    """
    import cv2

    obj_all: list[np.ndarray] = []
    img_all: list[np.ndarray] = []
    size: tuple[int, int] | None = None
    used: list[str] = []
    rejected: list[str] = []
    detector = None
    board = None
    if isinstance(pattern, CharucoPattern):
        board = pattern.board()
        detector = cv2.aruco.CharucoDetector(board)
    for name, img in images:
        g = _gray(img)
        s = (g.shape[1], g.shape[0])
        if size is None:
            size = s
        elif s != size:
            raise CameraCalibrationError(f"{name}: image size {s[0]}x{s[1]} differs from the first image's {size[0]}x{size[1]}")
        if isinstance(pattern, ChessboardPattern):
            ok, corners = cv2.findChessboardCornersSB(g, (pattern.cols, pattern.rows), flags=cv2.CALIB_CB_ACCURACY)
            if not ok:
                rejected.append(name)
                continue
            obj_all.append(pattern.object_points().astype(np.float32))
            img_all.append(corners.reshape(-1, 2).astype(np.float32))
        else:
            ch_corners, ch_ids, _, _ = detector.detectBoard(g)
            if ch_ids is None or len(ch_ids) < 6:
                rejected.append(name)
                continue
            obj, imgp = board.matchImagePoints(ch_corners, ch_ids)
            if obj is None or len(obj) < 6:
                rejected.append(name)
                continue
            obj_all.append(obj.reshape(-1, 3).astype(np.float32))
            img_all.append(imgp.reshape(-1, 2).astype(np.float32))
        used.append(name)
    if size is None:
        raise CameraCalibrationError("no images to calibrate from")
    if len(used) < min_views:
        raise CameraCalibrationError(
            f"the board was found in {len(used)} image(s), at least {min_views} are needed "
            f"(check the board size given: inner corners for a chessboard, squares for ChArUco)"
        )
    flags = cv2.CALIB_FIX_K3 if fix_k3 else 0
    rms, k, dist, _, _ = cv2.calibrateCamera(obj_all, img_all, size, None, None, flags=flags)
    kind = "chessboard" if isinstance(pattern, ChessboardPattern) else "charuco"
    intr = CameraIntrinsics(size[0], size[1], float(k[0, 0]), float(k[1, 1]), float(k[0, 2]), float(k[1, 2]),
                            tuple(float(x) for x in np.asarray(dist).reshape(-1)[:5]), kind, float(rms), len(used))
    return CameraCalibrationResult(intr, used, rejected)


def parse_board_size(text: str) -> tuple[int, int]:
    """'9x6' -> (9, 6)."""
    try:
        a, b = text.lower().split("x")
        cols, rows = int(a), int(b)
    except ValueError:
        raise CameraCalibrationError(f"board size must look like 9x6, got {text!r}") from None
    if cols < 2 or rows < 2:
        raise CameraCalibrationError(f"board size must be at least 2x2, got {text!r}")
    return cols, rows


def image_files(paths: Sequence[str]) -> list[str]:
    """Expand folders into their image files (sorted); keep files as given."""
    import os

    exts = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
    out: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            out += sorted(os.path.join(p, f) for f in os.listdir(p) if f.lower().endswith(exts))
        else:
            out.append(p)
    return out
