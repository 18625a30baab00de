"""Robustness: drift, tremor, spikes, NaN runs, shallow compressions, leaning, hands-off and pause movements."""
from __future__ import annotations

import math

import numpy as np
import pytest

from coach.core import CoreOptions, StreamingAnalyzer, analyze
from coach.core.profiles import load_profile
from coach.core.simulator import SimOptions, simulate
from coach.core.types import INCOMPLETE_RECOIL, TOO_SHALLOW

from tests.core_helpers import match


def evaluate(seeds, **kw):
    """(count errors, depth errors) over seeded sessions."""
    counts, depth = [], []
    for seed in seeds:
        sim = simulate(SimOptions(seed=seed, **kw))
        res = analyze(sim.t_s, sim.height_mm, CoreOptions(profile=sim.options.profile))
        counts.append(res.summary.compressions - len(sim.truth))
        depth += [m.depth_mm - c.depth_mm for c, m in match(sim.truth, res.compressions)]
    return counts, np.array(depth)


def test_baseline_drift():
    """A creeping camera or manikin: 6 mm amplitude over 90 s (up to ~0.4 mm/s)."""
    counts, depth = evaluate(range(6), drift_mm=6.0, drift_period_s=90.0)
    assert counts == [0] * 6
    assert np.abs(depth).mean() < 1.2


def test_tremor():
    counts, depth = evaluate(range(6), tremor_mm=2.0)
    assert counts == [0] * 6
    assert np.abs(depth).mean() < 0.8


def test_single_frame_spikes():
    counts, depth = evaluate(range(6), spike_rate_hz=0.5, dropout_rate_hz=0.0, spike_mm=(15.0, 80.0))
    assert counts == [0] * 6
    assert np.abs(depth).mean() < 0.8


def test_single_frame_spikes_at_15_fps():
    """At 15 fps a sample moving on the way its predecessor moved may lie up to 30 mm off its neighbours' line and be
    no spike (``spike_turn_mm_s``, a sharp bottom below): spikes off a hold or against the motion still go."""
    counts, depth = evaluate(range(6), fps=15.0, spike_rate_hz=0.5, dropout_rate_hz=0.0, spike_mm=(15.0, 80.0))
    assert counts == [0] * 6
    assert np.abs(depth).mean() < 1.6  # measured 1.47 (1.62 while a sharp bottom could be taken for a spike)


def test_a_sharp_real_bottom_at_15_fps_is_no_spike():
    """Held out (session 30): a real stroke at 15 fps whose bottom sample lay 19.7 mm off the line between its
    neighbours (down 28 mm in the frame before, up 11 in the one after) was removed as a spike and bridged; the
    compression read 40.0 mm for 54.0. The rendered clip's heights, exact, with the rest known (as the pipeline gives
    it): that compression now reads its depth."""
    from tests.core_helpers import need_data
    from tests.render.scenario import compression_scenario

    need_data("cpr-traces")
    sc = compression_scenario(seed=50, fps=15.0, sim_s=40.0, shape="template", straight_in=True, return_rest_s=(0.0, 0.07))
    res = analyze(sc.t_s, np.where(sc.visible, sc.height_mm, np.nan), CoreOptions(rest_height_mm=0.0))
    pairs = match(sc.truth, res.compressions)
    assert len(pairs) == len(sc.truth) == res.summary.compressions
    c, m = min(pairs, key=lambda p: abs(p[0].t_bottom_s - 12.21))
    assert abs(c.t_bottom_s - 12.21) < 0.05 and abs(c.depth_mm - 53.97) < 0.01
    assert abs(m.depth_mm - c.depth_mm) < 3.0  # -13.95 before, -2.66 now: 15 fps samples this bottom 2.7 mm high
    assert max(abs(m.depth_mm - c.depth_mm) for c, m in pairs) < 3.5  # the next: -2.95


