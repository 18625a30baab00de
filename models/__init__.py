"""Model registry, fetch and cache (stdlib + numpy only).

Why a layer of its own: MediaPipe 1.x ships no model files, so every entry
point (live coach, offline analysis, benchmarks, tests) needs the same
verified ``hand_landmarker.task``. ``ensure_model()`` is the one way to get it.
"""
from __future__ import annotations

from models.errors import ChecksumError, ModelError, SourceUnavailable
from models.fetch import (
    CachedModel,
    FetchOptions,
    cache_status,
    check_model_file,
    ensure_model,
    fetch_model,
    list_models,
)
from models.paths import default_cache_dir
from models.registry import ModelSpec, Source, default_specs, get_spec, load_registry

__all__ = [
    "CachedModel",
    "ChecksumError",
    "FetchOptions",
    "ModelError",
    "ModelSpec",
    "Source",
    "SourceUnavailable",
    "cache_status",
    "check_model_file",
    "default_cache_dir",
    "default_specs",
    "ensure_model",
    "fetch_model",
    "get_spec",
    "list_models",
    "load_registry",
]
