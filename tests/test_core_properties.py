"""Property tests (hypothesis): streaming equals batch, time shifts change nothing, no input crashes."""
from __future__ import annotations

import json
import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coach.core import StreamingAnalyzer, analyze
from coach.core.simulator import SimOptions, simulate
from tests.core_helpers import assert_sessions_equal, push_all

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def sim_sessions(draw):
    seed = draw(st.integers(0, 2**31 - 1))
    fps = draw(st.sampled_from([25.0, 30.0, 50.0, 60.0]))
    duration = draw(st.floats(6.0, 40.0))
    return simulate(SimOptions(seed=seed, fps=fps, duration_s=duration))


@st.composite
def arbitrary_signals(draw, max_n=400):
    n = draw(st.integers(0, max_n))
    dts = draw(st.lists(st.floats(1e-3, 0.5), min_size=n, max_size=n))
    t0 = draw(st.floats(-1e4, 1e4))
    t = t0 + np.cumsum(np.asarray(dts, float)) if n else np.zeros(0)
    t = t[np.concatenate(([True], np.diff(t) > 0))] if t.size else t
    kind = draw(st.sampled_from(["any", "waves", "steps"]))
    m = t.size
    if kind == "any":
        h = np.asarray(draw(st.lists(st.floats(allow_nan=True, allow_infinity=False), min_size=m, max_size=m)), float)
    else:
        amp = draw(st.floats(0.0, 120.0))
        per = draw(st.floats(0.2, 2.0))
        base = draw(st.floats(-1e3, 1e3))
        h = base + (amp * np.cos(2 * np.pi * (t - t[0]) / per) if m else np.zeros(0))
        if kind == "steps":
            h = np.round(h / 7.0) * 7.0
        holes = draw(st.lists(st.integers(0, max(m - 1, 0)), max_size=m // 5 + 1)) if m else []
        h[np.asarray(holes, int)] = np.nan
    return t, h


def chunked(an, t, h, sizes):
    out, i = [], 0
    for k in sizes:
        if i >= t.size:
            break
        out += an.push_many(t[i : i + k], h[i : i + k])
        i += k
    if i < t.size:
        out += an.push_many(t[i:], h[i:])
    return out


@settings(max_examples=20, **SETTINGS)
@given(sim=sim_sessions(), sizes=st.lists(st.integers(1, 120), min_size=1, max_size=40))
def test_streaming_equals_batch_on_simulated_sessions(sim, sizes):
    batch = analyze(sim.t_s, sim.height_mm)
    an = StreamingAnalyzer()
    emitted = chunked(an, sim.t_s, sim.height_mm, sizes)
    res = an.result()
    assert_sessions_equal(batch, res)
    assert emitted == list(res.compressions[: len(emitted)])


@settings(max_examples=60, **SETTINGS)
@given(sig=arbitrary_signals(), sizes=st.lists(st.integers(1, 50), min_size=1, max_size=30), per_sample=st.booleans())
def test_streaming_equals_batch_on_any_signal(sig, sizes, per_sample):
    t, h = sig
    batch = analyze(t, h)
    an = StreamingAnalyzer()
    if per_sample:
        push_all(an, t, h)
    else:
        chunked(an, t, h, sizes)
    assert_sessions_equal(batch, an.result())


@settings(max_examples=20, **SETTINGS)
@given(sim=sim_sessions(), shift=st.floats(-5000.0, 5000.0))
def test_time_shift_leaves_metrics_unchanged(sim, shift):
    a = analyze(sim.t_s, sim.height_mm)
    b = analyze(sim.t_s + shift, sim.height_mm)
    assert_sessions_equal(a, b, shift=shift, tol=1e-6, rtol=1e-9)
    sa, sb = a.summary, b.summary
    for name in ("compressions", "sets", "pauses_too_long"):
        assert getattr(sa, name) == getattr(sb, name)
    for name in ("mean_rate_cpm", "mean_depth_mm", "ccf", "hands_off_s", "time_to_first_s", "duration_s"):
        u, v = getattr(sa, name), getattr(sb, name)
        assert (math.isnan(u) and math.isnan(v)) or abs(u - v) <= 1e-6 * max(1.0, abs(u))


@settings(max_examples=80, **SETTINGS)
@given(sig=arbitrary_signals(max_n=600), profile=st.sampled_from(["adult", "child", "infant-2-rescuer"]))
def test_any_finite_or_nan_input_never_crashes(sig, profile):
    from coach.core import CoreOptions

    t, h = sig
    res = analyze(t, h, CoreOptions(profile=profile))
    s = res.summary
    assert s.compressions == len(res.compressions)
    tb = [c.t_bottom_s for c in res.compressions]
    assert tb == sorted(tb)
    for c in res.compressions:
        assert c.t_start_s < c.t_bottom_s < c.t_release_s
        assert math.isfinite(c.depth_mm) and c.depth_mm > 0
        assert c.recoil_residual_mm >= 0
    for p in res.pauses:
        assert p.end_s >= p.start_s
    if t.size:
        assert 0.0 <= s.ccf <= 1.0
    json.dumps(res.to_dict(), allow_nan=False)  # the JSON edge never sees NaN
