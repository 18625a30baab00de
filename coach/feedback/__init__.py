"""Coaching feedback: prompts with hysteresis and priority, the metronome, the CPR cycle.

Thresholds come only from the guideline profile (coach.core.profiles).
"""
from .coach import Coach, CoachOptions
from .hysteresis import RunLatch
from .metronome import Metronome, MetronomeCue
from .procedure import BREATHS, COMPRESSING, PAUSED, PHASES, WAITING, Procedure, ProcedureState
from .prompts import CATEGORIES, Prompt

__all__ = [
    "BREATHS",
    "CATEGORIES",
    "COMPRESSING",
    "Coach",
    "CoachOptions",
    "Metronome",
    "MetronomeCue",
    "PAUSED",
    "PHASES",
    "Procedure",
    "ProcedureState",
    "Prompt",
    "RunLatch",
    "WAITING",
]
