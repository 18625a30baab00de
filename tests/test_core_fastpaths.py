"""The streaming core's scalar paths give exactly what the vectorised stages give.

Why: for speed, a small chunk of samples takes the sample layer's despike, smoothing and phases on
Python floats (coach.core.frontend.SMALL_CHUNK_PATH), a run with a single candidate (streaming's usual
case) takes the stroke layer's stages on Python floats (coach.core.strokes.ONE_CANDIDATE_PATH), and a
single new compression takes the bookkeeping on Python floats (coach.core.metrics.ONE_COMPRESSION_PATH). They must do the same arithmetic in the same
order: here every session is streamed with those paths on and off, and the compressions, the push
that returned each one, the pushes that ran the kernel and the baseline after each run must be the
same, down to the last bit (repr, so even the sign of a zero counts). Batch equality is tested elsewhere
(test_core_streaming.py, test_core_properties.py).
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import coach.core.frontend as frontend
import coach.core.metrics as metrics
import coach.core.strokes as strokes
from coach.core import CoreOptions, StreamingAnalyzer
from coach.core.simulator import SimOptions, simulate
from tests.core_helpers import TRACES, load_filmed, need_data


def _stream(t_s, height_mm, options, fast: bool, monkeypatch) -> list:
    """Everything streaming shows, as text: each compression with the index of the push that returned it,
    the pushes that ran the kernel with the baseline each left, the pauses and the summary."""
    monkeypatch.setattr(strokes, "ONE_CANDIDATE_PATH", fast)
    monkeypatch.setattr(metrics, "ONE_COMPRESSION_PATH", fast)
    monkeypatch.setattr(frontend, "SMALL_CHUNK_PATH", fast)
    an = StreamingAnalyzer(options)
    out = []
    runs = 0
    for i, (t, h) in enumerate(zip(np.asarray(t_s).tolist(), np.asarray(height_mm).tolist())):
        for c in an.push(t, h):
            out.append((i, repr(dataclasses.astuple(c))))
        state = an.state
        if state.extra["kernel_runs"] != runs:  # a kernel run (when they run depends on what each decided)
            runs = state.extra["kernel_runs"]
            out.append((i, runs, repr(state.baseline_mm)))
    res = an.result()
    out += [repr(dataclasses.astuple(c)) for c in res.compressions]
    out += [repr(dataclasses.astuple(p)) for p in res.pauses]
    out.append(repr(dataclasses.asdict(res.summary)))
    out.append(runs)
    return out


CASES = [
    ("cosine, 1 mm noise, 30 fps", SimOptions(seed=11, duration_s=60.0), None),
    ("trapezoid, clean", SimOptions(seed=12, duration_s=45.0, shape="trapezoid", noise_mm=0.0, tremor_mm=0.0,
                                    spike_rate_hz=0.0, dropout_rate_hz=0.0), None),
    ("asymmetric, 60 fps, many dropouts and spikes", SimOptions(seed=13, duration_s=45.0, fps=60.0, shape="asymmetric",
                                                                dropout_rate_hz=0.3, spike_rate_hz=0.3), None),
    ("250 Hz", SimOptions(seed=14, duration_s=20.0, fps=250.0), None),
    ("known rest, leaning", SimOptions(seed=15, duration_s=60.0), "rest"),
    ("child profile, 25 fps", SimOptions(seed=16, duration_s=45.0, fps=25.0), "child"),
]


@pytest.mark.parametrize("name,sim_options,opt", CASES, ids=[c[0] for c in CASES])
def test_scalar_paths_equal_vectorised_stages(name, sim_options, opt, monkeypatch):
    sim = simulate(sim_options)
    options = {None: None, "rest": CoreOptions(rest_height_mm=0.0), "child": CoreOptions(profile="child")}[opt]
    fast = _stream(sim.t_s, sim.height_mm, options, True, monkeypatch)
    slow = _stream(sim.t_s, sim.height_mm, options, False, monkeypatch)
    assert sum(1 for x in fast if isinstance(x, tuple) and len(x) == 2) >= 10  # compressions were returned by push
    assert fast == slow


def test_scalar_paths_equal_vectorised_stages_on_a_filmed_trace(monkeypatch):
    t, h, _ = load_filmed(need_data("cpr-traces") / f"{TRACES[0]}.csv")
    fast = _stream(t, h, None, True, monkeypatch)
    assert fast == _stream(t, h, None, False, monkeypatch)


def test_one_column_fits_equal_the_vectorised_fits_bit_for_bit():
    """The fits on columns built to hit the exactness rules: exact zeros of both signs (a zero sum keeps
    or loses its sign as NumPy's column reduce would), missing samples, edges of the buffer."""
    from coach.core.options import resolve
    from coach.core.scalar import bottom_one, top_one

    rng = np.random.default_rng(5)
    p = resolve(CoreOptions(), 1.0 / 30.0)
    checked = 0
    for trial in range(40):
        n = 80
        t = np.cumsum(rng.uniform(0.8, 1.2, n) / 30.0)
        c = rng.normal(0.0, 20.0, n)
        ib = rng.integers(0, n, 6)
        kind = trial % 5
        if kind == 4:  # -0.0 around each bottom, negative before it, positive after it: zero sums of both signs
            for i in ib.tolist():
                c[max(i - 8, 0) : i - 3] = -5.0
                c[max(i - 3, 0) : i + 4] = -0.0
                c[i + 4 : i + 9] = 5.0
        elif kind == 1:  # exact zeros of both signs
            c[rng.random(n) < 0.6] = 0.0
            c[rng.random(n) < 0.3] = -0.0
        elif kind == 2:  # a constant -0.0 stretch with holes
            c[:] = -0.0
            c[rng.random(n) < 0.2] = np.nan
        elif kind == 3:  # missing samples
            c[rng.random(n) < 0.3] = np.nan
        hw = rng.uniform(0.07, 0.14, 6)
        tcen = rng.uniform(t[0] - 0.1, t[-1] + 0.1, 6)
        tp, cp = strokes._Padded(t, None), strokes._Padded(c, np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            tb, bv, q = strokes._fits(t, tp, cp, c, ib, t[ib], hw, tcen, p)  # 12 columns: the vectorised form
        for j in range(6):
            one_t, one_v = bottom_one(t, c, int(ib[j]), float(t[ib[j]]), float(hw[j]), p)
            assert (repr(one_t), repr(one_v)) == (repr(float(tb[j])), repr(float(bv[j])))
            assert repr(top_one(t, c, float(tcen[j]), p)) == repr(float(q[j]))
            checked += 1
    assert checked == 240
