"""A metronome at the profile's target rate (110 cpm for adults).

Why a beat grid and not a stream of ticks: clients animate the pulse locally
from ``period_s`` and ``next_beat_t_s``, so a 30 Hz overlay still drives a crisp
pulse and an audio click lands on time. The grid restarts on the first
compression of each set so the beat meets the trainee's own rhythm.
"""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class MetronomeCue:
    active: bool
    rate_cpm: float
    period_s: float
    beat: int  # index of the latest beat at or before t_s
    phase: float  # 0..1 through the current beat (0 = on the beat)
    next_beat_t_s: float

    def to_dict(self) -> dict:
        return {
            "active": self.active,
            "rate_cpm": self.rate_cpm,
            "period_s": self.period_s,
            "beat": self.beat,
            "phase": self.phase,
            "next_beat_t_s": self.next_beat_t_s,
        }


class Metronome:
    def __init__(self, rate_cpm: float, t0_s: float = 0.0) -> None:
        if not rate_cpm > 0:
            raise ValueError("metronome rate must be > 0 cpm")
        self.rate_cpm = float(rate_cpm)
        self.period_s = 60.0 / self.rate_cpm
        self.t0_s = float(t0_s)

    def restart(self, t0_s: float) -> None:
        """Put a beat at ``t0_s`` (e.g. the first compression of a set)."""
        self.t0_s = float(t0_s)

    def cue(self, t_s: float, active: bool = True) -> MetronomeCue:
        x = (t_s - self.t0_s) / self.period_s
        beat = math.floor(x)
        return MetronomeCue(active, self.rate_cpm, self.period_s, int(beat), x - beat, self.t0_s + (beat + 1) * self.period_s)

    def beats_between(self, t_from_s: float, t_to_s: float) -> list[float]:
        """Beat times in (t_from_s, t_to_s]: for an audio click per beat."""
        k0 = math.floor((t_from_s - self.t0_s) / self.period_s) + 1
        k1 = math.floor((t_to_s - self.t0_s) / self.period_s)
        return [self.t0_s + k * self.period_s for k in range(k0, k1 + 1)]
