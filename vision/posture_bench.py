"""``cpr-coach bench posture``: what the pose model costs, and what it costs the hand path.

Prints, on this machine (ratios within one run; the machine may be loaded):
1. the pose model's per-frame time in VIDEO mode at 640x480 and 1280x720
   (median and p95; frames are the licensed sample photos, letterboxed and
   shifted a few pixels per frame so the tracker sees motion);
2. the posture worker at 10 Hz: its busy share of one core and the process's
   CPU share while a 30 fps loop submits frames;
3. the hand path (hand tracker + compression point over the asl clip at
   1280x720) without and with the worker running at 10 Hz: fps and latency p95,
   blocks alternated (A B A B) so load changes hit both alike.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

from vision.bench import letterbox, shared_data_dir

RESOLUTIONS = ((640, 480), (1280, 720))


def _pose_frames(size_wh: tuple[int, int], n: int) -> list[np.ndarray]:
    import cv2

    from models.sample_images import sample_image_path

    base = [letterbox(cv2.imread(str(sample_image_path(name))), size_wh) for name in ("astronaut", "camera")]
    out = []
    for i in range(n):
        img = base[(i // (n // 2 or 1)) % 2]
        dx, dy = int(3 * np.sin(i / 3)), int(2 * np.cos(i / 4))  # a little motion, as a handheld clip
        out.append(np.roll(img, (dy, dx), axis=(0, 1)))
    return out


def _pct(a: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(a), q)) if a else float("nan")


def _pose_cost(n: int) -> None:
    from vision.pose import PoseTracker

    print(f"{'resolution':>11} {'frames':>7} {'median ms':>10} {'p95 ms':>8} {'cpu ms/frame':>13} {'found':>6}")
    for size in RESOLUTIONS:
        frames = _pose_frames(size, n)
        with PoseTracker.create_from_options() as pose:
            pose.process(frames[0], 0)  # warm-up (graph start)
            times, found = [], 0
            cpu0 = time.process_time()
            for i, f in enumerate(frames):
                t0 = time.perf_counter()
                found += pose.process(f, 100 + i * 100) is not None
                times.append((time.perf_counter() - t0) * 1000)
            cpu = (time.process_time() - cpu0) * 1000 / len(frames)
        print(f"{size[0]:>5}x{size[1]:<5} {len(frames):>7} {_pct(times, 50):>10.1f} {_pct(times, 95):>8.1f} {cpu:>13.1f} {found:>6}")


def _hand_frames(n: int) -> list[np.ndarray]:
    from vision.sources import open_source

    clip = shared_data_dir() / "hands" / "asl_hand.25fps.mp4"
    if not clip.is_file():
        from vision.source_base import SourceError

        raise SourceError(f"benchmark clip {clip} is absent (set CPR_TEST_DATA to the shared data folder)")
    frames = []
    with open_source(clip) as src:
        for f in src:
            frames.append(letterbox(f.image, (1280, 720)))
            if len(frames) >= n:
                break
    return frames


def _hand_block(tracker, point, frames, t0_ms: int, worker=None, pose_frames=None) -> list[float]:
    """Per-frame latency (ms) of the hand path; with a worker, every frame is also submitted (as the live loop would)."""
    lat = []
    for i, f in enumerate(frames):
        t_ms = t0_ms + i * 33
        t0 = time.perf_counter()
        point.update(tracker.detect(f, t_ms))
        if worker is not None:
            worker.submit(pose_frames[i % len(pose_frames)], t_ms)
        lat.append((time.perf_counter() - t0) * 1000)
        # pace at 30 fps so the worker runs at its real 10 Hz share, not flat out
        spare = 0.033 - (time.perf_counter() - t0)
        if spare > 0:
            time.sleep(spare)
    return lat


def main(args: argparse.Namespace) -> int:
    from vision.posture_worker import PostureWorker
    from vision.compression_point import CompressionPointTracker
    from vision.tracker import HandTracker

    quick = bool(getattr(args, "quick", False))
    n_pose = 20 if quick else 60
    print(f"posture benchmark: pose_landmarker (full) VIDEO mode; cpus: {os.cpu_count()}; {'quick' if quick else 'full'} run")
    print()
    print("1. pose model per frame")
    _pose_cost(n_pose)

    print()
    print("2. hand path at 1280x720, paced at 30 fps, without / with the posture worker at 10 Hz")
    hand = _hand_frames(60 if quick else 150)
    pose_frames = _pose_frames((1280, 720), 10)
    blocks = 2 if quick else 4
    base, withw = [], []
    worker = PostureWorker.start_new()
    busy0, wall0, cpu_w, wall_w = 0.0, 0.0, 0.0, 0.0
    tracker = HandTracker.create_from_options()
    point = CompressionPointTracker()
    try:
        t = 0
        for b in range(blocks):
            base += _hand_block(tracker, point, hand, t)
            t += len(hand) * 33 + 1000
            busy0 = worker.stats["busy_s"]
            c0, w0 = time.process_time(), time.perf_counter()
            withw += _hand_block(tracker, point, hand, t, worker, pose_frames)
            cpu_w += time.process_time() - c0
            wall_w += time.perf_counter() - w0
            wall0 += worker.stats["busy_s"] - busy0
            t += len(hand) * 33 + 1000
    finally:
        tracker.close()
        worker.close()
    fps_a = 1000 / np.mean(base)
    fps_b = 1000 / np.mean(withw)
    print(f"{'':>14} {'fps (compute)':>14} {'p50 ms':>8} {'p95 ms':>8}")
    print(f"{'hands only':>14} {fps_a:>14.1f} {_pct(base, 50):>8.1f} {_pct(base, 95):>8.1f}")
    print(f"{'+ posture':>14} {fps_b:>14.1f} {_pct(withw, 50):>8.1f} {_pct(withw, 95):>8.1f}")
    print(f"p95 latency growth: {_pct(withw, 95) - _pct(base, 95):+.1f} ms (goal < 5 ms); fps ratio {fps_b / fps_a:.1%}")
    print(
        f"posture worker: {worker.stats['processed']} pose frames, busy {wall0 / max(wall_w, 1e-9):.1%} of one core; "
        f"process CPU while both ran: {cpu_w / max(wall_w, 1e-9):.2f} cores"
    )
    print()
    print("fps (compute) = 1000 / mean per-frame hand-path time (the loop is paced at 30 fps; its spare time is slept)")
    return 0

