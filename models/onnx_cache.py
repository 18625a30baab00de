"""Converted ONNX hand models in the cache, made from the verified ``.task`` bundle.

Why converted on the user's machine and never shipped: the TFLite files are
fetched and pinned already (``ensure_model``); the ONNX files follow from
them deterministically, so the cache keeps them beside a small manifest and
redoes the conversion whenever the source member, the converter version or
the ONNX file itself no longer matches. Nothing converted is committed.

Layout: ``<cache>/onnx/<member stem>-<first 12 of the source sha256>.onnx``
and a ``.json`` manifest next to it (source sha256, converter version, ONNX
sha256).

Example::

    paths = ensure_onnx_models(ensure_model("hand_landmarker"))
    paths["hand_landmarks_detector.tflite"]  # -> .../onnx/hand_landmarks_detector-11c272b891e1.onnx
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from models.bundle import bundle_members, read_members
from models.errors import ModelError
from models.integrity import sha256_bytes, sha256_file, short
from models.paths import resolve_cache_dir, write_atomic

HAND_MEMBERS = ("hand_detector.tflite", "hand_landmarks_detector.tflite")


def _cached_ok(onnx_path: Path, manifest: Path, source_sha: str, version: int) -> bool:
    try:
        m = json.loads(manifest.read_text())
        return (m.get("source_sha256") == source_sha and m.get("converter_version") == version
                and onnx_path.is_file() and sha256_file(onnx_path) == m.get("onnx_sha256"))
    except (OSError, ValueError):
        return False


def ensure_onnx_models(bundle: str | os.PathLike[str], cache_dir: str | os.PathLike[str] | None = None,
                       members: tuple[str, ...] = HAND_MEMBERS, force: bool = False) -> dict[str, Path]:
    """Member name -> path of its ONNX conversion, converting what the cache lacks.

    ``bundle`` must already be verified (``ensure_model``) or validated
    (``check_model_file``): the manifest ties each ONNX file to the sha256 of
    the TFLite member it came from. Raises ``ModelError`` (one line).
    """
    from models.tflite2onnx import CONVERTER_VERSION, UnsupportedOpError, convert_tflite

    bundle = Path(bundle)
    try:
        names = set(bundle_members(bundle))
    except Exception:
        raise ModelError(f"{bundle} is not a model bundle (zip)") from None
    missing = [m for m in members if m not in names]
    if missing:
        raise ModelError(f"{bundle} lacks {', '.join(missing)}: cannot convert it to ONNX")
    out_dir = resolve_cache_dir(cache_dir) / "onnx"
    out_dir.mkdir(parents=True, exist_ok=True)
    raw = read_members(bundle, members)
    paths: dict[str, Path] = {}
    for member in members:
        data = raw[member]
        sha = sha256_bytes(data)
        stem = member.rsplit(".", 1)[0]
        onnx_path = out_dir / f"{stem}-{sha[:12]}.onnx"
        manifest = onnx_path.with_suffix(".json")
        if force or not _cached_ok(onnx_path, manifest, sha, CONVERTER_VERSION):
            try:
                onnx_bytes = convert_tflite(data, name=stem)
            except UnsupportedOpError as exc:
                raise ModelError(f"cannot convert {member} of {bundle} to ONNX: {exc}") from None
            except ImportError as exc:
                raise ModelError(f"converting to ONNX needs the 'tflite' and 'onnx' packages ({exc.name} is missing): "
                                 "pip install tflite onnx") from None
            write_atomic(onnx_path, onnx_bytes)
            write_atomic(manifest, json.dumps({
                "source_bundle": str(bundle), "source_member": member, "source_sha256": sha,
                "converter_version": CONVERTER_VERSION, "onnx_sha256": sha256_bytes(onnx_bytes),
            }, indent=1).encode())
        paths[member] = onnx_path
    return paths


def describe(paths: dict[str, Path]) -> list[str]:
    """One line per converted file, for the CLI."""
    return [f"{m} -> {p} (sha256 {short(sha256_file(p))}...)" for m, p in paths.items()]
