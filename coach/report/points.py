"""The three most important coaching points, in plain words.

The rule (docs/report.md): rank the four metrics by the overall-score points they cost
(``Score.points_lost``), largest first, ties in the order depth, rate, recoil, flow; each metric
that costs points gives one point, saying what went wrong, how often, and the target. When fewer
than three metrics cost points, the list is filled with what went well, best metric first.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from coach.core.profiles import Profile
from coach.core.types import INCOMPLETE_RECOIL, TOO_DEEP, TOO_FAST, TOO_SHALLOW, TOO_SLOW, SessionResult
from coach.report.score import METRICS, Score


@dataclass(frozen=True)
class CoachingPoint:
    metric: str  # depth | rate | recoil | flow
    points_lost: float  # overall-score points this metric cost (0 for praise)
    text: str

    @property
    def praise(self) -> bool:
        return self.points_lost <= 0


def _count(result: SessionResult, flag: str) -> int:
    return sum(1 for c in result.compressions if flag in c.flags)


def _cm(mm: float) -> str:
    return f"{mm / 10:g}"


# depth and rate: (low flag, high flag, low advice, high advice, the target sentence)
_BAND_TEXT = {
    "depth": (TOO_SHALLOW, TOO_DEEP, "Push deeper: {k} of {n} compressions were shallower than {lo:g} mm.",
              "Push a little less deep: {k} of {n} compressions went deeper than {hi:g} mm.",
              "Aim for {lo:g}-{hi:g} mm ({lo_cm}-{hi_cm} cm), straight arms, shoulders over the hands."),
    "rate": (TOO_SLOW, TOO_FAST, "Speed up: {k} of {n} compressions came slower than {lo:g} per minute.",
             "Slow down a little: {k} of {n} compressions came faster than {hi:g} per minute.",
             "Keep {lo:g}-{hi:g} per minute; the metronome beats {target:g}."),
}


def _band_point(metric: str, result: SessionResult, profile: Profile) -> str:
    """Depth or rate: the more frequent direction out of the band, how often, and the band."""
    low_flag, high_flag, low_text, high_text, target = _BAND_TEXT[metric]
    band = profile.depth_mm if metric == "depth" else profile.rate_cpm
    n = (len(result.compressions) if metric == "depth"
         else sum(1 for c in result.compressions if math.isfinite(c.rate_cpm)))  # the first of a set has no rate
    low, high = _count(result, low_flag), _count(result, high_flag)
    fields = dict(n=n, lo=band.min, hi=band.max, lo_cm=_cm(band.min), hi_cm=_cm(band.max),
                  target=profile.rate_target_cpm)
    text = low_text.format(k=low, **fields) if low >= high else high_text.format(k=high, **fields)
    return f"{text} {target.format(**fields)}"


def _problem(metric: str, result: SessionResult, profile: Profile) -> str:
    n = len(result.compressions)
    s = result.summary
    if metric in ("depth", "rate"):
        return _band_point(metric, result, profile)
    if metric == "recoil":
        lean = [c for c in result.compressions if INCOMPLETE_RECOIL in c.flags]
        mean_res = sum(c.recoil_residual_mm for c in lean) / len(lean) if lean else 0.0
        return (f"Let the chest come all the way back up: on {len(lean)} of {n} compressions you stayed leaning "
                f"(on average {mean_res:.1f} mm down; tolerance {profile.recoil_residual_max_mm:g} mm). "
                "Take your weight off the hands at the top of every compression, without lifting them.")
    long = [p for p in result.pauses if p.too_long]
    text = (f"Keep the hands on the chest: compressions ran {100 * s.ccf:.0f} % of the time "
            f"(minimum {100 * profile.ccf_min:.0f} %, goal {100 * profile.ccf_goal:.0f} %), with "
            f"{s.hands_off_s:.0f} s hands-off in pauses.")
    if long:
        text += f" {len(long)} pause(s) lasted longer than {profile.pause_max_s:g} s: give the breaths and go straight back."
    else:
        text += " Give the breaths quickly and resume at once."
    return text


_PRAISE = {
    "depth": "Depth: {pct:.0f} % of compressions were in the target band. Keep it.",
    "rate": "Rate: {pct:.0f} % of compressions were at the right speed. Keep the rhythm.",
    "recoil": "Recoil: the chest came back up on {pct:.0f} % of compressions. Keep releasing fully.",
    "flow": "Flow: hands were on the chest enough of the time ({pct:.0f} % of the goal). Keep pauses this short.",
}


def coaching_points(result: SessionResult, score: Score, profile: Profile, k: int = 3) -> list[CoachingPoint]:
    """Up to ``k`` points: costly metrics first (largest loss first), then praise for the best ones."""
    if not result.compressions:
        return [CoachingPoint("depth", 100.0, "No compressions were measured. Check that the hands are in view and "
                              "rest them on the chest for 2 s before the first compression.")]
    lost = score.points_lost()
    order = sorted(METRICS, key=lambda m: (-lost[m], METRICS.index(m)))
    out = [CoachingPoint(m, lost[m], _problem(m, result, profile)) for m in order if lost[m] > 1e-9]
    good = sorted((m for m in METRICS if lost[m] <= 1e-9 and math.isfinite(score.metric(m))),
                  key=lambda m: (-score.metric(m), METRICS.index(m)))
    out += [CoachingPoint(m, 0.0, _PRAISE[m].format(pct=score.metric(m))) for m in good]
    return out[:k]
