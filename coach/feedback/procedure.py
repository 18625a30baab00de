"""Following the CPR cycle, not only single compressions.

Why: a trainee does 30 compressions, gives 2 breaths, resumes — and the
commonest errors are procedural (too many compressions, long ventilation
pauses). The procedure counts the compressions of the current set, asks for
breaths at the profile's ratio (30:2, 15:2 for two-rescuer child/infant CPR),
times the hands-off interval and asks to resume before ``pause_max_s`` is
reached (at ``feedback.pause_warn_s``). A compression-only profile (ratio None)
never asks for breaths.

Hands-off means: no new compression for two beats at the slowest acceptable
rate (2 x 60 / rate_cpm.min) after the last release — derived from the profile,
so no time constant lives here. Two beats, not one, because a live analyzer
reports a compression only after its release is confirmed (a few hundred ms):
one beat would flash "paused" mid-set. The hands-off time itself is still
measured from the last release.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from coach.core.profiles import Profile
from coach.core.types import Compression

from . import prompts
from .prompts import Prompt

WAITING = "waiting"  # session started, no compression yet
COMPRESSING = "compressing"
BREATHS = "breaths"  # the ratio is reached: give breaths now
PAUSED = "paused"  # hands off mid-set (or compression-only CPR)
PHASES = (WAITING, COMPRESSING, BREATHS, PAUSED)


@dataclass(frozen=True)
class ProcedureState:
    phase: str
    set_index: int  # 0-based; -1 before the first compression
    set_count: int  # compressions in the current set
    ratio_compressions: int | None  # None: compression-only
    ratio_breaths: int | None
    hands_off_s: float  # current hands-off interval (0 while compressing)
    last_hands_off_s: float  # the previous completed hands-off interval (NaN before any)
    cycles: int  # sets that reached the ratio

    @property
    def count_text(self) -> str:
        """'12 / 30' (or '12' for compression-only)."""
        if self.ratio_compressions:
            return f"{self.set_count} / {self.ratio_compressions}"
        return f"{self.set_count}"

    def to_dict(self) -> dict:
        return {
            "phase": self.phase,
            "set_index": self.set_index,
            "set_count": self.set_count,
            "ratio_compressions": self.ratio_compressions,
            "ratio_breaths": self.ratio_breaths,
            "hands_off_s": self.hands_off_s,
            "last_hands_off_s": None if not math.isfinite(self.last_hands_off_s) else self.last_hands_off_s,
            "cycles": self.cycles,
            "count_text": self.count_text,
        }


class Procedure:
    """Set counting, breath prompts and hands-off timing for one session."""

    def __init__(self, profile: Profile, t0_s: float = 0.0) -> None:
        self.profile = profile
        self.overdue_s = 2 * 60.0 / profile.rate_cpm.min
        self.t0_s = float(t0_s)
        self.phase = WAITING
        self._core_set: int | None = None
        self.set_index = -1
        self.set_count = 0
        self.cycles = 0
        self._last_release_s = math.nan
        self._t_s = float(t0_s)
        self.hands_off_s = 0.0
        self.last_hands_off_s = math.nan

    @property
    def ratio(self):
        return self.profile.ratio

    def on_compression(self, c: Compression) -> bool:
        """Count one compression; True when it starts a new set."""
        gap = c.t_start_s - self._last_release_s if math.isfinite(self._last_release_s) else math.nan
        new_set = (
            self._core_set is None
            or c.set_index != self._core_set
            or (self.phase == BREATHS and math.isfinite(gap) and gap > self.overdue_s)
        )
        if math.isfinite(gap) and gap > self.overdue_s:
            self.last_hands_off_s = gap
        if new_set:
            self.set_index += 1
            self.set_count = 0
        self._core_set = c.set_index
        self.set_count += 1
        self._last_release_s = c.t_release_s
        self._t_s = max(self._t_s, c.t_release_s)
        self.hands_off_s = 0.0
        if self.ratio is not None and self.set_count >= self.ratio.compressions:
            if self.phase != BREATHS:
                self.cycles += 1
            self.phase = BREATHS
        else:
            self.phase = COMPRESSING
        return new_set

    def on_time(self, t_s: float) -> None:
        """Advance the clock: hands-off timing between compressions."""
        self._t_s = max(self._t_s, float(t_s))
        if not math.isfinite(self._last_release_s):
            self.hands_off_s = self._t_s - self.t0_s
            return
        gap = self._t_s - self._last_release_s
        if gap > self.overdue_s:
            self.hands_off_s = gap
            if self.phase == COMPRESSING:
                self.phase = PAUSED
        else:
            self.hands_off_s = 0.0

    def hint(self) -> Prompt | None:
        """The procedure's prompt, if any (all in the top 'pause' category)."""
        warn = self.profile.feedback.pause_warn_s
        if self.phase == WAITING:
            return prompts.START if self.hands_off_s >= warn else None
        if self.phase == BREATHS:
            if self.hands_off_s >= warn:
                return prompts.RESUME
            return prompts.give_breaths(self.ratio.breaths)
        if self.phase == PAUSED and self.hands_off_s >= warn:
            return prompts.RESUME
        return None

    @property
    def state(self) -> ProcedureState:
        r = self.ratio
        return ProcedureState(
            phase=self.phase,
            set_index=self.set_index,
            set_count=self.set_count,
            ratio_compressions=r.compressions if r else None,
            ratio_breaths=r.breaths if r else None,
            hands_off_s=self.hands_off_s,
            last_hands_off_s=self.last_hands_off_s,
            cycles=self.cycles,
        )
