"""Shared helpers of the core's tests: matching to the truth, the real recordings, the shape families.

Why one module: the accuracy, family, real-trace and study tests all pair measured compressions with the
truth, load the shared recordings and run seeded sessions the same way; a copy per test file drifts.
Nothing here is a fixture: plain functions, cached where reading a file is slow.
"""
from __future__ import annotations

import dataclasses
import functools
import gzip
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from coach.core import analyze
from coach.core.simulator import SimOptions, simulate, stroke_templates
from tests.conftest import shared_data_dir

TRACES = ("L1", "S1", "SC1")  # the filmed sessions in cpr-traces
TRACE_FPS = 30.0
MEDIAN_DEPTH_MM = 52.0  # each filmed session is scaled so that its median labelled compression is this deep
CASE1 = "cpr-accel/cprdat-case1"
CASE1_HZ = 250.0  # its sample rate
# simulator options for no measurement error at all (no white noise, tremor, spikes or dropouts): the "clean" runs
CLEAN = dict(noise_mm=0.0, tremor_mm=0.0, spike_rate_hz=0.0, dropout_rate_hz=0.0)


# ------------------------------------------------------------------ comparing with the truth
def match(truth, measured, tol_s=0.25):
    """Pairs (truth, measured) by nearest bottom time."""
    tb = np.array([c.t_bottom_s for c in measured])
    pairs = []
    used = set()
    for c in truth:
        if not tb.size:
            break
        j = int(np.argmin(np.abs(tb - c.t_bottom_s)))
        if abs(tb[j] - c.t_bottom_s) < tol_s and j not in used:
            used.add(j)
            pairs.append((c, measured[j]))
    return pairs


def kernel_pairs(truth, strokes) -> list:
    """(truth, index into the kernel's ``Strokes``) pairs by nearest bottom time: ``match`` on the kernel's arrays,
    for studies that need its bottoms and baselines (``analyze_strokes``), not only the result's depths."""
    ms = [SimpleNamespace(t_bottom_s=tb, i=i) for i, tb in enumerate(strokes.t_bottom.tolist())]
    return [(c, m.i) for c, m in match(truth, ms)]


def depth_errors(sessions) -> np.ndarray:
    """Measured minus true depth of every matched compression of [(sim, result), ...]."""
    return np.array([m.depth_mm - c.depth_mm for sim, res in sessions for c, m in match(sim.truth, res.compressions)])


def rate_errors(sessions) -> np.ndarray:
    """|measured - true| per-compression rate where both have one."""
    return np.array([abs(m.rate_cpm - c.rate_cpm) for sim, res in sessions for c, m in match(sim.truth, res.compressions)
                     if math.isfinite(c.rate_cpm) and math.isfinite(m.rate_cpm)])


def run_sessions(seeds, **kw):
    """[(sim, analyze(sim))] for seeded simulated sessions with the given SimOptions fields."""
    out = []
    for seed in seeds:
        sim = simulate(SimOptions(seed=seed, **kw))
        out.append((sim, analyze(sim.t_s, sim.height_mm)))
    return out


# ------------------------------------------------------------------ streaming against batch
def push_all(an, t_s, height_mm) -> list:
    """Push every sample one by one; the compressions push returned, in order."""
    out = []
    for t, h in zip(np.asarray(t_s).tolist(), np.asarray(height_mm).tolist()):
        out += an.push(t, h)
    return out


def _rows(result) -> np.ndarray:
    return np.array([[c.index, c.set_index, c.t_start_s, c.t_bottom_s, c.t_release_s, c.depth_mm, c.rate_cpm,
                      c.duty_cycle, c.recoil_residual_mm, c.gap_s] for c in result.compressions]).reshape(-1, 10)


