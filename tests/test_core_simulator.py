"""The simulator: deterministic, realistic, and its ground truth is consistent with its signal."""
from __future__ import annotations

import math

import numpy as np
import pytest

from coach.core.profiles import load_profile
from coach.core.simulator import SimOptions, SimTrace, simulate


@pytest.fixture(scope="module")
def trace() -> SimTrace:
    return simulate(SimOptions(seed=3, duration_s=80.0))


def test_same_seed_same_session_other_seed_other_session():
    a = simulate(SimOptions(seed=11, duration_s=30.0))
    b = simulate(SimOptions(seed=11, duration_s=30.0))
    c = simulate(SimOptions(seed=12, duration_s=30.0))
    assert np.array_equal(a.t_s, b.t_s)
    assert np.array_equal(a.height_mm, b.height_mm, equal_nan=True)
    assert a.truth == b.truth
    assert a.t_s.size != c.t_s.size or not np.array_equal(a.height_mm, c.height_mm, equal_nan=True)


def test_sampling_is_irregular_increasing_and_near_the_frame_rate(trace):
    dt = np.diff(trace.t_s)
    assert (dt > 0).all()
    assert abs(np.median(dt) - 1 / 30) < 0.003
    assert dt.std() > 0.002  # jitter
    assert dt.max() > 1.8 / 30  # a dropped frame


def test_measurement_errors_are_present(trace):
    assert np.isnan(trace.height_mm).any()  # dropouts
    assert trace.dropout_mask.sum() == np.isnan(trace.height_mm).sum()
    assert trace.spike_index.size >= 1
    ok = ~trace.dropout_mask
    ok[trace.spike_index] = False
    resid = trace.height_mm[ok] - trace.clean_height_mm[ok]
    assert 0.8 < resid.std() < 1.3  # 1 mm white noise (+ a little tremor)
    spikes = np.abs(trace.height_mm[trace.spike_index] - trace.clean_height_mm[trace.spike_index])
    assert spikes.min() > 10.0


def test_truth_matches_the_clean_signal(trace):
    t, y, rest = trace.t_s, trace.clean_height_mm, trace.rest_mm
    for c in trace.truth:
        # the clean signal near the bottom is rest - depth, and never deeper
        near = np.abs(t - c.t_bottom_s) < 0.2
        assert (y[near] - rest[near]).min() >= -c.depth_mm - 1e-6
        assert abs((y[near] - rest[near]).min() + c.depth_mm) < 1.5
        assert c.t_start_s < c.t_bottom_s < c.t_release_s
        assert 0.25 < c.duty_cycle < 0.75
        assert c.recoil_residual_mm >= 0


def test_sets_ratio_pauses_and_rates(trace):
    prof = load_profile("adult")
    counts = [s.count for s in trace.sets]
    assert len(counts) >= 3
    assert all(n == prof.ratio.compressions for n in counts[:-1])
    kinds = [p.kind for p in trace.pauses]
    assert kinds[0] == "initial" and kinds[-1] == "final"
    vent = [p for p in trace.pauses if p.kind == "ventilation"]
    assert len(vent) == len(counts) - 1
    assert all(3.5 < p.duration_s < 9.0 for p in vent)
    rates = np.array([c.rate_cpm for c in trace.truth if math.isfinite(c.rate_cpm)])
    assert 90 < rates.mean() < 130
    assert rates.std() > 1.0  # drift and jitter
    firsts = [c for c in trace.truth if c.index == 0 or trace.truth[c.index - 1].set_index != c.set_index]
    assert all(math.isnan(c.rate_cpm) for c in firsts)


def test_pause_movements_leave_the_chest(trace):
    """Between sets the hands lift well above the rest position and reach down beside the chest."""
    vent = [p for p in trace.pauses if p.kind == "ventilation"]
    for p in vent:
        m = (trace.t_s > p.start_s + 0.2) & (trace.t_s < p.end_s - 0.2)
        rel = trace.clean_height_mm[m] - trace.rest_mm[m]
        assert rel.max() > 30.0
        assert rel.min() < -20.0


def test_fatigue_leaning_and_shallow_options():
    tired = simulate(SimOptions(seed=5, duration_s=120.0, fatigue_mm_per_min=8.0, depth_sd_mm=0.5))
    d = np.array([c.depth_mm for c in tired.truth])
    assert d[:20].mean() - d[-20:].mean() > 5.0
    lean = simulate(SimOptions(seed=5, duration_s=60.0, lean_prob=0.3))
    assert sum(c.recoil_residual_mm > 3 for c in lean.truth) > 5
    assert any("incomplete_recoil" in c.flags for c in lean.truth)
    shallow = simulate(SimOptions(seed=5, duration_s=60.0, shallow_prob=0.5))
    assert sum(c.depth_mm < 30 for c in shallow.truth) > 10
    assert all("too_shallow" in c.flags for c in shallow.truth if c.depth_mm < 30)


def test_placement_mostly_centred_with_drifts_off_centre():
    tr = simulate(SimOptions(seed=2, duration_s=120.0, placement_drift_prob=1.0))
    assert tr.placement_mm.shape == tr.t_s.shape
    assert np.median(np.abs(tr.placement_mm)) < 10.0
    assert np.abs(tr.placement_mm).max() > 20.0


