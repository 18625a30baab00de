"""Hand tracking on ONNX Runtime: MediaPipe's hand landmarker pipeline, every step ours.

Why beside the MediaPipe backend: MediaPipe's Python package runs on the
CPU only (Linux) and hides its graph. With the two models converted to ONNX
(``models.onnx_cache``) the same pipeline runs on any ONNX Runtime
execution provider, and one process can batch many cameras:

1. palm detection on the frame letterboxed to 192 x 192 (``vision.palm_anchors``:
   SSD anchors, decoding, weighted NMS), skipped while tracking holds
   ``num_hands`` hands (VIDEO mode, as the Tasks graph does);
2. a rotated hand ROI per palm, or from the previous frame's landmarks
   (``vision.hand_rect``), new palms kept only where they overlap no tracked hand;
3. the landmark model on each 224 x 224 crop, every hand of every source in
   ONE batched call; hands under ``min_hand_presence_confidence`` dropped,
   duplicates removed as MediaPipe does;
4. landmarks mapped back to frame pixels, world landmarks turned by the ROI.

Same interface and observations as ``vision.tracker.HandTracker``
(``create_from_options(HandTrackerOptions)``, ``detect``, ``detect_async``,
``reset``, ``close``) plus ``detect_many`` for several sources at once, each
keeping its own tracking state under a stream key.

Low contrast: when a frame yields no hand, the palm detector retries on a
crop around the previous hands or the caller's ``roi_px`` (else one tile of a
3 x 3 search per frame); the crop is resampled straight to 192 px, so the
hand is seen at the frame's full resolution. The landmarks always come from
the full-resolution frame.

Example::

    tracker = OnnxHandTracker.create_from_options(HandTrackerOptions(running_mode="video"))
    res = tracker.detect(frame_bgr, t_ms)
    results = tracker.detect_many([cam0, cam1], [t_ms, t_ms], streams=["bay1", "bay2"])
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Hashable, Sequence

import cv2
import numpy as np

from models import ModelError, check_model_file, ensure_model
from vision import hand_geometry as hg
from vision.hand_rect import RotatedRect, crop, project, rect_from_landmarks, rect_from_palm, rotate_world, square_rect
from vision.observations import PATH_FULL, PATH_NONE, PATH_ROI, PATH_TILE, HandObservation, HandTrackingResult
from vision.palm_anchors import PalmDetectorOptions, decode, iou, ssd_anchors, weighted_nms
from vision.roi import Box, hint_box, keeps_roi, roi_from_landmarks, tile_boxes
from vision.tracker import RUNNING_MODES, HandTrackerOptions

LANDMARK_INPUT_PX = 224
LANDMARK_NORMALIZE_Z = 0.4  # TensorsToLandmarks' normalize_z for the hand model
LANDMARK_BORDER = cv2.BORDER_REPLICATE
PROVIDER_CHOICES = ("auto", "cpu", "cuda", "tensorrt")
_GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")
_LABELS = ("Right", "Left")  # handedness: the model's score is P(index 0) (hand_landmarks_detector_graph.cc)


@dataclass(frozen=True)
class OnnxBackendOptions:
    """ONNX Runtime settings of ``OnnxHandTracker`` (the tracking options are ``HandTrackerOptions``)."""

    providers: str = "auto"  # "auto": TensorRT/CUDA when the installed onnxruntime offers them, else CPU; or "cpu"|"cuda"|"tensorrt"
    intra_op_threads: int = 0  # threads per inference; 0 lets ONNX Runtime choose (all cores)
    max_batch: int = 32  # crops per landmark-model call; larger batches are split
    detector_max_batch: int = 0  # frames per palm-detector call; 0: 1 on the CPU (measured: batches of 8 cost 1.4x
    # per frame there, the 96x96 activations leave the cache), 16 with a GPU provider


def resolve_providers(choice: str = "auto", available: Sequence[str] | None = None) -> list[str]:
    """Execution providers for ``choice``, always ending with the CPU. Raises ``ValueError`` if not offered."""
    if choice not in PROVIDER_CHOICES:
        raise ValueError(f"providers must be one of {PROVIDER_CHOICES}, not {choice!r}")
    if available is None:
        import onnxruntime as ort

        available = ort.get_available_providers()
    if choice == "cpu":
        return ["CPUExecutionProvider"]
    if choice == "auto":
        return [p for p in _GPU_PROVIDERS if p in available] + ["CPUExecutionProvider"]
    want = {"cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}[choice]
    if want not in available:
        raise ValueError(f"{want} is not offered by the installed onnxruntime (it has {', '.join(available)})")
    return [want] + (["CUDAExecutionProvider"] if want.startswith("Tensorrt") and "CUDAExecutionProvider" in available else []) + [
        "CPUExecutionProvider"]


def _session(path: Path, providers: list[str], threads: int):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")  # idle workers sleep: shared CPUs stay usable
    try:
        return ort.InferenceSession(str(path), sess_options=so, providers=providers)
    except Exception as exc:  # onnxruntime raises its own exception types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"ONNX Runtime cannot load {path}: {first}") from None


@dataclass
class _Stream:
    """Tracking state of one source."""

    last_ts: int = -1
    rects: list[RotatedRect] = field(default_factory=list)  # ROIs for the next frame, from this frame's landmarks
    path: str = PATH_FULL  # how the tracked hands were found (full frame, roi crop or tile)
    box: Box | None = None  # the crop that found them (roi/tile paths)
    last_hands: list[HandObservation] = field(default_factory=list)
    last_hands_t: int | None = None
    roi_box: Box | None = None
    tile_i: int = 0
    since_search: int = 0  # frames since palm detection last ran (see HandTrackerOptions.search_every_frames)


@dataclass
class _Item:
    """One frame of one source on its way through a batch."""

    stream: _Stream
    image: np.ndarray
    size: tuple[int, int]
    t_ms: int
    hint: Box | None
    rects: list[RotatedRect] = field(default_factory=list)
    path: str = PATH_FULL
    box: Box | None = None
    hands: list[HandObservation] = field(default_factory=list)
    next_rects: list[RotatedRect] = field(default_factory=list)


def _duplicates(hands_px: list[np.ndarray]) -> set[int]:
    """HandLandmarksDeduplication: a hand matching an earlier one in >= 10 landmarks (and overlapping) is dropped."""
    def baseline(l):
        d = lambda a, b: float(np.linalg.norm(l[a, :2] - l[b, :2]))
        return max(d(0, 5), d(5, 17), d(17, 0))

    bounds = [np.concatenate([l[:, :2].min(0), l[:, :2].max(0)]) for l in hands_px]
    base = [baseline(l) for l in hands_px]
    kept: list[int] = []
    dropped: set[int] = set()
    for i, li in enumerate(hands_px):
        for j in kept:
            thr = max(base[i], base[j]) * 0.2
            matched = int((np.linalg.norm(li[:, :2] - hands_px[j][:, :2], axis=1) < thr).sum())
            if matched >= 10 and iou(bounds[i], bounds[j][None])[0] > 0.2:
                dropped.add(i)
                break
        else:
            kept.append(i)
    return dropped


class OnnxHandTracker:
    """MediaPipe's hand landmarker on ONNX Runtime, batched across hands and sources. Create with ``create_from_options``."""

    def __init__(self, options: HandTrackerOptions, detector_path: Path, landmarks_path: Path,
                 backend: OnnxBackendOptions | None = None) -> None:
        if options.running_mode not in RUNNING_MODES:
            raise ValueError(f"running_mode must be one of {RUNNING_MODES}, not {options.running_mode!r}")
        if options.running_mode == "live_stream" and options.result_callback is None:
            raise ValueError("running_mode 'live_stream' needs a result_callback")
        self.options = options
        self.backend = backend or OnnxBackendOptions()
        self.providers = resolve_providers(self.backend.providers)
        self._detector = _session(detector_path, self.providers, self.backend.intra_op_threads)
        self._landmarker = _session(landmarks_path, self.providers, self.backend.intra_op_threads)
        self._det_in = self._detector.get_inputs()[0].name
        self._lm_in = self._landmarker.get_inputs()[0].name
        self._palm = PalmDetectorOptions(min_score=options.min_hand_detection_confidence)
        self._anchors = ssd_anchors(self._palm)
        self._lock = threading.Lock()
        self._streams: dict[Hashable, _Stream] = {}
        self.stats = {PATH_FULL: 0, PATH_ROI: 0, PATH_TILE: 0, PATH_NONE: 0, "inferences": 0,
                      "detector_images": 0, "landmark_crops": 0}

    # ---- construction ----------------------------------------------------
    @classmethod
    def create_from_options(cls, options: HandTrackerOptions | None = None,
                            backend: OnnxBackendOptions | None = None) -> "OnnxHandTracker":
        """Resolve the bundle (``model_path`` or the verified cache), convert it to ONNX when the cache lacks it.

        Raises ``models.ModelError`` (one line) when no usable model is available.
        """
        from models.onnx_cache import ensure_onnx_models

        options = options or HandTrackerOptions()
        if options.model_path is not None:
            bundle = check_model_file(options.model_path)
        else:
            bundle = ensure_model("hand_landmarker", variant=options.model_variant, cache_dir=options.cache_dir,
                                  fetch=options.fetch)
        paths = ensure_onnx_models(bundle, options.cache_dir)
        try:
            return cls(options, paths["hand_detector.tflite"], paths["hand_landmarks_detector.tflite"], backend)
        except ValueError as exc:  # an execution provider that is not there
            raise ModelError(str(exc)) from None

    # ---- inference (batched) ---------------------------------------------
    def _run_detector(self, images: list[np.ndarray], squares: list[RotatedRect]) -> list[list[RotatedRect]]:
        """Palm detection on each image's square (letterboxed, zero border): hand ROIs in frame px, best first."""
        s = self._palm.input_size
        chunk = self.backend.detector_max_batch or (1 if self.providers == ["CPUExecutionProvider"] else 16)
        boxes_l, scores_l = [], []
        for start in range(0, len(images), chunk):
            batch = np.stack([crop(img, sq, s, cv2.BORDER_CONSTANT)
                              for img, sq in zip(images[start : start + chunk], squares[start : start + chunk])])
            x = batch[..., ::-1].astype(np.float32) * (1.0 / 255.0)  # BGR -> RGB, [0, 1]
            b, sc = self._detector.run(None, {self._det_in: x})
            boxes_l.append(b)
            scores_l.append(sc)
            self.stats["inferences"] += 1
        boxes, scores = np.concatenate(boxes_l), np.concatenate(scores_l)
        self.stats["detector_images"] += len(images)
        out = []
        for k, sq in enumerate(squares):
            palms = weighted_nms(decode(boxes[k], scores[k, :, 0], self._anchors, self._palm), self._palm.nms_iou)
            x0, y0 = sq.cx_px - sq.w_px / 2, sq.cy_px - sq.h_px / 2
            rects = []
            for b, kp in zip(palms.boxes, palms.keypoints):
                box_px = np.array([x0 + b[0] * sq.w_px, y0 + b[1] * sq.h_px, x0 + b[2] * sq.w_px, y0 + b[3] * sq.h_px])
                rects.append(rect_from_palm(box_px, np.stack([x0 + kp[:, 0] * sq.w_px, y0 + kp[:, 1] * sq.h_px], 1)))
            out.append(rects[: self.options.num_hands])
        return out

    def _run_landmarks(self, items: list[_Item]) -> None:
        """One batched landmark call over every ROI of every item; fills ``hands`` and ``next_rects``."""
        jobs = [(it, r) for it in items for r in it.rects]
        if not jobs:
            return
        n = LANDMARK_INPUT_PX
        outs: list[list[np.ndarray]] = []
        for start in range(0, len(jobs), max(1, self.backend.max_batch)):
            part = jobs[start : start + self.backend.max_batch]
            batch = np.stack([crop(it.image, r, n, LANDMARK_BORDER) for it, r in part])
            x = batch[..., ::-1].astype(np.float32) * (1.0 / 255.0)
            outs.append(self._landmarker.run(None, {self._lm_in: x}))
            self.stats["inferences"] += 1
        screen, presence, handed, world = (np.concatenate([o[i] for o in outs]) for i in range(4))
        self.stats["landmark_crops"] += len(jobs)
        found: dict[int, list[tuple[np.ndarray, np.ndarray, float, RotatedRect]]] = {}
        for k, (it, r) in enumerate(jobs):
            if float(presence[k, 0]) < self.options.min_hand_presence_confidence:
                continue
            norm = screen[k].reshape(21, 3).astype(np.float64) / n
            norm[:, 2] /= LANDMARK_NORMALIZE_Z
            px = project(norm, r)
            wl = rotate_world(world[k].reshape(21, 3).astype(np.float64), r)
            found.setdefault(id(it), []).append((px, wl, float(handed[k, 0]), r))
        for it in items:
            hands = found.get(id(it), [])
            drop = _duplicates([h[0] for h in hands]) if len(hands) > 1 else set()
            it.hands, it.next_rects = [], []
            for i, (px, wl, p_right, _) in enumerate(hands):
                if i in drop:
                    continue
                label, score = (_LABELS[0], p_right) if p_right >= 0.5 else (_LABELS[1], 1.0 - p_right)
                it.hands.append(HandObservation(px, wl, label, score, it.path))
                it.next_rects.append(rect_from_landmarks(px))

    # ---- the ROI recovery (low contrast) ------------------------------------
    def _hint_box(self, roi_px, size_wh) -> Box | None:
        return hint_box(roi_px if roi_px is not None else self.options.roi_px, size_wh, self.options.roi_min_side_px)

    def _recovery_box(self, it: _Item) -> tuple[Box, str] | None:
        st, o = it.stream, self.options
        if st.last_hands and st.last_hands_t is not None and it.t_ms - st.last_hands_t <= o.roi_memory_ms:
            bbox = hg.bbox_xy(np.stack([h.landmarks_px for h in st.last_hands]))
            if st.roi_box is not None and keeps_roi(st.roi_box, bbox, o.roi_hand_scale):
                return st.roi_box, PATH_ROI
            return roi_from_landmarks(bbox, it.size, o.roi_hand_scale, o.roi_min_side_px), PATH_ROI
        if it.hint is not None:
            return it.hint, PATH_ROI
        if o.tile_search:
            tiles = tile_boxes(it.size, o.tile_grid)
            st.tile_i += 1
            return tiles[(st.tile_i - 1) % len(tiles)], PATH_TILE
        return None

    def _recover(self, items: list[_Item]) -> None:
        """Palm detection again, on a crop, for the items that found nothing in the whole frame."""
        todo = []
        for it in items:
            found = self._recovery_box(it)
            if found is not None:
                it.box, it.path = found
                todo.append(it)
        if not todo:
            return
        rects = self._run_detector([it.image for it in todo], [square_rect(it.size, it.box) for it in todo])
        for it, r in zip(todo, rects):
            it.rects = r
        self._run_landmarks(todo)

    # ---- the per-frame pipeline ----------------------------------------------
    def _stream(self, key: Hashable) -> _Stream:
        if key not in self._streams:
            self._streams[key] = _Stream()
        return self._streams[key]

    def detect_many(self, images: Sequence[np.ndarray], t_ms: Sequence[int | None] | None = None,
                    roi_px: Sequence[tuple[int, int, int, int] | None] | None = None,
                    streams: Sequence[Hashable] | None = None) -> list[HandTrackingResult]:
        """Hands in one frame from each of several sources, batched: one detector and one landmark call for all.

        ``streams`` names each frame's source (default 0, 1, 2, ...); each
        keeps its own tracking state and timestamps, so a server calls this
        once per tick with the latest frame of every camera.
        """
        if self.options.running_mode == "live_stream":
            raise RuntimeError("this tracker runs in live_stream mode: use detect_async")
        n = len(images)
        t_list = list(t_ms) if t_ms is not None else [None] * n
        roi_list = list(roi_px) if roi_px is not None else [None] * n
        keys = list(streams) if streams is not None else list(range(n))
        if not (len(t_list) == len(roi_list) == len(keys) == n):
            raise ValueError("detect_many: images, t_ms, roi_px and streams must have the same length")
        if len(set(keys)) != n:
            raise ValueError("detect_many: each stream may appear once per call")
        with self._lock:
            return self._detect_locked(images, t_list, roi_list, keys)

    def _detect_locked(self, images, t_list, roi_list, keys) -> list[HandTrackingResult]:
        video = self.options.running_mode != "image"
        results: list[HandTrackingResult | None] = [None] * len(images)
        items: list[tuple[int, _Item]] = []
        for k, (img, t, roi, key) in enumerate(zip(images, t_list, roi_list, keys)):
            st = self._stream(key)
            t_report = int(t) if t is not None else st.last_ts + 1
            st.last_ts = max(st.last_ts + 1, t_report)
            if img is None or img.size == 0:  # a source's lost marker
                results[k] = self._result(t_report, [], (0, 0), PATH_NONE, None)
                continue
            if img.dtype != np.uint8:
                raise ValueError(f"expected a uint8 BGR image, got dtype {img.dtype}")
            if img.ndim == 2 or img.shape[2] != 3:
                img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR if img.ndim == 2 else cv2.COLOR_BGRA2BGR)
            size = (int(img.shape[1]), int(img.shape[0]))
            it = _Item(st, img, size, t_report, self._hint_box(roi, size))
            if video:
                it.rects = list(st.rects)
                it.path, it.box = (st.path, st.box) if st.rects else (PATH_FULL, None)
            items.append((k, it))
        # 1. palm detection where tracking holds no hand, and every search_every_frames frames where it holds
        #    some but fewer than num_hands (vision.hand_search says why)
        every = max(int(self.options.search_every_frames), 1)
        need = []
        for _, it in items:
            st = it.stream
            st.since_search += 1
            if len(it.rects) < self.options.num_hands and (not it.rects or st.since_search >= every):
                need.append(it)
                st.since_search = 0
        if need:
            det = self._run_detector([it.image for it in need], [square_rect(it.size) for it in need])
            for it, palms in zip(need, det):
                if not it.rects:
                    it.path, it.box = PATH_FULL, None
                for r in palms:  # new palms only where no tracked hand is (IoU > min_tracking_confidence)
                    if all(iou(r.aabb(), q.aabb()[None])[0] <= self.options.min_tracking_confidence for q in it.rects):
                        it.rects.append(r)
                it.rects = it.rects[: self.options.num_hands]
        # 2. landmarks for every ROI of every source, one batch
        self._run_landmarks([it for _, it in items])
        # 3. nothing anywhere: a crop around the last hands, the hint, or a tile
        if self.options.roi_fallback:
            self._recover([it for _, it in items if not it.hands])
        for k, it in items:
            st = it.stream
            st.rects = it.next_rects if video else []
            if it.hands:
                st.path, st.box = it.path, it.box
                st.last_hands, st.last_hands_t = it.hands, it.t_ms
                if it.path == PATH_ROI:
                    st.roi_box = it.box
            results[k] = self._result(it.t_ms, it.hands, it.size, it.path, it.box)
        return results  # type: ignore[return-value]

    def _result(self, t_ms: int, hands, size_wh, path: str, box: Box | None) -> HandTrackingResult:
        path = path if hands else PATH_NONE
        self.stats[path] += 1
        return HandTrackingResult(t_ms, hands, size_wh, path, box if hands and path != PATH_FULL else None)

    def detect(self, image_bgr: np.ndarray, t_ms: int | None = None, roi_px: tuple[int, int, int, int] | None = None,
               stream: Hashable = 0) -> HandTrackingResult:
        """Hands in one BGR frame (``HandTracker.detect``'s contract): ``detect_many`` with one source."""
        return self.detect_many([image_bgr], [t_ms], [roi_px], [stream])[0]

    def detect_async(self, image_bgr: np.ndarray, t_ms: int, roi_px: tuple[int, int, int, int] | None = None) -> None:
        """LIVE_STREAM mode: runs the frame now and hands the result to ``options.result_callback``.

        Synchronous on purpose: the caller's capture thread already drops
        stale frames, and a result arrives before the next frame is sent.
        """
        if self.options.running_mode != "live_stream":
            raise RuntimeError("detect_async needs running_mode 'live_stream'")
        if image_bgr is None or image_bgr.size == 0:
            return
        with self._lock:
            res = self._detect_locked([image_bgr], [t_ms], [roi_px], [0])[0]
        self.options.result_callback(res)

    # ---- lifecycle ---------------------------------------------------------
    def reset(self, stream: Hashable | None = None) -> None:
        """Forget tracking state: of one stream, or of all (e.g. before a new video)."""
        with self._lock:
            if stream is None:
                self._streams.clear()
            else:
                self._streams.pop(stream, None)

    def close(self) -> None:
        self._detector = self._landmarker = None
        self._streams.clear()

    def __enter__(self) -> "OnnxHandTracker":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
