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

Adaptive coaching (coach.learning, docs/learning.md): ``feedback_level``
fades the prompts (full -> errors -> set-summary -> none), ``cues`` give a
trainee's persistent pattern a reminder before it usually appears, and a
fatigue rule (rolling compliance against the trainee's first minute) raises a
rescuer swap (two-rescuer profiles) or a warning in the depth category.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from coach.core.profiles import Profile, load_profile
from coach.core.types import Compression, CoreState
from coach.learning.fatigue import FatigueMonitor
from coach.learning.patterns import TargetedCue
from coach.learning.rules import ERRORS, FULL, LEVELS, NONE, SET_SUMMARY, load_learning_rules

from . import prompts as P
from .hysteresis import RunLatch
from .metronome import Metronome, MetronomeCue
from .posture import CompressionPosture, PostureJudge, PostureSample
from .procedure import BREATHS, PAUSED, WAITING, Procedure, ProcedureState
from .prompts import CATEGORIES, Prompt
from .rules import verdicts


@dataclass(frozen=True)
class CoachOptions:
    profile: str | None = None  # guideline profile name (None: the file's default, adult)
    placement_prompts: bool = True  # needs a calibrated hand offset; ignored when none is given
    posture_prompts: bool = True  # "Lock your elbows" / "Shoulders over your hands" when pose frames are fed
    feedback_level: str = FULL  # fading schedule (coach.learning.rules.LEVELS): full | errors | set-summary | none
    cues: tuple[TargetedCue, ...] = ()  # targeted reminders from the trainee's persistent patterns (full level only)
    fatigue_prompts: bool = True  # swap / warning when rolling compliance drops against the first minute

    def __post_init__(self) -> None:
        if self.feedback_level not in LEVELS:
            raise ValueError(f"feedback_level {self.feedback_level!r}: choose one of {', '.join(LEVELS)}")


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
        rules = load_learning_rules()
        on_run = fb.on_run * (rules.fading.errors_on_run_factor if self.level == ERRORS else 1)
        self._latches = {cat: RunLatch(on_run, fb.off_run) for cat in CATEGORIES if cat != "pause"}
        self.fatigue = FatigueMonitor(self.profile, rules.fatigue)
        self._cue_show_s = rules.patterns.cue_show_s
        self._first_start_s = math.nan  # first compression's start: cue times count from it
        self._set_start_s = math.nan  # first compression of the current set (after the first set)
        self._set_counts: dict[str, int] = {}  # this set: "total", "good", and per error verdict
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
    def level(self) -> str:
        """The feedback level in force (shown on the overlay so the trainee knows)."""
        return self.options.feedback_level

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
            self._set_counts = {}
            if math.isfinite(self._first_start_s):
                self._set_start_s = c.t_start_s
        if not math.isfinite(self._first_start_s):
            self._first_start_s = c.t_start_s
        cp = None
        if self.posture is not None:
            cp = self.posture.for_compression(c.t_start_s, c.t_release_s, c.set_index)
        self.last_posture = cp
        vs = verdicts(c, self.profile, placement_mm, cp)
        for cat, verdict in vs.items():
            self._latches[cat].update(verdict)
        self._count_set(vs)
        self.fatigue.push(c)
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
        return self.metronome.cue(t_s, active=self.level == FULL and self.procedure.phase not in (BREATHS, PAUSED))

    # -------------------------------------------------------------- adaptive rules
    def _count_set(self, vs: dict[str, str | None]) -> None:
        n = self._set_counts
        n["total"] = n.get("total", 0) + 1
        errors = [(cat, v) for cat, v in vs.items() if v not in (None, "ok") and cat != "placement"]
        if not errors:
            n["good"] = n.get("good", 0) + 1
        for key in errors:
            n[key] = n.get(key, 0) + 1

    def _set_summary(self) -> Prompt | None:
        n = self._set_counts
        if self.procedure.phase not in (BREATHS, PAUSED) or not n.get("total"):
            return None
        worst = max(((k, v) for k, v in n.items() if isinstance(k, tuple)), key=lambda kv: kv[1], default=None)
        advice = P.BY_VERDICT[worst[0]].text if worst and worst[1] > n["total"] - n.get("good", 0) - worst[1] else None
        return P.set_summary(self.procedure.set_index + 1, n.get("good", 0), n["total"], advice)

    def _fatigue_prompt(self) -> Prompt | None:
        if not self.options.fatigue_prompts or not self.fatigue.state.fatigued:
            return None
        return P.SWAP_RESCUERS if self.profile.rescuers >= 2 else P.FATIGUE_WARNING

    def _cue(self, cat: str) -> Prompt | None:
        """A targeted cue of this category due now (full level only, never during breaths or pauses)."""
        if self.level != FULL or not self.options.cues or self.procedure.phase in (BREATHS, PAUSED, WAITING):
            return None
        for cue in self.options.cues:
            if cue.category != cat:
                continue
            t0 = self._set_start_s if cue.each_set else self._first_start_s + cue.at_s
            if math.isfinite(t0) and t0 <= self._t_s < t0 + self._cue_show_s:
                return Prompt(cue.prompt_id, cue.text, cue.category)
        return None

    # -------------------------------------------------------------- selection
    def _candidate(self, cat: str) -> Prompt | None:
        """The prompt of one category under the feedback level (module docstring)."""
        level = self.level
        if level == NONE:
            return None
        if level == SET_SUMMARY:
            return self._set_summary() if cat == "pause" else None
        if cat == "pause":
            hint = self.procedure.hint()
            return hint if level == FULL or hint is P.RESUME else None  # errors: only an over-long pause
        if cat == "depth":
            tired = self._fatigue_prompt()
            if tired is not None:
                return tired
        direction = self._latches[cat].latched
        return self._cue(cat) if direction is None else P.BY_VERDICT[(cat, direction)]

    def _detail(self, p: Prompt) -> dict[str, Any]:
        v, prof = self._last_values, self.profile
        if p.id == "set_summary":
            return {"set": self.procedure.set_index + 1, **{k: v for k, v in self._set_counts.items() if isinstance(k, str)}}
        if p.id in (P.SWAP_RESCUERS.id, P.FATIGUE_WARNING.id):
            st = self.fatigue.state
            return {"reference_pct": round(st.reference_pct, 1), "rolling_pct": round(st.rolling_pct, 1),
                    "drop_points": round(st.drop_points, 1)}
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
