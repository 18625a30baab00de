"""The Coach: compressions and time in, one active prompt out.

Why one object: the live pipeline, the simulator and replay feed it the same
way (``on_compression`` per compression, ``on_time``/``on_state`` per frame),
and it answers with the single prompt a trainee should see now:
procedure/pause > depth > recoil > rate > placement > elbows > shoulders, each
raised and cleared by runs of compressions (hysteresis), thresholds from the
guideline profile. Posture: feed pose frames with ``on_posture`` (any thread's
results, in time order); each compression then takes the posture of its span.

    coach = Coach(CoachOptions(profile="adult"))
    coach.start(t_s)
    for frame: new = analyzer.push(t, h)
        for c in new: coach.on_compression(c, placement_mm=offset)
        prompt = coach.on_state(analyzer.state)   # None = no prompt
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from coach.core.profiles import Profile, load_profile
from coach.core.types import Compression, CoreState

from . import prompts as P
from .hysteresis import RunLatch
from .metronome import Metronome, MetronomeCue
from .posture import CompressionPosture, PostureJudge, PostureSample
from .procedure import BREATHS, PAUSED, Procedure, ProcedureState
from .prompts import CATEGORIES, Prompt
from .rules import verdicts


@dataclass(frozen=True)
class CoachOptions:
    profile: str | None = None  # guideline profile name (None: the file's default, adult)
    placement_prompts: bool = True  # needs a calibrated hand offset; ignored when none is given
    posture_prompts: bool = True  # "Lock your elbows" / "Shoulders over your hands" when pose frames are fed


class Coach:
    """Feedback rules for one station (see the module docstring)."""

    def __init__(self, options: CoachOptions = CoachOptions(), *, profile: Profile | None = None) -> None:
        self.options = options
        self.profile = profile or load_profile(options.profile)
        self.start(0.0)

    # -------------------------------------------------------------- session
    def start(self, t_s: float) -> None:
        """Begin a session at ``t_s``: counts, latches and timers reset."""
        fb = self.profile.feedback
        self._latches = {cat: RunLatch(fb.on_run, fb.off_run) for cat in CATEGORIES if cat != "pause"}
        self.procedure = Procedure(self.profile, t_s)
        self.metronome = Metronome(self.profile.rate_target_cpm, t_s)
        self._t_s = float(t_s)
        self._active: Prompt | None = None
        self._last_values: dict[str, Any] = {}
        self.history: list[tuple[float, str | None]] = []  # (t_s, prompt id or None) at every change
        th = self.profile.posture
        self.posture = PostureJudge(th) if th is not None and self.options.posture_prompts else None
        self.last_posture: CompressionPosture | None = None  # of the last compression

    @property
    def active(self) -> Prompt | None:
        return self._active

    @property
    def procedure_state(self) -> ProcedureState:
        return self.procedure.state

    @property
    def latched(self) -> dict[str, str | None]:
        """Category -> latched direction ("low"/"high") or None."""
        return {cat: latch.latched for cat, latch in self._latches.items()}

    # -------------------------------------------------------------- inputs
    def on_posture(self, measurement, t_s: float) -> PostureSample | None:
        """One pose frame (``calibration.posture.PostureMeasurement``) at ``t_s``; None when posture is off."""
        if self.posture is None:
            return None
        return self.posture.add(measurement, t_s)

    def on_compression(self, c: Compression, placement_mm: float | None = None) -> Prompt | None:
        """One completed compression (in order)."""
        if not self.options.placement_prompts:
            placement_mm = None
        if self.procedure.on_compression(c):
            self.metronome.restart(c.t_bottom_s)
        cp = None
        if self.posture is not None:
            cp = self.posture.for_compression(c.t_start_s, c.t_release_s, c.set_index)
        self.last_posture = cp
        for cat, verdict in verdicts(c, self.profile, placement_mm, cp).items():
            self._latches[cat].update(verdict)
        self._last_values = {
            "depth_mm": c.depth_mm,
            "rate_cpm": c.rate_cpm,
            "recoil_residual_mm": c.recoil_residual_mm,
            "placement_mm": placement_mm,
            "posture": cp,
        }
        return self._select(max(self._t_s, c.t_release_s))

    def on_time(self, t_s: float) -> Prompt | None:
        """The clock moved (every frame): time-based prompts (pauses, breaths)."""
        self.procedure.on_time(t_s)
        return self._select(max(self._t_s, float(t_s)))

    def on_state(self, state: CoreState) -> Prompt | None:
        """Convenience for the live loop: the core's state carries the time."""
        return self.on_time(state.t_s)

    def metronome_cue(self, t_s: float) -> MetronomeCue:
        """The beat; silent during breaths and pauses."""
        return self.metronome.cue(t_s, active=self.procedure.phase not in (BREATHS, PAUSED))

    # -------------------------------------------------------------- selection
    def _candidate(self, cat: str) -> Prompt | None:
        if cat == "pause":
            return self.procedure.hint()
        direction = self._latches[cat].latched
        return None if direction is None else P.BY_VERDICT[(cat, direction)]

    def _detail(self, p: Prompt) -> dict[str, Any]:
        v, prof = self._last_values, self.profile
        if p.category == "pause":
            d: dict[str, Any] = {"hands_off_s": round(self.procedure.hands_off_s, 2), "pause_max_s": prof.pause_max_s}
            if p.id == "give_breaths" and prof.ratio:
                d["breaths"] = prof.ratio.breaths
            return d
        if p.category == "depth":
            return {"depth_mm": v.get("depth_mm"), "band_mm": [prof.depth_mm.min, prof.depth_mm.max]}
        if p.category == "recoil":
            return {"recoil_residual_mm": v.get("recoil_residual_mm"), "max_mm": prof.recoil_residual_max_mm}
        if p.category == "rate":
            return {"rate_cpm": v.get("rate_cpm"), "band_cpm": [prof.rate_cpm.min, prof.rate_cpm.max]}
        if p.category in ("elbows", "shoulders"):
            cp = v.get("posture")
            d = cp.to_dict() if cp is not None else {}
            if p.category == "elbows":
                return {"elbow_deg": d.get("elbow_deg"), "good_min_deg": prof.posture.elbow_good_min_deg}
            front = d.get("shoulder_offset_front_mm")
            toward = None if front is None else ("forward" if front < 0 else "back")
            return {
                "shoulder_offset_mm": d.get("shoulder_offset_mm"),
                "shoulder_offset_front_mm": front,
                "move_shoulders": toward,
                "max_mm": prof.posture.shoulder_offset_max_mm,
            }
        off = v.get("placement_mm")
        toward = None if off is None or not math.isfinite(off) else ("feet" if off > 0 else "head")
        return {"offset_mm": off, "move_toward": toward, "tolerance_mm": prof.placement_tolerance_mm}

    def _select(self, t_s: float) -> Prompt | None:
        self._t_s = t_s
        best = None
        for cat in CATEGORIES:
            best = self._candidate(cat)
            if best is not None:
                break
        if best is None:
            if self._active is not None:
                self.history.append((t_s, None))
            self._active = None
            return None
        if self._active is not None and self._active.id == best.id:
            self._active = self._active.at(self._active.since_t_s, **self._detail(best))
        else:
            self._active = best.at(t_s, **self._detail(best))
            self.history.append((t_s, best.id))
        return self._active
