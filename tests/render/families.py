"""Hand families for the compression clips: more than one kind of hand, every one with exact truth.

The truth of every family is the chest displacement (the core simulator's waveform): every part of
the rescuer (hands, forearms, a worn tag) moves rigidly with the chest along its normal. What
differs is WHERE the surface the camera tracks lies, which is what the geometry must not assume:

- ``heel``: one flat hand, its heel on the sternum midline, the back of the hand 28 mm above the
  chest (the project's first renders);
- ``palm``: one hand whose palm centre is on the midline 30-60 mm above the chest, the hand turned
  toward the camera (tilted about the body axis), as the top hand of a stack seen from the side;
- ``stacked``: two hands, the bottom one flat with its heel on the midline, the top one on it,
  its visible surface 20-45 mm toward the camera from the midline, with forearms. By default the
  rescuer faces the camera across the chest (fingers, forearms and the top hand's shift straight
  toward it); ``across`` puts the rescuer square beside the chest instead (all of them across the
  body), which a camera 45 deg off the side view sees differently;
- a worn hand tag (``hand_marker``): a small ArUco tag on a wristband of the top hand, facing the
  camera's side;
- degradations: motion blur (exposure as a share of the frame interval), lighting flicker, sensor
  noise, JPEG;
- a lens that is not the one the user states (``true_hfov_deg``; the CLI is told the view's FOV).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import cv2
import numpy as np

from .camera import RenderCamera
from .hand import HandPlacement, HandSprite, composite_hand
from .scene import PaperMarker

HAND_THICKNESS_MM = 28.0  # back of one hand above what it rests on (same as clips.HAND_REST_Z_MM)
HAND_TAG_DICT = cv2.aruco.DICT_4X4_50
HAND_TAG_ID = 7  # not the chest marker (0) or the anchor (1)
HAND_TAG_MM = 40.0


@dataclass(frozen=True)
class HandFamily:
    """One kind of hand (and of image degradation) for a compression clip."""

    name: str
    kind: str = "heel"  # "heel" | "palm" | "stacked"
    palm_height_mm: float = 45.0  # palm: the palm centre's height above the chest (on the midline)
    tilt_deg: float = 35.0  # palm: the hand plane turned toward the camera about the body axis
    toward_camera_mm: float = 30.0  # stacked: the top hand's heel this far toward the camera from the midline
    top_thickness_mm: float = 24.0  # stacked: the top hand's back this far above the bottom hand's back
    forearms: bool = False  # stacked: draw the forearms up toward the rescuer
    across: bool = False  # heel, stacked: the rescuer kneels square beside the chest, so the fingers, the forearms and
    # a stack's top-hand shift run across the body (toward the camera's side) instead of straight toward the camera:
    # the same at a side view, 45 deg apart at 45/45
    hand_marker: bool = False  # a worn tag on the top hand's wristband
    tag_mm: float = HAND_TAG_MM  # the tag's black square
    tag_hidden_s: tuple[float, float] | None = None  # the tag is covered (e.g. a sleeve) in this span of clip time
    exposure_frames: float = 0.0  # motion blur: the shutter is open this share of the frame interval (0: none)
    flicker: float = 0.0  # lighting flicker: relative amplitude of the per-frame gain
    noise_sigma: float = 2.0  # sensor noise (grey levels)
    jpeg_quality: int = 0  # > 0: every frame goes through JPEG at this quality before the video codec
    true_hfov_deg: float | None = None  # the lens really has this FOV (the CLI is told the view's)
    hand_length_mm: float = 185.0  # wrist to middle fingertip


FAMILIES: dict[str, HandFamily] = {
    "heel": HandFamily("heel"),
    "palm": HandFamily("palm", kind="palm"),
    "stacked": HandFamily("stacked", kind="stacked", forearms=True),
    "marker": HandFamily("marker", kind="stacked", forearms=True, hand_marker=True),
    "degraded": HandFamily("degraded", kind="stacked", forearms=True, exposure_frames=0.5, flicker=0.08,
                           noise_sigma=4.0, jpeg_quality=60),
    "lens62": HandFamily("lens62", kind="heel", true_hfov_deg=62.0),
}
# Geometry beyond the defaults: the --all table renders these too.
VARIANTS: dict[str, HandFamily] = {
    "palm-low": HandFamily("palm-low", kind="palm", palm_height_mm=30.0, tilt_deg=25.0, hand_length_mm=170.0),
    "palm-high": HandFamily("palm-high", kind="palm", palm_height_mm=60.0, tilt_deg=45.0, hand_length_mm=200.0),
    "stacked-near": HandFamily("stacked-near", kind="stacked", toward_camera_mm=20.0, top_thickness_mm=20.0,
                               forearms=True, hand_length_mm=200.0),
    "stacked-far": HandFamily("stacked-far", kind="stacked", toward_camera_mm=45.0, top_thickness_mm=28.0,
                              forearms=True, hand_length_mm=170.0),
    "marker-lost": HandFamily("marker-lost", kind="stacked", forearms=True, hand_marker=True, tag_hidden_s=(6.0, 7.0)),
    "degraded-full": HandFamily("degraded-full", kind="stacked", forearms=True, exposure_frames=1.0, flicker=0.12,
                                noise_sigma=5.0, jpeg_quality=50),
    "lens60": HandFamily("lens60", kind="heel", true_hfov_deg=60.0),
    "lens66": HandFamily("lens66", kind="palm", true_hfov_deg=66.0),
    "marker-palm": HandFamily("marker-palm", kind="palm", hand_marker=True),
    "lens62-stacked": HandFamily("lens62-stacked", kind="stacked", forearms=True, true_hfov_deg=62.0),
    "stacked-across": HandFamily("stacked-across", kind="stacked", forearms=True, across=True),
    "heel-across": HandFamily("heel-across", across=True),
    "marker-across": HandFamily("marker-across", kind="stacked", toward_camera_mm=45.0, top_thickness_mm=28.0,
                                forearms=True, hand_length_mm=170.0, hand_marker=True, across=True),
    "stacked-far-across": HandFamily("stacked-far-across", kind="stacked", toward_camera_mm=45.0, top_thickness_mm=28.0,
                                     forearms=True, hand_length_mm=170.0, across=True),
}
STATED_HFOV_DEG = 70.0  # what the user tells `calibrate manikin --hfov` in the lens families


def _toward_camera(cam: RenderCamera) -> np.ndarray:
    """Unit horizontal direction from the compression point toward the camera."""
    d = np.array([cam.position[0], cam.position[1], 0.0])
    return d / np.linalg.norm(d)


def _plane(fingers: np.ndarray, normal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(u, v) sprite axes for a hand with its fingers along ``fingers`` and its back facing ``normal``."""
    v = -fingers / np.linalg.norm(fingers)  # sprite 'down' = toward the wrist
    n = normal / np.linalg.norm(normal)
    u = np.cross(v, n)
    u = -u if np.cross(u, v) @ n > 0 else u  # u x v points into the hand (away from its back), as flat_on_chest
    return u, v