def test_half_second_nan_runs_inside_compressions():
    """Tracking lost for up to 0.5 s around a bottom: the compression still counts, flagged by gap_s."""
    sim = simulate(SimOptions(seed=21, duration_s=70.0, dropout_rate_hz=0.0, rate_cpm=100.0))
    h = sim.height_mm.copy()
    holed = []
    rng = np.random.default_rng(1)
    for i, c in enumerate(sim.truth):
        if i % 5 == 3:  # every fifth compression, not the first of a set
            span = float(rng.uniform(0.3, 0.5))
            off = float(rng.uniform(-0.1, 0.1))
            m = np.abs(sim.t_s - (c.t_bottom_s + off)) < span / 2
            h[m] = np.nan
            holed.append(c)
    res = analyze(sim.t_s, h)
    assert res.summary.compressions == len(sim.truth)
    pairs = dict((id(c), m) for c, m in match(sim.truth, res.compressions, tol_s=0.3))
    assert all(id(c) in pairs for c in holed)
    assert all(pairs[id(c)].gap_s > 0.2 for c in holed)
    others = [m.depth_mm - c.depth_mm for c, m in match(sim.truth, res.compressions) if c not in holed]
    assert np.abs(others).mean() < 0.8
    est = np.array([pairs[id(c)].depth_mm - c.depth_mm for c in holed])
    assert np.abs(est).mean() < 8.0  # an estimate from the previous cycle, not a measurement


@pytest.mark.parametrize("fps", [15.0, 30.0])
def test_tracking_lost_just_after_the_last_release_of_a_set(fps):
    """The hands leave the camera's view as they lift for the breaths: tracking is lost 40 ms after the last
    compression's release. That compression happened; only its stroke up to the release must be whole. (The
    gap test reached the sample that decides the release, ~50-80 ms later: each set's last compression was
    dropped, 17 of 18 here at 30 fps.)"""
    for seed in range(3):
        sim = simulate(SimOptions(seed=seed, fps=fps))
        h = sim.height_mm.copy()
        vent = [p for p in sim.pauses if p.kind == "ventilation"]
        assert vent
        for p in vent:
            h[(sim.t_s > p.start_s + 0.04) & (sim.t_s < p.end_s - 0.6)] = np.nan
        res = analyze(sim.t_s, h)
        assert res.summary.compressions == len(sim.truth), seed
        assert len(match(sim.truth, res.compressions)) == len(sim.truth), seed


@pytest.mark.parametrize("fps", [15.0, 30.0])
def test_a_set_s_last_compression_comes_out_once_the_lost_tracking_cannot_be_bridged(fps):
    """Live, the same loss: the last compression waits for the sample layer to give the gap out unbridged
    (``max_gap_s`` after the last height), and the streaming scheduler now runs the kernel then. It ran at its
    2 s fallback: 1.59-1.82 s after the release (docs/core.md, "Tracking lost after the release")."""
    for seed in range(3):
        sim = simulate(SimOptions(seed=seed, fps=fps))
        h = sim.height_mm.copy()
        vent = [p for p in sim.pauses if p.kind == "ventilation"]
        for p in vent:
            h[(sim.t_s > p.start_s + 0.04) & (sim.t_s < p.end_s - 0.6)] = np.nan
        an = StreamingAnalyzer()
        out = [(c, t) for t, x in zip(sim.t_s.tolist(), h.tolist()) for c in an.push(t, x)]
        assert len(an.result().compressions) == analyze(sim.t_s, h).summary.compressions == len(sim.truth)
        for p in vent:
            c, t_out = max(((c, t) for c, t in out if c.t_release_s < p.start_s + 0.5), key=lambda ct: ct[0].t_bottom_s)
            assert t_out - c.t_release_s < 0.9, (seed, p.start_s)  # measured 0.66-0.81 s (was 1.6-1.8)


def test_long_loss_of_tracking_counts_nothing_inside_it():
    sim = simulate(SimOptions(seed=22, duration_s=50.0, dropout_rate_hz=0.0))
    h = sim.height_mm.copy()
    lost = (sim.t_s > 10.0) & (sim.t_s < 12.0)
    h[lost] = np.nan
    res = analyze(sim.t_s, h)
    assert not [c for c in res.compressions if 10.0 < c.t_bottom_s < 12.0]
    inside = [c for c in sim.truth if 10.2 < c.t_bottom_s < 11.8]
    assert res.summary.compressions >= len(sim.truth) - len(inside) - 2


def test_shallow_compressions_are_counted_and_flagged():
    sim = simulate(SimOptions(seed=4, duration_s=70.0, shallow_prob=0.3, shallow_mm=(15.0, 20.0), lean_prob=0.0))
    res = analyze(sim.t_s, sim.height_mm)
    assert res.summary.compressions == len(sim.truth)
    shallow = [(c, m) for c, m in match(sim.truth, res.compressions) if c.depth_mm < 21]
    assert len(shallow) > 10
    assert all(TOO_SHALLOW in m.flags for _, m in shallow)
    assert np.abs([m.depth_mm - c.depth_mm for c, m in shallow]).mean() < 1.0


