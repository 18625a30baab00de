"""The learning rules' numbers, read from the one guideline data file.

Why typed dataclasses over the ``learning`` section of coach/data/guidelines.json:
the mastery criterion, the fading thresholds, the fatigue rule and the refresher
intervals are all reviewed against their sources in one place (docs/learning.md);
every rule here reads them from ``LearningRules`` and carries no literal.

    rules = load_learning_rules()
    rules.mastery.pct_correct_min   # 90.0 (Anderson et al. 2019)
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from coach.core.profiles import GUIDELINES_PATH, ProfileError, learning_section

FULL, ERRORS, SET_SUMMARY, NONE = "full", "errors", "set-summary", "none"
LEVELS: tuple[str, ...] = (FULL, ERRORS, SET_SUMMARY, NONE)  # most feedback first


@dataclass(frozen=True)
class MasteryCriterion:
    pct_correct_min: float  # share of compressions with depth, rate and recoil all in the profile's bands (0..100)
    duration_s_min: float  # the session must last at least this long (two minutes)
    sessions: int  # this many qualifying sessions ...
    different_days: bool  # ... on different calendar days
    feedback_level: str  # the level the qualifying sessions must have been run at ("none": no feedback)


@dataclass(frozen=True)
class FadingRules:
    levels: tuple[str, ...]  # the schedule, most feedback first
    step_down_pct_correct_min: float  # step down one level after ``step_down_sessions`` sessions at least this good
    step_down_sessions: int
    step_up_pct_correct_below: float  # a session below this steps back up one level
    errors_on_run_factor: int  # at the "errors" level a prompt needs this many times the profile's on_run


@dataclass(frozen=True)
class FatigueRules:
    reference_s: float  # the trainee's own reference: compliance over the first this-many seconds of compressions
    window_compressions: int  # rolling compliance over the last this-many compressions (a count, so breaths do not thin it)
    drop_points: float  # reference minus rolling compliance (percentage points) that means fatigue
    clear_points: float  # the alert clears when the drop falls below this
    detect_within_s: float  # the requirement the rule is tested against


@dataclass(frozen=True)
class PatternRules:
    share_min: float  # share of a minute's (or a segment's) compressions with an error that makes a pattern
    after_breaths_compressions: int  # compressions counted as "after breaths" at the start of each set
    sessions_recent: int  # persistent: seen in at least ``sessions_min`` of the last ``sessions_recent`` sessions
    sessions_min: int
    cue_lead_s: float  # a targeted cue comes this long before the pattern usually starts
    cue_show_s: float  # and stays this long


@dataclass(frozen=True)
class RefresherRules:
    interval_days: int  # after a session that meets the mastery criterion (monthly, Anderson et al. 2019)
    interval_days_learning: int  # while still learning (acceptable but below the criterion)
    interval_days_after_poor: int  # after a poor session (below the fading step-up threshold)
    retention_12_months: dict  # practice interval -> share keeping excellent CPR at 12 months (the model's data)


@dataclass(frozen=True)
class LearningRules:
    mastery: MasteryCriterion
    fading: FadingRules
    fatigue: FatigueRules
    patterns: PatternRules
    refresher: RefresherRules


def _build(cls, d: dict, name: str):
    try:
        kw = {}
        for f in cls.__dataclass_fields__.values():
            v = d[f.name]
            kw[f.name] = tuple(v) if f.type.startswith("tuple") else v
        return cls(**kw)
    except (KeyError, TypeError) as exc:
        raise ProfileError(f"{GUIDELINES_PATH.name}: learning.{name} has a missing or bad field: {exc}") from None


@lru_cache(maxsize=None)
def load_learning_rules() -> LearningRules:
    """The rules from the guideline file (cached; ProfileError names the bad field)."""
    raw = learning_section()
    rules = LearningRules(
        mastery=_build(MasteryCriterion, raw.get("mastery", {}), "mastery"),
        fading=_build(FadingRules, raw.get("fading", {}), "fading"),
        fatigue=_build(FatigueRules, raw.get("fatigue", {}), "fatigue"),
        patterns=_build(PatternRules, raw.get("patterns", {}), "patterns"),
        refresher=_build(RefresherRules, raw.get("refresher", {}), "refresher"),
    )
    if tuple(rules.fading.levels) != LEVELS:
        raise ProfileError(f"{GUIDELINES_PATH.name}: learning.fading.levels must be {list(LEVELS)}")
    if rules.mastery.feedback_level not in LEVELS:
        raise ProfileError(f"{GUIDELINES_PATH.name}: learning.mastery.feedback_level must be one of {list(LEVELS)}")
    return rules
