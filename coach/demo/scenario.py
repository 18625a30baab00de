"""What the simulated trainee does in front of the virtual camera, with the truth behind it.

The core's simulator (coach.core.simulator) gives the chest motion and its ground truth: sets of
30 with ventilation pauses, rate drift, depth variation, fatigue and some leaning. Around it, the
protocol a real trainee follows: the marker lies on the chest for calibration (a separate short
clip), then the hands come down onto the chest, rest still (the depth baseline), and follow the
simulated waveform. During the breaths the hands leave the picture. The simulator's measurement
errors are off: here the errors come from the camera picture and the vision.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from coach.core.simulator import SimOptions, SimTrace, simulate
from coach.core.types import Compression


@dataclass(frozen=True)
class DemoScript:
    t_s: np.ndarray  # frame times of the camera clip
    hand_z_mm: np.ndarray  # the hand's height above its resting position (NaN: not in the picture)
    hand_x_mm: np.ndarray  # hand position along the body axis (+ toward the head)
    truth: tuple[Compression, ...]  # the simulator's compressions, in clip time
    sim: SimTrace

    @property
    def duration_s(self) -> float:
        return float(self.t_s[-1]) if self.t_s.size else 0.0

    def truth_figures(self) -> dict[str, float]:
        """Count, mean depth (mm) and mean rate (cpm) of the true compressions."""
        rates = [c.rate_cpm for c in self.truth if np.isfinite(c.rate_cpm)]
        return {"compressions": len(self.truth),
                "mean_depth_mm": float(np.mean([c.depth_mm for c in self.truth])) if self.truth else float("nan"),
                "mean_rate_cpm": float(np.mean(rates)) if rates else float("nan")}


def demo_script(cpr_s: float = 30.0, *, seed: int = 7, fps: float = 30.0, profile: str = "adult",
                empty_s: float = 0.8, approach_s: float = 0.6, rest_s: float = 2.5) -> DemoScript:
    """``empty_s`` of an empty chest, the hands coming down (``approach_s``), resting (``rest_s``),
    then ``cpr_s`` seconds of the simulator's session."""
    sim = simulate(SimOptions(
        seed=seed, duration_s=cpr_s, fps=fps, profile=profile,
        noise_mm=0.0, tremor_mm=0.0, drift_mm=0.0, spike_rate_hz=0.0, dropout_rate_hz=0.0, jitter=0.0,
        frame_drop_prob=0.0, first_delay_s=(1.0, 1.0), placement_sd_mm=0.0, placement_drift_prob=0.0))
    h_sim = np.asarray(sim.clean_height_mm, float)
    x_sim = np.asarray(sim.placement_mm, float)
    i0 = int(np.argmax(np.abs(h_sim) < 1e-9))  # the hands have landed on the chest
    k_empty, k_ap, k_rest = (int(round(v * fps)) for v in (empty_s, approach_s, rest_s))
    k0 = k_empty + k_ap + k_rest
    n = k0 + (h_sim.size - i0)
    t = np.arange(n) / fps
    z = np.full(n, np.nan)
    u = np.clip(np.arange(k_ap) / max(k_ap - 1, 1), 0.0, 1.0)
    z[k_empty:k_empty + k_ap] = 40.0 * (1.0 - (1.0 - np.cos(np.pi * u)) / 2.0)  # coming down from 40 mm
    z[k_empty + k_ap:k0] = 0.0
    z[k0:] = h_sim[i0:]
    x = np.zeros(n)
    x[k0:] = x_sim[i0:]
    shift = (k0 - i0) / fps
    truth = tuple(c.shifted(shift) for c in sim.truth)
    for p in sim.pauses:  # the breaths: the hands are at the head, out of the picture
        if p.kind == "ventilation":
            a, b = p.start_s + shift + 0.2, p.end_s + shift - 1.0
            z[(t > a) & (t < b)] = np.nan
    return DemoScript(t, z, x, truth, sim)
