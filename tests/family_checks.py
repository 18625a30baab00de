"""What the rendered hand-family test files share: the clip length and the checks every case must pass.

The fixtures that render and analyze a case (``work``, ``run_case``) are in ``conftest.py``: module-scoped, so each
file renders its clips once.
"""
from __future__ import annotations

import pytest

SIM_S = 7.0  # seconds of simulated CPR: with the 3.1 s approach and rest hold, a 10 s clip
PER_SET = 6


def check_case(acc, out, max_stated_mm: float = 10.0) -> None:
    """What every rendered case must do, whatever else its test asks: count exactly, clock the rate within 1 cpm,
    and state an uncertainty that is neither empty nor loose and that covers its depth bias."""
    assert acc.count == acc.truth_count == acc.matched  # counts exact
    assert abs(acc.mean_rate_err_cpm) <= 1.0
    u = out["summary"]["depth_uncertainty_mm"]
    assert u == pytest.approx(acc.depth_uncertainty_mm) and 0.3 < u < max_stated_mm
    assert abs(acc.depth_bias_mm) <= u  # the stated uncertainty covers the error
