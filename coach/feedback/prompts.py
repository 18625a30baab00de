"""The prompts a trainee can see, and their priority.

Why a fixed catalogue: viewers, the HUD and translations key on stable ids
(``push_harder``), while the text stays short enough to read mid-compression.
Priority follows the issue and CPR-meter practice: a pause costs the most
perfusion, then depth, recoil, rate, hand placement, and the rescuer's posture
(elbows, then shoulders) last: posture is about sustaining depth, so it never
hides a depth or pause prompt.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

# Categories, most urgent first (index = priority, 0 highest).
CATEGORIES: tuple[str, ...] = ("pause", "depth", "recoil", "rate", "placement", "elbows", "shoulders")


@dataclass(frozen=True)
class Prompt:
    """One coaching prompt. ``priority`` 0 is the most urgent."""

    id: str
    text: str
    category: str
    since_t_s: float = math.nan  # when it became the active prompt
    detail: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def priority(self) -> int:
        return CATEGORIES.index(self.category)

    def at(self, t_s: float, **detail: Any) -> "Prompt":
        return replace(self, since_t_s=t_s, detail=dict(detail))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "category": self.category,
            "priority": self.priority,
            "since_t_s": None if not math.isfinite(self.since_t_s) else self.since_t_s,
            "detail": dict(self.detail),
        }


START = Prompt("start_compressions", "Start compressions", "pause")
RESUME = Prompt("resume_compressions", "Resume compressions", "pause")
PUSH_HARDER = Prompt("push_harder", "Push harder", "depth")
PUSH_SOFTER = Prompt("push_softer", "Push softer", "depth")
RELEASE = Prompt("release_fully", "Let the chest rise fully", "recoil")
FASTER = Prompt("push_faster", "Faster", "rate")
SLOWER = Prompt("push_slower", "Slower", "rate")
HANDS_CENTRE = Prompt("hands_to_centre", "Hands to centre of chest", "placement")
LOCK_ELBOWS = Prompt("lock_elbows", "Lock your elbows", "elbows")
SHOULDERS_OVER = Prompt("shoulders_over_hands", "Shoulders over your hands", "shoulders")
# Before a live session: the depth baseline is the hands resting still on the chest (coach.live).
REST_HANDS = Prompt("rest_hands", "Rest your hands on the chest", "pause")


def give_breaths(breaths: int) -> Prompt:
    """'Give 2 breaths': the number comes from the profile's ratio."""
    return Prompt("give_breaths", f"Give {breaths} breath{'s' if breaths != 1 else ''}", "pause")


# (category, verdict) -> prompt for the per-compression rules.
BY_VERDICT: dict[tuple[str, str], Prompt] = {
    ("depth", "low"): PUSH_HARDER,
    ("depth", "high"): PUSH_SOFTER,
    ("recoil", "high"): RELEASE,
    ("rate", "low"): FASTER,
    ("rate", "high"): SLOWER,
    ("placement", "low"): HANDS_CENTRE,
    ("placement", "high"): HANDS_CENTRE,
    ("elbows", "low"): LOCK_ELBOWS,
    ("shoulders", "high"): SHOULDERS_OVER,
}


# Adaptive coaching (coach.learning): fatigue and the set summary, in the existing categories so
# the priority scheme is unchanged (fatigue shows as depth loss; the summary comes during the pause).
SWAP_RESCUERS = Prompt("swap_rescuers", "Swap rescuers now", "depth")
FATIGUE_WARNING = Prompt("fatigue_warning", "You are tiring: keep your depth", "depth")


def set_summary(set_number: int, good: int, total: int, advice: str | None) -> Prompt:
    """'Set 2: 27/30 good' (+ ', Push harder'): the only prompt at the set-summary feedback level."""
    text = f"Set {set_number}: {good}/{total} good" + (f", {advice.lower()}" if advice else "")
    return Prompt("set_summary", text, "pause")
