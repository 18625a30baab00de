"""Hand families end to end: rendered clips of other hands than the project's first one, real CLI.

The CI subset of ``python -m tests.render.accuracy --all`` (which prints every family x view and the
geometry variants; docs/calibration.md has its table). Short clips (about 10 s: the rest hold, one
set of 6 compressions, the breaths), real MediaPipe, real OpenCV decoding. Every case must count
exactly and state an uncertainty that covers its depth bias; the limits are the issue's where the
mode meets them (the hand tag, blur and noise, the wrong lens) and otherwise the measured figure
with a margin (docs/calibration.md says which markerless cases miss the issue's 1 mm bias).
"""
from __future__ import annotations

import pytest

from render.accuracy import VIEWS, run_family_case
from render.families import FAMILIES, VARIANTS

pytestmark = pytest.mark.slow

SIM_S = 7.0  # seconds of simulated CPR: with the 3.1 s approach and rest hold, a 10 s clip
PER_SET = 6


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("families")


@pytest.fixture(scope="module")
def run_case(work, hands_dir, hand_model_path):
    done: dict = {}

    def get(family: str, view: str):
        key = (family, view)
        if key not in done:
            fam = FAMILIES.get(family) or VARIANTS[family]
            done[key] = run_family_case(VIEWS[view], fam, work, hands_dir, sim_s=SIM_S, per_set=PER_SET)
            acc = done[key][2]
            print(f"\n{acc.name}: depth MAE {acc.depth_mae_mm:.2f} mm (bias {acc.depth_bias_mm:+.2f}), stated "
                  f"±{acc.depth_uncertainty_mm:.2f} mm, count {acc.count}/{acc.truth_count}, "
                  f"rate error {acc.mean_rate_err_cpm:+.2f} cpm, mode {acc.mode}")
        return done[key]

    return get


def _common(acc, out) -> None:
    assert acc.count == acc.truth_count == acc.matched  # counts exact
    assert abs(acc.mean_rate_err_cpm) <= 1.0
    u = out["summary"]["depth_uncertainty_mm"]
    assert u == pytest.approx(acc.depth_uncertainty_mm) and 0.3 < u < 10.0
    assert abs(acc.depth_bias_mm) <= u  # the stated uncertainty covers the error


def test_markerless_heel_side_view(run_case):
    _, out, acc = run_case("heel", "side30")
    _common(acc, out)
    assert out["calibration"]["tracked_point_mm"] is not None  # the hands were located at rest
    assert acc.depth_mae_mm <= 1.5 and abs(acc.depth_bias_mm) <= 1.0


def test_markerless_stacked_hands_640x480(run_case):
    """Misses the issue's 1 mm bias (measured +1.75 mm, MAE 2.1): the geometry's scale is right here (height
    scale 1.000), but after the first stroke the texture tracker re-references the top hand (half hidden by
    the forearm at 640x480) and every later height reads ~2.7 mm high (docs/calibration.md). The stated
    uncertainty must still cover it."""
    _, out, acc = run_case("stacked", "vga")
    _common(acc, out)
    assert acc.depth_mae_mm <= 2.5


def test_hand_tag_on_stacked_hands_640x480(run_case):
    _, out, acc = run_case("marker", "vga")
    _common(acc, out)
    assert out["calibration"]["hand_tag_frames"] > 0.9 * out["source"]["frames_with_hands"] - 30
    assert acc.depth_mae_mm <= 1.0


def test_stacked_hands_with_blur_flicker_noise_and_jpeg(run_case):
    _, out, acc = run_case("degraded", "side30")
    _common(acc, out)
    assert acc.depth_mae_mm <= 2.5


def test_lens_told_70_degrees_really_62(run_case):
    _, out, acc = run_case("lens62", "side30")
    _common(acc, out)
    assert acc.depth_mae_mm <= 2.0
