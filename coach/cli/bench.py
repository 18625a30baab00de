"""``cpr-coach bench TARGET``: benchmarks that print figures and ratios.

Why a command and not timed tests: these machines are noisy, so speed is
compared as ratios within one run and reported, never asserted in CI.
"""
from __future__ import annotations

import argparse
import importlib

# target -> "module:function"; each function takes the parsed args and prints its report.
TARGETS: dict[str, str] = {
    "core": "coach.core.bench:main",
    "tracker": "vision.bench:main",
    "onnx": "vision.bench_onnx:main",
    "overlays": "overlays.bench:main",
    "posture": "vision.posture_bench:main",
    "instructor": "overlays.instructor.bench:main",
    "live": "coach.live.bench:main",
    "serve": "coach.live.bench_serve:main",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="run a benchmark and print figures and ratios")
    p.add_argument("target", choices=sorted(TARGETS), help="what to measure")
    p.add_argument("--quick", action="store_true", help="smaller inputs, for a smoke run")
    p.add_argument("--providers", choices=("auto", "cpu", "cuda", "tensorrt"), default="auto",
                   help="onnx target: ONNX Runtime execution providers (default auto)")
    p.add_argument("--no-posture", action="store_true", help="live target: skip the posture off/on comparison")
    p.add_argument("--posture-only", action="store_true", help="live target: only the posture off/on comparison")
    p.add_argument("--posture-blocks", type=int, default=None, metavar="N",
                   help="live target: interleaved off/on/on/off blocks (default 2; --quick: 1)")
    p.add_argument("--posture-thread", action="store_true",
                   help="live target: also run the pose model in a thread of the station's process (the old design)")
    p.set_defaults(func=_run, keep_heap=False)  # bench core measures the default heap first (coach.core.heap)


def _run(args: argparse.Namespace) -> int:
    if args.target != "core":
        from coach.core.heap import keep_freed_heap

        keep_freed_heap()
    mod, fn = TARGETS[args.target].split(":")
    if args.target == "tracker":
        return _tracker(args, getattr(importlib.import_module(mod), fn))
    return int(getattr(importlib.import_module(mod), fn)(args) or 0)


def _tracker(args: argparse.Namespace, run) -> int:
    """``bench tracker`` on the shared asl clip, or on a fresh clone on the demo's virtual camera."""
    import tempfile
    from pathlib import Path

    from vision.bench import CLIP, shared_data_dir

    if (shared_data_dir() / "hands" / CLIP).is_file():
        return int(run(args) or 0)
    from coach.demo.run import render_camera_clip
    from coach.demo.scenario import demo_script
    from coach.demo.scene import CameraSpec

    with tempfile.TemporaryDirectory(prefix="cpr-bench-tracker-") as tmp:
        clip = Path(tmp) / "virtual-camera.mp4"
        cam = CameraSpec(width_px=1280, height_px=720)
        render_camera_clip(clip, demo_script(4.0 if args.quick else 10.0, seed=3, fps=cam.fps), cam)
        args.clip = clip
        args.clip_title = f"the demo's virtual camera ({shared_data_dir() / 'hands' / CLIP} is absent)"
        return int(run(args) or 0)
