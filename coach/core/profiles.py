"""Guideline profiles, loaded from the one data file that holds guideline numbers.

Why a data file: guideline numbers change every five years and differ between
adult, child and infant. Keeping them out of the code means a reviewer checks one
file against the guideline text, and no rule ever carries a stray literal.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

GUIDELINES_PATH = Path(__file__).resolve().parent.parent / "data" / "guidelines.json"


@dataclass(frozen=True)
class Band:
    """A closed target interval [min, max]."""

    min: float
    max: float

    def contains(self, value: float) -> bool:
        return self.min <= value <= self.max


@dataclass(frozen=True)
class Ratio:
    """Compressions-to-breaths cycle, e.g. 30:2."""

    compressions: int
    breaths: int


@dataclass(frozen=True)
class FeedbackRuns:
    """Hysteresis of the coach: runs of compressions that raise or clear a prompt."""

    on_run: int
    off_run: int
    pause_warn_s: float


@dataclass(frozen=True)
class PostureThresholds:
    """Rescuer posture bands (the file's top-level ``posture`` block, with its source)."""

    elbow_good_min_deg: float  # smoothed elbow angle at or above this: locked
    elbow_bent_below_deg: float  # below this: bent ("Lock your elbows"); between: acceptable
    smooth_frames: int  # elbow angles are averaged over this many pose frames
    shoulder_offset_max_mm: float  # shoulders further than this from over the hands: "Shoulders over your hands"
    min_confidence: float  # figures with a lower confidence are no evidence


@dataclass(frozen=True)
class Profile:
    """One guideline profile (adult, child, ...), with explicit units."""

    name: str
    title: str
    rate_cpm: Band
    rate_target_cpm: float
    depth_mm: Band
    recoil_residual_max_mm: float
    pause_max_s: float
    ccf_min: float
    ccf_goal: float
    ratio: Ratio | None  # None: compression-only CPR, no breath prompts
    placement_tolerance_mm: float
    feedback: FeedbackRuns
    posture: PostureThresholds | None = None  # None: no posture coaching (file without a posture block)
    rescuers: int = 1  # 2: a second rescuer can take over compressions (fatigue prompts a swap)


class ProfileError(ValueError):
    """The guideline file or a profile name is wrong."""


def _resolve(name: str, raw: dict, seen: tuple[str, ...] = ()) -> dict:
    if name not in raw:
        raise ProfileError(
            f"unknown profile {name!r} in {GUIDELINES_PATH.name}; choose one of: {', '.join(sorted(raw))}"
        )
    if name in seen:
        raise ProfileError(f"profile {name!r} inherits from itself in {GUIDELINES_PATH.name}")
    entry = dict(raw[name])
    parent = entry.pop("inherits", None)
    if parent is None:
        return entry
    merged = _resolve(parent, raw, seen + (name,))
    merged.update(entry)
    return merged


def _build(name: str, d: dict) -> Profile:
    try:
        ratio = d["ratio"]
        return Profile(
            name=name,
            title=str(d["title"]),
            rate_cpm=Band(float(d["rate_cpm"]["min"]), float(d["rate_cpm"]["max"])),
            rate_target_cpm=float(d["rate_cpm"]["target"]),
            depth_mm=Band(float(d["depth_mm"]["min"]), float(d["depth_mm"]["max"])),
            recoil_residual_max_mm=float(d["recoil_residual_max_mm"]),
            pause_max_s=float(d["pause_max_s"]),
            ccf_min=float(d["ccf"]["min"]),
            ccf_goal=float(d["ccf"]["goal"]),
            ratio=None if ratio is None else Ratio(int(ratio["compressions"]), int(ratio["breaths"])),
            placement_tolerance_mm=float(d["placement_tolerance_mm"]),
            feedback=FeedbackRuns(
                int(d["feedback"]["on_run"]), int(d["feedback"]["off_run"]), float(d["feedback"]["pause_warn_s"])
            ),
            rescuers=int(d.get("rescuers", 1)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ProfileError(f"{GUIDELINES_PATH.name}: profile {name!r} has a missing or bad field: {exc}") from None


@lru_cache(maxsize=None)
def _data() -> dict:
    try:
        return json.loads(GUIDELINES_PATH.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ProfileError(f"cannot read guideline file {GUIDELINES_PATH}: {exc}") from None


def _raw() -> tuple[str, dict]:
    data = _data()
    return data["default"], data["profiles"]


@lru_cache(maxsize=1)
def posture_thresholds() -> PostureThresholds | None:
    """The posture bands shared by every profile (None when the file has none)."""
    d = _data().get("posture")
    if d is None:
        return None
    try:
        return PostureThresholds(
            elbow_good_min_deg=float(d["elbow_good_min_deg"]),
            elbow_bent_below_deg=float(d["elbow_bent_below_deg"]),
            smooth_frames=int(d["smooth_frames"]),
            shoulder_offset_max_mm=float(d["shoulder_offset_max_mm"]),
            min_confidence=float(d["min_confidence"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ProfileError(f"{GUIDELINES_PATH.name}: the posture block has a missing or bad field: {exc}") from None


def learning_section() -> dict:
    """The file's ``learning`` section (mastery, fading, fatigue, patterns, refresher), parsed by coach.learning.rules."""
    section = _data().get("learning")
    if not isinstance(section, dict):
        raise ProfileError(f"{GUIDELINES_PATH.name}: no 'learning' section")
    return section


def profile_names() -> list[str]:
    """All profile names, for CLI choices."""
    return sorted(_raw()[1])


def load_profile(name: str | None = None) -> Profile:
    """The named profile (the file's default, adult, when None)."""
    default, raw = _raw()
    name = name or default
    resolved = _resolve(name, raw)
    # "posture": null in a profile turns posture coaching off (infants: two fingers or thumbs, no locked elbows)
    posture = None if "posture" in resolved and resolved["posture"] is None else posture_thresholds()
    return replace(_build(name, resolved), posture=posture)
