"""The compression clip's script: the protocol around a simulated CPR waveform.

The core's simulator (coach.core.simulator) gives the chest motion and its
ground truth: two sets with a ventilation pause, rate drift, depth variation,
and leaning (incomplete recoil). The clip wraps it in the calibration protocol:
the hands come down onto the chest, rest there still for ~2.5 s (the rest
baseline), then follow the simulated waveform. During the ventilation pause
the hands leave the camera's view (the rescuer gives breaths) and come back.
All in exact frame times; the simulator's measurement errors are switched off,
because here the errors must come from the rendering and the vision.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from coach.core.simulator import SimOptions, SimTrace, simulate
from coach.core.types import Compression


@dataclass(frozen=True)
class Scenario:
    t_s: np.ndarray  # frame times
    height_mm: np.ndarray  # hand height relative to rest (0 at rest, negative when compressing)
    visible: np.ndarray  # bool: the hands are in view
    truth: tuple[Compression, ...]  # ground truth compressions, in clip time
    rest_span_s: tuple[float, float]  # when the hands rest still before the first compression
    placement_mm: float
    sim: SimTrace


def compression_scenario(seed: int = 3, fps: float = 30.0, sim_s: float = 15.0, rest_s: float = 2.5,
                         approach_s: float = 0.6, per_set: int = 10, rate_cpm: float = 108.0,
                         placement_mm: float = 0.0, shape: str = "cosine",
                         return_rest_s: tuple[float, float] = (0.2, 0.5), straight_in: bool = False,
                         depth_mm: float | None = None) -> Scenario:
    """``shape``: the simulator's stroke-shape family (``template``: real strokes from the shared data, so the
    clip's waveform is not one this project's simulator drew; see docs/core.md, "Stroke-shape families").
    ``return_rest_s``: how long the hands rest on the chest after the pause before the first downstroke (filmed
    rescuers: 0.00-0.07 s; the simulator's default 0.2-0.5). ``straight_in``: no approach and no rest hold at the
    start either: the hands are on the chest from the first frame and compress after 0.1 s (the simulator's least).
    ``depth_mm``: the session's mean depth (None: the simulator's, about the middle of the 50-60 mm band); a
    trainee who stays shallow or goes deep is read through the same chain."""
    if straight_in:
        rest_s, approach_s = 0.0, 0.0
    templates = ()
    if shape in ("template", "mixed"):
        from tests.core_helpers import real_templates

        templates = real_templates()
    opts = SimOptions(
        shape=shape, templates=templates,
        seed=seed, duration_s=sim_s, fps=fps,
        noise_mm=0.0, tremor_mm=0.0, drift_mm=0.0, spike_rate_hz=0.0, dropout_rate_hz=0.0, jitter=0.0,
        frame_drop_prob=0.0,
        rate_cpm=rate_cpm, rate_drift_cpm=8.0, rate_jitter=0.03, depth_sd_mm=4.0, lean_prob=0.25,
        compressions_per_set=per_set, pause_s=(3.0, 3.5), depth_mm=depth_mm, first_delay_s=(0.0, 0.0) if straight_in else (1.0, 1.0), return_rest_s=return_rest_s,
    )
    sim = simulate(opts)
    h_sim = np.asarray(sim.clean_height_mm)
    i0 = int(np.argmax(np.abs(h_sim) < 1e-9))  # the hands have landed on the chest
    k0 = int(round((approach_s + rest_s) * fps))
    n = k0 + (len(h_sim) - i0)
    t = np.arange(n) / fps
    h = np.empty(n)
    k_ap = int(round(approach_s * fps))
    u = np.clip(np.arange(k_ap) / max(k_ap - 1, 1), 0, 1)
    h[:k_ap] = 40.0 * (1 - (1 - np.cos(np.pi * u)) / 2)  # coming down from 40 mm
    h[k_ap:k0] = 0.0
    h[k0:] = h_sim[i0:]
    shift = (k0 - i0) / fps
    truth = tuple(c.shifted(shift) for c in sim.truth)
    visible = np.ones(n, bool)
    for p in sim.pauses:
        if p.kind != "ventilation":
            continue
        a, b = p.start_s + shift + 0.2, p.end_s + shift - 1.0
        visible &= ~((t > a) & (t < b))
    return Scenario(t, h, visible, truth, (approach_s, approach_s + rest_s), placement_mm, sim)
