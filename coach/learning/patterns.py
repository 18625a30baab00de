"""Persistent error patterns in plain words, and the targeted cues they earn.

Why patterns and not averages: "62 % correct depth" does not tell a trainee what
to change; "leans in the second minute" does, and it tells the coach when to
remind them (a recoil cue just before the 60 s mark). A pattern found in one
session may be chance; one found in ``sessions_min`` of the last
``sessions_recent`` sessions is persistent. Each per-session detector is a few
lines over the compressions, with every threshold from the profile and the
``learning.patterns`` rules.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from coach.core.profiles import Profile, load_profile

from .fatigue import fatigue_profile
from .history import SessionHistory, TraineeSession
from .quality import minute_index
from .rules import PatternRules, load_learning_rules

_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")


def _nth(minute_1based: int) -> str:
    return _ORDINALS[minute_1based - 1] if 1 <= minute_1based <= len(_ORDINALS) else f"{minute_1based}th"


@dataclass(frozen=True)
class Pattern:
    """One error pattern of one session (or persistent over several)."""

    key: str  # stable id: lean, rate_after_breaths, rate_fast, rate_slow, shallow, deep, depth_fades, hands_abdomen, hands_neck, long_pauses
    text: str  # plain words for the trainee page
    onset_s: float  # seconds after the first compression when it usually starts (NaN: throughout / not timed)
    sessions: int = 1  # sessions it was seen in (persistent patterns)


@dataclass(frozen=True)
class TargetedCue:
    """A reminder given before the pattern usually appears (fed to CoachOptions.cues)."""

    key: str  # the pattern's key
    prompt_id: str
    text: str
    category: str  # a coach.feedback.prompts category, so it fits the priority scheme
    at_s: float  # seconds after the first compression (NaN: not at a fixed time)
    each_set: bool = False  # instead: at the start of every set after the first (after breaths)


def _share(mask: np.ndarray) -> float:
    return float(mask.mean()) if mask.size else 0.0


def session_patterns(s: TraineeSession, rules: PatternRules | None = None, profile: Profile | None = None) -> list[Pattern]:
    """The error patterns of one session, most specific first."""
    r = rules or load_learning_rules().patterns
    p = profile or load_profile(s.profile)
    comps = s.compressions
    if not comps:
        return []
    out: list[Pattern] = []
    minutes = minute_index(comps)
    resid = np.array([c.recoil_residual_mm for c in comps])
    leaning = resid > p.recoil_residual_max_mm
    lean_minutes = [m for m in range(int(minutes.max()) + 1) if _share(leaning[minutes == m]) >= r.share_min]
    if lean_minutes:
        m = lean_minutes[0]
        text = "leans on the chest (incomplete recoil) " + ("throughout" if m == 0 else f"from the {_nth(m + 1)} minute")
        out.append(Pattern("lean", text, 60.0 * m if m > 0 else math.nan))

    rate = np.array([c.rate_cpm for c in comps])
    sets = np.array([c.set_index for c in comps])
    pos = np.zeros(len(comps), np.int64)  # position within the set
    for i in range(1, len(comps)):
        pos[i] = pos[i - 1] + 1 if sets[i] == sets[i - 1] else 0
    with np.errstate(invalid="ignore"):
        fast, slow = rate > p.rate_cpm.max, rate < p.rate_cpm.min
    known = np.isfinite(rate)
    after = known & (sets > sets.min()) & (pos < r.after_breaths_compressions)
    rest = known & ~after
    if after.sum() >= 3 and _share(fast[after]) >= max(r.share_min, 2 * _share(fast[rest])):
        out.append(Pattern("rate_after_breaths", f"rate drifts above {p.rate_cpm.max:g} after breaths", math.nan))
    elif _share(fast[known]) >= r.share_min:
        out.append(Pattern("rate_fast", f"rate usually above {p.rate_cpm.max:g} /min", math.nan))
    if _share(slow[known]) >= r.share_min:
        out.append(Pattern("rate_slow", f"rate usually below {p.rate_cpm.min:g} /min", math.nan))

    depth = np.array([c.depth_mm for c in comps])
    fp = fatigue_profile(comps, p)
    if fp.below_band_minute is not None and fp.below_band_minute > 1:
        m = fp.below_band_minute
        out.append(Pattern("depth_fades", f"depth falls below {p.depth_mm.min:g} mm in the {_nth(m)} minute", 60.0 * (m - 1)))
    elif _share(depth < p.depth_mm.min) >= r.share_min:
        out.append(Pattern("shallow", f"compressions too shallow (under {p.depth_mm.min:g} mm)", math.nan))
    if _share(depth > p.depth_mm.max) >= r.share_min:
        out.append(Pattern("deep", f"compressions too deep (over {p.depth_mm.max:g} mm)", math.nan))

    if s.placement_mm:
        off = np.array(s.placement_mm, float)
        off = off[np.isfinite(off)]
        tol = p.placement_tolerance_mm
        if _share(off < -tol) >= r.share_min:
            out.append(Pattern("hands_abdomen", "hands drift toward the abdomen", math.nan))
        if _share(off > tol) >= r.share_min:
            out.append(Pattern("hands_neck", "hands drift toward the neck", math.nan))
    if s.summary.pauses_too_long > 0:
        out.append(Pattern("long_pauses", f"pauses run over {p.pause_max_s:g} s", math.nan))
    return out


def persistent_patterns(history: SessionHistory, rules: PatternRules | None = None) -> list[Pattern]:
    """Patterns seen in at least ``sessions_min`` of the last ``sessions_recent`` sessions.

    The onset is the earliest seen (the cue must come before it usually appears).
    """
    r = rules or load_learning_rules().patterns
    recent = history.sessions[-r.sessions_recent:]
    seen: Counter[str] = Counter()
    latest: dict[str, Pattern] = {}
    onsets: dict[str, list[float]] = {}
    for s in recent:
        for pat in session_patterns(s, r):
            seen[pat.key] += 1
            latest[pat.key] = pat
            if math.isfinite(pat.onset_s):
                onsets.setdefault(pat.key, []).append(pat.onset_s)
    out = []
    for key, n in seen.most_common():
        if n >= r.sessions_min:
            o = onsets.get(key)
            out.append(Pattern(key, latest[key].text, min(o) if o else math.nan, n))
    return out


_CUES = {  # pattern key -> (prompt id, text, category)
    "lean": ("cue_release_fully", "Remember: let the chest rise fully", "recoil"),
    "depth_fades": ("cue_keep_depth", "Stay strong: keep your depth", "depth"),
    "shallow": ("cue_keep_depth", "Push hard: at least {dmin:g} mm", "depth"),
    "deep": ("cue_not_too_deep", "Not too deep: {dmax:g} mm at most", "depth"),
    "rate_after_breaths": ("cue_steady_rate", "Steady: not faster than {rmax:g}", "rate"),
    "rate_fast": ("cue_steady_rate", "Steady: not faster than {rmax:g}", "rate"),
    "rate_slow": ("cue_keep_rate", "Keep up: at least {rmin:g} a minute", "rate"),
    "hands_abdomen": ("cue_hands_centre", "Check your hands: centre of the chest", "placement"),
    "hands_neck": ("cue_hands_centre", "Check your hands: centre of the chest", "placement"),
}


def targeted_cues(patterns: Sequence[Pattern], profile: Profile, rules: PatternRules | None = None) -> tuple[TargetedCue, ...]:
    """One cue per persistent pattern that has one: timed patterns ``cue_lead_s`` before their onset,
    "after breaths" at the start of each set, the others at the start of the session."""
    r = rules or load_learning_rules().patterns
    fmt = dict(dmin=profile.depth_mm.min, dmax=profile.depth_mm.max, rmin=profile.rate_cpm.min, rmax=profile.rate_cpm.max)
    out: list[TargetedCue] = []
    for pat in patterns:
        if pat.key not in _CUES:
            continue
        pid, text, cat = _CUES[pat.key]
        each_set = pat.key == "rate_after_breaths"
        at = math.nan if each_set else (max(pat.onset_s - r.cue_lead_s, 0.0) if math.isfinite(pat.onset_s) else 0.0)
        out.append(TargetedCue(pat.key, pid, text.format(**fmt), cat, at, each_set))
    return tuple(out)
