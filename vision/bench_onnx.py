"""``cpr-coach bench onnx``: the ONNX Runtime backend against MediaPipe, and batching across streams.

Two tables, one run (the machine is shared, so only ratios within a run mean much):

1. one stream: MediaPipe backend vs ONNX backend fps on the same frames
   (VIDEO mode, num_hands=2, interleaved frame by frame like ``bench tracker``),
   with the mean landmark distance between the two;
2. N simultaneous streams (1, 4, 8): each a copy of the clip started at a
   different frame. Per tick every stream has a frame; "sequential" tracks
   them one ``detect`` call after another (MediaPipe: one tracker per
   stream), "batched" hands all N to one ``detect_many`` call (one detector
   batch and one landmark batch). Throughput is frames per second over all
   streams.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

from vision.bench import CLIP, _load, shared_data_dir

SIZE_WH = (1280, 720)
STREAMS = (1, 4, 8)


def _mean_distance(a, b) -> float:
    if not (a.hands and b.hands):
        return float("nan")
    return float(min(np.linalg.norm(h.landmarks_px[:, :2] - a.hands[0].landmarks_px[:, :2], axis=1).mean() for h in b.hands))


def _single(frames: list[np.ndarray], onnx_backend) -> dict:
    from vision.onnx_tracker import OnnxHandTracker
    from vision.tracker import HandTracker, HandTrackerOptions

    opts = HandTrackerOptions(running_mode="video", num_hands=2)
    with HandTracker.create_from_options(opts) as mp, OnnxHandTracker.create_from_options(opts, onnx_backend) as ox:
        total = {"mediapipe": 0.0, "onnx": 0.0}
        dists, found = [], {"mediapipe": 0, "onnx": 0}
        for i, img in enumerate(frames):
            order = [("mediapipe", mp), ("onnx", ox)] if i % 2 == 0 else [("onnx", ox), ("mediapipe", mp)]
            res = {}
            for name, tr in order:
                t0 = time.perf_counter()
                res[name] = tr.detect(img, i * 40)
                total[name] += time.perf_counter() - t0
                found[name] += res[name].n_hands > 0
            dists.append(_mean_distance(res["mediapipe"], res["onnx"]))
        providers = ox.providers
    n = len(frames)
    return {"fps": {k: n / v for k, v in total.items()}, "found": found, "dist_px": float(np.nanmean(dists)),
            "providers": providers}


def _streams(frames: list[np.ndarray], n_streams: int, ticks: int, onnx_backend) -> dict:
    """Frames/s over all streams: MediaPipe sequential, ONNX sequential, ONNX batched."""
    from vision.onnx_tracker import OnnxHandTracker
    from vision.tracker import HandTracker, HandTrackerOptions

    opts = HandTrackerOptions(running_mode="video", num_hands=2)
    step = max(1, len(frames) // max(n_streams, 1))
    mps = [HandTracker.create_from_options(opts) for _ in range(n_streams)]
    seq = OnnxHandTracker.create_from_options(opts, onnx_backend)
    bat = OnnxHandTracker.create_from_options(opts, onnx_backend)
    total = {"mediapipe": 0.0, "onnx": 0.0, "onnx batched": 0.0}
    hands = {k: 0 for k in total}
    try:
        for t in range(-1, ticks):  # tick -1 warms every tracker up (first-run allocations), not counted
            tick = [frames[(t + k * step) % len(frames)] for k in range(n_streams)]
            t_ms = [(t + 1) * 40] * n_streams
            runs = [
                ("mediapipe", lambda: [m.detect(img, (t + 1) * 40) for m, img in zip(mps, tick)]),
                ("onnx", lambda: [seq.detect(img, (t + 1) * 40, stream=k) for k, img in enumerate(tick)]),
                ("onnx batched", lambda: bat.detect_many(tick, t_ms)),
            ]
            for name, fn in runs[t % 3 :] + runs[: t % 3]:
                t0 = time.perf_counter()
                out = fn()
                if t < 0:
                    continue
                total[name] += time.perf_counter() - t0
                hands[name] += sum(r.n_hands for r in out)
    finally:
        for m in mps:
            m.close()
    n = ticks * n_streams
    return {"fps": {k: n / v for k, v in total.items()}, "hands": hands}


def main(args: argparse.Namespace) -> int:
    """Print both tables; raises ``SourceError`` (no clip) or ``models.ModelError`` (the CLI prints them)."""
    from vision.onnx_tracker import OnnxBackendOptions
    from vision.source_base import SourceError

    quick = bool(getattr(args, "quick", False))
    clip = shared_data_dir() / "hands" / CLIP
    if not clip.is_file():
        raise SourceError(f"benchmark clip {clip} is absent (set CPR_TEST_DATA to the shared data folder)")
    backend = OnnxBackendOptions(providers=getattr(args, "providers", None) or "auto")
    frames = _load(clip, SIZE_WH, 60 if quick else 200)
    ticks = 10 if quick else 30
    single = _single(frames, backend)
    print(f"ONNX backend benchmark: {clip.name} letterboxed to {SIZE_WH[0]}x{SIZE_WH[1]}, VIDEO mode, num_hands=2")
    print(f"cpus: {os.cpu_count()}   onnxruntime providers: {', '.join(single['providers'])}")
    print()
    f = single["fps"]
    print(f"one stream, {len(frames)} frames (loops interleaved frame by frame)")
    print(f"  {'backend':<12} {'fps':>7} {'frames with hands':>18}")
    for k in ("mediapipe", "onnx"):
        print(f"  {k:<12} {f[k]:>7.1f} {single['found'][k]:>18}")
    print(f"  onnx / mediapipe fps: {f['onnx'] / f['mediapipe']:.2f}   mean landmark distance: {single['dist_px']:.2f} px")
    print()
    print(f"simultaneous streams, {ticks} ticks each (every stream one frame per tick)")
    print(f"  {'streams':>7} {'mediapipe fps':>14} {'onnx fps':>9} {'onnx batched fps':>17} {'batched/sequential':>19} "
          f"{'batched/mediapipe':>18} {'per stream (batched)':>21}")
    for n in STREAMS:
        r = _streams(frames, n, ticks, backend)["fps"]
        print(f"  {n:>7} {r['mediapipe']:>14.1f} {r['onnx']:>9.1f} {r['onnx batched']:>17.1f} "
              f"{r['onnx batched'] / r['onnx']:>19.2f} {r['onnx batched'] / r['mediapipe']:>18.2f} {r['onnx batched'] / n:>21.1f}")
    print()
    print("fps = frames tracked per second over all streams; batched = one detect_many call per tick.")
    return 0
