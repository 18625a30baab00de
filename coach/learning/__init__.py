"""Learning rules over a trainee's sessions: mastery, fading, fatigue, patterns, the next refresher.

Pure Python/NumPy over the core's result types (no I/O): every source of
sessions (the records store, a folder of analysis JSON, a simulated trainee)
feeds ``TraineeSession``s through one adapter. Numbers come from the
``learning`` section of coach/data/guidelines.json; docs/learning.md gives the
sources.

    h = SessionHistory.of("ana", sessions)
    learning_curve(h); mastery_state(h); next_level(h); next_refresher(h)
    plan = coaching_plan(h)  -> CoachOptions(feedback_level=plan.feedback_level, cues=plan.cues)
"""
from .curve import CurvePoint, learning_curve, session_point, trend_per_session
from .fading import FadingDecision, next_level
from .fatigue import FatigueMonitor, FatigueProfile, FatigueState, fatigue_profile
from .history import SessionHistory, TraineeSession, session_from_analysis, session_to_analysis
from .mastery import MasteryState, mastery_state, qualifies
from .plan import CoachingPlan, coaching_plan
from .patterns import Pattern, TargetedCue, persistent_patterns, session_patterns, targeted_cues
from .quality import correct_mask, pct_correct
from .refresher import Refresher, next_refresher
from .rules import ERRORS, FULL, LEVELS, NONE, SET_SUMMARY, LearningRules, load_learning_rules

__all__ = [
    "CoachingPlan", "CurvePoint", "ERRORS", "coaching_plan", "FULL", "FadingDecision", "FatigueMonitor", "FatigueProfile", "FatigueState",
    "LEVELS", "LearningRules", "MasteryState", "NONE", "Pattern", "Refresher", "SET_SUMMARY", "SessionHistory",
    "TargetedCue", "TraineeSession", "correct_mask", "fatigue_profile", "learning_curve", "load_learning_rules",
    "mastery_state", "next_level", "next_refresher", "pct_correct", "persistent_patterns", "qualifies",
    "session_from_analysis", "session_patterns", "session_point", "session_to_analysis", "targeted_cues",
    "trend_per_session",
]