def test_leaning_keeps_full_depth_and_flags_recoil():
    """A few leaning compressions in a row: depth still from the rest, the residual measured and flagged."""
    sim = simulate(SimOptions(seed=2, duration_s=90.0, lean_prob=0.06, lean_run=(3, 5), lean_mm=(7.0, 11.0)))
    res = analyze(sim.t_s, sim.height_mm)
    assert res.summary.compressions == len(sim.truth)
    pairs = match(sim.truth, res.compressions)
    lean = [(c, m) for c, m in pairs if c.recoil_residual_mm >= 7.0]
    assert len(lean) >= 8
    # the baseline does not sink: leaning compressions keep their full depth ...
    assert np.abs([m.depth_mm - c.depth_mm for c, m in lean]).mean() < 1.5
    # ... and show the residual
    assert np.abs([m.recoil_residual_mm - c.recoil_residual_mm for c, m in lean]).mean() < 2.0
    assert sum(INCOMPLETE_RECOIL in m.flags for _, m in lean) >= 0.8 * len(lean)
    full = [m for c, m in pairs if c.recoil_residual_mm == 0.0]
    assert sum(INCOMPLETE_RECOIL in m.flags for m in full) <= 0.05 * len(full)


@pytest.mark.parametrize("fps,kw", [(24.0, {}), (20.0, {}), (30.0, dict(jitter=0.3, frame_drop_prob=0.05))])
def test_full_recoil_is_not_flagged_at_low_or_uneven_frame_rates(fps, kw):
    """A phone's 24 fps, a dim webcam's 20, or 30 fps with uneven frames and drops: the release is watched
    for more than one frame interval, so a stroke still rising fast is not released at the next frame with its
    top read low. Before (a wait of 0.15 s - 3 frame intervals, 25 ms at 24 fps) these seeds flagged 67 / 101 / 39
    of 350 fully recoiled strokes as incomplete (mean residual 3.2 / 4.0 / 1.9 mm); now 0 / 1 / 1 (0.8 / 1.3 / 0.8)."""
    full = flagged = 0
    residual = []
    for seed in range(4):
        sim = simulate(SimOptions(seed=seed, fps=fps, **kw))
        res = analyze(sim.t_s, sim.height_mm)
        assert res.summary.compressions == len(sim.truth)
        for c, m in match(sim.truth, res.compressions):
            if c.recoil_residual_mm == 0.0:
                full += 1
                flagged += INCOMPLETE_RECOIL in m.flags
                residual.append(m.recoil_residual_mm)
    assert full > 300
    assert flagged <= 0.03 * full, (flagged, full)
    assert np.mean(residual) < 1.6


def test_pause_hand_movements_are_never_compressions():
    """Hands lifted 10-25 cm, moved to the head 6-15 cm below the chest, breaths, back: nothing counted."""
    for seed in range(5):
        sim = simulate(SimOptions(seed=seed, lift_mm=(100.0, 250.0), head_mm=(-150.0, -60.0)))
        res = analyze(sim.t_s, sim.height_mm)
        assert res.summary.compressions == len(sim.truth)
        for p in sim.pauses:
            if p.kind == "ventilation":
                assert not [c for c in res.compressions if p.start_s + 0.1 < c.t_bottom_s < p.end_s - 0.1]


@pytest.mark.parametrize("shape", ["cosine", "asymmetric"])
def test_a_head_just_below_the_chest_is_not_a_compression(shape):
    """The hand at the head only 30-45 mm below the chest: off the chest -> head and head -> off the chest pass
    below the rest like a shallow stroke, but never come back to it. These seeds read 1-2 extra compressions
    each when the side toward hands-off needed only the usual 40 % of the depth (CoreOptions.off_side_frac)."""
    seeds = (2, 3, 12, 35)
    for seed in seeds:
        sim = simulate(SimOptions(seed=seed, shape=shape, lean_prob=0.2, head_mm=(-45.0, -30.0)))
        res = analyze(sim.t_s, sim.height_mm)
        assert res.summary.compressions == len(sim.truth), seed
        assert len(match(sim.truth, res.compressions)) == len(sim.truth), seed
    old = CoreOptions(off_side_frac=CoreOptions().stroke_frac)
    extra = 0
    for seed in seeds:
        sim = simulate(SimOptions(seed=seed, shape=shape, lean_prob=0.2, head_mm=(-45.0, -30.0)))
        extra += analyze(sim.t_s, sim.height_mm, old).summary.compressions - len(sim.truth)
    assert extra >= 2  # the case is real: without the rule these sessions count hand movements


