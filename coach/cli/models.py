"""``cpr-coach models fetch|list|path``: provision the MediaPipe model files.

Also the shared ``--model PATH`` flag: every command that runs the hand
tracker calls ``add_model_arguments`` and ``resolve_model_path`` so the
offline way out is the same everywhere.
"""
from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="fetch and list the model files (MediaPipe hand landmarker)")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION")
    msub.required = True

    f = msub.add_parser(
        "fetch",
        help="download or build the model files into the cache (default: the models the coach needs)",
        description="Try the official download first (short connect timeout), then build the bundle from the "
        "mediapipe==0.10.21 wheel via `pip download`. Every file is checked against its pinned sha256.",
    )
    f.add_argument("names", nargs="*", metavar="NAME", help="registry names (see `cpr-coach models list`); 'all' for every model")
    f.add_argument("--force", action="store_true", help="fetch again even when a verified file is cached")
    f.add_argument("--cache-dir", metavar="DIR", help="cache folder (default: $CPR_COACH_MODELS or the user cache)")
    f.add_argument("--source", choices=("url", "wheel"), action="append", help="only try this kind of source (repeatable)")
    f.add_argument("--find-links", metavar="DIR_OR_URL", action="append", default=[], help="passed to pip: a folder or page with the wheel (offline labs)")
    f.add_argument("--no-index", action="store_true", help="passed to pip: do not use any package index")
    f.add_argument("--connect-timeout", type=float, default=3.0, metavar="S", help="connect timeout of the official download (default 3 s)")
    f.add_argument("--quiet", action="store_true", help="no progress output")
    f.add_argument("--onnx", action="store_true",
                   help="also convert the hand bundle's TFLite files to ONNX in the cache (for `--backend onnx`)")
    f.set_defaults(func=_fetch)

    ls = msub.add_parser("list", help="show every known model and what the cache holds")
    ls.add_argument("--cache-dir", metavar="DIR", help="cache folder (default: $CPR_COACH_MODELS or the user cache)")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.set_defaults(func=_list)

    pa = msub.add_parser("path", help="print the verified cached file of a model (fails if absent or corrupt)")
    pa.add_argument("name", nargs="?", default="hand_landmarker")
    pa.add_argument("--cache-dir", metavar="DIR")
    pa.set_defaults(func=_path)


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The shared flags of commands that track hands: ``--model PATH`` and ``--model-variant``."""
    parser.add_argument("--model", metavar="PATH", help="a hand_landmarker.task file to use instead of the cached one")
    parser.add_argument("--model-variant", choices=("full", "lite"), default="full", help="which cached hand model (default full)")


def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    """``--backend mediapipe|onnx`` and ``--providers``: which hand tracker runs (see ``onnx_options_from_args``)."""
    parser.add_argument("--backend", choices=("mediapipe", "onnx"), default="mediapipe",
                        help="hand tracker: MediaPipe (default) or the same models on ONNX Runtime (converted on first use)")
    parser.add_argument("--providers", choices=("auto", "cpu", "cuda", "tensorrt"), default="auto",
                        help="ONNX Runtime execution providers for --backend onnx (default auto: GPU when offered, else CPU)")


def onnx_options_from_args(args: argparse.Namespace):
    """``OnnxBackendOptions`` from ``--providers`` when ``--backend onnx``; None otherwise."""
    if getattr(args, "backend", "mediapipe") != "onnx":
        return None
    from vision.onnx_tracker import OnnxBackendOptions

    return OnnxBackendOptions(providers=getattr(args, "providers", "auto"))


def resolve_model_path(args: argparse.Namespace, fetch: bool = True):
    """``--model PATH`` if given (validated), else the cached model (fetched on first use). Its errors (ModelError) reach the user as one line through ``main``."""
    from models import check_model_file, ensure_model

    if getattr(args, "model", None):
        return check_model_file(args.model)
    return ensure_model("hand_landmarker", variant=getattr(args, "model_variant", None) or "full", fetch=fetch)


def _fetch(args: argparse.Namespace) -> int:
    from models import FetchOptions, default_specs, fetch_model, get_spec, load_registry

    if not args.names:
        specs = default_specs()
    elif args.names == ["all"]:
        specs = list(load_registry().values())
    else:
        specs = [get_spec(n) for n in args.names]
    pip_args: list[str] = []
    for fl in args.find_links:
        pip_args += ["--find-links", fl]
    if args.no_index:
        pip_args.append("--no-index")
    opts = FetchOptions(
        connect_timeout_s=args.connect_timeout,
        pip_args=tuple(pip_args),
        kinds=tuple(args.source) if args.source else None,
        force=args.force,
    )
    for spec in specs:
        status = fetch_model(spec, args.cache_dir, progress=False if args.quiet else None, options=opts)
        origin = status.source.label if status.source else "?"
        print(f"{spec.name}: ok  {status.path}  ({origin})")
        if args.onnx and spec.name == "hand_landmarker":  # the ONNX backend tracks hands; pose stays on MediaPipe
            from models.onnx_cache import describe, ensure_onnx_models

            paths = ensure_onnx_models(status.path, args.cache_dir, members=spec.members, force=args.force)
            for line in describe(paths):
                print(f"  onnx: {line}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from models import list_models
    from models.paths import resolve_cache_dir

    rows = list_models(args.cache_dir)
    if args.json:
        out = [
            {
                "name": m.spec.name,
                "variant": m.spec.variant,
                "file": m.spec.file,
                "state": m.state,
                "path": str(m.path),
                "size_bytes": m.size,
                "sha256": m.sha256,
                "source": m.source.label if m.source else None,
                "licence": m.spec.licence,
            }
            for m in rows
        ]
        json.dump({"cache_dir": str(resolve_cache_dir(args.cache_dir)), "models": out}, sys.stdout, indent=2)
        print()
        return 0
    print(f"cache: {resolve_cache_dir(args.cache_dir)}")
    width = max(len(m.spec.name) for m in rows)
    for m in rows:
        size = f"{m.size / 1e6:.1f} MB" if m.size else "-"
        detail = m.source.label if m.source else ("run `cpr-coach models fetch " + m.spec.name + "`" if m.state == "missing" else "sha256 matches no pin: fetch --force")
        print(f"  {m.spec.name:<{width}}  {m.state:<7}  {size:>8}  {m.spec.licence:<10}  {detail}")
    return 0


def _path(args: argparse.Namespace) -> int:
    from models import ensure_model

    print(ensure_model(args.name, cache_dir=args.cache_dir, fetch=False))
    return 0
