"""``cpr-coach bench tracker``: the wrapper's throughput against a bare MediaPipe loop.

Why a ratio: the wrapper must not cost frames (goal: >= 95 % of the bare
loop's fps), measured with the wrapper searching for hands on every frame as
MediaPipe does. A fourth loop is the wrapper as the station runs it (a
missing second hand searched for every ``search_every_frames`` frames,
vision.hand_search): the speed that gains. Both loops see the same pre-decoded frames of the asl clip,
letterboxed to each resolution, in VIDEO mode with the same model and
options; the loops are interleaved frame by frame (see ``_measure``), so
the noisy, shared machine affects all loops alike.
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

RESOLUTIONS = ((640, 480), (1280, 720))
GOAL = 0.95
CLIP = "asl_hand.25fps.mp4"


def shared_data_dir() -> Path:
    """Path helper: ``$CPR_TEST_DATA`` or ``<repo>/../shared/data`` (as the tests use)."""
    env = os.environ.get("CPR_TEST_DATA")
    return Path(env) if env else Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def letterbox(img: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:
    """Fit ``img`` into ``size_wh`` keeping its aspect ratio, padded black (hands keep their shape)."""
    import cv2

    w, h = size_wh
    ih, iw = img.shape[:2]
    s = min(w / iw, h / ih)
    nw, nh = int(round(iw * s)), int(round(ih * s))
    out = np.zeros((h, w, 3), np.uint8)
    x0, y0 = (w - nw) // 2, (h - nh) // 2
    out[y0 : y0 + nh, x0 : x0 + nw] = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)
    return out


def _load(clip: Path, size_wh: tuple[int, int], limit: int | None) -> list[np.ndarray]:
    from vision.sources import open_source

    frames = []
    with open_source(clip) as src:
        for f in src:
            frames.append(letterbox(f.image, size_wh))
            if limit and len(frames) >= limit:
                break
    return frames


def _measure(model: Path, frames: list[np.ndarray], num_hands: int, reps: int) -> dict[str, tuple[float, int]]:
    """fps and frames-with-hands of the three loops, interleaved frame by frame.

    Why interleaved: on a shared machine the load changes by the second;
    timing the bare call, the wrapper call and the wrapper+point call on the
    same frame back to back (order rotating) exposes all three to the same
    load, so the ratio measures the wrapper, not the neighbours.
    """
    import cv2
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    from vision.compression_point import CompressionPointTracker
    from vision.tracker import HandTracker, HandTrackerOptions

    totals = {"bare": 0.0, "wrapper": 0.0, "point": 0.0, "sparse": 0.0}
    found = {"bare": 0, "wrapper": 0, "point": 0, "sparse": 0}
    clock = time.perf_counter
    for rep in range(reps):
        opts = vision.HandLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(model)), running_mode=vision.RunningMode.VIDEO, num_hands=num_hands
        )
        topts = HandTrackerOptions(model_path=model, running_mode="video", num_hands=num_hands, search_every_frames=1)
        sparse_opts = HandTrackerOptions(model_path=model, running_mode="video", num_hands=num_hands)
        with vision.HandLandmarker.create_from_options(opts) as bare, HandTracker.create_from_options(
            topts
        ) as wrapped, HandTracker.create_from_options(topts) as wrapped_p, HandTracker.create_from_options(
            sparse_opts
        ) as sparse:
            cp = CompressionPointTracker()

            def run_bare(img: np.ndarray, t: int) -> bool:
                rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
                return bool(bare.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb), t).hand_landmarks)

            def run_wrapper(img: np.ndarray, t: int) -> bool:
                return wrapped.detect(img, t).n_hands > 0

            def run_point(img: np.ndarray, t: int) -> bool:
                res = wrapped_p.detect(img, t)
                cp.update(res)
                return res.n_hands > 0

            def run_sparse(img: np.ndarray, t: int) -> bool:
                return sparse.detect(img, t).n_hands > 0

            loops = [("bare", run_bare), ("wrapper", run_wrapper), ("point", run_point), ("sparse", run_sparse)]
            for i, img in enumerate(frames):
                k = (i + rep) % len(loops)
                for name, fn in loops[k:] + loops[:k]:
                    t0 = clock()
                    hit = fn(img, i * 40)
                    totals[name] += clock() - t0
                    if rep == 0:
                        found[name] += hit
    n = len(frames) * reps
    return {k: (n / totals[k], found[k]) for k in totals}


def main(args: argparse.Namespace) -> int:
    """Print the report; raises ``SourceError`` (no clip) or ``models.ModelError`` (the CLI prints them)."""
    from models import ensure_model
    from vision.source_base import SourceError

    quick = bool(getattr(args, "quick", False))
    clip = Path(getattr(args, "clip", None) or shared_data_dir() / "hands" / CLIP)
    if not clip.is_file():
        raise SourceError(f"benchmark clip {clip} is absent (set CPR_TEST_DATA to the shared data folder)")
    model = ensure_model("hand_landmarker")
    limit = 100 if quick else None
    reps = 1 if quick else 2
    num_hands = 2
    print(f"tracker benchmark: {getattr(args, 'clip_title', None) or clip.name} ({'first 100' if quick else 'all'} frames, "
          f"letterboxed), VIDEO mode, num_hands={num_hands}")
    print(f"model: {model}   cpus: {os.cpu_count()}   passes: {reps} (loops interleaved frame by frame)")
    print()
    header = (f"{'resolution':>11} {'frames':>7} {'bare fps':>9} {'wrapper fps':>12} {'ratio':>7} {'+point fps':>11} "
              f"{'ratio':>7} {'sparse fps':>11} {'ratio':>7}  goal >= {GOAL:.0%}")
    print(header)
    ok_all = True
    for size in RESOLUTIONS:
        frames = _load(clip, size, limit)
        m = _measure(model, frames, num_hands, reps)
        (b, found_b), (w, found_w), (p, _), (sp, found_s) = m["bare"], m["wrapper"], m["point"], m["sparse"]
        ratio, ratio_p = w / b, p / b
        ok = ratio >= GOAL
        ok_all &= ok
        print(
            f"{size[0]:>5}x{size[1]:<5} {len(frames):>7} {b:>9.1f} {w:>12.1f} {ratio:>7.1%} {p:>11.1f} {ratio_p:>7.1%} "
            f"{sp:>11.1f} {sp / b:>7.1%}  {'ok' if ok else 'BELOW GOAL'}  "
            f"(hands found: bare {found_b}, wrapper {found_w}, sparse {found_s})"
        )
        del frames
    print()
    print("ratio = wrapper fps / bare MediaPipe fps (both searching every frame); +point adds the compression point "
          "per frame;\nsparse = the wrapper as the station runs it: with one hand of two held, palm detection every "
          "10th frame (vision/hand_search.py)")
    return 0 if ok_all else 1