def test_hands_off_above_the_rest_is_not_compressing():
    """Hovering and bouncing well above the chest (no contact) never counts."""
    rng = np.random.default_rng(0)
    t = np.arange(0, 20, 1 / 30)
    h = 60 + 30 * np.sin(2 * np.pi * 1.8 * t) + rng.normal(0, 1, t.size)  # 60 mm above a rest at 0
    res = analyze(t, h, CoreOptions(rest_height_mm=0.0))
    assert res.summary.compressions == 0
    assert res.summary.ccf == 0.0
    assert [p.kind for p in res.pauses] == ["initial"]


def test_too_long_pauses_are_flagged():
    prof = load_profile("adult")
    sim = simulate(SimOptions(seed=3, duration_s=90.0, long_pause_prob=1.0))
    res = analyze(sim.t_s, sim.height_mm)
    vent = [p for p in res.pauses if p.kind == "ventilation"]
    assert vent and all(p.too_long and p.duration_s > prof.pause_max_s for p in vent)
    assert res.summary.pauses_too_long >= len(vent)


@pytest.mark.parametrize("profile", ["child", "infant", "adult-compression-only"])
def test_other_profiles(profile):
    counts, depth = evaluate(range(3), profile=profile)
    assert counts == [0] * 3
    assert np.abs(depth).mean() < 0.8


@pytest.mark.parametrize("rate", [80.0, 140.0])
def test_slow_and_fast_rates_are_counted_and_flagged(rate):
    sim = simulate(SimOptions(seed=1, rate_cpm=rate, rate_drift_cpm=2.0))
    res = analyze(sim.t_s, sim.height_mm)
    assert res.summary.compressions == len(sim.truth)
    flag = "too_slow" if rate < 100 else "too_fast"
    rated = [c for c in res.compressions if math.isfinite(c.rate_cpm)]
    assert sum(flag in c.flags for c in rated) > 0.9 * len(rated)
    assert abs(res.summary.mean_rate_cpm - np.nanmean([c.rate_cpm for c in sim.truth])) < 0.5


def test_degenerate_inputs():
    empty = analyze([], [])
    assert empty.summary.compressions == 0 and empty.pauses == () and empty.summary.duration_s == 0.0
    one = analyze([1.0], [5.0])
    assert one.summary.compressions == 0
    nan = analyze(np.arange(100) / 30, np.full(100, np.nan))
    assert nan.summary.compressions == 0 and math.isnan(nan.summary.time_to_first_s)
    flat = analyze(np.arange(300) / 30, np.zeros(300))
    assert flat.summary.compressions == 0


def test_unknown_profile_is_a_clear_error():
    from coach.core.profiles import ProfileError

    with pytest.raises(ProfileError, match="unknown profile"):
        analyze([0.0, 0.1], [0.0, 0.0], CoreOptions(profile="horse"))


def test_long_leaning_runs_do_not_become_the_rest():
    """Runs of 10-12 leaning compressions, 4.5-6 mm (just above the 3 mm tolerance): leaning is judged
    against the last lean_ref_tops (18) rest tops, so a run as long as the median's 9 does not become
    its own reference. Measured: depth MAE 0.74 mm over the six sessions (1.07 with a 9-top reference, measured before the trimmed mean)."""
    err = []
    for seed in range(6):
        sim = simulate(SimOptions(seed=seed, duration_s=75.0, lean_prob=0.04, lean_run=(10, 12), lean_mm=(4.5, 6.0)))
        res = analyze(sim.t_s, sim.height_mm)
        pairs = match(sim.truth, res.compressions)
        assert len(pairs) == len(sim.truth) == res.summary.compressions, seed
        err.append(np.mean([abs(m.depth_mm - c.depth_mm) for c, m in pairs]))
    assert np.mean(err) <= 0.9


