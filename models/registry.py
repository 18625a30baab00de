"""The model registry: which files exist, where they come from, what they hash to.

Why data, not code: adding a model (the pose landmarkers, a newer hand
bundle) should be an edit to ``registry.json`` with its pins, reviewed like
any other change, while the fetch logic stays the same.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from models.errors import ModelError


@dataclass(frozen=True)
class WheelMember:
    """One file taken out of a wheel into a bundle."""

    name: str  # name inside the bundle
    path: str  # path inside the wheel
    sha256: str  # of the file as it is in the wheel (before any transform)
    transform: str | None = None  # a named conversion applied after the check (models/tflite_metadata.py)


@dataclass(frozen=True)
class Source:
    """One place a model can come from. ``kind`` is "url" or "wheel"."""

    kind: str
    label: str
    sha256: str  # of the file that ends up in the cache
    size: int | None = None
    url: str | None = None  # kind == "url" (http, https or file)
    requirement: str | None = None  # kind == "wheel", e.g. "mediapipe==0.10.21"
    python_version: str | None = None
    platform: str | None = None
    members: tuple[WheelMember, ...] = ()


@dataclass(frozen=True)
class ModelSpec:
    """A model the cache can hold, with every source that may provide it."""

    name: str
    family: str
    variant: str
    file: str
    description: str
    licence: str
    members: tuple[str, ...]
    sources: tuple[Source, ...]
    default: bool = False
    licence_url: str | None = None

    @property
    def accepted_sha256(self) -> dict[str, Source]:
        """sha256 -> the source that produces it: any of these is a valid cached file."""
        return {s.sha256: s for s in self.sources}


def _source(d: dict[str, Any], model: str) -> Source:
    kind = d.get("kind")
    if kind not in ("url", "wheel"):
        raise ModelError(f"model registry: {model} has a source of unknown kind {kind!r}")
    if not isinstance(d.get("sha256"), str) or len(d["sha256"]) != 64:
        raise ModelError(f"model registry: {model} source {d.get('label', kind)!r} has no valid sha256 pin")
    members = tuple(
        WheelMember(m["name"], m["path"], m["sha256"], m.get("transform")) for m in d.get("members", ())
    )
    return Source(
        kind=kind,
        label=d.get("label", kind),
        sha256=d["sha256"].lower(),
        size=d.get("size"),
        url=d.get("url"),
        requirement=d.get("requirement"),
        python_version=d.get("python_version"),
        platform=d.get("platform"),
        members=members,
    )


def parse_registry(data: dict[str, Any]) -> dict[str, ModelSpec]:
    """Build specs from the registry's JSON structure (also used by tests with their own pins)."""
    if data.get("schema") != 1:
        raise ModelError(f"model registry: unsupported schema {data.get('schema')!r} (expected 1)")
    specs: dict[str, ModelSpec] = {}
    for name, d in data["models"].items():
        specs[name] = ModelSpec(
            name=name,
            family=d.get("family", name),
            variant=d.get("variant", "default"),
            file=d["file"],
            description=d.get("description", ""),
            licence=d.get("licence", "unknown"),
            licence_url=d.get("licence_url"),
            members=tuple(d.get("members", ())),
            sources=tuple(_source(s, name) for s in d["sources"]),
            default=bool(d.get("default", False)),
        )
    return specs


@lru_cache(maxsize=1)
def load_registry() -> dict[str, ModelSpec]:
    """The registry shipped with the package (``models/registry.json``)."""
    text = resources.files("models").joinpath("registry.json").read_text(encoding="utf-8")
    return parse_registry(json.loads(text))


def get_spec(name: str = "hand_landmarker", variant: str | None = None) -> ModelSpec:
    """Look a model up by name, or by family + variant (``"hand_landmarker", variant="lite"``)."""
    reg = load_registry()
    if variant is not None:
        for spec in reg.values():
            if (spec.family == name or spec.name == name) and spec.variant == variant:
                return spec
        variants = sorted(s.variant for s in reg.values() if s.family == name)
        raise ModelError(f"unknown variant {variant!r} of model {name!r} (known: {', '.join(variants) or 'none'})")
    if name in reg:
        return reg[name]
    if f"{name}_landmarker" in reg:  # short names: `cpr-coach models fetch pose`
        return reg[f"{name}_landmarker"]
    raise ModelError(f"unknown model {name!r} (known: {', '.join(sorted(reg))})")


def default_specs() -> list[ModelSpec]:
    """Models ``cpr-coach models fetch`` provides when no name is given."""
    return [s for s in load_registry().values() if s.default]