def assert_sessions_equal(a, b, shift=0.0, tol=0.0, rtol=0.0):
    """Two SessionResults hold the same compressions (times of ``b`` = those of ``a`` + ``shift``), pauses, sets
    and summary.

    tol=rtol=0 (the default) is the bit-identical contract of streaming against batch; NaN equals NaN.
    """
    ra, rb = _rows(a), _rows(b)
    assert ra.shape == rb.shape, (ra.shape, rb.shape)
    ra = ra.copy()
    ra[:, 2:5] += shift
    np.testing.assert_allclose(ra, rb, rtol=rtol, atol=tol, equal_nan=True)
    assert [c.flags for c in a.compressions] == [c.flags for c in b.compressions]
    assert len(a.pauses) == len(b.pauses)
    for p, q in zip(a.pauses, b.pauses):
        assert p.kind == q.kind and p.too_long == q.too_long
        np.testing.assert_allclose([p.start_s + shift, p.end_s + shift], [q.start_s, q.end_s], rtol=rtol, atol=tol)
    assert [(s.index, s.count) for s in a.sets] == [(s.index, s.count) for s in b.sets]
    sa, sb = dataclasses.asdict(a.summary), dataclasses.asdict(b.summary)
    for k, u in sa.items():
        if isinstance(u, float):
            np.testing.assert_allclose(u, sb[k], rtol=rtol, atol=tol, equal_nan=True, err_msg=k)
        else:
            assert u == sb[k], k


# ------------------------------------------------------------------ the shared recordings
def need_data(sub: str) -> Path:
    path = shared_data_dir() / sub
    if not path.exists():
        pytest.skip(f"test data {path} is absent (set CPR_TEST_DATA to the shared data folder)")
    return path


def load_filmed(path: Path):
    """(t_s, height_mm, label times of compressions) for one labelled 30 fps trace (``x_px,y_px,unused,label``).

    Image y grows downward, so height = -y; each session is scaled so that its median labelled compression
    (the highest point in the 0.4 s before the label, down to it) is MEDIAN_DEPTH_MM.
    """
    ys, labels = [], []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        cells = [c.strip() for c in line.split(",")]
        ys.append(math.nan if cells[1] == "-" else float(cells[1]))
        labels.append(cells[3])
    y = np.array(ys)
    lab = np.array(labels)
    t = np.arange(y.size) / TRACE_FPS
    comp = np.flatnonzero(lab == "Compression")
    amp = np.array([np.nanmax(-y[max(0, i - 12) : i + 1]) - (-y[i]) for i in comp])
    scale = MEDIAN_DEPTH_MM / np.median(amp)
    return t, -y * scale, t[comp]


@functools.lru_cache(maxsize=1)
def load_case1():
    """The real cardiac arrest (CPRDAT case 1, 250 Hz): (t_s, height_mm, physicians' periods (n, 2) in s)."""
    d = need_data(CASE1)
    with gzip.open(d / "height_mm.csv.gz", "rt") as fh:
        th = np.loadtxt(fh, delimiter=",", skiprows=1)
    periods = np.loadtxt(d / "Ann_CC-periods.csv", delimiter=",", skiprows=1, usecols=(1, 2))
    return th[:, 0].copy(), th[:, 1].copy(), periods


def case1_at(fps: float) -> tuple[np.ndarray, np.ndarray]:
    """The cardiac arrest's (t_s, height_mm) as recorded (250 Hz), or resampled to ``fps`` (a camera's rate; the
    samples fall at a phase that is not the recording's)."""
    t, h, _ = load_case1()
    if fps == CASE1_HZ:
        return t, h
    ts = np.arange(t[0] + 0.37 / fps, t[-1], 1.0 / fps)
    return ts, np.interp(ts, t, h)


def case1_turning_points(t_bottom: np.ndarray) -> np.ndarray:
    """Where the chest really turned near each bottom time: the recording's minimum within +-60 ms. Its height is a
    smooth double integral at 250 Hz, so that minimum is a truth for bottoms (not for depths: its tops are an
    envelope)."""
    t, h, _ = load_case1()
    half = int(round(0.06 * CASE1_HZ))
    return np.array([h[max(i - half, 0) : i + half + 1].min() for i in np.searchsorted(t, t_bottom).tolist()])


@functools.lru_cache(maxsize=1)
def real_templates() -> tuple:
    """Normalised strokes from both recordings: 30 from each filmed trace and 60 from the cardiac arrest's
    first ten minutes of compressions (skips when the data is absent)."""
    out = []
    d = need_data("cpr-traces")
    for name in TRACES:
        t, h, _ = load_filmed(d / f"{name}.csv")
        out += stroke_templates(t, h, max_templates=30)
    t, h, _ = load_case1()
    m = t < t[0] + 600.0
    out += stroke_templates(t[m], h[m], max_templates=60)
    return tuple(out)


def intervals_overlap_s(a: np.ndarray, b: np.ndarray) -> float:
    """Total time covered by both of two sets of disjoint, sorted [start, end] intervals."""
    i = j = 0
    tot = 0.0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if hi > lo:
            tot += hi - lo
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tot
