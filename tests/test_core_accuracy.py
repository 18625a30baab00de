"""Synthetic accuracy over seeded simulated sessions (the issue's "Must show" figures).

Sessions are the simulator's realistic default: 30 fps with jitter and dropped
frames, 1 mm (standard deviation) white noise plus tremor, spikes, short
dropouts, baseline drift, rate drift, fatigue, leaning runs and 30:2 pauses
with large hand movements. See docs/core.md for the measured figures.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from coach.core.simulator import SimOptions, simulate
from tests.core_helpers import depth_errors, match
from tests.core_helpers import run_sessions as _run_sessions

SEEDS = range(20)


def run_sessions(seeds=SEEDS, **kw):
    return _run_sessions(seeds, **kw)


@pytest.fixture(scope="module")
def sessions_30fps():
    return run_sessions(fps=30.0, noise_mm=1.0)


def test_counts_are_exact(sessions_30fps):
    for sim, res in sessions_30fps:
        assert res.summary.compressions == len(sim.truth), sim.options.seed
        assert len(match(sim.truth, res.compressions)) == len(sim.truth)
        assert [s.count for s in res.sets] == [s.count for s in sim.sets]


def test_per_compression_rate_error_is_sub_cpm(sessions_30fps):
    """Frame quantisation alone would cost ~6 cpm at 30 fps: timing is sub-frame."""
    err = []
    for sim, res in sessions_30fps:
        for c, m in match(sim.truth, res.compressions):
            if math.isfinite(c.rate_cpm):
                assert math.isfinite(m.rate_cpm)
                err.append(abs(m.rate_cpm - c.rate_cpm))
    err = np.array(err)
    assert err.size > 1500
    assert err.mean() <= 1.0  # the bound; measured 0.37 (0.63 while the rate was clocked by bottoms)
    assert np.percentile(err, 95) <= 1.2  # measured 0.97 (a single frame is ~6 cpm)


def test_session_mean_rate_error(sessions_30fps):
    for sim, res in sessions_30fps:
        truth = np.mean([c.rate_cpm for c in sim.truth if math.isfinite(c.rate_cpm)])
        assert abs(res.summary.mean_rate_cpm - truth) <= 0.5, sim.options.seed  # measured max 0.03


def test_pauses_found_to_a_tenth_of_a_second(sessions_30fps):
    n = 0
    for sim, res in sessions_30fps:
        assert [p.kind for p in res.pauses] == [p.kind for p in sim.pauses], sim.options.seed
        for tp, mp in zip(sim.pauses, res.pauses):
            assert abs(mp.start_s - tp.start_s) <= 0.1
            assert abs(mp.end_s - tp.end_s) <= 0.1
            assert mp.too_long == tp.too_long
            n += 1
    assert n >= 80


def test_depth_error_30fps(sessions_30fps):
    """Per-compression depth error at 30 fps with 1 mm noise: the product owner's bar is 0.6 mm (issue 10),
    after the study below showed 0.5 mm out of reach at 30 fps (docs/core.md, "Depth accuracy at 30 fps").

    Measured: MAE 0.585 mm, bias +0.07 mm.
    """
    err = depth_errors(sessions_30fps)
    assert np.abs(err).mean() <= 0.6
    assert abs(err.mean()) <= 0.2  # bias
    assert np.percentile(np.abs(err), 95) <= 1.6


@pytest.mark.parametrize("fps", [50.0, 60.0])
def test_depth_error_at_50_fps_and_above(fps):
    """At >= 50 fps the bar is 0.5 mm with the same 1 mm noise (measured 0.46 at 50 fps, 0.45 at 60)."""
    err = depth_errors(run_sessions(fps=fps, noise_mm=1.0))
    assert np.abs(err).mean() <= 0.5
    assert abs(err.mean()) <= 0.2  # bias


def test_flags_follow_the_measured_values(sessions_30fps):
    from coach.core.metrics import compression_flags
    from coach.core.profiles import load_profile

    prof = load_profile("adult")
    for _, res in sessions_30fps[:3]:
        for m in res.compressions:
            assert m.flags == compression_flags(m.depth_mm, m.rate_cpm, m.recoil_residual_mm, prof)


def test_depth_limits_study_holds():
    """The evidence behind the 0.6 mm bar at 30 fps (python -m tests.core_depth_limits) stays reproducible: the bound for
    the bottom at 30 fps is ~0.5 mm s.d., halving the samples' spacing cuts it by ~30 %, and the oracle that
    knows the simulator's waveform reaches the bound (so the study measures what it claims)."""
    from tests.core_depth_limits import crlb_bottom, oracle_bottom, oracle_heights, stroke_span

    b30, b60 = crlb_bottom(0.25, 30.0), crlb_bottom(0.25, 60.0)
    assert 0.45 <= b30 <= 0.56
    assert b60 <= 0.75 * b30
    err = []
    for seed in (0, 1):
        sim = simulate(SimOptions(seed=seed, fps=30.0, noise_mm=1.0))
        y = oracle_heights(sim)
        for i, c in enumerate(sim.truth):
            rest = float(np.interp(c.t_bottom_s, sim.t_s, sim.rest_mm))
            ob = oracle_bottom(sim.t_s, y, c, *stroke_span(sim.truth, i), float(sim.extra["shape_alpha"]))
            if math.isfinite(ob):
                err.append(ob - (rest - c.depth_mm))
    err = np.array(err)
    assert err.size > 100
    assert abs(err.mean()) < 0.15 and err.std() < 1.2 * b30