@dataclass
class HandRig:
    """The family's bodies at rest (heights 0): sprites with placements, the forearm and tag quads."""

    sprites: list[tuple[HandSprite, HandPlacement]]
    forearms: list[np.ndarray]  # (4, 3) world quads; forearms[i] rises from sprites[i]'s wrist
    tag: np.ndarray | None  # (4, 3) corners TL, TR, BR, BL of the tag's black square
    tag_texture: tuple[np.ndarray, float] | None


def build_rig(family: HandFamily, cam: RenderCamera, hands_dir, placement_mm: float = 0.0) -> HandRig:
    """Place the family's hands for camera ``cam`` (which side the camera is on decides 'toward the camera')."""
    fam = family
    toward = _toward_camera(cam)
    if fam.across and fam.kind != "palm":  # (a palm family's hand faces the camera by definition)
        toward = np.array([0.0, math.copysign(1.0, float(cam.position[1])), 0.0])
    fingers = -toward  # fingers across the body, away from the camera; the wrists (and the rescuer) on its side
    x = placement_mm
    sprites: list[tuple[HandSprite, HandPlacement]] = []
    forearms: list[np.ndarray] = []
    if fam.kind == "heel":
        s = HandSprite.from_hands_jpg(hands_dir, hand=1, hand_length_mm=fam.hand_length_mm)
        u, v = _plane(fingers, np.array([0.0, 0.0, 1.0]))
        sprites.append((s, HandPlacement(np.array([x, 0.0, HAND_THICKNESS_MM]), u, v)))
        top = sprites[0]
    elif fam.kind == "palm":
        s = HandSprite.from_hands_jpg(hands_dir, hand=1, hand_length_mm=fam.hand_length_mm)
        s.anchor = "palm"
        t = math.radians(fam.tilt_deg)
        normal = math.cos(t) * np.array([0.0, 0.0, 1.0]) + math.sin(t) * toward  # the back turned toward the camera
        f = fingers - (fingers @ normal) * normal
        u, v = _plane(f, normal)
        sprites.append((s, HandPlacement(np.array([x, 0.0, fam.palm_height_mm]), u, v)))
        top = sprites[0]
    elif fam.kind == "stacked":
        # the rescuer kneels on the far side (a camera on the rescuer's side sees the rescuer, not the hands):
        # fingers point toward the camera, the forearms rise away from it
        fingers = toward
        bottom = HandSprite.from_hands_jpg(hands_dir, hand=1, hand_length_mm=fam.hand_length_mm)
        topsp = _upright(HandSprite.from_hands_jpg(hands_dir, hand=0, hand_length_mm=fam.hand_length_mm * 0.97))
        up = np.array([0.0, 0.0, 1.0])
        # the bottom hand turned 15 deg about the normal so its fingers show beside the top one's
        a = math.radians(15.0)
        fb = math.cos(a) * fingers + math.sin(a) * np.array([1.0, 0.0, 0.0])
        ub, vb = _plane(fb, up)
        sprites.append((bottom, HandPlacement(np.array([x, 0.0, HAND_THICKNESS_MM]), ub, vb)))
        ut, vt = _plane(fingers, up)
        zt = HAND_THICKNESS_MM + fam.top_thickness_mm
        centre = np.array([x, 0.0, zt]) + fam.toward_camera_mm * toward
        sprites.append((topsp, HandPlacement(centre, ut, vt)))
        top = sprites[1]
        if fam.forearms:
            # from each wrist up toward the rescuer's shoulders (kneeling on the camera's side, arms near vertical)
            for sp, pl in sprites:
                wrist = _sprite_point(sp, pl, sp.landmarks_px[0])
                shoulder = wrist - 230.0 * toward + np.array([0.0, 0.0, 380.0])
                side = np.cross(shoulder - wrist, toward)
                side = 30.0 * side / np.linalg.norm(side)
                forearms.append(np.array([wrist - side, wrist + side, shoulder + 1.3 * side, shoulder - 1.3 * side]))
    else:
        raise ValueError(f"unknown hand family kind {fam.kind!r}")
    tag = tex = None
    if fam.hand_marker:
        sp, pl = top
        wrist = _sprite_point(sp, pl, sp.landmarks_px[0])
        # a wristband: the tag's face turned to the camera's side and 25 deg up, just beside the wrist
        n = math.cos(math.radians(25.0)) * toward + math.sin(math.radians(25.0)) * np.array([0.0, 0.0, 1.0])
        c = wrist + 22.0 * toward + np.array([0.0, 0.0, 6.0])
        right = np.cross(np.array([0.0, 0.0, 1.0]), n)
        right /= np.linalg.norm(right)
        down = np.cross(right, n)
        h = fam.tag_mm / 2.0
        tag = np.array([c - h * right - h * down, c + h * right - h * down, c + h * right + h * down,
                        c - h * right + h * down])
        tex = PaperMarker(HAND_TAG_DICT, HAND_TAG_ID, fam.tag_mm, (0.0, 0.0, 0.0), margin_cells=0.6).texture(12)
        # standing on the wristband: the paper's lower edge 1 mm above the hand's back, not sunk into the hand (until
        # session 11 it reached 8-13 mm below the back and was drawn over the hand there, an occlusion no camera sees)
        paper = _tag_with_margin(tag, tex)
        tag = tag + max(0.0, pl.center[2] + 1.0 - float(paper[:, 2].min())) * np.array([0.0, 0.0, 1.0])
    return HandRig(sprites, forearms, tag, tex)


