"""The streaming core's scalar paths give exactly what the vectorised stages give.

Why: for speed, a small chunk of samples takes the sample layer's despike, smoothing and phases on
Python floats (coach.core.frontend.SMALL_CHUNK_PATH), a run with a single candidate (streaming's usual
case) takes the stroke layer's stages on Python floats (coach.core.strokes.ONE_CANDIDATE_PATH), and a
single new compression takes the bookkeeping on Python floats (coach.core.metrics.ONE_COMPRESSION_PATH). They must do the same arithmetic in the same
order: here every session is streamed with those paths on and off, and the compressions, the push
that returned each one, the pending state and the number of kernel runs must be the same, down to
the last bit (repr, so even the sign of a zero counts). Batch equality is tested elsewhere
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
    the scheduler's view of the pending candidate after each run, the pauses and the summary."""
    monkeypatch.setattr(strokes, "ONE_CANDIDATE_PATH", fast)
    monkeypatch.setattr(metrics, "ONE_COMPRESSION_PATH", fast)
    monkeypatch.setattr(frontend, "SMALL_CHUNK_PATH", fast)
    an = StreamingAnalyzer(options)
    out = []
    runs = 0
    for i, (t, h) in enumerate(zip(np.asarray(t_s).tolist(), np.asarray(height_mm).tolist())):
        for c in an.push(t, h):
            out.append((i, repr(dataclasses.astuple(c))))
        if an._e.feeds != runs:  # a kernel run: what it left pending decides when the next one runs
            runs = an._e.feeds
            out.append((i, repr(an._e.carry.pending), repr(an._e.carry.baseline)))
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
