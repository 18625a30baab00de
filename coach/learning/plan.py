"""What the coach should do for a trainee's next session: one call for ``run --trainee ID``.

    plan = coaching_plan(load_trainee_sessions(tid, data_dir), profile="adult")
    coach = Coach(CoachOptions(profile="adult", feedback_level=plan.feedback_level, cues=plan.cues))

A trainee with no history gets full feedback and no cues.
"""
from __future__ import annotations

from dataclasses import dataclass

from coach.core.profiles import load_profile

from .fading import next_level
from .history import SessionHistory
from .mastery import MasteryState, mastery_state
from .patterns import Pattern, TargetedCue, persistent_patterns, targeted_cues
from .refresher import Refresher, next_refresher


@dataclass(frozen=True)
class CoachingPlan:
    trainee_id: str
    feedback_level: str  # for CoachOptions.feedback_level (and the overlay's badge)
    reason: str  # why this level, in plain words
    cues: tuple[TargetedCue, ...]  # for CoachOptions.cues
    patterns: tuple[Pattern, ...]  # the persistent patterns the cues come from
    mastery: MasteryState
    refresher: Refresher


def coaching_plan(history: SessionHistory, profile: str | None = None) -> CoachingPlan:
    """The plan for the next session under ``profile`` (default: the latest session's, else the file's default)."""
    name = profile or (history.sessions[-1].profile if history.sessions else None)
    pats = tuple(persistent_patterns(history))
    decision = next_level(history)
    return CoachingPlan(history.trainee_id, decision.level, decision.reason, targeted_cues(pats, load_profile(name)),
                        pats, mastery_state(history), next_refresher(history))
