"""Hand tracking: MediaPipe Tasks ``HandLandmarker`` behind a typed, pixel-space API.

Why a wrapper: callers hand in BGR frames with ms timestamps and get hands
in frame pixels, whatever crop was actually fed to the model. The wrapper
adds what CPR needs on top of MediaPipe:

* strictly increasing timestamps (VIDEO / LIVE_STREAM refuse anything else);
* low-contrast recovery: when the whole frame yields no hand, retry in an
  upscaled crop around the previous hands or the caller's region (the chest,
  from calibration), and while that works keep tracking in the crop; with
  neither, search zoomed tiles of the frame, one per frame;
* with one hand of ``num_hands`` held (VIDEO mode), palm detection for the
  others every ``search_every_frames`` frames on a worker thread instead of
  on every frame (vision.hand_search): 1.7x the bare loop's throughput;
* the model comes from ``models.ensure_model`` (fetched and verified) unless
  a ``model_path`` is given.

In the normal case (hands visible) it is one MediaPipe call per frame, so,
searching every frame, it keeps the bare loop's throughput (``cpr-coach bench
tracker``).
"""
from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import cv2
import numpy as np

from models import ModelError, check_model_file, ensure_model
from vision import hand_geometry as hg
from vision.hand_search import SparseSearch
from vision.observations import PATH_FULL, PATH_NONE, PATH_ROI, PATH_TILE, HandObservation, HandTrackingResult
from vision.roi import Box, Crop, hint_box, keeps_roi, make_crop, roi_from_landmarks, tile_boxes

RUNNING_MODES = ("image", "video", "live_stream")
BACKENDS = ("mediapipe", "onnx")  # see create_tracker


@dataclass
class HandTrackerOptions:
    """Options of ``HandTracker`` (MediaPipe's own options plus the ROI recovery)."""

    model_path: str | Path | None = None  # None: the cached, verified registry model
    model_variant: str = "full"  # "full" | "lite" (registry variants of hand_landmarker)
    cache_dir: str | Path | None = None
    fetch: bool = True  # fetch the model on first use when it is not cached
    running_mode: str = "video"  # "image" | "video" | "live_stream"
    num_hands: int = 2
    search_every_frames: int = 10  # VIDEO mode, one of num_hands held: look for the others every this many frames (1: every frame, MediaPipe's own way; see vision.hand_search)
    min_hand_detection_confidence: float = 0.5
    min_hand_presence_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    roi_px: tuple[int, int, int, int] | None = None  # fixed hint (x0, y0, x1, y1), e.g. the chest region
    roi_fallback: bool = True  # retry in an upscaled crop when the whole frame finds no hand
    roi_hand_scale: float = 2.0  # crop side = this x the hands' bounding-box side
    roi_min_side_px: int = 160
    roi_upscale: float = 2.0  # crops are upscaled by this before detection ...
    roi_max_input_px: int = 1024  # ... up to this side
    roi_memory_ms: int = 1000  # previous landmarks stay a usable ROI for this long
    tile_search: bool = True  # no hand and no ROI: try one zoomed tile per frame (a 2nd inference while nobody is in view)
    tile_grid: int = 3  # tiles per axis (half-frame tiles, overlapping)
    result_callback: Optional[Callable[[HandTrackingResult], None]] = None  # live_stream only


def _mp():
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    return mp, BaseOptions, vision


def _to_rgb(image_bgr: np.ndarray) -> np.ndarray:
    if image_bgr.ndim == 2:
        return cv2.cvtColor(image_bgr, cv2.COLOR_GRAY2RGB)
    if image_bgr.shape[2] == 4:
        return cv2.cvtColor(image_bgr, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)


def _convert(mp_result, crop: Crop | None, size_wh: tuple[int, int], path: str) -> list[HandObservation]:
    """MediaPipe result -> observations in frame pixels."""
    hands: list[HandObservation] = []
    w, h = size_wh
    for i, lms in enumerate(mp_result.hand_landmarks):
        norm = np.array([(p.x, p.y, p.z) for p in lms], dtype=float)
        if crop is None:
            px = norm * (w, h, w)
        else:
            px = crop.to_frame_px(norm)
        world = (
            np.array([(p.x, p.y, p.z) for p in mp_result.hand_world_landmarks[i]], dtype=float)
            if i < len(mp_result.hand_world_landmarks)
            else np.full((21, 3), np.nan)
        )
        cats = mp_result.handedness[i] if i < len(mp_result.handedness) else []
        label = cats[0].category_name if cats else "Unknown"
        score = float(cats[0].score) if cats else float("nan")
        hands.append(HandObservation(px, world, str(label), score, path))
    return hands


