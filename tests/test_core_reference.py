"""The pure-Python loop (the benchmark's yardstick) computes the same compressions as the kernel."""
from __future__ import annotations

import numpy as np
import pytest

from coach.core import CoreOptions, analyze_strokes
from coach.core.reference import reference_strokes
from coach.core.simulator import SimOptions, simulate


@pytest.mark.parametrize("seed,fps,profile", [(0, 30.0, "adult"), (1, 60.0, "adult"), (2, 30.0, "infant")])
def test_reference_loop_equals_vectorised_kernel(seed, fps, profile):
    sim = simulate(SimOptions(seed=seed, fps=fps, duration_s=60.0, profile=profile, dropout_s=(0.03, 0.15)))
    opts = CoreOptions(profile=profile)
    k = analyze_strokes(sim.t_s, sim.height_mm, opts)
    r = reference_strokes(sim.t_s, sim.height_mm, opts)
    assert len(k) == len(r) > 30
    got = np.array([[x["t_start"], x["t_bottom"], x["t_release"], x["depth"], x["residual"], x["gap_s"]] for x in r])
    want = np.c_[k.t_start, k.t_bottom, k.t_release, k.depth, k.residual, k.gap_s]
    assert np.allclose(got, want, rtol=0, atol=1e-9)


def test_reference_refuses_what_it_does_not_implement():
    sim = simulate(SimOptions(seed=3, duration_s=20.0, dropout_rate_hz=0.0))
    h = sim.height_mm.copy()
    h[(sim.t_s > 10.0) & (sim.t_s < 10.4)] = np.nan  # a long gap: the kernel's previous-cycle fill
    with pytest.raises(NotImplementedError):
        reference_strokes(sim.t_s, h)
