"""Feedback fading: how much live feedback the next session gets.

Why fade: feedback that never fades is leaned on (the guidance hypothesis,
Salmoni, Schmidt & Walter 1984; in CPR, good compressions halved when feedback
was removed). The schedule (``learning.fading.levels``):

- ``full``: every live prompt, the metronome, targeted cues;
- ``errors``: corrective prompts only, for persistent errors (a longer run), no metronome;
- ``set-summary``: nothing during compressions; one summary after each set;
- ``none``: no feedback at all: the mastery test.

The rule, per session: a trainee with no history starts at ``full``; a session
below ``step_up_pct_correct_below`` steps back up one level; the level steps
down one when the last ``step_down_sessions`` sessions all reached
``step_down_pct_correct_min`` and the latest was run at the current level.
Otherwise the level stays. Performance is the mastery share (% correct).
"""
from __future__ import annotations

from dataclasses import dataclass

from .curve import session_point
from .history import SessionHistory
from .rules import FULL, FadingRules, load_learning_rules


@dataclass(frozen=True)
class FadingDecision:
    level: str  # the feedback level for the next session
    previous: str | None  # the level of the latest session (None: no history)
    reason: str  # plain words for the trainee page and the station log


def next_level(history: SessionHistory, rules: FadingRules | None = None) -> FadingDecision:
    r = rules or load_learning_rules().fading
    levels = list(r.levels)
    if not history.sessions:
        return FadingDecision(FULL, None, "no history yet: full feedback")
    last = history.sessions[-1]
    cur = levels.index(last.feedback_level)
    score = session_point(last).pct_correct
    if score < r.step_up_pct_correct_below:
        new = max(cur - 1, 0)
        why = f"last session {score:.0f} % correct (< {r.step_up_pct_correct_below:g} %): more feedback"
        return FadingDecision(levels[new], last.feedback_level, why if new != cur else f"last session {score:.0f} % correct: stay at full feedback")
    recent = history.sessions[-r.step_down_sessions:]
    if len(recent) == r.step_down_sessions and all(session_point(s).pct_correct >= r.step_down_pct_correct_min for s in recent):
        new = min(cur + 1, len(levels) - 1)
        if new != cur:
            return FadingDecision(levels[new], last.feedback_level,
                                  f"last {r.step_down_sessions} sessions at least {r.step_down_pct_correct_min:g} % correct: less feedback")
    return FadingDecision(levels[cur], last.feedback_level, f"last session {score:.0f} % correct: same level")
