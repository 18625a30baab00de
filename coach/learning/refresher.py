"""When to practise next: a documented decay model.

Why these intervals: Anderson et al. (Resuscitation 2019) found that of those
who reached excellent CPR, 58 % kept it at 12 months with monthly practice, 26 %
with quarterly, 21 % six-monthly and 15 % yearly. Monthly is the only interval
that kept most trainees excellent, so it is the default after a session that
meets the criterion. A skill below the criterion has not consolidated and
decays from a lower level, so the interval shrinks: two weeks while learning,
one week after a poor session (the fading step-up threshold). All intervals
are in ``learning.refresher``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .curve import session_point
from .history import SessionHistory
from .rules import LearningRules, load_learning_rules


@dataclass(frozen=True)
class Refresher:
    due: datetime | None  # None: no session yet (practise now)
    interval_days: int
    reason: str


def next_refresher(history: SessionHistory, rules: LearningRules | None = None) -> Refresher:
    r = rules or load_learning_rules()
    rr = r.refresher
    if not history.sessions:
        return Refresher(None, 0, "no session yet: practise now")
    last = history.sessions[-1]
    score = session_point(last).pct_correct
    if score < r.fading.step_up_pct_correct_below:
        days, why = rr.interval_days_after_poor, f"last session {score:.0f} % correct: practise again within a week"
    elif score >= r.mastery.pct_correct_min:
        days, why = rr.interval_days, f"last session met the criterion ({score:.0f} %): monthly practice keeps the skill"
    else:
        days, why = rr.interval_days_learning, f"last session {score:.0f} % correct: practise again in two weeks"
    return Refresher(last.started_at + timedelta(days=days), days, why)
