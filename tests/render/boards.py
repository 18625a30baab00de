"""Rendered photos of a printed calibration board (chessboard or ChArUco) at known poses.

A board is planar, so each photo is the board texture warped by the exact
homography K [r1 r2 t] of its pose, over a plain table, then degraded like a
camera frame. The camera intrinsics are the truth ``calibrate camera`` must find.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from .clips import Degrader


def chessboard_texture(cols: int, rows: int, px_per_square: int = 40, margin_squares: float = 1.0) -> np.ndarray:
    """A chessboard with ``cols x rows`` INNER corners (cols+1 x rows+1 squares) on white."""
    sq = px_per_square
    m = int(margin_squares * sq)
    w, h = (cols + 1) * sq + 2 * m, (rows + 1) * sq + 2 * m
    img = np.full((h, w), 235, np.uint8)
    for r in range(rows + 1):
        for c in range(cols + 1):
            if (r + c) % 2 == 0:
                img[m + r * sq:m + (r + 1) * sq, m + c * sq:m + (c + 1) * sq] = 25
    return img


def charuco_texture(cols: int, rows: int, square_mm: float, marker_mm: float, dictionary: int,
                    px_per_square: int = 60, margin_squares: float = 0.5) -> np.ndarray:
    board = cv2.aruco.CharucoBoard((cols, rows), square_mm, marker_mm, cv2.aruco.getPredefinedDictionary(dictionary))
    m = int(margin_squares * px_per_square)
    return board.generateImage((cols * px_per_square + 2 * m, rows * px_per_square + 2 * m), marginSize=m)


def board_pose(i: int, n: int, distance_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """Varied, well-conditioned poses (tilts up to ~35 deg), as a person would hold the board."""
    a = 2 * math.pi * i / n
    rx, ry = math.radians(32 * math.sin(a)), math.radians(32 * math.cos(a))
    rz = math.radians(10 * math.sin(2 * a))
    rvec = np.array([rx, ry, rz])
    tvec = np.array([60 * math.cos(a), 40 * math.sin(a), distance_mm * (1 + 0.15 * math.sin(3 * a))])
    return rvec, tvec


def render_board_photos(texture: np.ndarray, board_w_mm: float, K: np.ndarray, size_wh: tuple[int, int], n: int = 10,
                        distance_mm: float = 700.0, seed: int = 5) -> list[np.ndarray]:
    """``n`` photos of a board texture whose full width is ``board_w_mm``, centred on its pose origin."""
    w, h = size_wh
    deg = Degrader(seed, blur_sigma=0.7, noise_sigma=2.0)
    th, tw = texture.shape[:2]
    mm_per_px = board_w_mm / tw
    # texture px -> board plane mm (board centred at the origin, y down like the texture)
    T = np.array([[mm_per_px, 0, -board_w_mm / 2], [0, mm_per_px, -th * mm_per_px / 2], [0, 0, 1]])
    bg = np.full((h, w, 3), (90, 105, 120), np.uint8)
    tex3 = cv2.cvtColor(texture, cv2.COLOR_GRAY2BGR)
    full = np.full((th, tw), 255, np.uint8)
    out = []
    for i in range(n):
        rvec, tvec = board_pose(i, n, distance_mm)
        R, _ = cv2.Rodrigues(rvec)
        H = K @ np.column_stack([R[:, 0], R[:, 1], tvec]) @ T
        warped = cv2.warpPerspective(tex3, H, (w, h), flags=cv2.INTER_LINEAR)
        mask = cv2.warpPerspective(full, H, (w, h), flags=cv2.INTER_LINEAR)
        a = (mask.astype(np.float32) / 255.0)[..., None]
        img = (bg * (1 - a) + warped * a).astype(np.uint8)
        out.append(deg(img))
    return out
