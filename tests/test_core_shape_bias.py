"""The session's stroke-shape bias (``coach.core.shape_bias``), which the stated depth uncertainty takes in.

Why a test per shape: the core reads a trapezoid held for a session up to 5 mm off (docs/core.md, "One shape held
fixed"), and the stated uncertainty's 0.6 mm core floor covers the simulated families only on average. The pooled
bottoms and tops must see such a shape's bias, and must not see one in the shapes the core reads well (or every
session's statement would widen for nothing).
"""
from __future__ import annotations

import numpy as np
import pytest

from coach.core.shape_bias import session_shape_bias_mm
from coach.core.simulator import SimOptions, simulate
from tests.core_fixed_shapes import SHAPES
from tests.core_helpers import CLEAN, depth_errors, run_sessions

SEEDS = range(3)


def _estimates_and_biases(label: str, clean: bool) -> tuple[np.ndarray, np.ndarray]:
    kw = dict(dict(SHAPES)[label], fps=30.0, **(CLEAN if clean else {}))
    est, bias = [], []
    for seed in SEEDS:
        sim = simulate(SimOptions(seed=seed, **kw))
        est.append(session_shape_bias_mm(sim.t_s, sim.height_mm))
        bias.append(float(depth_errors(run_sessions([seed], **kw)).mean()))
    return np.array(est), np.array(bias)


@pytest.mark.parametrize("label, clean", [("trapezoid dwell 0, corners 20 ms", False),
                                          ("trapezoid dwell 100, corners 40 ms", True),
                                          ("trapezoid dwell 0, corners 60 ms", False)])
def test_a_shape_held_for_a_session_is_seen_with_its_sign_and_size(label, clean):
    """Measured (3 seeds): the sharp V -6.2 / -6.6 / -5.8 for biases of -5.3 / -5.7 / -5.2 (noisy); the 100 ms dwell
    +1.8 / +1.9 / +1.4 for +1.8 / +1.9 / +1.7 (clean); 60 ms corners -4.1 / -5.0 / -3.9 for -2.9 / -3.3 / -3.0."""
    est, bias = _estimates_and_biases(label, clean)
    assert np.all(np.sign(est) == np.sign(bias))
    assert np.all(np.abs(bias) <= np.abs(est) + 0.6)  # the core floor and the shape's figure cover it
    assert np.all(np.abs(est) <= np.abs(bias) + 2.0)  # ... and do not claim far more (the model's corner lies at the
    # sides' intersection, below a rounded one: 60 ms corners over-claim by up to 1.7 mm)


def test_the_default_shape_shows_no_bias_under_noise():
    """The simulator's cosine with 1 mm of noise: nothing to add (measured 0.0 in each seed)."""
    est, _ = _estimates_and_biases("cosine (the default)", False)
    assert np.all(np.abs(est) <= 0.25)


def test_too_few_compressions_say_nothing():
    sim = simulate(SimOptions(seed=1, duration_s=8.0, compressions_per_set=8, **dict(SHAPES)["trapezoid dwell 0, corners 20 ms"]))
    assert session_shape_bias_mm(sim.t_s, sim.height_mm) == 0.0


def test_repeated_or_missing_stamps_are_dropped_as_streaming_drops_them():
    """A live trace may repeat a stamp; the figure is then that of the trace without it (measured +1.81 both)."""
    sim = simulate(SimOptions(seed=0, fps=30.0, **dict(SHAPES)["trapezoid dwell 100, corners 40 ms"], **CLEAN))
    t, h = sim.t_s, sim.height_mm
    t2, h2 = np.insert(t, [100, 200], [t[99], np.nan]), np.insert(h, [100, 200], [h[99], 0.0])
    b = session_shape_bias_mm(t, h)
    assert b > 1.0 and session_shape_bias_mm(t2, h2) == b