def _close_all(landmarkers: list) -> None:
    """Close MediaPipe graphs before interpreter teardown (their own __del__ fails late in shutdown)."""
    while landmarkers:
        try:
            landmarkers.pop().close()
        except Exception:
            pass


class HandTracker:
    """Typed hand tracking over BGR frames. Create with ``create_from_options``."""

    def __init__(self, options: HandTrackerOptions, model_path: Path) -> None:
        if options.running_mode not in RUNNING_MODES:
            raise ValueError(f"running_mode must be one of {RUNNING_MODES}, not {options.running_mode!r}")
        if options.running_mode == "live_stream" and options.result_callback is None:
            raise ValueError("running_mode 'live_stream' needs a result_callback")
        self.options = options
        self.model_path = model_path
        self._lock = threading.Lock()
        self._open: list = []  # every landmarker created, closed by close() or at exit
        self._finalizer = weakref.finalize(self, _close_all, self._open)
        self._full = self._main_landmarker()
        self._roi_lm = None  # created on first need
        self._tile_lm = None
        self._last_ts = -1
        self._last_hands: list[HandObservation] = []
        self._last_hands_t: int | None = None
        self._roi_box: Box | None = None
        self._roi_active = False
        self._tile_i = 0
        self._pending: dict[int, tuple[int, Crop | None, tuple[int, int], str]] = {}  # live_stream: ts -> (t_ms, crop, size, path)
        self.stats = {PATH_FULL: 0, PATH_ROI: 0, PATH_TILE: 0, PATH_NONE: 0, "inferences": 0}

    # ---- construction ----------------------------------------------------
    @classmethod
    def create_from_options(cls, options: HandTrackerOptions | None = None) -> "HandTracker":
        """Resolve the model (``model_path`` or the verified cache) and build the landmarker.

        Raises ``models.ModelError`` (one line) when no usable model is available.
        """
        options = options or HandTrackerOptions()
        if options.model_path is not None:
            path = check_model_file(options.model_path)
        else:
            path = ensure_model("hand_landmarker", variant=options.model_variant, cache_dir=options.cache_dir, fetch=options.fetch)
        return cls(options, Path(path))

    def _main_landmarker(self):
        mode = self.options.running_mode
        return self._searching() if mode == "video" else self._make_landmarker(mode, live=mode == "live_stream")

    def _searching(self):
        """A VIDEO-mode landmarker that searches for missing hands only every ``search_every_frames`` frames."""
        if self.options.num_hands <= 1 or self.options.search_every_frames <= 1:
            return self._make_landmarker("video")
        search = SparseSearch(lambda n: self._make_landmarker("video", num_hands=n), self.options.num_hands,
                              self.options.search_every_frames)
        self._open.append(search)  # closed before its landmarkers (last in, first closed): it waits for its search
        return search

    def _make_landmarker(self, mode: str, live: bool = False, num_hands: int | None = None):
        mp, BaseOptions, vision = _mp()
        o = self.options
        kwargs = dict(
            base_options=BaseOptions(model_asset_path=str(self.model_path)),
            running_mode={
                "image": vision.RunningMode.IMAGE,
                "video": vision.RunningMode.VIDEO,
                "live_stream": vision.RunningMode.LIVE_STREAM,
            }[mode],
            num_hands=o.num_hands if num_hands is None else num_hands,
            min_hand_detection_confidence=o.min_hand_detection_confidence,
            min_hand_presence_confidence=o.min_hand_presence_confidence,
            min_tracking_confidence=o.min_tracking_confidence,
        )
        if live:
            kwargs["result_callback"] = self._on_live_result
        try:
            lm = vision.HandLandmarker.create_from_options(vision.HandLandmarkerOptions(**kwargs))
            self._open.append(lm)
            return lm
        except (RuntimeError, ValueError, OSError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"MediaPipe cannot load the hand model {self.model_path}: {first}") from None

    def _roi_landmarker(self):
        if self._roi_lm is None:
            self._roi_lm = self._make_landmarker("image") if self.options.running_mode == "image" else self._searching()
        return self._roi_lm

    def _tile_landmarker(self):
        if self._tile_lm is None:
            self._tile_lm = self._make_landmarker("image")
        return self._tile_lm

    # ---- helpers ---------------------------------------------------------
    def _next_ts(self, t_ms: int | None) -> int:
        t = self._last_ts + 1 if t_ms is None else int(t_ms)
        if t <= self._last_ts:  # MediaPipe needs strictly increasing timestamps
            t = self._last_ts + 1
        self._last_ts = t
        return t

    def _infer(self, landmarker, rgb: np.ndarray, mode: str, ts: int):
        mp, _, _ = _mp()
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        self.stats["inferences"] += 1
        if mode == "image":
            return landmarker.detect(image)
        return landmarker.detect_for_video(image, ts)

    def _hint_box(self, roi_px, size_wh) -> Box | None:
        return hint_box(roi_px if roi_px is not None else self.options.roi_px, size_wh, self.options.roi_min_side_px)

    def _landmark_box(self, t_ms: int, size_wh, hint: Box | None) -> Box | None:
        """ROI from the previous hands (hysteresis), preferring a caller hint that contains them."""
        if not self._last_hands or self._last_hands_t is None or t_ms - self._last_hands_t > self.options.roi_memory_ms:
            return None
        bbox = hg.bbox_xy(np.stack([h.landmarks_px for h in self._last_hands]))
        if hint is not None and bbox[0] >= hint[0] and bbox[1] >= hint[1] and bbox[2] <= hint[2] and bbox[3] <= hint[3]:
            return hint
        if self._roi_box is not None and keeps_roi(self._roi_box, bbox, self.options.roi_hand_scale):
            return self._roi_box
        return roi_from_landmarks(bbox, size_wh, self.options.roi_hand_scale, self.options.roi_min_side_px)

    def _remember(self, t_ms: int, hands: list[HandObservation]) -> None:
        if hands:
            self._last_hands = hands
            self._last_hands_t = t_ms

    def _result(self, t_ms: int, hands, size_wh, path: str, box: Box | None) -> HandTrackingResult:
        self.stats[path if hands else PATH_NONE] += 1
        return HandTrackingResult(t_ms, hands, size_wh, path if hands else PATH_NONE, box if hands else None)

    # ---- synchronous detection (image / video) ----------------------------
    def detect(self, image_bgr: np.ndarray, t_ms: int | None = None, roi_px: tuple[int, int, int, int] | None = None) -> HandTrackingResult:
        """Hands in one BGR frame. ``t_ms`` is required in video mode (strictly increasing; repaired if not).

        ``roi_px`` is an optional (x0, y0, x1, y1) hint for this frame, e.g.
        where calibration says the chest is. An empty image (a source's lost
        marker) gives an empty result instead of an error.
        """
        if self.options.running_mode == "live_stream":
            raise RuntimeError("this tracker runs in live_stream mode: use detect_async")
        with self._lock:
            t_report = int(t_ms) if t_ms is not None else self._last_ts + 1
            if image_bgr is None or image_bgr.size == 0:
                return self._result(t_report, [], (0, 0), PATH_NONE, None)
            if image_bgr.dtype != np.uint8:
                raise ValueError(f"expected a uint8 BGR image, got dtype {image_bgr.dtype}")
            h, w = image_bgr.shape[:2]
            size = (int(w), int(h))
            ts = self._next_ts(t_ms)
            mode = self.options.running_mode
            hint = self._hint_box(roi_px, size)
            o = self.options
            rgb = _to_rgb(image_bgr)
            tried: Box | None = None
            if self._roi_active and o.roi_fallback:
                box = self._landmark_box(t_report, size, hint) or hint
                if box is not None:
                    tried = box
                    hands = self._run_crop(self._roi_landmarker(), rgb, box, mode, ts, PATH_ROI)
                    if hands:
                        self._roi_box = box
                        self._remember(t_report, hands)
                        return self._result(t_report, hands, size, PATH_ROI, box)
                self._roi_active = False
            hands = _convert(self._infer(self._full, rgb, mode, ts), None, size, PATH_FULL)
            if hands or not o.roi_fallback:
                self._remember(t_report, hands)
                return self._result(t_report, hands, size, PATH_FULL, None)
            box = self._landmark_box(t_report, size, hint) or hint
            if box is not None and box != tried:
                hands = self._run_crop(self._roi_landmarker(), rgb, box, mode, ts, PATH_ROI)
                if hands:
                    self._roi_active = True
                    self._roi_box = box
                    self._remember(t_report, hands)
                    return self._result(t_report, hands, size, PATH_ROI, box)
            if box is None and o.tile_search:
                tiles = tile_boxes(size, o.tile_grid)
                tile = tiles[self._tile_i % len(tiles)]
                self._tile_i += 1
                hands = self._run_crop(self._tile_landmarker(), rgb, tile, "image", ts, PATH_TILE)
                if hands:
                    self._roi_active = True  # track from here on in a crop around these hands
                    self._roi_box = None
                    self._remember(t_report, hands)
                    return self._result(t_report, hands, size, PATH_TILE, tile)
            return self._result(t_report, [], size, PATH_NONE, None)

    def _run_crop(self, landmarker, rgb: np.ndarray, box: Box, mode: str, ts: int, path: str) -> list[HandObservation]:
        crop = make_crop(rgb, box, self.options.roi_upscale, self.options.roi_max_input_px)
        res = self._infer(landmarker, crop.image, mode, ts)
        return _convert(res, crop, (rgb.shape[1], rgb.shape[0]), path)

    # ---- live stream -------------------------------------------------------
    def detect_async(self, image_bgr: np.ndarray, t_ms: int, roi_px: tuple[int, int, int, int] | None = None) -> None:
        """LIVE_STREAM mode: send a frame; the result arrives at ``options.result_callback``.

        MediaPipe may drop frames to keep latency low. The ROI recovery works
        across frames here: an empty full-frame result switches the next
        frames to a crop around the last hands (or the hint), and back.
        """
        if self.options.running_mode != "live_stream":
            raise RuntimeError("detect_async needs running_mode 'live_stream'")
        if image_bgr is None or image_bgr.size == 0:
            return
        with self._lock:
            h, w = image_bgr.shape[:2]
            size = (int(w), int(h))
            ts = self._next_ts(t_ms)
            hint = self._hint_box(roi_px, size)
            rgb = _to_rgb(image_bgr)
            crop = None
            path = PATH_FULL
            if self._roi_active and self.options.roi_fallback:
                box = self._landmark_box(int(t_ms), size, hint) or hint
                if box is not None:
                    crop = make_crop(rgb, box, self.options.roi_upscale, self.options.roi_max_input_px)
                    self._roi_box = box
                    path = PATH_ROI
                else:
                    self._roi_active = False
            self._pending[ts] = (int(t_ms), crop, size, path)
            if len(self._pending) > 64:  # results MediaPipe dropped never come back
                for k in sorted(self._pending)[:-64]:
                    del self._pending[k]
            mp, _, _ = _mp()
            data = crop.image if crop is not None else rgb
            self.stats["inferences"] += 1
            self._full.detect_async(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(data)), ts)

    def _on_live_result(self, mp_result, _image, ts: int) -> None:
        with self._lock:
            t_ms, crop, size, path = self._pending.pop(ts, (ts, None, (0, 0), PATH_FULL))
            hands = _convert(mp_result, crop, size, path)
            if hands:
                self._remember(t_ms, hands)
            elif self.options.roi_fallback:
                # Nothing in the full frame: try a crop next time; nothing in the crop: back to the full frame.
                self._roi_active = path == PATH_FULL and self._last_hands_t is not None
            result = self._result(t_ms, hands, size, path, crop.box if crop else None)
        cb = self.options.result_callback
        if cb is not None:
            cb(result)

    # ---- lifecycle ---------------------------------------------------------
    def reset(self) -> None:
        """Forget all tracking state (e.g. before a new video): recreates the MediaPipe graphs."""
        with self._lock:
            self._close_landmarkers()
            self._full = self._main_landmarker()
            self._last_ts = -1
            self._last_hands, self._last_hands_t = [], None
            self._roi_box, self._roi_active, self._tile_i = None, False, 0
            self._pending.clear()

    def _close_landmarkers(self) -> None:
        _close_all(self._open)
        self._roi_lm = self._tile_lm = None

    def close(self) -> None:
        if self._full is not None:
            self._close_landmarkers()
            self._full = None

    def __enter__(self) -> "HandTracker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def create_tracker(options: HandTrackerOptions | None = None, backend: str = "mediapipe", onnx_options=None):
    """The hand tracker of ``backend``: "mediapipe" (``HandTracker``) or "onnx" (``vision.onnx_tracker``).

    Both take the same ``HandTrackerOptions`` and return the same
    ``HandTrackingResult``; ``onnx_options`` (``OnnxBackendOptions``) picks
    the ONNX Runtime execution providers. The ONNX tracker also offers
    ``detect_many`` (several sources in one batched call). Raises
    ``models.ModelError`` when the model cannot be had, ``ValueError`` for an
    unknown backend.
    """
    if backend == "mediapipe":
        return HandTracker.create_from_options(options)
    if backend == "onnx":
        from vision.onnx_tracker import OnnxHandTracker

        return OnnxHandTracker.create_from_options(options, onnx_options)
    raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