def test_ccf_is_rated_against_the_profile():
    """CCF is judged like depth and rate: below the profile's minimum, ok, or at its goal."""
    from coach.core.metrics import ccf_rating
    from coach.core.profiles import load_profile

    prof = load_profile("adult")
    assert ccf_rating(prof.ccf_min - 0.01, prof) == "below_min"
    assert ccf_rating(prof.ccf_min, prof) == "ok"
    assert ccf_rating(prof.ccf_goal, prof) == "goal"
    assert ccf_rating(float("nan"), prof) == ""
    sim = simulate(SimOptions(seed=2, duration_s=60.0))
    s = analyze(sim.t_s, sim.height_mm).summary
    assert s.ccf_rating == ccf_rating(s.ccf, prof) != ""


# ---------------------------------------------------------------- the rest moves in a pause (session 17)
def _two_sets(rest_shift_mm: float, fps: float = 30.0, seed: int = 0):
    """Two sets of 30 raised-cosine strokes (110 cpm, 52 mm) around a 5 s pause with the hands lifted 80 mm, built
    without the simulator; in the pause the tracked rest moves by ``rest_shift_mm`` (the hands come back elsewhere)."""
    rng = np.random.default_rng(seed)
    per = 60.0 / 110.0
    t = np.arange(0.0, 4.0 + 60 * per + 5.0, 1.0 / fps)
    h = np.zeros(t.size)
    t0 = 2.0
    for k, rest in enumerate((0.0, rest_shift_mm)):
        for i in range(30):
            m = (t >= t0 + i * per) & (t < t0 + (i + 1) * per)
            h[m] = rest - 52.0 * (1 - np.cos(2 * np.pi * (t[m] - t0 - i * per) / per)) / 2
        t_end = t0 + 30 * per
        if k == 0:
            m = (t >= t_end) & (t < t_end + 5.0)
            u = (t[m] - t_end) / 5.0
            h[m] = 80.0 * np.sin(np.pi * u) ** 2 + rest_shift_mm * np.clip(3.0 * u - 1.0, 0.0, 1.0)
            t0 = t_end + 5.0
        else:
            h[t >= t_end] = rest
    return t, h + rng.normal(0.0, 0.5, t.size)


@pytest.mark.parametrize("shift_mm", [15.0, 25.0, 40.0])
@pytest.mark.parametrize("known_rest", [False, True], ids=["tracked-rest", "known-rest"])
def test_a_rest_that_moved_up_in_a_pause_keeps_the_count(shift_mm, known_rest):
    """Real filmed sets come back 4-9 mm (once 30 mm) off the rest of the set before. Where the rest moved up by more
    than the hands-off margin, the new set's rest tops read as hands lifted off the chest and its strokes as hand
    movements: before session 17, +15 mm lost 6 of 30 (the set split in three), +25 and +40 mm 8, and with a known
    rest (the pipeline's rest hold) +25 mm lost the whole set. Now only the first compression is lost (its rest is
    not known yet), and from the third rest top of the set on the depth is read from the new rest."""
    t, h = _two_sets(shift_mm)
    res = analyze(t, h, CoreOptions(rest_height_mm=0.0) if known_rest else CoreOptions())
    assert res.summary.compressions >= 59
    assert [s.count for s in res.sets][0] == 30 and len(res.sets) == 2
    d = np.array([c.depth_mm for c in res.compressions])
    first, later = d[5:30], d[-26:]  # (the session's first five read against a baseline still forming)
    assert abs(later.mean() - first.mean()) < 0.5  # the new rest from the 4th compression of the set on


def test_a_rest_that_moved_down_in_a_pause_is_followed_without_a_known_rest():
    """Without a known rest, a set whose rest came back 15 mm lower reads its first three compressions too
    deep (13-15 mm: their baseline is the set before's) and the rest from its third rest top on."""
    t, h = _two_sets(-15.0)
    res = analyze(t, h)
    d = np.array([c.depth_mm for c in res.compressions])
    assert len(d) == 60
    assert d[30:33].mean() - d[5:30].mean() > 10.0  # the set before's baseline
    assert abs(d[33:].mean() - d[5:30].mean()) < 0.5


@pytest.mark.xfail(strict=True, reason="a known rest (the rest hold) is the depth reference for the whole session: a "
                   "set whose tracked rest came back lower, by less than a lean can be (24 mm), reads too deep and "
                   "leaning throughout (docs/core.md, 'The rest after a pause')")
