"""The debrief score, in the spirit of the QCPR score: one percentage per metric and an overall one.

Why this formula (published in docs/report.md): each metric is the share of the session done right,
so a trainee reads "depth 62 %" as "62 % of my compressions were deep enough", and the overall
score is their plain mean, so the points a metric loses show which habit costs the most.

- depth %   = compressions with depth inside the profile's band / all compressions
- rate %    = compressions with an instantaneous rate inside the band / compressions that have a rate
              (the first of each set has none)
- recoil %  = compressions whose top came back within the profile's recoil tolerance / all
- flow %    = 100 x min(1, CCF / the profile's CCF goal)
- overall % = mean of the metrics above that exist (equal weights); 0 without compressions
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from coach.core.profiles import Profile
from coach.core.types import SessionResult, SessionSummary

METRICS = ("depth", "rate", "recoil", "flow")  # also the tie-break order of the coaching points


@dataclass(frozen=True)
class Score:
    depth_pct: float  # NaN when the metric does not exist (e.g. no rates)
    rate_pct: float
    recoil_pct: float
    flow_pct: float
    overall_pct: float

    def metric(self, name: str) -> float:
        return getattr(self, f"{name}_pct")

    @property
    def weights(self) -> dict[str, float]:
        """Each existing metric's weight in the overall score (equal, summing to 1)."""
        have = [m for m in METRICS if math.isfinite(self.metric(m))]
        return {m: (1.0 / len(have) if m in have else 0.0) for m in METRICS}

    def points_lost(self) -> dict[str, float]:
        """Overall-score points each metric costs: weight x (100 - metric %). The coaching points rank by it."""
        w = self.weights
        return {m: (w[m] * (100.0 - self.metric(m)) if w[m] else 0.0) for m in METRICS}


def _pct(x: float) -> float:
    return float(x) if x is not None and math.isfinite(x) else math.nan


def score_session(result: SessionResult, profile: Profile) -> Score:
    """The score of one session (the summary's per-metric shares and its CCF, against ``profile``)."""
    return score_summary(result.summary, profile)


def score_summary(s: SessionSummary, profile: Profile) -> Score:
    """The score from a session's summary alone: the learning curve scores stored sessions with it, so the
    trainee's curve and the debrief report show the same number."""
    if s.compressions == 0:
        return Score(math.nan, math.nan, math.nan, 0.0, 0.0)
    depth, rate, recoil = _pct(s.pct_depth_ok), _pct(s.pct_rate_ok), _pct(s.pct_recoil_ok)
    flow = 100.0 * min(1.0, s.ccf / profile.ccf_goal) if math.isfinite(s.ccf) and profile.ccf_goal > 0 else math.nan
    have = [v for v in (depth, rate, recoil, flow) if math.isfinite(v)]
    overall = sum(have) / len(have) if have else 0.0
    return Score(depth, rate, recoil, flow, overall)
