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
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="run a benchmark and print figures and ratios")
    p.add_argument("target", choices=sorted(TARGETS), help="what to measure")
    p.add_argument("--quick", action="store_true", help="smaller inputs, for a smoke run")
    p.add_argument("--providers", choices=("auto", "cpu", "cuda", "tensorrt"), default="auto",
                   help="onnx target: ONNX Runtime execution providers (default auto)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from coach.cli import CliError
    from models import ModelError
    from vision.source_base import SourceError

    mod, fn = TARGETS[args.target].split(":")
    try:
        return int(getattr(importlib.import_module(mod), fn)(args) or 0)
    except (ModelError, SourceError) as exc:  # no model, no benchmark data: one line, exit 2
        raise CliError(str(exc)) from None