def test_a_known_rest_that_moved_down_in_a_pause_is_followed():
    t, h = _two_sets(-8.0)
    res = analyze(t, h, CoreOptions(rest_height_mm=0.0))
    d = np.array([c.depth_mm for c in res.compressions])
    assert abs(d[36:].mean() - d[5:30].mean()) < 1.0


@pytest.mark.parametrize("shift_mm", [-30.0, -40.0])
@pytest.mark.parametrize("known_rest", [False, True], ids=["tracked-rest", "known-rest"])
def test_a_rest_that_fell_beyond_any_lean_in_a_pause_is_the_new_rest(shift_mm, known_rest):
    """A rest 30-40 mm lower after the pause (rendered: a stack, then one hand, moves the pipeline's tracked rest 36 mm
    down) is no lean: leaning never goes deeper than max_lean_frac of the deepest compression (24 mm). Before session
    17, -30 mm read every compression of the set 30 mm too deep and 'leaning' 30 mm, and -40 mm lost 16 of 30 (with a
    known rest all 30). Now the rest jumps with the set's third rest top: from its fourth compression on, the depth is
    the first set's and the recoil full."""
    t, h = _two_sets(shift_mm)
    res = analyze(t, h, CoreOptions(rest_height_mm=0.0) if known_rest else CoreOptions())
    d = np.array([c.depth_mm for c in res.compressions])
    assert len(d) >= 57
    assert abs(d[-26:].mean() - d[5:30].mean()) < 0.5
    assert max(c.recoil_residual_mm for c in res.compressions[-26:]) < 2.0


def test_simulated_rests_that_move_in_the_pauses_keep_the_counts():
    """The simulator's rest_step_mm (a new rest, N(0, s.d.), in each ventilation pause), 10 seeds of 962
    compressions: 6 mm missed 7 before session 17 (known rest 5), 10 mm 43 (known rest 42); now 1 (0) and 8 (4):
    what is left is mostly the first compression after a rise of over 10 mm."""
    for step, known, most in ((6.0, False, 2), (10.0, False, 11), (6.0, True, 1), (10.0, True, 7)):
        missed = 0
        for seed in range(10):
            sim = simulate(SimOptions(seed=seed, rest_step_mm=step))
            res = analyze(sim.t_s, sim.height_mm, CoreOptions(rest_height_mm=float(sim.rest_mm[0])) if known else None)
            m = match(sim.truth, res.compressions)
            missed += len(sim.truth) - len(m)
            assert res.summary.compressions - len(m) <= 1, (step, seed)
        assert missed <= most, (step, known, missed)


def test_a_gap_after_the_trainee_stopped_is_no_copy_of_the_still_period_before():
    """A gap of 0.25-0.6 s inside a clear rhythm is filled with the period before it (it may hide a compression). A
    rendered stack at the frame's edge stopped, rested 7 mm lower, lost tracking on and off, and one frame read 9 mm
    low between two gaps; the 2 s before the next 0.5 s gap still correlated on the compressions, the still period
    with that frame in it was copied into the gap, and a 14 mm compression nobody did was counted (session 35, the
    tiled floor). Where the last period before a gap moved less than half as much as the one before, the trainee had
    stopped: the gap is bridged as a short one."""
    fps, period, depth = 30.0, 0.57, 50.0
    t = np.arange(0, 1.0 + 14 * period + 3.0, 1 / fps)
    u = (t - 1.0) / period
    on = (u >= 0) & (u < 14)
    h = np.zeros_like(t)
    h[on] = -depth * 0.5 * (1 - np.cos(2 * np.pi * (u[on] % 1)))
    end = 1.0 + 14 * period
    h[t >= end] = -7.0 * np.clip((t[t >= end] - end) / 0.15, 0, 1)  # resting 7 mm lower
    k = np.round((t - (end - 0.5 * period)) * fps).astype(int)  # frames after the last bottom
    for a, b in ((12, 17), (19, 19), (21, 26), (34, 48)):
        h[(k >= a) & (k <= b)] = np.nan
    h[k == 20] = -16.0  # one frame 9 mm low between two gaps
    res = analyze(t, h)
    gap = (t[k == 34][0], t[k == 48][0])
    assert [c for c in res.compressions if gap[0] <= c.t_bottom_s <= gap[1]] == []
    assert len(res.compressions) == 15  # (14, and the low frame itself: nothing tells it from a shallow push)
