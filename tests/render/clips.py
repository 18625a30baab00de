"""Rendered test clips with ground truth: a calibration clip and a compression clip per view.

A clip is a real video file (cv2.VideoWriter, mp4v) so the CLI under test reads
it through the same decoder a user's recording goes through. Each frame gets a
little optical blur and sensor noise (seeded), and mp4v adds its compression.

Truth returned with each clip: the camera (intrinsics and pose, per frame for a
moving camera), the hand's height above its rest position per frame, and the
core simulator's ground-truth compressions.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import cv2
import numpy as np

from .camera import RenderCamera, make_camera, small_rotation
from .hand import HandSprite, composite_hand, flat_on_chest
from .scene import ManikinScene, PaperMarker, read_only

MARKER_DICT = cv2.aruco.DICT_4X4_50
MARKER_ID = 0
ANCHOR_ID = 1
MARKER_MM = 120.0
ANCHOR_MM = 120.0
HAND_REST_Z_MM = 28.0  # the sprite's anchor point rides this high above the chest at rest (hand thickness)


@dataclass(frozen=True)
class ViewSpec:
    """One camera setup of the accuracy table."""

    name: str
    width: int = 1280
    height: int = 720
    hfov_deg: float = 60.0
    elevation_deg: float = 30.0
    azimuth_deg: float = 0.0
    distance_mm: float = 900.0
    bob_mm: float = 0.0  # moving camera: amplitude of the head bob (mm); 0 = fixed camera
    sway_deg: float = 0.0  # moving camera: amplitude of small head rotations
    anchor: bool = False  # a static anchor marker lies on the floor beside the manikin
    fps: float = 30.0
    target: tuple[float, float, float] = (0.0, 0.0, 0.0)  # where the camera looks (mm, manikin frame)
    roll_deg: float = 0.0  # the camera turned about its optical axis (a phone propped askew); 0: upright
    # moving camera: the rescuer's head goes down with each compression (shoulders over locked arms, a hinge at the
    # hips): this fraction of the chest's displacement, straight down, and a nod of this many degrees per 10 mm
    head_follow: float = 0.0
    head_nod_deg_per_cm: float = 0.0
    floor: str = "mat"  # the floor's look (ManikinScene.floor): "mat", "tiles" (a repeating pattern) or "plain"

    def camera(self) -> RenderCamera:
        cam = make_camera(self.width, self.height, self.hfov_deg, self.elevation_deg, self.azimuth_deg,
                          self.distance_mm, target=self.target)
        return cam.moved(np.zeros(3), small_rotation(0.0, 0.0, self.roll_deg)) if self.roll_deg else cam

    def camera_at(self, t_s: float, chest_mm: float = 0.0) -> RenderCamera:
        """The camera at time t: fixed, or bobbing like a headset (a few incommensurate slow sways), and going down
        with the compressions if ``head_follow`` (``chest_mm``: the chest's height then, negative when compressed)."""
        cam = self.camera()
        if self.bob_mm <= 0:
            return cam
        b = self.bob_mm
        off = np.array([0.35 * b * math.sin(2 * math.pi * 0.23 * t_s + 0.4),
                        0.35 * b * math.sin(2 * math.pi * 0.31 * t_s + 1.1),
                        b * math.sin(2 * math.pi * 0.55 * t_s)])
        s = self.sway_deg
        nod = self.head_nod_deg_per_cm * chest_mm / 10.0
        off[2] += self.head_follow * chest_mm
        rot = small_rotation(s * math.sin(2 * math.pi * 0.41 * t_s) + nod, s * math.sin(2 * math.pi * 0.27 * t_s + 0.7),
                             0.5 * s * math.sin(2 * math.pi * 0.19 * t_s + 2.0))
        return cam.moved(off, rot)


def anchor_marker() -> PaperMarker:
    # On the floor, beside the manikin toward its head, on the camera's side.
    return PaperMarker(MARKER_DICT, ANCHOR_ID, ANCHOR_MM, (350.0, -300.0, -199.7), top_dir=(1.0, 0.0))


def chest_marker() -> PaperMarker:
    # Centred on the compression point, top edge toward the head, lying on the chest plate.
    return PaperMarker(MARKER_DICT, MARKER_ID, MARKER_MM, (0.0, 0.0, 0.25), top_dir=(1.0, 0.0))


# (generator state, noise, bank size, shape) -> (the bank, the generator's state after it): 0.45 s a bank at 720p
_BANKS: dict[tuple, tuple] = {}
_CALIBRATION_CLIPS: dict[tuple, tuple[bytes, int]] = {}  # (view, frames, seed) -> the file written first, its frames


class Degrader:
    """Camera-like degradation: slight optical blur and Gaussian sensor noise (seeded).

    The noise comes from a small bank of precomputed frames (as saturating uint8
    add/subtract pairs), so degrading a 1280x720 frame costs about 2 ms. A bank
    depends only on the generator's state, the noise and the frame shape, so it is
    drawn once per process (``_BANKS``, read-only) and every clip stays the same to the bit.
    """

    def __init__(self, seed: int, blur_sigma: float = 0.6, noise_sigma: float = 2.0, bank: int = 8) -> None:
        self.rng = np.random.default_rng(seed)
        self.blur = blur_sigma
        self.noise = noise_sigma
        self.bank_size = bank
        self._bank: list[tuple[np.ndarray, np.ndarray]] = []
        self._shape: tuple[int, ...] | None = None
        self._i = 0

    def _make_bank(self, shape: tuple[int, ...]) -> None:
        key = (repr(self.rng.bit_generator.state), self.noise, self.bank_size, shape)
        if key in _BANKS:  # (the same generator state: the same draws, and the generator left where they leave it)
            self._bank, state = _BANKS[key]
            self.rng.bit_generator.state = state
            self._shape = shape
            return
        self._draw_bank(shape)
        self._bank = [(read_only(pos), read_only(neg)) for pos, neg in self._bank]
        _BANKS[key] = (self._bank, self.rng.bit_generator.state)

    def _draw_bank(self, shape: tuple[int, ...]) -> None:
        self._bank = []
        for _ in range(self.bank_size):
            n = np.rint(self.rng.normal(0.0, self.noise, shape)).astype(np.int16)
            self._bank.append((np.clip(n, 0, 255).astype(np.uint8), np.clip(-n, 0, 255).astype(np.uint8)))
        self._shape = shape

    def __call__(self, img: np.ndarray) -> np.ndarray:
        out = cv2.GaussianBlur(img, (0, 0), self.blur) if self.blur > 0 else img
        if self.noise > 0:
            if self._shape != out.shape:
                self._make_bank(out.shape)
            pos, neg = self._bank[self._i % len(self._bank)]
            self._i += 1
            out = cv2.subtract(cv2.add(out, pos), neg)
        return out


def write_video(path: Path, frames: Iterable[np.ndarray], fps: float, size_wh: tuple[int, int]) -> int:
    """mp4v clip of ``frames``; the package's one clip writer (the demo's)."""
    from coach.demo.run import write_clip

    return write_clip(path, frames, fps, size_wh)


@dataclass
class CalibrationClip:
    path: Path
    view: ViewSpec
    camera: RenderCamera  # the (mean) camera
    frames: int


def calibration_frames(view: ViewSpec, n: int, seed: int = 1, supersample: int = 2,
                       markers: list[PaperMarker] | None = None) -> Iterable[np.ndarray]:
    """``n`` frames of the marker on the chest (and the anchor, if any), no hands."""
    if markers is None:
        markers = [chest_marker()] + ([anchor_marker()] if view.anchor else [])
    scene = ManikinScene(markers=markers, floor=view.floor)
    deg = Degrader(seed)
    cam0 = view.camera()
    if view.bob_mm > 0:
        ref_cam, (ref_img, ref_body) = scene.reference_view(cam0)
        for i in range(n):
            yield deg(scene.render_moved(view.camera_at(i / view.fps), ref_cam, ref_img, ref_body))
    else:
        bg = scene.render(cam0, supersample=supersample)
        for _ in range(n):
            yield deg(bg)


def render_calibration_clip(path: Path, view: ViewSpec, seconds: float = 2.0, seed: int = 1) -> CalibrationClip:
    """A video of the marker on the chest (and the anchor, if any), no hands, ``seconds`` long."""
    n = int(round(seconds * view.fps))
    if (view, n, seed) in _CALIBRATION_CLIPS:  # (the same frames: the same file)
        data, count = _CALIBRATION_CLIPS[(view, n, seed)]
        Path(path).write_bytes(data)
    else:
        count = write_video(path, calibration_frames(view, n, seed), view.fps, (view.width, view.height))
        _CALIBRATION_CLIPS[(view, n, seed)] = (Path(path).read_bytes(), count)
    return CalibrationClip(path, view, view.camera(), count)


@dataclass
class CompressionClip:
    path: Path
    view: ViewSpec
    t_s: np.ndarray  # frame times
    height_mm: np.ndarray  # the hand's true height above its rest position per frame (0 = resting)
    placement_mm: float  # true hand position along the body axis (+ toward the head)
    palm_px: np.ndarray  # (N, 2) true image position of the sprite's anchor point per frame (NaN: no hand)
    truth: tuple = ()  # the simulator's ground-truth compressions


def anchor_view(width: int = 1280, height: int = 720) -> ViewSpec:
    """The accuracy tests' moving camera: a headset's bob (3 cm) and sway (1 deg) beside the manikin, the anchor marker
    on the floor (tests.render.accuracy's ``anchor`` view), at another image size if asked."""
    return ViewSpec("anchor", width, height, hfov_deg=75.0, elevation_deg=45.0, distance_mm=800.0,
                    target=(150.0, -170.0, -90.0), bob_mm=30.0, sway_deg=1.0, anchor=True)


def calibrated_anchor_view(frames: int = 16, width: int = 1280, height: int = 720):
    """(the anchor view, its intrinsics, its manikin calibration from ``frames`` rendered frames): what a test of the
    moving camera starts from (``calibrate manikin --anchor-id 1`` on them)."""
    from calibration import CameraIntrinsics, ManikinCalibrationOptions, ManikinCalibrator, MarkerSpec

    view = anchor_view(width, height)
    intr = CameraIntrinsics.from_hfov(view.hfov_deg, view.width, view.height)
    cal = ManikinCalibrator(intr, ManikinCalibrationOptions(anchor=MarkerSpec(marker_id=ANCHOR_ID), min_frames=10))
    for img in calibration_frames(view, frames):
        cal.add_frame(img)
    return view, intr, cal.result()


def _backdrop(view: ViewSpec):
    """``t_s -> (camera, background image)`` of a compression clip (the anchor marker on the floor if the view has one):
    fixed (rendered once, a copy per frame), or a moving headset (the reference view warped to each frame's camera).
    Why one function: the family clips drew neither the anchor nor the bob until session 31 (0 compressions counted)."""
    scene = ManikinScene(markers=[anchor_marker()] if view.anchor else [], floor=view.floor)
    cam0 = view.camera()
    if view.bob_mm > 0:
        ref_cam, (ref_img, ref_body) = scene.reference_view(cam0)

        def moving(t_s: float, chest_mm: float = 0.0):
            cam = view.camera_at(t_s, chest_mm)
            return cam, scene.render_moved(cam, ref_cam, ref_img, ref_body)

        return moving
    bg = scene.render(cam0, supersample=2)
    return lambda t_s, chest_mm=0.0: (cam0, bg.copy())


def _chest_mm(height_mm: float) -> float:
    """The chest's height under the hands (0 at rest, negative pressed): what a rescuer's head follows. The hands
    lifted for the breaths (positive heights, NaN out of view) leave the chest at rest."""
    return min(float(height_mm), 0.0) if np.isfinite(height_mm) else 0.0


def render_compression_clip(path: Path, view: ViewSpec, sprite: HandSprite, t_s: np.ndarray, height_mm: np.ndarray,
                            placement_mm: float = 0.0, visible: np.ndarray | None = None,
                            seed: int = 2, truth: tuple = ()) -> CompressionClip:
    """Hands flat on the chest (fingers across the body, away from the camera) following ``height_mm``.

    ``height_mm[i]`` is the chest height at frame i relative to rest (0 at rest, negative when compressed);
    NaN or ``visible[i] == False`` draws no hand in that frame.
    """
    backdrop = _backdrop(view)
    deg = Degrader(seed)
    palm = np.full((len(t_s), 2), np.nan)

    def frames():
        for i, (t, h) in enumerate(zip(t_s, height_mm)):
            cam, img = backdrop(float(t), _chest_mm(h))
            if np.isfinite(h) and (visible is None or visible[i]):
                place = flat_on_chest(placement_mm, HAND_REST_Z_MM + float(h), fingers_dir=(0.0, 1.0, 0.0))
                palm[i], _ = composite_hand(img, cam, sprite, place)
            yield deg(img)

    write_video(path, frames(), view.fps, (view.width, view.height))
    return CompressionClip(path, view, np.asarray(t_s, float), np.asarray(height_mm, float), placement_mm, palm,
                           tuple(truth))


def render_family_clip(path: Path, view: ViewSpec, family, hands_dir: Path, t_s: np.ndarray, height_mm: np.ndarray,
                       placement_mm: float = 0.0, visible: np.ndarray | None = None, seed: int = 2,
                       truth: tuple = (), family_after=None) -> CompressionClip:
    """A compression clip of one hand family (:mod:`tests.render.families`) following ``height_mm``.

    ``family_after``: the hands are put back as this family when they return from the first time out of view (the
    ventilation pause): the rescuer comes back with the hands placed otherwise (one hand, then two stacked).

    Motion blur: each frame averages sub-frames spread over the exposure, centred on the frame time (the truth
    is the chest height at the frame time); the camera is held over the exposure.

    A moving camera (``view.bob_mm > 0``, a headset) and the anchor marker on the floor (``view.anchor``) are drawn as
    :func:`render_compression_clip` draws them: every hand family can be measured in anchor mode (session 31: the
    family clips drew neither, so a moving camera was only ever tried with one flat hand).
    """
    from .families import FrameEffects, build_rig, draw_rig

    backdrop = _backdrop(view)
    deg = Degrader(seed, noise_sigma=family.noise_sigma)
    fx = FrameEffects(family, view.fps, seed=seed + 1)
    cam0 = view.camera()
    rig = build_rig(family, cam0, hands_dir, placement_mm)
    rig2 = build_rig(family_after, cam0, hands_dir, placement_mm) if family_after is not None else rig
    seen = np.ones(len(t_s), bool) if visible is None else np.asarray(visible, bool)
    back = np.flatnonzero(~seen[:-1] & seen[1:])  # the hands come back into view
    i_back = int(back[0]) + 1 if back.size else len(t_s)
    t_s = np.asarray(t_s, float)
    h_all = np.asarray(height_mm, float)
    n_sub = 1 if family.exposure_frames <= 0 else max(3, int(round(8 * family.exposure_frames)))
    span = family.exposure_frames / view.fps

    rig1 = rig

    def frames():
        for i, (t, h) in enumerate(zip(t_s, h_all)):
            cam, bg = backdrop(float(t), _chest_mm(h))  # (a fresh image: drawn into, or the blurred sub-frames' background)
            img = bg
            rig = rig2 if i >= i_back else rig1
            if np.isfinite(h) and (visible is None or visible[i]):
                hidden = family.tag_hidden_s is not None and family.tag_hidden_s[0] <= t <= family.tag_hidden_s[1]
                if n_sub == 1:
                    draw_rig(img, cam, rig, float(h), tag_visible=not hidden)
                else:
                    acc = np.zeros(img.shape, np.float32)
                    for k in range(n_sub):
                        ts = t + span * ((k + 0.5) / n_sub - 0.5)
                        sub = bg.copy()
                        draw_rig(sub, cam, rig, float(np.interp(ts, t_s, h_all)), tag_visible=not hidden)
                        acc += sub
                    img = np.clip(acc / n_sub + 0.5, 0, 255).astype(np.uint8)
            yield deg(fx(img, i))

    write_video(path, frames(), view.fps, (view.width, view.height))
    return CompressionClip(path, view, t_s, h_all, placement_mm, np.full((len(t_s), 2), np.nan), tuple(truth))
