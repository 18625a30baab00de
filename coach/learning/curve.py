"""The learning curve: one point per session.

Why these numbers: they are the ones a QCPR debrief shows (overall score, %
correct depth, rate, recoil, CCF), plus the mastery share (% of compressions
correct in all three at once) that the fading and mastery rules use.
The overall score is the debrief report's (``coach.report.score``, formula in
docs/report.md), so the curve and the report never disagree on a session.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from coach.core.profiles import Profile, load_profile
from coach.report.score import score_summary

from .history import SessionHistory, TraineeSession
from .quality import compressing_span_s, pct_correct


@dataclass(frozen=True)
class CurvePoint:
    started_at: datetime
    feedback_level: str
    compressions: int
    duration_s: float  # first compression to last release
    score: float  # 0..100 (module docstring)
    pct_correct: float  # all of depth, rate and recoil (the mastery share), 0..100
    pct_depth_ok: float
    pct_rate_ok: float
    pct_recoil_ok: float
    ccf_pct: float


def _nan0(x: float) -> float:
    return 0.0 if x is None or not math.isfinite(x) else float(x)


def session_point(s: TraineeSession, profile: Profile | None = None) -> CurvePoint:
    p = profile or load_profile(s.profile)
    m = s.summary
    score = score_summary(m, p).overall_pct
    return CurvePoint(
        started_at=s.started_at,
        feedback_level=s.feedback_level,
        compressions=len(s.compressions),
        duration_s=compressing_span_s(s.compressions),
        score=score,
        pct_correct=_nan0(pct_correct(s.compressions, p)),
        pct_depth_ok=m.pct_depth_ok,
        pct_rate_ok=m.pct_rate_ok,
        pct_recoil_ok=m.pct_recoil_ok,
        ccf_pct=100.0 * _nan0(m.ccf),
    )


def learning_curve(history: SessionHistory) -> list[CurvePoint]:
    return [session_point(s) for s in history.sessions]


def trend_per_session(points: list[CurvePoint], last: int = 5) -> float:
    """Least-squares slope of pct_correct over the last ``last`` sessions (points per session; NaN under 2)."""
    ys = [p.pct_correct for p in points[-last:]]
    n = len(ys)
    if n < 2:
        return math.nan
    xm, ym = (n - 1) / 2.0, sum(ys) / n
    return sum((i - xm) * (y - ym) for i, y in enumerate(ys)) / sum((i - xm) ** 2 for i in range(n))
