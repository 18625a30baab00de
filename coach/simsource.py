"""Samples (and synthetic camera frames) from the core's simulator, for ``cpr-coach simulate``.

Why synthetic frames: ``cpr.frame`` is part of the protocol, and monitor and
dashboard developers need video to draw over without a camera. The picture is
a top-down view drawn with the same projection the overlay uses
(overlays.scene.top_down_projector), so the hand-placement ring sits on the
drawn chest and the hands move as the simulated trainee's do.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

import numpy as np

from overlays.scene import Projector, top_down_projector

if TYPE_CHECKING:
    from coach.station import Sample, StationOptions


@dataclass(frozen=True)
class SimSourceOptions:
    frame_hz: float = 5.0  # synthetic JPEG frames per second (0: none)
    frame_size: tuple[int, int] = (640, 360)
    jpeg_quality: int = 80
    tracker_fps: float | None = None  # reported in cpr.state (None: the trace's own rate)


def render_sim_frame(displacement_mm: float, placement_mm: float | None, size: tuple[int, int],
                     project: Projector | None = None) -> np.ndarray:
    """A top-down manikin chest with the rescuer's hands (BGR)."""
    import cv2

    project = project or top_down_projector()
    w, h = size
    img = np.full((h, w, 3), (58, 52, 48), np.uint8)  # floor

    def px(x_m: float, y_m: float) -> tuple[int, int]:
        u, v = project((x_m, y_m, 0.0))
        return int(u * w), int(v * h)

    # torso, head and arms of a supine manikin (+x head)
    torso = np.array([px(0.22, -0.20), px(0.22, 0.20), px(-0.30, 0.17), px(-0.30, -0.17)], np.int32)
    cv2.fillPoly(img, [torso], (150, 170, 205), cv2.LINE_AA)
    head_c = px(0.36, 0.0)
    ax = abs(px(0.0, 0.10)[0] - px(0.0, 0.0)[0])
    cv2.ellipse(img, head_c, (ax, int(ax * 1.2)), 0, 0, 360, (150, 170, 205), -1, cv2.LINE_AA)
    cv2.line(img, px(0.20, 0.0), px(-0.05, 0.0), (120, 140, 175), 2, cv2.LINE_AA)  # sternum
    cv2.line(img, px(0.05, -0.16), px(0.05, 0.16), (120, 140, 175), 1, cv2.LINE_AA)  # nipple line
    d = 0.0 if not math.isfinite(displacement_mm) else max(0.0, displacement_mm)
    if placement_mm is not None and math.isfinite(placement_mm):
        c = px(placement_mm / 1000.0, 0.0)
        r = abs(px(0.0, 0.045)[0] - px(0.0, 0.0)[0])
        r = int(r * (1.0 - min(d, 80.0) / 400.0))  # pressed hands look slightly smaller from above
        shade = int(min(d, 80.0) * 1.2)
        cv2.ellipse(img, c, (r, int(r * 1.25)), 0, 0, 360, (95 - shade // 3, 130 - shade // 2, 190 - shade // 2), -1, cv2.LINE_AA)
        cv2.ellipse(img, c, (r, int(r * 1.25)), 0, 0, 360, (40, 60, 90), 2, cv2.LINE_AA)
    cv2.putText(img, "SIM", (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (200, 200, 200), 2, cv2.LINE_AA)
    return img


def sim_samples(trace, options: SimSourceOptions = SimSourceOptions(), project: Projector | None = None) -> Iterator["Sample"]:
    """One Sample per simulated frame; a JPEG every 1/frame_hz seconds."""
    from coach.station import Sample  # zmq and the coach load only when a simulation runs

    t = np.asarray(trace.t_s, float)
    hgt = np.asarray(trace.height_mm, float)
    placement = getattr(trace, "placement_mm", None)
    if placement is None:
        pl = np.full(t.shape, np.nan)
    else:
        pl = np.broadcast_to(np.asarray(placement, float), t.shape)
    finite = hgt[np.isfinite(hgt)]
    rest = float(np.percentile(finite, 95)) if finite.size else 0.0
    fps = float(1.0 / np.median(np.diff(t))) if t.size > 1 else 30.0
    tracker_fps = options.tracker_fps or fps
    next_frame = -math.inf
    for i in range(t.size):
        ti, hi = float(t[i]), float(hgt[i])
        pi = None if not math.isfinite(pl[i]) else float(pl[i])
        jpeg = None
        size = None
        if options.frame_hz > 0 and ti >= next_frame:
            import cv2

            next_frame = ti + 1.0 / options.frame_hz
            img = render_sim_frame(rest - hi, pi, options.frame_size, project)
            ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, options.jpeg_quality])
            if ok:
                jpeg, size = buf.tobytes(), options.frame_size
        yield Sample(
            t_s=ti,
            height_mm=hi,
            placement_mm=pi,
            hands_visible=math.isfinite(hi),
            tracker_fps=tracker_fps,
            latency_ms=0.0,
            frame_jpeg=jpeg,
            frame_size=size,
        )


# ---------------------------------------------------------------- a whole simulated station
SCENARIOS = ("realistic", "good", "shallow", "deep", "slow", "fast", "leaning", "off-centre", "long-pauses")


def sim_options_for(scenario: str, *, seed: int, duration_s: float, profile: str | None, fps: float = 30.0):
    """The simulator's options for a named trainee behaviour (offsets relative to the profile)."""
    from dataclasses import replace

    from coach.core.profiles import load_profile
    from coach.core.simulator import SimOptions

    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose one of: {', '.join(SCENARIOS)}")
    p = load_profile(profile)
    o = SimOptions(seed=seed, duration_s=duration_s, fps=fps, profile=p.name)
    centre_depth = (p.depth_mm.min + p.depth_mm.max) / 2
    steady = dict(lean_prob=0.0, placement_drift_prob=0.0, fatigue_mm_per_min=0.0, rate_drift_cpm=0.0)
    changes = {
        "realistic": {},
        "good": dict(steady, depth_mm=centre_depth, rate_cpm=p.rate_target_cpm, depth_sd_mm=1.0),
        "shallow": dict(steady, depth_mm=p.depth_mm.min - 10.0, rate_cpm=p.rate_target_cpm),
        "deep": dict(steady, depth_mm=p.depth_mm.max + 8.0, rate_cpm=p.rate_target_cpm),
        "slow": dict(steady, depth_mm=centre_depth, rate_cpm=p.rate_cpm.min - 15.0),
        "fast": dict(steady, depth_mm=centre_depth, rate_cpm=p.rate_cpm.max + 15.0),
        "leaning": dict(steady, depth_mm=centre_depth, rate_cpm=p.rate_target_cpm, lean_prob=0.6,
                        lean_mm=(p.recoil_residual_max_mm + 3.0, p.recoil_residual_max_mm + 8.0)),
        "off-centre": dict(steady, depth_mm=centre_depth, rate_cpm=p.rate_target_cpm, placement_drift_prob=1.0,
                           placement_drift_mm=(p.placement_tolerance_mm + 10.0, p.placement_tolerance_mm + 20.0)),
        "long-pauses": dict(steady, depth_mm=centre_depth, rate_cpm=p.rate_target_cpm, long_pause_prob=1.0),
    }[scenario]
    return replace(o, **changes)


@dataclass(frozen=True)
class SimulationOptions:
    seed: int = 0
    duration_s: float = 120.0
    scenario: str = "realistic"
    fps: float = 30.0
    station: "StationOptions | None" = None  # publisher/remote endpoints; defaults to StationOptions(simulator)
    source: SimSourceOptions = SimSourceOptions()


@dataclass
class SimulationResult:
    summary: object  # SessionSummary of the last session (None if none ran)
    truth_compressions: int
    samples: int
    prompts: dict  # prompt id -> times raised
    sent: dict  # topic -> messages sent
    publish_endpoint: str
    remote_endpoint: str | None
    interrupted: bool = False
    session_id: str | None = None  # the recorded session (None when not recorded)


def run_simulation(options: SimulationOptions, *, clock=None, sleep=None, status=None, on_ready=None,
                   recorder=None, coach_plan=None) -> SimulationResult:
    """Simulator -> real Station (analyzer, Coach, Publisher, remote) paced by ``clock``.

    ``on_ready(station)`` is called once the sockets are bound (tests connect then); ``recorder``
    (a coach.records.SessionRecorder) records the session; ``coach_plan`` is the Station's hook
    (coach.trainee.data.StorePlanner: the trainee's adaptive coaching).
    """
    import time

    from coach.core.simulator import simulate
    from coach.station import Station, StationOptions

    st_opts = options.station or StationOptions(station_id="sim-1", source_kind="simulator")
    sim = sim_options_for(options.scenario, seed=options.seed, duration_s=options.duration_s,
                          profile=st_opts.profile, fps=options.fps)
    trace = simulate(sim)
    project = top_down_projector()
    station = Station(st_opts, project=project, recorder=recorder, coach_plan=coach_plan)
    try:
        if on_ready is not None:
            on_ready(station)
        interrupted = False
        try:
            summary = station.run(sim_samples(trace, options.source, project), clock=clock or time.monotonic,
                                  sleep=sleep or time.sleep, status=status)
        except KeyboardInterrupt:  # the session was stopped and its summary published by run()
            summary, interrupted = station.last_summary, True
        return SimulationResult(
            interrupted=interrupted,
            summary=summary,
            truth_compressions=sum(1 for c in trace.truth if c.t_release_s <= station.t_last_s),
            samples=station.stats.samples,
            prompts=dict(station.stats.prompts),
            sent=dict(station.publisher.stats.sent),
            publish_endpoint=station.publisher.endpoint,
            remote_endpoint=None if station.remote is None else station.remote.endpoint,
            session_id=None if recorder is None else recorder.last_session_id,
        )
    finally:
        station.close()
