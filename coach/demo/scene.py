"""The virtual camera's picture: a manikin torso on a mat, the printed chest marker, a hand.

Why drawn with polygons and warps (not ray tracing): the demo must render and track 60 s of CPR
within three minutes on two cores. The torso is a box whose flat top is the chest (z = 0), seen by
a pinhole camera; the marker (DICT_4X4_50 id 0, as ``calibrate print-marker`` makes it) and the
hand cut-out are planar textures warped by their exact homographies (OpenCV's projection, not the
calibration package's, so the calibration measures a world it did not draw).

World = manikin frame: x toward the head, y to the manikin's right, z up, mm; origin at the
compression point on the chest.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources

import cv2
import numpy as np

MARKER_DICT = "DICT_4X4_50"
MARKER_ID = 0
MARKER_MM = 120.0
HAND_LENGTH_MM = 185.0  # wrist to middle fingertip of an adult hand
HAND_REST_Z_MM = 28.0  # the heel of the hand rests this high above the chest (the hand's thickness)
HEEL_FRACTION = 0.4  # heel = wrist + 40 % of the way to the palm centre (the vision layer's definition)


@dataclass(frozen=True)
class CameraSpec:
    """Where the virtual camera is: beside the manikin, looking at the compression point."""

    width_px: int = 640
    height_px: int = 360
    hfov_deg: float = 60.0
    elevation_deg: float = 35.0  # above the chest plane
    azimuth_deg: float = 0.0  # from a pure side view, + toward the head
    distance_mm: float = 700.0
    fps: float = 30.0

    def pose(self):
        """cam_from_manikin (a calibration.geometry.Pose)."""
        from calibration.geometry import camera_from_angles

        return camera_from_angles(self.elevation_deg, self.azimuth_deg, self.distance_mm)

    def matrix(self) -> np.ndarray:
        f = (self.width_px / 2.0) / math.tan(math.radians(self.hfov_deg) / 2.0)
        return np.array([[f, 0.0, (self.width_px - 1) / 2.0], [0.0, f, (self.height_px - 1) / 2.0], [0.0, 0.0, 1.0]])


@dataclass(frozen=True)
class HandCutout:
    rgba: np.ndarray  # (H, W, 4) BGRA
    heel_px: np.ndarray  # (2,) the point that sits on the sternum
    mm_per_px: float

    @staticmethod
    def load() -> "HandCutout":
        """The shipped cut-out (coach/demo/assets, Apache-2.0, see NOTICE there)."""
        base = resources.files("coach.demo") / "assets"
        data = np.frombuffer((base / "hand.png").read_bytes(), np.uint8)
        rgba = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        lm = np.asarray(json.loads((base / "hand.json").read_text())["landmarks_px"], dtype=np.float64)
        palm = lm[[0, 5, 9, 13, 17]].mean(axis=0)
        heel = lm[0] + HEEL_FRACTION * (palm - lm[0])
        return HandCutout(rgba, heel, HAND_LENGTH_MM / float(np.linalg.norm(lm[12] - lm[0])))


class VirtualStation:
    """Renders frames of the virtual station for one camera."""

    def __init__(self, camera: CameraSpec = CameraSpec(), seed: int = 5) -> None:
        self.cam = camera
        pose = camera.pose()
        self._rvec, _ = cv2.Rodrigues(pose.rotation)
        self._tvec = np.asarray(pose.translation_mm, dtype=np.float64).reshape(3, 1)
        self._K = camera.matrix()
        self.hand = HandCutout.load()
        rng = np.random.default_rng(seed)
        self.background = self._draw_background(rng)
        self._with_marker = self.background.copy()
        self._paste_marker(self._with_marker)
        self._noise = [rng.normal(0.0, 2.0, self.background.shape).astype(np.int16) for _ in range(6)]
        self._i = 0

    # ------------------------------------------------------------------ projection
    def project(self, pts_mm: np.ndarray) -> np.ndarray:
        out, _ = cv2.projectPoints(np.asarray(pts_mm, np.float64).reshape(-1, 1, 3), self._rvec, self._tvec, self._K, None)
        return out.reshape(-1, 2)

    def _warp(self, frame: np.ndarray, tex_bgra: np.ndarray, corners_mm: np.ndarray) -> None:
        """Composite a planar texture whose corners (TL, TR, BR, BL) lie at ``corners_mm``."""
        h, w = tex_bgra.shape[:2]
        dst = self.project(corners_mm)
        x0, y0 = np.floor(dst.min(axis=0)).astype(int) - 2
        x1, y1 = np.ceil(dst.max(axis=0)).astype(int) + 2
        fx0, fy0, fx1, fy1 = max(x0, 0), max(y0, 0), min(x1, frame.shape[1]), min(y1, frame.shape[0])
        if fx1 <= fx0 or fy1 <= fy0:
            return
        src = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float32)
        H = cv2.getPerspectiveTransform(src, (dst - [fx0, fy0]).astype(np.float32))
        warped = cv2.warpPerspective(tex_bgra, H, (fx1 - fx0, fy1 - fy0), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))
        a = warped[..., 3:4].astype(np.float32) * (1.0 / 255.0)
        roi = frame[fy0:fy1, fx0:fx1]
        roi[:] = (roi.astype(np.float32) * (1.0 - a) + warped[..., :3].astype(np.float32) * a).astype(np.uint8)

    # ------------------------------------------------------------------ the still scene
    def _poly(self, img: np.ndarray, pts_mm, bgr, shade: np.ndarray | None = None) -> None:
        p = np.round(self.project(np.asarray(pts_mm, float)) * 8).astype(np.int32)
        cv2.fillPoly(img, [p], bgr, cv2.LINE_AA, shift=3)

    def _draw_background(self, rng: np.random.Generator) -> np.ndarray:
        w, h = self.cam.width_px, self.cam.height_px
        img = np.empty((h, w, 3), np.uint8)
        # wall above the horizon, mat below: a vertical gradient with mottling
        low = cv2.resize(rng.normal(0, 1, (12, 20)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
        yy = np.linspace(0, 1, h, dtype=np.float32)[:, None]
        for k, (top, bottom) in enumerate(((196, 120), (200, 112), (204, 98))):
            img[..., k] = np.clip(top + (bottom - top) * yy + 10 * low, 0, 255).astype(np.uint8)
        floor_z = -200.0
        x0, x1, hw = -260.0, 300.0, 170.0
        skin = (150, 178, 222)
        side = (118, 142, 185)
        end = (132, 158, 200)
        self._poly(img, [[x0 - 80, -hw - 60, floor_z], [x1 + 200, -hw - 60, floor_z], [x1 + 200, hw + 60, floor_z],
                         [x0 - 80, hw + 60, floor_z]], (92, 96, 104))  # the mat under the manikin
        self._poly(img, [[x1, -hw, floor_z], [x1, hw, floor_z], [x1, hw, 0], [x1, -hw, 0]], end)
        self._poly(img, [[x0, -hw, floor_z], [x1, -hw, floor_z], [x1, -hw, 0], [x0, -hw, 0]], side)
        self._poly(img, [[x0, -hw, 0], [x1, -hw, 0], [x1, hw, 0], [x0, hw, 0]], skin)
        # head and neck
        c = self.project(np.array([[440.0, 0.0, -60.0]]))[0]
        r = np.linalg.norm(self.project(np.array([[440.0, 0.0, 40.0]]))[0] - c)
        cv2.ellipse(img, (int(c[0]), int(c[1])), (int(r * 1.15), int(r * 0.9)), 0, 0, 360, skin, -1, cv2.LINE_AA)
        self._poly(img, [[300, -60, -20], [360, -60, -40], [360, 60, -40], [300, 60, -20]], side)
        # sternum and nipple line, faintly
        a, b = self.project(np.array([[200.0, 0, 0], [-60.0, 0, 0]]))
        cv2.line(img, tuple(int(v) for v in a), tuple(int(v) for v in b), (138, 164, 206), 1, cv2.LINE_AA)
        skin_noise = cv2.GaussianBlur(rng.normal(0, 3, (h, w)).astype(np.float32), (0, 0), 2)
        return np.clip(img.astype(np.float32) + skin_noise[..., None], 0, 255).astype(np.uint8)

    def _paste_marker(self, img: np.ndarray) -> None:
        d = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, MARKER_DICT))
        cells = d.markerSize + 2
        px = 20
        side = cells * px
        m = cv2.aruco.generateImageMarker(d, MARKER_ID, side, borderBits=1)
        pad = int(1.5 * px)  # white paper around the black square
        paper = np.full((side + 2 * pad, side + 2 * pad), 245, np.uint8)
        paper[pad:pad + side, pad:pad + side] = np.where(m > 127, 245, 20)
        tex = cv2.cvtColor(paper, cv2.COLOR_GRAY2BGRA)
        half = MARKER_MM / 2.0 * (side + 2 * pad) / side
        z = 0.25  # paper on the chest
        # top edge toward the head (+x), marker right = -y... seen from above: TL, TR, BR, BL
        corners = np.array([[half, half, z], [half, -half, z], [-half, -half, z], [-half, half, z]])
        self._warp(img, tex, corners)

    # ------------------------------------------------------------------ frames
    def frame(self, *, marker: bool = False, hand_z_mm: float | None = None, hand_x_mm: float = 0.0) -> np.ndarray:
        """One camera frame: the marker on the chest (calibration), or the hand with its heel at
        (``hand_x_mm``, 0, ``HAND_REST_Z_MM + hand_z_mm``) (None: no hand), with sensor noise."""
        img = (self._with_marker if marker else self.background).copy()
        if hand_z_mm is not None and math.isfinite(hand_z_mm):
            self._paste_hand(img, hand_x_mm, HAND_REST_Z_MM + hand_z_mm)
        self._i = (self._i + 1) % len(self._noise)
        return np.clip(img.astype(np.int16) + self._noise[self._i], 0, 255).astype(np.uint8)

    def _paste_hand(self, img: np.ndarray, x_mm: float, z_mm: float) -> None:
        """Palm down, fingers across the chest away from the camera (+y), the heel on the midline."""
        hc = self.hand
        h, w = hc.rgba.shape[:2]
        s = hc.mm_per_px
        u_dir = np.array([1.0, 0.0, 0.0])  # cut-out right -> toward the head
        v_dir = np.array([0.0, -1.0, 0.0])  # cut-out down (toward the wrist) -> toward the camera
        centre = np.array([x_mm, 0.0, z_mm])
        uv = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], float) - hc.heel_px
        corners = centre + uv[:, :1] * s * u_dir + uv[:, 1:] * s * v_dir
        self._warp(img, hc.rgba, corners)
