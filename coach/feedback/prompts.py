"""The prompts a trainee can see, and their priority.

Why a fixed catalogue: viewers, the HUD and translations key on stable ids
(``push_harder``), while the text stays short enough to read mid-compression.
Priority follows the issue and CPR-meter practice: a pause costs the most
perfusion, then depth, recoil, rate, and hand placement last.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

# Categories, most urgent first (index = priority, 0 highest).
CATEGORIES: tuple[str, ...] = ("pause", "depth", "recoil", "rate", "placement")


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
}