def _upright(sprite: HandSprite) -> HandSprite:
    """The sprite turned 180 deg if its fingers point down the image (the rig expects wrist below fingertips)."""
    lm = sprite.landmarks_px
    if lm[12, 1] < lm[0, 1]:
        return sprite
    h, w = sprite.rgba.shape[:2]
    return HandSprite(np.ascontiguousarray(sprite.rgba[::-1, ::-1]), np.array([w - 1, h - 1]) - lm, sprite.mm_per_px,
                      sprite.anchor)


def _sprite_point(sprite: HandSprite, place: HandPlacement, uv: np.ndarray) -> np.ndarray:
    pc = sprite.anchor_px
    s = sprite.mm_per_px
    return place.center + (uv[0] - pc[0]) * s * place.u_dir + (uv[1] - pc[1]) * s * place.v_dir


def _skin_texture(seed: int = 11) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = cv2.GaussianBlur(rng.normal(0, 1, (64, 256)).astype(np.float32), (0, 0), 2.0)
    base = np.array([120, 150, 200], np.float32)
    tex = base[None, None, :] * (1.0 + 0.08 * n[..., None])
    return np.clip(tex, 0, 255).astype(np.uint8)


_SKIN = None


def composite_quad(frame: np.ndarray, cam: RenderCamera, texture: np.ndarray, quad_world: np.ndarray,
                   shade: float = 1.0, ss: int = 1) -> None:
    """Draw ``texture`` on a planar 3D quad (corners in texture order TL, TR, BR, BL), in place."""
    dst = cam.project(quad_world)
    if not np.all(np.isfinite(dst)):
        return
    h, w = texture.shape[:2]
    x0, y0 = np.maximum(np.floor(dst.min(axis=0)).astype(int) - 1, 0)
    x1, y1 = np.minimum(np.ceil(dst.max(axis=0)).astype(int) + 2, [frame.shape[1], frame.shape[0]])
    if x1 <= x0 or y1 <= y0:
        return
    src = np.array([[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]], np.float32)
    d = ((dst - [x0, y0]) + 0.5) * ss - 0.5
    H = cv2.getPerspectiveTransform(src, d.astype(np.float32))
    size = ((x1 - x0) * ss, (y1 - y0) * ss)
    tex = texture.astype(np.float32)
    col = cv2.warpPerspective(tex, H, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    cov = cv2.warpPerspective(np.ones(tex.shape[:2], np.float32), H, size, flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    if ss > 1:
        col = cv2.resize(col, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
        cov = cv2.resize(cov, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
    if col.ndim == 2:
        col = col[..., None].repeat(3, axis=2)
    a = np.clip(cov, 0, 1)[..., None]
    roi = frame[y0:y1, x0:x1].astype(np.float32)
    frame[y0:y1, x0:x1] = np.clip(roi * (1 - a) + col * shade * a, 0, 255).astype(np.uint8)


def draw_order(rig: HandRig) -> list[tuple[str, object]]:
    """The rig's bodies back to front, as :func:`draw_rig` draws them: ("hand", (sprite, placement)), ("forearm",
    quad), ("tag", quad). Each hand, then its own forearm, bottom hand first, the tag last. Why that order: the
    bottom hand's forearm rises from behind the top hand's wrist, 15-35 mm behind the top hand's back where the two
    overlap in the image; drawn after both hands (as it was until session 11) it covered the top hand there, an
    occlusion no camera sees, and the texture tracker's features on its edge moved like the farther surface (the
    stacks read ~1 % low). tests/test_render_rig.py checks the order against the bodies' depths."""
    out: list[tuple[str, object]] = []
    for i, sp_pl in enumerate(rig.sprites):
        out.append(("hand", sp_pl))
        if i < len(rig.forearms):
            out.append(("forearm", rig.forearms[i]))
    if rig.tag is not None:
        out.append(("tag", rig.tag))
    return out


def draw_rig(frame: np.ndarray, cam: RenderCamera, rig: HandRig, dz_mm: float, tag_visible: bool = True) -> None:
    """The rig moved by ``dz_mm`` along the chest normal, drawn back to front (:func:`draw_order`)."""
    global _SKIN
    dz = np.array([0.0, 0.0, dz_mm])
    for kind, body in draw_order(rig):
        if kind == "hand":
            sp, pl = body
            composite_hand(frame, cam, sp, replace(pl, center=pl.center + dz))
        elif kind == "forearm":
            if _SKIN is None:
                _SKIN = _skin_texture()
            composite_quad(frame, cam, _SKIN, body + dz, shade=0.9)
        elif kind == "tag" and tag_visible:
            composite_quad(frame, cam, rig.tag_texture[0], _tag_with_margin(body, rig.tag_texture) + dz, ss=3)


def _tag_with_margin(tag: np.ndarray, tag_texture: tuple[np.ndarray, float]) -> np.ndarray:
    """The tag's paper quad (its black square's corners grown by the texture's white margin)."""
    tex, px_per_mm = tag_texture
    tex_px = tex.shape[0]
    side_mm = float(np.linalg.norm(tag[1] - tag[0]))
    grow = (tex_px / px_per_mm - side_mm) / 2.0 / side_mm
    c = tag.mean(axis=0)
    return c + (tag - c) * (1.0 + 2.0 * grow)


class FrameEffects:
    """Lighting flicker and JPEG on a finished frame (motion blur is rendered, sensor noise is the Degrader's)."""

    def __init__(self, family: HandFamily, fps: float, seed: int = 4) -> None:
        self.fam = family
        self.fps = fps
        self.rng = np.random.default_rng(seed)

    def __call__(self, img: np.ndarray, i: int) -> np.ndarray:
        f = self.fam
        if f.flicker > 0:
            # mains flicker aliased by the frame rate (100 Hz seen at 30 fps beats at 10 Hz) plus a random part
            g = 1.0 + f.flicker * (0.7 * math.sin(2 * math.pi * 10.0 * i / self.fps) + 0.3 * self.rng.uniform(-1, 1))
            img = cv2.convertScaleAbs(img, alpha=g)
        if f.jpeg_quality > 0:
            ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(f.jpeg_quality)])
            img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        return img
