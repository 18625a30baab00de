"""A real hand photo, cut out of its white background, composited as a planar patch.

Source: ``hands.jpg`` from the shared test data (two open hands on white, with
reference landmarks in ``hands.expected.json``). One hand is segmented by its
distance from the white background, cleaned (largest component, holes filled)
and given a soft alpha edge. Its physical size is set by the wrist-to-middle-
fingertip length (``hand_length_mm``), and its anchor is the heel of the hand
computed from the reference landmarks, so the renderer knows exactly which 3D
point the heel is at in every frame (on the sternum midline).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .camera import RenderCamera

PALM_LANDMARKS = (0, 5, 9, 13, 17)  # wrist and the four finger MCPs
HEEL_FRACTION = 0.4


@dataclass
class HandSprite:
    rgba: np.ndarray  # (H, W, 4) uint8 BGRA, alpha = hand mask
    landmarks_px: np.ndarray  # (21, 2) reference landmarks in sprite pixels
    mm_per_px: float
    anchor: str = "heel"  # which point sits on the midline: "heel" (pushes on the sternum) or "palm"

    @property
    def palm_center_px(self) -> np.ndarray:
        return self.landmarks_px[list(PALM_LANDMARKS)].mean(axis=0)

    @property
    def anchor_px(self) -> np.ndarray:
        """The point placed on the sternum midline: the heel of the hand, 40 % of the way
        from the wrist to the palm centre (the same definition the vision layer uses)."""
        if self.anchor == "palm":
            return self.palm_center_px
        wrist = self.landmarks_px[0]
        return wrist + HEEL_FRACTION * (self.palm_center_px - wrist)

    @staticmethod
    def from_hands_jpg(hands_dir: Path, hand: int = 1, hand_length_mm: float = 185.0) -> "HandSprite":
        """Cut hand ``hand`` (0: right one in the photo, 1: left one) out of hands.jpg."""
        img = cv2.imread(str(Path(hands_dir) / "hands.jpg"))
        if img is None:
            raise FileNotFoundError(f"cannot read {hands_dir}/hands.jpg")
        ref = json.loads((Path(hands_dir) / "hands.expected.json").read_text())
        lm = np.asarray(ref["hands"][hand], dtype=np.float64)
        h, w = img.shape[:2]
        # Crop to this hand's half of the photo (the two hands do not overlap horizontally).
        split = int(round((lm[:, 0].max() + np.asarray(ref["hands"][1 - hand])[:, 0].min()) / 2)) if hand == 1 else \
            int(round((lm[:, 0].min() + np.asarray(ref["hands"][1 - hand])[:, 0].max()) / 2))
        x0, x1 = (0, split) if hand == 1 else (split, w)
        crop = img[:, x0:x1]
        lm = lm - [x0, 0]
        # Distance from white: the background is near (255, 255, 255), the hand is darker and warmer.
        f = crop.astype(np.float32)
        dist = np.sqrt(np.sum((255.0 - f) ** 2, axis=2))
        mask = (dist > 45).astype(np.uint8)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        n, lab, stats, _ = cv2.connectedComponentsWithStats(mask)
        if n <= 1:
            raise ValueError("hand segmentation found nothing")
        big = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        mask = (lab == big).astype(np.uint8)
        # fill holes (light patches on the back of the hand)
        inv = (1 - mask).astype(np.uint8)
        n2, lab2, stats2, _ = cv2.connectedComponentsWithStats(inv)
        for i in range(1, n2):
            x, y, ww, hh, _ = stats2[i]
            if x > 0 and y > 0 and x + ww < mask.shape[1] and y + hh < mask.shape[0]:
                mask[lab2 == i] = 1
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
        alpha = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 1.0)
        alpha = np.clip(alpha * 255.0, 0, 255).astype(np.uint8)
        # A margin so warps never clip the soft edge.
        pad = 8
        rgba = np.zeros((crop.shape[0] + 2 * pad, crop.shape[1] + 2 * pad, 4), np.uint8)
        rgba[pad:-pad, pad:-pad, :3] = crop
        rgba[pad:-pad, pad:-pad, 3] = alpha
        lm = lm + pad
        length_px = float(np.linalg.norm(lm[12] - lm[0]))
        return HandSprite(rgba, lm, hand_length_mm / length_px)


@dataclass(frozen=True)
class HandPlacement:
    """Where the sprite lies: its palm centre at ``center`` (world mm), the sprite's
    image-right along ``u_dir`` and image-down along ``v_dir`` (unit, orthogonal)."""

    center: np.ndarray
    u_dir: np.ndarray
    v_dir: np.ndarray


def flat_on_chest(x_mm: float, z_mm: float, fingers_dir=(1.0, 0.0, 0.0)) -> HandPlacement:
    """Palm-down on the chest plane, palm centre at (x, 0, z), fingers along ``fingers_dir``."""
    f = np.asarray(fingers_dir, dtype=np.float64)
    f /= np.linalg.norm(f)
    v = -f  # sprite 'down' = toward the wrist
    u = np.cross(v, np.array([0.0, 0.0, 1.0]))  # so that u × v points down into the chest (seen from above)
    u = -u if np.cross(u, v)[2] > 0 else u
    return HandPlacement(np.array([x_mm, 0.0, z_mm]), u, v)


def composite_hand(frame: np.ndarray, cam: RenderCamera, sprite: HandSprite,
                   place: HandPlacement) -> tuple[np.ndarray, np.ndarray]:
    """Draw the sprite into ``frame`` (in place) with perspective; returns the image
    position of the sprite's anchor point and of all 21 reference landmarks (exact truth)."""
    h, w = sprite.rgba.shape[:2]
    pc = sprite.anchor_px
    s = sprite.mm_per_px

    def to_world(uv: np.ndarray) -> np.ndarray:
        uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
        return place.center + (uv[:, :1] - pc[0]) * s * place.u_dir + (uv[:, 1:] - pc[1]) * s * place.v_dir

    src = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float64)
    dst = cam.project(to_world(src))
    truth_lm = cam.project(to_world(sprite.landmarks_px))
    palm = cam.project(to_world(pc[None]))[0]
    if not np.all(np.isfinite(dst)):
        return palm, truth_lm
    x0, y0 = np.floor(dst.min(axis=0)).astype(int) - 2
    x1, y1 = np.ceil(dst.max(axis=0)).astype(int) + 2
    fx0, fy0 = max(x0, 0), max(y0, 0)
    fx1, fy1 = min(x1, frame.shape[1]), min(y1, frame.shape[0])
    if fx1 <= fx0 or fy1 <= fy0:
        return palm, truth_lm
    H = cv2.getPerspectiveTransform(src.astype(np.float32), (dst - [fx0, fy0]).astype(np.float32))
    warped = cv2.warpPerspective(sprite.rgba, H, (fx1 - fx0, fy1 - fy0), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))
    a = warped[..., 3:4].astype(np.float32) / 255.0
    roi = frame[fy0:fy1, fx0:fx1].astype(np.float32)
    col = warped[..., :3].astype(np.float32)
    frame[fy0:fy1, fx0:fx1] = np.clip(roi * (1 - a) + col * a, 0, 255).astype(np.uint8)
    return palm, truth_lm
