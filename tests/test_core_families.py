"""Depth, counts and rates per stroke-shape family (issue 10): the core against shapes it was not tuned to.

Each family runs 20 seeded 75 s sessions at 30 fps (simulator defaults otherwise: drift, leaning, jitter,
dropped frames, 30:2 pauses), twice:

* ``clean``: no measurement error at all (no white noise, tremor, spikes or dropouts);
* ``noisy``: 1 mm white noise (s.d.) plus tremor, spikes and dropouts, the simulator's default.

Families: ``cosine`` (today's raised cosine/smootherstep blend), ``trapezoid`` (dwells of 0-150 ms, corners
rounded over 20-60 ms), ``asymmetric`` (downstroke 30-45 % of the cycle), ``template`` (strokes cut from the
filmed traces and the cardiac arrest's accelerometer, read here from the shared data; skipped when absent)
and ``mixed`` (a family per stroke).

The issue's targets (clean MAE <= 0.2 mm; noisy MAE <= 0.6 mm and |bias| <= 0.2 mm) are tested as they are,
strict-xfailed where they are not met (so the day they are, the marker must go), and every family also
has a regression bound at what is reached. Figures: docs/core.md, "Stroke-shape families".
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from coach.core import CoreOptions, analyze
from tests.core_fixed_shapes import SHAPES, sine_bias
from tests.core_helpers import CLEAN, depth_errors, match, rate_errors, real_templates, run_sessions
from tests.render.scenario import compression_scenario

FAMILIES = ("cosine", "trapezoid", "asymmetric", "template", "mixed")
SEEDS = range(20)

# the issue's targets
CLEAN_MAE_MM = 0.2
NOISY_MAE_MM = 0.6
NOISY_BIAS_MM = 0.2
RATE_MEAN_CPM = 1.0  # per compression (the core's accuracy test: measured 0.63 on cosine)

# what is reached (measured + a margin): clean MAE, noisy MAE, noisy |bias|, per-compression rate error
REACHED = {  # (clean MAE, noisy MAE, |noisy bias| mm, noisy per-compression rate MAE cpm)
    "cosine": (0.26, 0.60, 0.15, 0.55),  # measured 0.232, 0.585, +0.073, 0.37
    "trapezoid": (1.45, 1.55, 0.15, 0.6),  # 1.335, 1.417, +0.025, 0.43
    "asymmetric": (0.62, 0.80, 0.52, 0.6),  # 0.548, 0.725, -0.440, 0.40
    "template": (0.75, 0.95, 0.45, 0.6),  # 0.677, 0.858, -0.367, 0.41 (1.77 while the rate was clocked by bottoms)
    "mixed": (0.68, 0.89, 0.28, 0.6),  # 0.614, 0.812, -0.196, 0.42 (2.13 by bottoms)
}
MET_CLEAN: set = set()  # families meeting the clean 0.2 mm target
MET_NOISY = {"cosine"}  # ... the noisy 0.6 mm / 0.2 mm target
MET_RATE = set(FAMILIES)  # ... the 1 cpm per-compression rate (all, since the rate is clocked by stroke centres)


def _sessions(family: str, clean: bool):
    kw = dict(shape=family, fps=30.0)
    if family in ("template", "mixed"):
        kw["templates"] = real_templates()
    if clean:
        kw.update(CLEAN)
    return run_sessions(SEEDS, **kw)


_cache: dict = {}


def sessions(family: str, clean: bool):
    key = (family, clean)
    if key not in _cache:
        _cache[key] = _sessions(family, clean)
    return _cache[key]


def _xfail_unless(met: bool, why: str):
    return pytest.mark.xfail(not met, strict=True, reason=why)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("clean", [True, False], ids=["clean", "noisy"])
def test_counts_are_exact(family, clean):
    for sim, res in sessions(family, clean):
        assert res.summary.compressions == len(sim.truth), (family, sim.options.seed)
        assert len(match(sim.truth, res.compressions)) == len(sim.truth)
        assert [s.count for s in res.sets] == [s.count for s in sim.sets]


@pytest.mark.parametrize("family", FAMILIES)
def test_session_rate_and_per_compression_rate(family):
    ss = sessions(family, False)
    for sim, res in ss:
        truth = np.mean([c.rate_cpm for c in sim.truth if math.isfinite(c.rate_cpm)])
        assert abs(res.summary.mean_rate_cpm - truth) <= 0.5, (family, sim.options.seed)
    err = rate_errors(ss)
    assert err.size > 1500
    assert err.mean() <= REACHED[family][3]


@pytest.mark.parametrize("family", FAMILIES)
def test_depth_regression_bounds(family):
    """What is reached per family, clean and noisy (a regression bound, not the issue's target)."""
    clean_mae, noisy_mae, noisy_bias, _ = REACHED[family]
    e0 = depth_errors(sessions(family, True))
    e1 = depth_errors(sessions(family, False))
    assert e0.size > 1500 and e1.size > 1500
    assert np.abs(e0).mean() <= clean_mae
    assert np.abs(e1).mean() <= noisy_mae
    assert abs(e1.mean()) <= noisy_bias


@pytest.mark.parametrize(
    "family", [pytest.param(f, marks=_xfail_unless(f in MET_CLEAN, f"{f}: clean depth MAE above 0.2 mm (docs/core.md)"))
               for f in FAMILIES])
def test_clean_depth_meets_the_issue(family):
    assert np.abs(depth_errors(sessions(family, True))).mean() <= CLEAN_MAE_MM


@pytest.mark.parametrize(
    "family", [pytest.param(f, marks=_xfail_unless(f in MET_NOISY, f"{f}: noisy depth MAE/bias above 0.6/0.2 mm (docs/core.md)"))
               for f in FAMILIES])
def test_noisy_depth_meets_the_issue(family):
    e = depth_errors(sessions(family, False))
    assert np.abs(e).mean() <= NOISY_MAE_MM
    assert abs(e.mean()) <= NOISY_BIAS_MM


@pytest.mark.parametrize(
    "family", [pytest.param(f, marks=_xfail_unless(f in MET_RATE, f"{f}: per-compression rate error above 1 cpm: "
                                                   "a real bottom's deepest instant is ill-defined (docs/core.md)"))
               for f in FAMILIES])
def test_per_compression_rate_meets_the_issue(family):
    assert rate_errors(sessions(family, False)).mean() <= RATE_MEAN_CPM


# ---------------------------------------------------------------- one shape held fixed per session
# (what a tester who simulates a single trapezoid sees; tests/core_fixed_shapes.py prints the table, docs/core.md
# "One shape held fixed"). The family figures above average these; a fixed shape's bias does not cancel.
FIXED_SEEDS = range(4)
FIXED_BIAS_MM = 0.2  # the issue's |bias| bar, asked of each shape alone, clean
# clean bias reached per shape (measured + 0.3 mm): a regression bound, not the target
FIXED_REACHED = {
    "trapezoid dwell 0, corners 20 ms": (-5.7, -5.0),  # measured -5.32
    "trapezoid dwell 0, corners 40 ms": (-4.3, -3.7),  # -3.98
    "trapezoid dwell 0, corners 60 ms": (-3.2, -2.6),  # -2.89
    "trapezoid dwell 25, corners 40 ms": (-1.45, -0.85),  # -1.14
    "trapezoid dwell 50, corners 40 ms": (0.3, 0.9),  # +0.60
    "trapezoid dwell 100, corners 40 ms": (1.4, 2.0),  # +1.71
    "trapezoid dwell 150, corners 40 ms": (1.0, 1.65),  # +1.33
    "asymmetric, downstroke 30 %": (-1.0, -0.4),  # -0.69
    "asymmetric, downstroke 45 %": (-0.75, -0.15),  # -0.44
    "cosine (the default)": (-0.36, 0.24),  # -0.06
}
FIXED_MET = {"cosine (the default)"}


def _fixed_bias(label: str) -> float:
    e = depth_errors(run_sessions(FIXED_SEEDS, **dict(SHAPES)[label], fps=30.0, **CLEAN))
    assert e.size > 300
    return float(e.mean())


@pytest.mark.parametrize("label", list(FIXED_REACHED))
def test_one_fixed_shape_reads_as_measured(label):
    """A regression bound per fixed shape: the sharp-cornered trapezoid reads 5 mm shallow today (docs/core.md)."""
    lo, hi = FIXED_REACHED[label]
    assert lo <= _fixed_bias(label) <= hi


@pytest.mark.parametrize(
    "label", [pytest.param(s, marks=_xfail_unless(s in FIXED_MET, f"{s}: clean bias above 0.2 mm (docs/core.md, "
                                                  "'One shape held fixed'; tests/core_pooled_shape.py)"))
              for s in FIXED_REACHED])
def test_one_fixed_shape_is_not_biased(label):
    assert abs(_fixed_bias(label)) <= FIXED_BIAS_MM


# ---------------------------------------------------------------- pure sinusoids (built without the simulator)
# The first signal an outside tester reaches for. The simulator's cosine has a top hold and extremes flattened by a
# smootherstep blend; a sinusoid's extremes are rounder, and the fits' windows (fixed in seconds) cut across more of
# them at higher rates, so it reads shallow, about in proportion to depth x rate^2 (docs/core.md, "One shape held
# fixed"; python -m tests.core_fixed_shapes --independent prints the table).
SINE_REACHED = {  # (rate cpm, depth mm): bias bounds at 30 fps with 1 mm noise (measured + 0.3 mm)
    (110.0, 52.0): (-1.02, -0.42),  # measured -0.72
    (120.0, 60.0): (-1.34, -0.74),  # -1.04
}


@pytest.mark.parametrize("rate_depth", list(SINE_REACHED), ids=lambda rd: f"{rd[0]:.0f}cpm-{rd[1]:.0f}mm")
def test_a_pure_sinusoid_reads_as_measured(rate_depth):
    e = sine_bias(*rate_depth, fps=30.0, noise_mm=1.0)
    assert e.size > 400
    lo, hi = SINE_REACHED[rate_depth]
    assert lo <= e.mean() <= hi


@pytest.mark.xfail(strict=True, reason="a pure sinusoid at 110 cpm, 52 mm reads -0.7 mm (docs/core.md, 'One shape held fixed')")
def test_a_pure_sinusoid_is_not_biased():
    assert abs(sine_bias(110.0, 52.0, fps=30.0, noise_mm=1.0).mean()) <= FIXED_BIAS_MM


# ---------------------------------------------------------------- one filmed rescuer's peaked recoil tops
# The held-out render of session 34 (real strokes, waveform seed 54, 65 mm) read 1.2-2.0 mm shallow on the livelier
# headset. Session 35 found it is not the headset: the same clip reads -1.64 mm on a fixed side camera and -1.11 with
# the hand tag, and its true trace through the core alone, with the rest hold's known rest as the pipeline gives it,
# -1.37. Its strokes are the filmed S1's (templates 29-45), whose recoil arrives fast and turns at once: the rest tops'
# fits read 1-2.5 mm under the turn (docs/core.md, "A known rest's gap").
PEAKED_REACHED = (-1.7, -1.05)  # measured -1.37 (no known rest: -2.16)


def test_one_filmed_rescuers_peaked_tops_read_as_measured():
    real_templates()  # (skips without the shared data)
    sc = compression_scenario(seed=54, shape="template", depth_mm=65.0)
    h = np.where(sc.visible, sc.height_mm, np.nan)
    res = analyze(sc.t_s, h, CoreOptions(rest_height_mm=0.0))
    pairs = match(sc.truth, res.compressions)
    assert len(pairs) == len(sc.truth) == 16
    e = np.array([m.depth_mm - c.depth_mm for c, m in pairs])
    lo, hi = PEAKED_REACHED
    assert lo <= e.mean() <= hi
