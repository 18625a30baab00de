"""Fatigue: rolling compliance against the trainee's own first minute.

Why against the trainee's own start and not the guideline: rescuers do not
notice their own fatigue (Ochoa et al. 1998: correct compressions 93 % in the
first minute, then 67, 39, 31 and 18 %), and a trainee who was never compliant
is not tiring, only learning. The same ``FatigueMonitor`` runs live in the
Coach (one compression at a time) and offline in ``fatigue_profile``, so the
report and the live prompt can never disagree.

    mon = FatigueMonitor(profile)
    for c in compressions: state = mon.push(c)   # state.fatigued, state.drop_points
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from coach.core.profiles import Profile
from coach.core.types import Compression

from .quality import correct_mask, minute_index, per_minute
from .rules import FatigueRules, load_learning_rules


@dataclass(frozen=True)
class FatigueState:
    t_s: float  # bottom time of the latest compression
    reference_pct: float  # compliance over the first reference_s of compressions (NaN until complete)
    rolling_pct: float  # compliance over the last window_compressions (NaN until the reference is complete)
    drop_points: float  # reference - rolling (NaN while either is unknown)
    fatigued: bool
    onset_t_s: float  # when the current alert was raised (NaN when not fatigued)


class FatigueMonitor:
    """Streaming: push compressions in order; ``state`` says whether the rescuer is tiring."""

    def __init__(self, profile: Profile, rules: FatigueRules | None = None) -> None:
        self.profile = profile
        self.rules = rules or load_learning_rules().fatigue
        self._t0 = math.nan
        self._ref_n = 0
        self._ref_ok = 0
        self._ref_done = False
        self._window: deque[bool] = deque(maxlen=self.rules.window_compressions)
        self.state = FatigueState(math.nan, math.nan, math.nan, math.nan, False, math.nan)
        self.first_onset_t_s = math.nan  # the first alert of the session

    def push(self, c: Compression) -> FatigueState:
        r = self.rules
        ok = bool(correct_mask([c], self.profile)[0])
        t = c.t_bottom_s
        if not math.isfinite(self._t0):
            self._t0 = c.t_start_s
        if not self._ref_done:
            if t - self._t0 <= r.reference_s:
                self._ref_n += 1
                self._ref_ok += ok
            else:
                self._ref_done = True
        self._window.append(ok)
        ref = 100.0 * self._ref_ok / self._ref_n if self._ref_done and self._ref_n else math.nan
        roll = (100.0 * sum(self._window) / len(self._window)
                if len(self._window) == r.window_compressions and self._ref_done else math.nan)
        drop = ref - roll if math.isfinite(ref) and math.isfinite(roll) else math.nan
        was = self.state.fatigued
        if not math.isfinite(drop):
            fatigued = was
        elif was:
            fatigued = drop >= r.clear_points
        else:
            fatigued = drop >= r.drop_points
        onset = (self.state.onset_t_s if was else t) if fatigued else math.nan
        if fatigued and not math.isfinite(self.first_onset_t_s):
            self.first_onset_t_s = t
        self.state = FatigueState(t, ref, roll, drop, fatigued, onset)
        return self.state


@dataclass(frozen=True)
class FatigueProfile:
    """Within one session: how depth and compliance evolve minute by minute."""

    depth_mm_per_minute: tuple[float, ...]  # mean depth in each minute from the first compression
    pct_correct_per_minute: tuple[float, ...]
    below_band_minute: int | None  # 1-based first minute whose mean depth is below the band (None: never)
    fatigue_onset_s: float  # first fatigue alert, seconds after the first compression (NaN: none)
    reference_pct: float  # the trainee's own first-minute compliance

    @property
    def fatigued(self) -> bool:
        return math.isfinite(self.fatigue_onset_s)


def fatigue_profile(comps: Sequence[Compression], profile: Profile, rules: FatigueRules | None = None) -> FatigueProfile:
    """The per-minute profile and the monitor's verdict over a whole session."""
    if not comps:
        return FatigueProfile((), (), None, math.nan, math.nan)
    minutes = minute_index(comps)
    depth = per_minute(np.array([c.depth_mm for c in comps]), minutes)
    ok = per_minute(correct_mask(comps, profile).astype(float) * 100.0, minutes)
    below = [i for i, d in enumerate(depth) if math.isfinite(d) and d < profile.depth_mm.min]
    mon = FatigueMonitor(profile, rules)
    for c in comps:
        mon.push(c)
    onset = mon.first_onset_t_s - comps[0].t_start_s if math.isfinite(mon.first_onset_t_s) else math.nan
    return FatigueProfile(tuple(depth.tolist()), tuple(ok.tolist()), below[0] + 1 if below else None, onset,
                          mon.state.reference_pct)
