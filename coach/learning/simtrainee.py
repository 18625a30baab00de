"""Seeded simulated trainees: sessions that improve, plateau, decay or tire, through the real parts.

Why: the learning rules are judged on histories whose truth is known. Each
session is the core's simulator (``SimOptions`` set from a skill level in 0..1)
fed sample by sample through the real ``StreamingAnalyzer`` and the real
``Coach`` at the level the fading rule chose from the sessions before it, with
the targeted cues of the persistent patterns so far. The simulated trainee
does not react to prompts (its skill is fixed per session); the prompts are
counted to show what the trainee would have been told.

    run = simulate_trainee("improve", seed=1)
    run.history, run.prompts_per_min
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone

import numpy as np

from coach.core import CoreOptions, StreamingAnalyzer
from coach.core.profiles import load_profile
from coach.core.simulator import SimOptions, simulate

from .history import SessionHistory, TraineeSession
from .plan import coaching_plan

# skill per session (0 = untrained, 1 = excellent) for each kind of trainee
SKILL_CURVES: dict[str, tuple[float, ...]] = {
    "improve": (0.3, 0.55, 0.8, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0),
    "plateau": (0.3, 0.55, 0.7, 0.72, 0.7, 0.72, 0.7, 0.72, 0.7, 0.72),
    "decay": (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.8, 0.6, 0.45, 0.3),
    "slip": (0.3, 0.55, 0.8, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.25, 1.0),  # masters, has one poor session, recovers
    "fatigue": (1.0,) * 10,  # good, but tires from the second minute of every session
}
GAP_DAYS = {"improve": 7, "plateau": 7, "decay": 30, "slip": 7, "fatigue": 7}
FATIGUE_ONSET_MIN = 0.8  # minutes of compressing (about 60 s of session with 30:2 pauses) before the "fatigue" trainee tires


def skill_options(skill: float, *, seed: int, duration_s: float, profile: str = "adult", kind: str = "") -> SimOptions:
    """Simulator options for a trainee of this skill (offsets from the profile's bands)."""
    p = load_profile(profile)
    lack = 1.0 - float(np.clip(skill, 0.0, 1.0))
    centre = (p.depth_mm.min + p.depth_mm.max) / 2
    o = SimOptions(
        seed=seed, duration_s=duration_s, profile=p.name,
        depth_mm=centre - 12.0 * lack, depth_sd_mm=1.5 + 2.0 * lack,
        rate_cpm=p.rate_target_cpm + 14.0 * lack, rate_drift_cpm=6.0 * lack,
        lean_prob=0.25 * lack, lean_onset_min=1.0 if lack > 0 else 0.0,
        lean_mm=(p.recoil_residual_max_mm + 2.0, p.recoil_residual_max_mm + 6.0),
        set_start_rate_cpm=25.0 * lack,
        fatigue_mm_per_min=0.0, placement_drift_prob=0.6 * lack,
        placement_drift_mm=(p.placement_tolerance_mm + 8.0, p.placement_tolerance_mm + 15.0),
        pause_s=(4.0, 7.0),
    )
    if kind == "fatigue":
        o = replace(o, fatigue_onset_min=FATIGUE_ONSET_MIN, fatigue_mm_per_min=30.0, fatigue_max_mm=20.0)
    return o


@dataclass
class SimulatedSession:
    session: TraineeSession
    prompts: list[tuple[float, str]]  # (t_s, prompt id) each time a prompt was raised
    trace_extra: dict  # the simulator's extra (e.g. fatigue_onset_t_s)
    first_start_s: float  # first compression's start

    @property
    def span_min(self) -> float:
        c = self.session.compressions
        return max(c[-1].t_release_s - self.first_start_s, 1.0) / 60.0 if c else 1.0 / 60.0

    @property
    def prompts_per_min(self) -> float:
        """Prompts raised per minute, the set summaries not counted (they come in the pause, not while compressing)."""
        return sum(pid != "set_summary" for _, pid in self.prompts) / self.span_min

    @property
    def summaries_per_min(self) -> float:
        return sum(pid == "set_summary" for _, pid in self.prompts) / self.span_min


def run_session(options: SimOptions, *, trainee_id: str, started_at: datetime, feedback_level: str,
                cues=(), session_id: str = "", station_id: str = "sim") -> SimulatedSession:
    """One simulated session through StreamingAnalyzer and Coach, as the live station would run it."""
    from coach.feedback import Coach, CoachOptions  # the coach imports coach.learning: keep the package import light

    trace = simulate(options)
    an = StreamingAnalyzer(CoreOptions(profile=options.profile))
    coach = Coach(CoachOptions(profile=options.profile, feedback_level=feedback_level, cues=tuple(cues)))
    t = trace.t_s
    coach.start(float(t[0]))
    pl = np.asarray(trace.placement_mm, float)

    def place(c) -> float:
        return float(pl[min(int(np.searchsorted(t, c.t_bottom_s)), t.size - 1)])

    for ti, hi in zip(t.tolist(), trace.height_mm.tolist()):
        for c in an.push(ti, hi):
            coach.on_compression(c, placement_mm=place(c))
        coach.on_time(ti)
    result = an.result()
    comps = result.compressions
    sess = TraineeSession(
        trainee_id=trainee_id, started_at=started_at, profile=options.profile, feedback_level=feedback_level,
        compressions=comps, summary=result.summary, pauses=result.pauses,
        placement_mm=tuple(place(c) for c in comps), station_id=station_id, session_id=session_id,
    )
    raised = [(ts, pid) for ts, pid in coach.history if pid is not None]
    return SimulatedSession(sess, raised, dict(trace.extra), comps[0].t_start_s if comps else math.nan)


@dataclass
class TraineeRun:
    kind: str
    history: SessionHistory
    sessions: list[SimulatedSession] = field(default_factory=list)

    @property
    def levels(self) -> list[str]:
        return [s.session.feedback_level for s in self.sessions]

    @property
    def prompts_per_min(self) -> list[float]:
        return [s.prompts_per_min for s in self.sessions]


def simulate_trainee(kind: str, *, seed: int = 0, sessions: int | None = None, duration_s: float = 128.0,
                     profile: str = "adult", trainee_id: str | None = None,
                     start: datetime = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)) -> TraineeRun:
    """A trainee's ``sessions`` sessions; each at the level ``next_level`` picks from the ones before."""
    if kind not in SKILL_CURVES:
        raise ValueError(f"unknown trainee kind {kind!r}; choose one of: {', '.join(SKILL_CURVES)}")
    tid = trainee_id or f"sim-{kind}-{seed}"
    curve = SKILL_CURVES[kind]
    sessions = len(curve) if sessions is None else sessions
    done: list[SimulatedSession] = []
    for k in range(sessions):
        plan = coaching_plan(SessionHistory.of(tid, [s.session for s in done]), profile)
        level, cues = plan.feedback_level, plan.cues
        opts = skill_options(curve[min(k, len(curve) - 1)], seed=seed * 1000 + k, duration_s=duration_s, profile=profile, kind=kind)
        when = start + timedelta(days=GAP_DAYS[kind] * k, hours=(k % 3))
        done.append(run_session(opts, trainee_id=tid, started_at=when, feedback_level=level, cues=cues,
                                session_id=f"{tid}-{k + 1:02d}"))
    return TraineeRun(kind, SessionHistory.of(tid, [s.session for s in done]), done)