def test_profiles_and_compression_only():
    infant = simulate(SimOptions(seed=1, duration_s=40.0, profile="infant"))
    prof = load_profile("infant")
    d = np.array([c.depth_mm for c in infant.truth])
    assert prof.depth_mm.min - 6 < d.mean() < prof.depth_mm.max + 6
    hands_only = simulate(SimOptions(seed=1, duration_s=40.0, profile="adult-compression-only"))
    assert len(hands_only.sets) == 1
    assert [p.kind for p in hands_only.pauses] == ["initial", "final"]


def test_write_csv_round_trip(tmp_path, trace):
    from coach.cli.trace import read_trace_csv

    path = tmp_path / "sim.csv"
    trace.write_csv(path)
    lines = path.read_text().splitlines()
    assert lines[0] == "t_s,height_mm"
    assert any(line.endswith(",") for line in lines[1:])  # missing samples are empty cells
    t, h = read_trace_csv(path)
    assert len(t) == trace.t_s.size
    assert np.allclose(t, trace.t_s, atol=1e-6)
    assert np.allclose(h, trace.height_mm, atol=1e-3, equal_nan=True)


def test_bad_options_are_refused():
    with pytest.raises(ValueError):
        simulate(SimOptions(fps=0))


# ------------------------------------------------------------------ stroke-shape families (issue 10)
def _truth_consistent(trace: SimTrace, tol_mm: float = 1e-6) -> None:
    """The clean signal reaches each true bottom (never deeper), and the onset/release fractions hold."""
    t, y, rest = trace.t_s, trace.clean_height_mm, trace.rest_mm
    for c in trace.truth:
        near = np.abs(t - c.t_bottom_s) < 0.2
        assert (y[near] - rest[near]).min() >= -c.depth_mm - tol_mm
        assert c.t_start_s < c.t_bottom_s < c.t_release_s
        assert 0.2 < c.duty_cycle < 0.8


@pytest.mark.parametrize("shape", ["trapezoid", "asymmetric", "mixed"])
def test_shape_families_keep_a_consistent_truth(shape):
    tr = simulate(SimOptions(seed=4, duration_s=40.0, shape=shape, noise_mm=0.0, tremor_mm=0.0, fps=240.0,
                             spike_rate_hz=0.0, dropout_rate_hz=0.0, jitter=0.0, frame_drop_prob=0.0))
    _truth_consistent(tr)
    # at 240 Hz the sampled bottom is the true one to within a few hundredths of a millimetre
    t, y, rest = tr.t_s, tr.clean_height_mm, tr.rest_mm
    worst = max(abs((y[np.abs(t - c.t_bottom_s) < 0.1] - rest[np.abs(t - c.t_bottom_s) < 0.1]).min() + c.depth_mm)
                for c in tr.truth)
    assert worst < 0.3


def test_trapezoid_dwells_and_asymmetric_duty():
    """Trapezoid strokes sit at the bottom for their dwell; asymmetric strokes go down in 30-45 % of the cycle."""
    tr = simulate(SimOptions(seed=2, duration_s=30.0, shape="trapezoid", dwell_ms=(120.0, 150.0), noise_mm=0.0,
                             tremor_mm=0.0, fps=500.0, jitter=0.0, frame_drop_prob=0.0, spike_rate_hz=0.0,
                             dropout_rate_hz=0.0, drift_mm=0.0))
    t, y = tr.t_s, tr.clean_height_mm - tr.rest_mm
    for c in tr.truth[2:10]:
        at_bottom = np.abs(y + c.depth_mm) < 1e-6
        dwell = at_bottom & (np.abs(t - c.t_bottom_s) < 0.2)
        assert 0.1 < dwell.sum() / 500.0 < 0.18  # the dwell (about 100-170 ms)
    asym = simulate(SimOptions(seed=2, duration_s=30.0, shape="asymmetric"))
    down = np.array([c.t_bottom_s - c.t_start_s for c in asym.truth[1:20]])
    period = np.diff([c.t_bottom_s for c in asym.truth[:20]])
    share = down / period / 0.9  # onset at 10 % of the stroke: ~90 % of the downstroke's time
    assert 0.25 < np.median(share) < 0.5


def test_cosine_sessions_do_not_change_with_the_shape_options():
    a = simulate(SimOptions(seed=8, duration_s=20.0))
    b = simulate(SimOptions(seed=8, duration_s=20.0, dwell_ms=(10.0, 20.0), corner_ms=(5.0, 6.0)))
    assert np.array_equal(a.height_mm, b.height_mm, equal_nan=True) and a.truth == b.truth


def test_templates_from_real_strokes():
    from tests.core_helpers import real_templates

    tpl = real_templates()
    assert len(tpl) >= 100
    for y in tpl:
        assert y.shape == (201,)
        assert abs(y[0]) < 1e-9 and abs(y[-1]) < 1e-9 and abs(y.min() + 1.0) < 1e-9
    tr = simulate(SimOptions(seed=1, duration_s=40.0, shape="template", templates=tpl, noise_mm=0.0, tremor_mm=0.0))
    _truth_consistent(tr)
    assert len(tr.truth) > 40


def test_bad_shape_options_are_refused():
    with pytest.raises(ValueError, match="shape"):
        simulate(SimOptions(shape="square"))
    with pytest.raises(ValueError, match="templates"):
        simulate(SimOptions(shape="template"))
