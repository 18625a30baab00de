"""The mastery criterion: Anderson et al.'s "excellent CPR", shown without feedback.

A session qualifies when it was run at the criterion's feedback level ("none"),
lasted at least ``duration_s_min`` of compressing, and at least
``pct_correct_min`` % of its compressions had depth, rate and recoil all in
the profile's bands. The skill is mastered after ``sessions`` qualifying
sessions on different calendar days (UTC). A mastered trainee whose latest
session falls below the criterion has "lapsed" (the skill decays: Anderson
et al. 2019), and practises again until two new qualifying sessions.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .curve import session_point
from .history import SessionHistory, TraineeSession
from .rules import MasteryCriterion, load_learning_rules

NEW, LEARNING, READY, MASTERED, LAPSED = "new", "learning", "ready-for-test", "mastered", "lapsed"


def qualifies(s: TraineeSession, criterion: MasteryCriterion | None = None) -> bool:
    """Does this session meet the criterion on its own?"""
    c = criterion or load_learning_rules().mastery
    return s.feedback_level == c.feedback_level and meets_performance(s, c)


def meets_performance(s: TraineeSession, criterion: MasteryCriterion | None = None) -> bool:
    """Excellent CPR regardless of the feedback level (ready to be tested without feedback)."""
    c = criterion or load_learning_rules().mastery
    pt = session_point(s)
    return pt.duration_s >= c.duration_s_min and pt.pct_correct >= c.pct_correct_min


@dataclass(frozen=True)
class MasteryState:
    state: str  # new | learning | ready-for-test | mastered | lapsed
    qualifying_sessions: int  # in the current run (since the last lapse)
    mastered_at: datetime | None  # when the criterion was first met (None: never)
    text: str  # one line for the trainee page


def mastery_state(history: SessionHistory, criterion: MasteryCriterion | None = None) -> MasteryState:
    c = criterion or load_learning_rules().mastery
    if not history.sessions:
        return MasteryState(NEW, 0, None, "No sessions yet: start with full feedback.")
    days: set = set()
    run = 0
    mastered_at = None
    ever = False
    lapsed = False
    for s in history.sessions:
        if qualifies(s, c):
            day = s.started_at.date()
            if not c.different_days or day not in days:
                days.add(day)
                run += 1
            if run >= c.sessions and (not ever or lapsed):
                ever, lapsed = True, False
                mastered_at = mastered_at or s.started_at
        elif not meets_performance(s, c) and (ever or run):
            # a poor session: the count starts again; a mastered skill has lapsed
            days, run = set(), 0
            lapsed = ever
    last = history.sessions[-1]
    if ever and not lapsed:
        return MasteryState(MASTERED, run, mastered_at, f"Mastered: excellent CPR without feedback in {run} sessions on different days.")
    if lapsed:
        return MasteryState(LAPSED, run, mastered_at, "Lapsed: the latest sessions fell below excellent CPR; practise until two new passing tests.")
    if meets_performance(last, c) or run:
        need = c.sessions - run
        return MasteryState(READY, run, None, f"Ready for the test: {need} more session(s) of excellent CPR without feedback, on different days.")
    return MasteryState(LEARNING, run, None, f"Learning: aim for {c.pct_correct_min:g} % correct compressions over {c.duration_s_min / 60:g} minutes.")
