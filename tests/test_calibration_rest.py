"""The resting-hand baseline detector (streaming, shared by analyze and the live app)."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from calibration.rest import (RecoilTops, RestDetector, RestEstimate, RestOptions, ReturnOptions, ReturnWatcher,
                             RunningMedian, rest_of_tops, still_span)


def _feed(det: RestDetector, t, h):
    out = None
    for ti, hi in zip(t, h):
        r = det.push(float(ti), float(hi))
        if r is not None:
            out = r
    return out


def test_rest_then_compressions():
    fps = 30.0
    t = np.arange(0, 6, 1 / fps)
    rng = np.random.default_rng(0)
    h = 31.0 + rng.normal(0, 0.6, t.size)  # hands resting 31 mm above the chest surface
    comp = t >= 2.4
    h[comp] = 31.0 - 25.0 * (1 - np.cos(2 * math.pi * 1.8 * (t[comp] - 2.4)))
    r = _feed(RestDetector(), t, h)
    assert r is not None
    assert r.value == pytest.approx(31.0, abs=0.4)
    assert r.t_start_s == pytest.approx(0.0, abs=0.05)
    assert 2.3 <= r.t_end_s <= 2.5  # ends where the first compression leaves the tolerance
    assert r.spread <= 4.0


def test_approach_then_rest():
    """Hands coming down onto the chest: the hold starts when they stop."""
    t = np.arange(0, 5, 1 / 30)
    h = np.where(t < 1.0, 120.0 - 90.0 * t, 30.0)
    h = np.where(t > 3.5, 30.0 - 40.0 * (t - 3.5), h)
    r = _feed(RestDetector(), t, h)
    assert r.value == pytest.approx(30.0, abs=0.01)
    assert r.t_start_s == pytest.approx(1.0, abs=0.1)


def test_too_short_rest_gives_nothing_and_finish_is_none():
    t = np.arange(0, 3, 1 / 30)
    h = 30.0 + 20.0 * np.sin(2 * math.pi * 1.5 * t)  # compressing right away
    det = RestDetector()
    assert _feed(det, t, h) is None
    assert det.finish() is None


def test_gap_restarts_and_max_length_ends():
    t = np.arange(0, 10, 1 / 30)
    h = np.full(t.size, 25.0)
    h[(t > 1.0) & (t < 1.5)] = np.nan  # tracking lost for 0.5 s: the hold restarts after it
    det = RestDetector(RestOptions(max_s=3.0))
    r = _feed(det, t, h)
    assert r.t_start_s == pytest.approx(1.5, abs=0.05)
    assert r.duration_s == pytest.approx(3.0, abs=0.05)  # final once max_s is reached
    assert det.push(11.0, 99.0) is None  # no change after it is final


def test_valid_range_rejects_hovering_hands():
    t = np.arange(0, 6, 1 / 30)
    h = np.where(t < 3.0, 300.0, 28.0)  # hovering far above the chest, then resting
    r = _feed(RestDetector(RestOptions(valid_range=(-20.0, 120.0))), t, h)
    assert r is None or r.value == pytest.approx(28.0)
    det = RestDetector(RestOptions(valid_range=(-20.0, 120.0)))
    _feed(det, t, h)
    assert det.finish().value == pytest.approx(28.0)


def test_rest_baseline_measures_a_trainee_who_leans_on_every_compression():
    """The issue's promise: the recorded rest is the depth reference even when no compression
    ever releases fully (the core must keep those leaning tops out of its baseline)."""
    from coach.core import CoreOptions, analyze

    fps = 30.0
    t = np.arange(0, 14, 1 / fps)
    rest_mm, depth, lean = 31.0, 52.0, 7.0
    h = np.full(t.size, rest_mm)
    on = t >= 2.5
    ph = 2 * math.pi * 1.8 * (t[on] - 2.5)
    # after the first stroke the top stays 7 mm below the rest: leaning on every compression
    top = np.where(t[on] - 2.5 < 1 / 1.8, rest_mm, rest_mm - lean)
    h[on] = top - (depth - (rest_mm - top)) * (1 - np.cos(ph)) / 2
    h += np.random.default_rng(1).normal(0, 0.3, t.size)
    r = _feed(RestDetector(), t, h)
    assert r.value == pytest.approx(rest_mm, abs=0.3)
    res = analyze(t, h, CoreOptions(rest_height_mm=r.value))
    assert len(res.compressions) >= 20
    later = res.compressions[3:]
    assert np.mean([c.depth_mm for c in later]) == pytest.approx(depth, abs=1.5)
    assert np.mean([c.recoil_residual_mm for c in later]) == pytest.approx(lean, abs=1.5)


# ---------------------------------------------------------------- the hands back from a pause (ReturnWatcher)
def _pause_session(still_s: float, new_level: float = 50.0, away: str = "gone", gap_s: float = 2.5, fps: float = 30.0):
    """Rest 30 mm, a set of compressions, the hands away for ``gap_s`` (out of view, or lifted 100 mm), then coming
    down onto ``new_level``, resting ``still_s`` and compressing again. Returns (t, h, landing time, onset time)."""
    rng = np.random.default_rng(4)
    t = np.arange(0, 14, 1 / fps)
    h = np.full(t.size, 30.0)
    s1 = (t >= 1.0) & (t < 6.0)
    h[s1] = 30.0 - 25.0 * (1 - np.cos(2 * math.pi * 1.8 * (t[s1] - 1.0)))
    t_back = 6.0 + gap_s
    h[(t >= 6.0) & (t < t_back)] = np.nan if away == "gone" else 130.0
    land = t_back + 0.5
    down = (t >= t_back) & (t < land)
    h[down] = new_level + (130.0 - new_level) * (1 - (t[down] - t_back) / 0.5)
    onset = land + still_s
    h[(t >= land) & (t < onset)] = new_level
    s2 = t >= onset
    h[s2] = new_level - 25.0 * (1 - np.cos(2 * math.pi * 1.8 * (t[s2] - onset)))
    return t, h + rng.normal(0, 0.4, t.size), land, onset


def _watch(t, h, level=30.0, options: ReturnOptions | None = None, tops_so_far: bool = False):
    """The watcher's events on a trace, (time, event) each; the recoil tops said on the way (``TOPS``) only if asked."""
    w = ReturnWatcher(level, options)
    events = []
    for ti, hi in zip(t, h):
        ev = w.push(float(ti), float(hi))
        if ev is not None and (tops_so_far or not (isinstance(ev, tuple) and ev[0] == ReturnWatcher.TOPS)):
            events.append((float(ti), ev))
    return w, events


@pytest.mark.parametrize("away", ["gone", "lifted"])
def test_the_first_rest_of_the_hands_back_from_a_pause_is_found(away):
    """Hands put back 20 mm higher (another hand on top), resting 0.45 s before the first downstroke: the watcher
    holds from their return and gives that rest, at its own level."""
    t, h, land, onset = _pause_session(0.45, away=away)
    w, events = _watch(t, h)
    assert [e[1] if isinstance(e[1], str) else e[1][0] for e in events] == ["start", "end"]
    t_start, (_, rest) = events[0][0], events[1][1]
    assert land - 0.5 <= t_start < land  # on the way down: held from there
    assert rest is not None and rest.value == pytest.approx(50.0, abs=0.5)
    assert land - 0.1 <= rest.t_start_s and abs(rest.t_end_s - onset) <= 0.15
    # released once the first stroke's recoil top has come back to the hold (passed at 1.8 Hz: 0.75 s; the hold
    # checked against it, ReturnOptions.hold_top_*), not at its rise already (0.6 s)
    assert events[1][0] - onset <= 0.85
    assert w.returns == 1 and not w.holding


def test_hands_seen_on_their_way_up_are_still_coming():
    """Seen first low on their way up to the chest's height (rendered: 108 mm, rising to 130, then landing): that rise
    is not a stroke coming back up, and the rest after the landing is still found."""
    t, h, land, onset = _pause_session(0.45)
    up = (t >= land - 0.9) & (t < land - 0.5)
    h[up] = 80.0 + 50.0 * (t[up] - (land - 0.9)) / 0.4
    _, events = _watch(t, h)
    assert events[0][0] < land - 0.8 and events[1][1][1] is not None
    assert events[1][1][1].value == pytest.approx(50.0, abs=0.5)


def _strokes_with_dwell(t, h, onset: float, level: float, dwell_s: float) -> None:
    """Trapezoid strokes from ``onset``: 50 mm deep, the bottom held ``dwell_s``, 110 /min."""
    per = 60.0 / 110.0
    u = (t[t >= onset] - onset) % per
    ramp = (per - dwell_s) / 2
    depth = np.clip(np.minimum(u, per - u) / ramp, 0.0, 1.0) * 50.0
    h[t >= onset] = level - depth


def test_a_strokes_bottom_held_still_is_not_a_rest():
    """Compressing at once with the bottom held 250 ms: the bottom is as still as a short rest, but it ends going up."""
    t, h, land, onset = _pause_session(0.0)
    _strokes_with_dwell(t, h, land, 50.0, 0.25)
    _, events = _watch(t, h)
    rest = events[1][1][1]
    assert isinstance(rest, RecoilTops) and not any(rest.covers(land + k * 60 / 110 + 60 / 220) for k in range(6))
    # sharp tops (straight 340 mm/s sides): the highest frame at 30 fps lies up to half a frame's travel (5.7 mm) low
    assert rest.value == pytest.approx(50.0, abs=4.0)


def test_strokes_that_reach_far_below_the_first_rest_give_no_rest():
    """Hands put back 40 mm lower and compressing at once: the strokes' bottoms reach 90 mm below the first rest. Its
    range (-30 mm) once made each bottom a gap that a 'still' hold spanned (a rendered set read 8 mm shallow)."""
    t, h, land, onset = _pause_session(0.0, new_level=-10.0)
    _strokes_with_dwell(t, h, land, -10.0, 0.1)
    _, events = _watch(t, h)
    rest = events[1][1][1]
    assert not isinstance(rest, RestEstimate)  # no still rest; the recoil tops instead, at the new level
    assert isinstance(rest, RecoilTops) and rest.value == pytest.approx(-10.0, abs=3.0)


def test_a_hover_before_landing_is_not_the_rest():
    """Hands held 20 mm above the chest for 0.3 s, then landing and resting 0.3 s: the last rest before the first
    stroke is the chest's."""
    t, h, land, onset = _pause_session(0.6)
    hover = (t >= land) & (t < land + 0.3)
    h[hover] = 70.0 + np.random.default_rng(1).normal(0, 0.4, hover.sum())
    down = (t >= land + 0.3) & (t < onset)
    h[down] = np.interp(t[down], [land + 0.3, land + 0.4, onset], [70.0, 50.0, 50.0])
    _, events = _watch(t, h)
    rest = events[1][1][1]
    assert rest is not None and rest.value == pytest.approx(50.0, abs=0.5) and rest.t_start_s >= land + 0.35


def test_hands_that_compress_at_once_give_their_recoil_tops():
    """No rest before the first downstroke (the filmed rescuers held still 0.00-0.07 s): no still hold is taken for
    one; the watcher holds on through the first strokes and gives their recoil tops, all but the first used."""
    t, h, land, onset = _pause_session(0.0)
    w, events = _watch(t, h)
    assert len(events) == 2
    t_end, (_, rest) = events[1]
    assert isinstance(rest, RecoilTops) and len(rest.levels) == w.opt.tops and rest.used == (1, 2, 3)  # (all level)
    assert rest.value == pytest.approx(50.0, abs=0.6)
    per = 60.0 / 110.0  # 1.8 Hz strokes from the landing: tops at onset + k periods
    tops = [onset + k * (1 / 1.8) for k in range(1, 5)]
    assert all(rest.covers(tt) or min(abs(tt - a) for a, _ in rest.spans) < 0.05 for tt in tops)
    assert t_end - tops[-1] < 0.4 < per  # released once the fourth top is passed (the next downstroke: 15 mm)


def test_the_tops_so_far_are_said_from_the_first_used_one_and_the_hold_may_end_there():
    """``TOPS`` as the second and the third top pass (the first is never used alone), each with the tops so far, so
    the caller can end the hold early when they already show the same hands; ``finish()`` then gives those tops and
    the watcher is done with the return. Without ``tops_early``: none."""
    t, h, land, onset = _pause_session(0.0)
    w, events = _watch(t, h, tops_so_far=True)
    kinds = [ev if isinstance(ev, str) else ev[0] for _, ev in events]
    assert kinds == ["start", "tops", "tops", "end"]
    (t2, (_, two)), (t3, (_, three)) = events[1], events[2]
    assert isinstance(two, RecoilTops) and len(two.levels) == 2 and two.used == (1,)
    assert len(three.levels) == 3 and three.levels[:2] == two.levels and three.used == (1, 2)
    per = 1 / 1.8
    assert t3 - t2 == pytest.approx(per, abs=0.05) and events[3][0] - t3 == pytest.approx(per, abs=0.05)
    assert two.value == pytest.approx(50.0, abs=0.8)

    w = ReturnWatcher(30.0)
    for ti, hi in zip(t.tolist(), h.tolist()):
        ev = w.push(ti, hi)
        if isinstance(ev, tuple) and ev[0] == ReturnWatcher.TOPS:
            break
    rest = w.finish()
    assert not w.holding and rest.levels == two.levels and ti == t2
    assert all(w.push(tj, hj) is None for tj, hj in zip(t.tolist(), h.tolist()) if tj > ti)  # (no end to come)

    _, events = _watch(t, h, options=ReturnOptions(tops_early=False), tops_so_far=True)
    assert [ev if isinstance(ev, str) else ev[0] for _, ev in events] == ["start", "end"]


def test_the_first_hands_of_a_session_are_watched_like_hands_coming_back():
    """``begin``: held from the first sample on, without any pause before (the pipeline's start without a rest hold):
    hands that compress at once give their recoil tops, and ``rest_of_tops`` reports them as a rest (their level,
    from the first used top to the last, one sample per used top)."""
    t, h, land, onset = _pause_session(0.0)
    keep = t >= land - 0.3  # the session starts as the hands come down onto the chest (no pause before)
    t, h = t[keep], h[keep]
    w = ReturnWatcher(math.nan, ReturnOptions(wait_s=math.inf))
    w.begin(float(t[0]), float(h[0]))
    assert w.holding
    end = [(float(ti), ev) for ti, hi in zip(t[1:], h[1:]) if isinstance(ev := w.push(float(ti), float(hi)), tuple)
           and ev[0] == ReturnWatcher.END]
    assert len(end) == 1 and w.returns == 0  # (no return: nothing came back)
    tops = end[0][1][1]
    assert isinstance(tops, RecoilTops) and tops.used == (1, 2, 3) and tops.value == pytest.approx(50.0, abs=0.6)
    r = rest_of_tops(tops)
    assert (r.value, r.samples) == (tops.value, 3) and r.spread < 2.0
    assert (r.t_start_s, r.t_end_s) == (tops.spans[1][0], tops.spans[3][1])
    assert onset + 1 / 1.8 < r.t_start_s < r.t_end_s < onset + 4.5 / 1.8


def test_at_a_start_a_short_still_hold_counts_only_once_the_tops_have_come():
    """``rest_needs_tops`` (the pipeline's start): a 0.45 s still hold, then compressions in rhythm: the hold is the
    rest, given once all the tops have passed (not at the first stroke's rise, as after a pause); the same hold with
    one stroke and stillness after it (hands being placed): nothing."""
    t, h, land, onset = _pause_session(0.45)
    o = ReturnOptions(wait_s=math.inf, rest_needs_tops=True, tops_early=False)
    w = ReturnWatcher(math.nan, o)
    keep = t >= land - 0.3
    w.begin(float(t[keep][0]), float(h[keep][0]))
    end = [(float(ti), ev[1]) for ti, hi in zip(t[keep][1:], h[keep][1:])
           if isinstance(ev := w.push(float(ti), float(hi)), tuple) and ev[0] == ReturnWatcher.END]
    assert len(end) == 1
    t_end, rest = end[0]
    assert isinstance(rest, RestEstimate) and land - 0.05 <= rest.t_start_s and rest.t_end_s <= onset + 0.15
    assert rest.value == pytest.approx(50.0, abs=0.8) and t_end > onset + 4 / 1.8  # after the fourth top
    per = 1 / 1.8
    h2 = h.copy()
    h2[t >= onset + per] = 50.0
    w = ReturnWatcher(math.nan, o)
    w.begin(float(t[keep][0]), float(h2[keep][0]))
    evs = [ev for ti, hi in zip(t[keep][1:], h2[keep][1:]) if (ev := w.push(float(ti), float(hi))) is not None]
    assert evs == [(ReturnWatcher.END, None)]


def test_without_tops_hands_that_compress_at_once_give_no_rest():
    """With ``tops=0`` (session 18's watcher): nothing, and the feed waits only until the first stroke has come back up."""
    t, h, land, onset = _pause_session(0.0)
    w, events = _watch(t, h, options=ReturnOptions(tops=0))
    assert len(events) == 2 and events[1][1] == ("end", None)
    assert events[1][0] - onset < 0.6 and events[1][0] - events[0][0] < w.opt.wait_s


@pytest.mark.parametrize("shifts", [(14.0, 0.0, 14.0, 0.0), (0.0, -8.0, 0.0, 0.0), (14.0, -8.0, 0.0, 0.0)],
                         ids=["settling-first", "leaning-second", "both"])
def test_recoil_tops_skip_the_settling_first_and_a_leaning_one(shifts):
    """The first top after the landing still 14 mm high (filmed: L1 at 51.8 s), a top leaning 8 mm: the level is the
    median of the tops after the first, so neither moves it (all four's median, or the three's mean, would)."""
    t, h, land, onset = _pause_session(0.0)
    s2 = t >= onset
    k = np.floor((t[s2] - onset) * 1.8).astype(int)  # stroke number: 50 mm down from one top, up to the next
    u = (t[s2] - onset) * 1.8 - k
    tops = 50.0 + np.array([0.0, *shifts, 0.0, 0.0, 0.0])  # where each stroke starts (the first: the landing's level)
    top = np.where(u < 0.5, tops[np.minimum(k, 6)], tops[np.minimum(k + 1, 6)])
    h[s2] = 0.0 + (top - 0.0) * (1 + np.cos(2 * math.pi * u)) / 2 + np.random.default_rng(5).normal(0, 0.4, s2.sum())
    _, events = _watch(t, h)
    rest = events[1][1][1]
    assert isinstance(rest, RecoilTops)
    assert np.allclose(rest.levels, 50.0 + np.array(shifts), atol=1.0)
    assert rest.value == pytest.approx(50.0, abs=0.6)
    assert [i for i in range(4) if shifts[i] == 0.0 and i > 0] == list(rest.used)  # where the hands are located too


def test_one_stroke_then_stillness_gives_its_top_after_the_wait():
    """One stroke and the hands stay (a rescuer checking the pulse): the watcher waits ``tops_wait_s`` at most and
    gives the one top it saw, which then counts alone; the end of input gives what was found too."""
    t, h, land, onset = _pause_session(0.0)
    per = 1 / 1.8
    h[t >= onset + per] = 50.0 + np.random.default_rng(2).normal(0, 0.4, int((t >= onset + per).sum()))
    w, events = _watch(t, h)
    t_end, (_, rest) = events[1]
    assert isinstance(rest, RecoilTops) and rest.used == (0,) and rest.value == pytest.approx(50.0, abs=1.0)
    assert t_end - onset == pytest.approx(0.5 * per + w.opt.tops_wait_s, abs=0.25)
    w2, _ = _watch(t[t < onset + 2.0], h[t < onset + 2.0])
    assert w2.holding and isinstance(w2.finish(), RecoilTops) and not w2.holding


def test_hands_that_come_down_slowly_are_waited_for_no_longer_than_the_wait():
    t, h, land, onset = _pause_session(0.0)
    t_back = land - 0.5
    after = t > t_back
    h[after] = 89.0 - 25.0 * (t[after] - t_back)  # coming down slowly, 25 mm/s: never still, never a stroke
    w, events = _watch(t, h)
    assert events[1][1] == ("end", None)
    assert events[1][0] - events[0][0] == pytest.approx(w.opt.wait_s, abs=0.05)  # held no longer than the wait


def test_a_short_loss_of_the_hands_is_not_a_pause():
    t, h, _, _ = _pause_session(0.45, gap_s=0.6)
    h[(t > 3.0) & (t < 3.5)] = np.nan  # lost for half a second mid-set, too
    _, events = _watch(t, h)
    assert events == []


@pytest.mark.parametrize("rise", [0.0, 6.0, 14.0])
def test_tops_that_rise_above_a_rest_taken_at_leaning_tops_raise_it(rise):
    """Once the caller took recoil tops for the rest (``follow``), the set's later tops are watched: a lean at the tops
    it was taken from shows as tops that later rise above it (a lean lowers a top, nothing raises one), and the watcher
    says by how much once three agree; tops at the rest say nothing, and tops as high as hands off the chest neither."""
    fps, f = 30.0, 1.8
    t = np.arange(0, 8, 1 / fps)
    u = (t * f) % 1.0
    top = np.where(t < 3.0, 30.0, 30.0 + rise)  # 30: the rest the caller took (the watcher's level)
    h = top - 50.0 * (1 - np.cos(2 * math.pi * u)) / 2 + np.random.default_rng(3).normal(0, 0.4, t.size)
    w = ReturnWatcher(30.0)
    w.follow()
    events = []
    for ti, hi in zip(t, h):
        ev = w.push(float(ti), float(hi))
        if ev is not None:
            events.append((ti, ev))  # (the watcher's level moved with it; the heights go on as they are)
    if rise == 6.0:
        assert len(events) == 1 and events[0][1][0] == ReturnWatcher.RAISE
        assert events[0][1][1] == pytest.approx(6.0, abs=0.8)
        assert 3.0 + 1 / f < events[0][0] < 3.0 + 3 / f  # two of the last three tops risen, and no more after
    else:
        assert events == []
    w2 = ReturnWatcher(30.0)  # not following (a rest measured still, or the first rest hold): nothing
    assert [ev for ti, hi in zip(t, h) if (ev := w2.push(float(ti), float(hi))) is not None] == []


def test_recoil_tops_that_disagree_are_all_used():
    """Two tops after the first, 10 mm apart: neither is near their median, so both count (their mean), rather than
    none; a single top counts alone."""
    tops = RecoilTops(((0.0, 0.1), (1.0, 1.1), (2.0, 2.1)), (70.0, 50.0, 60.0))
    assert tops.used == (1, 2) and tops.value == pytest.approx(55.0)
    assert tops.covers(1.05) and not tops.covers(0.05) and not tops.covers(1.5)
    one = RecoilTops(((0.0, 0.1),), (64.0,))
    assert one.used == (0,) and one.value == 64.0 and one.t_start_s == 0.0


def test_a_hover_far_above_the_chest_is_no_rest_when_the_landing_is_too_short():
    """Blurred at 640x480 (rendered): the hands held 70 mm above the chest for 0.2 s, then landing with only 0.13 s of
    rest before compressing (here 55 mm and 0.1 s). The hover is the last still hold a downstroke left, but the first stroke then reaches
    further below it than any compression goes (``max_depth_mm``, the pipeline's: 90 mm for adults), so it is no rest;
    the recoil tops are taken instead."""
    t, h, land, onset = _pause_session(0.1, new_level=20.0)  # (the first rest at 30; strokes to -30)
    hover = (t >= land - 0.45) & (t < land - 0.15)
    h[hover] = 75.0 + np.random.default_rng(6).normal(0, 0.4, hover.sum())  # 55 mm above the chest's new rest
    down = (t >= land - 0.15) & (t < land)
    h[down] = np.interp(t[down], [land - 0.15, land], [75.0, 20.0])
    _, events = _watch(t, h, options=ReturnOptions(max_depth_mm=90.0))
    rest = events[1][1][1]
    assert isinstance(rest, RecoilTops) and rest.value == pytest.approx(20.0, abs=0.6)
    _, events = _watch(t, h, options=ReturnOptions(hold_top_below_mm=math.inf, hold_top_above_mm=math.inf))  # no limit: the hover (as session 18)
    assert isinstance(events[1][1][1], RestEstimate) and events[1][1][1].value == pytest.approx(75.0, abs=1.0)
    _, events = _watch(t, h)  # no depth limit, but the first recoil top 55 mm below the hold: the tops too
    assert isinstance(events[1][1][1], RecoilTops) and events[1][1][1].value == pytest.approx(20.0, abs=0.6)


def test_at_a_start_a_hover_above_the_recoil_tops_is_no_rest():
    """Simulated straight in with an approach, 4 of 80 sessions held still 26-34 mm above the chest for 0.2-0.4 s,
    came down, and compressed after a shorter hold on the chest: the hover was the start's still hold, and its level
    went to the core as the rest (python -m tests.core_rest_moves --start-core: +35 mm, 27 compressions not counted).
    The first recoil top does not come back near it (``hold_top_below_mm``, as after a pause), so it is no rest: the
    tops are taken instead (here 30 mm up, 0.4 s; the landing's hold 0.1 s). Without the check: the hover, as before."""
    t, h, land, onset = _pause_session(0.1)
    hover = (t >= land - 0.6) & (t < land - 0.2)
    h[hover] = 80.0 + np.random.default_rng(7).normal(0, 0.4, hover.sum())  # 30 mm above the chest's rest at 50
    down = (t >= land - 0.2) & (t < land)
    h[down] = np.interp(t[down], [land - 0.2, land], [80.0, 50.0])
    keep = t >= land - 0.6  # (the session starts with the hover)
    t, h = t[keep], h[keep]

    def start(o: ReturnOptions):
        w = ReturnWatcher(math.nan, o)
        w.begin(float(t[0]), float(h[0]))
        return [ev[1] for ti, hi in zip(t[1:], h[1:])
                if isinstance(ev := w.push(float(ti), float(hi)), tuple) and ev[0] == ReturnWatcher.END]

    o = ReturnOptions(wait_s=math.inf, rest_needs_tops=True, tops_early=False, max_depth_mm=90.0)
    (rest,) = start(o)
    assert isinstance(rest, RecoilTops) and rest.value == pytest.approx(50.0, abs=0.8)
    (old,) = start(replace(o, hold_top_below_mm=math.inf, hold_top_above_mm=math.inf))
    assert isinstance(old, RestEstimate) and old.value == pytest.approx(80.0, abs=1.0)


def _follow_tops(tops_mm: list[float], level: float = 30.0, options: ReturnOptions | None = None):
    """Strokes at 1.8 Hz whose recoil tops are ``tops_mm`` in turn, followed from ``level`` as the pipeline does (each
    move applied to the heights after it): the moves (stroke index, mm)."""
    fps, f = 30.0, 1.8
    t = np.arange(0, (len(tops_mm) + 1) / f, 1 / fps)
    k = np.minimum((t * f).astype(int), len(tops_mm) - 1)
    u = (t * f) % 1.0
    h = np.array(tops_mm)[k] - 50.0 * (1 - np.cos(2 * math.pi * u)) / 2 + np.random.default_rng(5).normal(0, 0.4, t.size)
    w = ReturnWatcher(level, options)
    w.follow()
    moves, offset = [], 0.0
    for ti, hi in zip(t, h):
        ev = w.push(float(ti), float(hi) - offset)
        if ev is not None:
            moves.append((int(ti * f), ev[1]))
            offset += ev[1]
    return moves


def test_the_cores_baseline_standing_above_a_rest_taken_at_tops_raises_it():
    """A trainee who leans on most strokes from the first recoils fully only now and then, never two tops in a row: the
    tops' own follow raises nothing, but the core's baseline (the tops it found no lean) stands above the rest taken at
    the leaning tops. Four compressions in a row 5 mm or more above it (and the baseline moved meanwhile: new tops came
    in) raise the rest by their median; a baseline that never moved stands on one top the core kept alone while the
    others sank below it (the filmed SC1's body marker: 5.04 mm up for 14 compressions), and raises nothing."""
    w = ReturnWatcher(30.0)
    w.follow()
    assert [w.core_baseline(b) for b in (36.3, 36.3, 36.3)] == [None] * 3
    ev = w.core_baseline(35.7)
    assert ev is not None and ev[0] == ReturnWatcher.RAISE and ev[1] == pytest.approx(6.3)
    assert w.level == pytest.approx(36.3) and w.core_baseline(36.3) is None  # (moved: counted again from the new level)
    stuck = ReturnWatcher(30.0)
    stuck.follow()
    assert [stuck.core_baseline(35.04) for _ in range(14)] == [None] * 14 and stuck.level == 30.0
    # one compression under raise_mm counts again from nothing; as high as hands off the chest, or not following: never
    w = ReturnWatcher(30.0)
    w.follow()
    assert [w.core_baseline(b) for b in (36.0, 36.5, 34.0, 36.0, 36.5, 36.0)] == [None] * 6
    assert w.core_baseline(36.2) is not None
    w = ReturnWatcher(30.0)
    w.follow()
    assert [w.core_baseline(b) for b in (41.0, 41.5, 42.0, 41.0, 41.5)] == [None] * 5
    w = ReturnWatcher(30.0)
    assert [w.core_baseline(b) for b in (36.0, 36.5, 36.0, 36.5, 36.0)] == [None] * 5


def test_one_top_back_above_a_rest_taken_at_tops_is_kept_unless_a_move_explains_it():
    """One recoil top 8 mm above the rest among tops at it raises nothing (a full recoil among leaning strokes, or
    hands lifted once), but the watcher keeps how far it rose (``top_above_mm``): the rest may be a lean's by that
    much, which the session's statement must hold (from the core's baseline, where it stands under the rest). A raise
    explains what rose before it. One among the tops the rest was taken from says the same (``RecoilTops.above_mm``)."""
    fps, f = 30.0, 1.8
    t = np.arange(0, 10 / f, 1 / fps)
    h = 30.0 - 50.0 * (1 - np.cos(2 * math.pi * t * f)) / 2 + 8.0 * np.exp(-(((t - 4 / f) / 0.08) ** 2))  # the 4th top
    w = ReturnWatcher(30.0)
    w.follow()
    assert [ev for ti, hi in zip(t, h) if (ev := w.push(float(ti), float(hi))) is not None] == []
    assert w.top_above_mm == pytest.approx(8.0, abs=0.5)
    w._moved(6.0)
    assert w.top_above_mm == -math.inf
    # measured from a core baseline 1.5 mm under the rest, the depths may read that much more shallow. The bar is
    # measured from there too: a top 4 mm up (real tops wander up to 4.5 mm above a rest taken at their first ones) is
    # no sign over a baseline at the rest, but is one 1.5 mm under it (rendered, blurred stacks at 35 mm: a full recoil
    # 4.99 mm above the rest, 6.7 above the baseline, the set 8.2 mm shallow), and hands lifted off the chest are none
    for bump, base, above in ((8.0, 28.5, 9.5), (4.0, 30.0, -math.inf), (4.0, 28.5, 5.5),
                              (30.0, 28.5, -math.inf)):  # (30: lifted off)
        h = 30.0 - 50.0 * (1 - np.cos(2 * math.pi * t * f)) / 2 + bump * np.exp(-(((t - 4 / f) / 0.08) ** 2))
        w = ReturnWatcher(30.0)
        w.follow()
        w.core_baseline(base)
        assert [ev for ti, hi in zip(t, h) if (ev := w.push(float(ti), float(hi))) is not None] == []
        assert w.top_above_mm == pytest.approx(above, abs=0.5)
    # ... and among the tops the rest is taken from (the median keeps it out; the first may still be settling)
    spans = ((0.0, 0.1), (0.6, 0.7), (1.2, 1.3), (1.8, 1.9))
    assert RecoilTops(spans, (40.0, 30.0, 37.0, 30.2)).above_mm == pytest.approx(6.9)
    assert RecoilTops(spans, (40.0, 30.0, 30.5, 30.2)).above_mm == pytest.approx(0.3)
    assert RecoilTops(spans[:1], (40.0,)).above_mm == -math.inf


def test_tops_that_never_come_back_up_to_a_rest_taken_at_tops_lower_it():
    """The filmed SC1's body marker settled 14 mm over its first strokes and never came back up; given to the core, a
    rest taken at those first tops read its first set 67 mm deep against 62 from the core's own baseline. Nine tops in
    a row all 8 mm or more below it lower it to their upper quartile (a negative "raise"); a lean of five tops 10 mm
    down that then comes back (rendered straight in, seed 12) moves nothing, nor do leaning tops 6 mm down."""
    settled = _follow_tops([30.0] * 3 + [16.0] * 14)
    assert len(settled) == 1 and settled[0][1] == pytest.approx(-14.0, abs=1.0)
    assert 3 + 8 <= settled[0][0] <= 3 + 10  # at the ninth top below
    assert _follow_tops([30.0] * 3 + [20.0] * 5 + [30.0] * 9) == []
    assert _follow_tops([30.0] * 3 + [24.0] * 14) == []
    assert _follow_tops([30.0] * 3 + [16.0] * 14, options=ReturnOptions(settle_tops=0)) == []


@pytest.mark.parametrize("held_mm", [-30.0, 27.0], ids=["at-the-head", "hovering"])
def test_a_hold_the_first_recoil_top_does_not_come_back_to_is_no_rest(held_mm):
    """Back from the breaths, the hands held still away from the chest's rest (at the head, 30 mm below it along the
    compression axis, or hovering 27 mm above) and then compressed after landing with too short a rest (0.05 s). The
    simulated returns did both (3 of 192 with the filmed 0-0.07 s; python -m tests.core_rest_moves --returns), and
    the hold was taken for the rest: 25-35 mm off. The hold now counts once the first stroke's recoil top comes back
    near it (``hold_top_below_mm``, ``hold_top_above_mm``); here it does not, and the tops are taken. Without the
    check: the hold, as before."""
    t, h, land, onset = _pause_session(0.05)
    rng = np.random.default_rng(8)
    held = (t >= land - 0.75) & (t < land - 0.35)
    h[held] = 50.0 + held_mm + rng.normal(0, 0.4, held.sum())
    move = (t >= land - 0.35) & (t < land)
    h[move] = np.interp(t[move], [land - 0.35, land - 0.1, land], [50.0 + held_mm, 80.0 if held_mm < 0 else 65.0, 50.0])
    h[(t >= 6.0) & (t < land - 0.75)] = np.nan  # (out of view until then)
    _, events = _watch(t, h, options=ReturnOptions(max_depth_mm=90.0))
    rest = events[-1][1][1]
    assert isinstance(rest, RecoilTops) and rest.value == pytest.approx(50.0, abs=0.8)
    off = ReturnOptions(max_depth_mm=90.0, hold_top_below_mm=math.inf, hold_top_above_mm=math.inf)
    _, events = _watch(t, h, options=off)
    rest = events[-1][1][1]
    assert isinstance(rest, RestEstimate) and rest.value == pytest.approx(50.0 + held_mm, abs=1.5)


def _shallow_return(fps: float = 30.0):
    """Rest 30 mm; a set of 20 mm strokes; the hands gone for 2.5 s; back at 30 with 0.05 s still, then strokes whose
    first two tops lean 7.5 mm (at 22.5) and the rest come back to 30, their bottoms 20-26 mm below the rest. Each
    stroke: down 0.2 s, up 0.25 s, still at the top 0.1 s (as the simulator's strokes rest there). Returns (t, h)."""
    rng = np.random.default_rng(5)
    t = np.arange(0, 16, 1 / fps)
    h = np.full(t.size, 30.0)

    def strokes(t0: float, tops: list[float], bottoms: list[float]) -> None:
        prev = 30.0
        for k, (top, bottom) in enumerate(zip(tops, bottoms)):
            a = t0 + 0.55 * k
            m = (t >= a) & (t < a + 0.2)
            h[m] = prev - (prev - bottom) * (1 - np.cos(math.pi * (t[m] - a) / 0.2)) / 2
            m = (t >= a + 0.2) & (t < a + 0.45)
            h[m] = bottom + (top - bottom) * (1 - np.cos(math.pi * (t[m] - a - 0.2) / 0.25)) / 2
            h[(t >= a + 0.45) & (t < a + 0.55)] = prev = top

    strokes(1.0, [30.0] * 8, [10.0] * 8)
    h[(t >= 5.6) & (t < 8.1)] = np.nan
    down = (t >= 8.1) & (t < 8.6)
    h[down] = 30.0 + 100.0 * (1 - (t[down] - 8.1) / 0.5)
    h[(t >= 8.6) & (t < 8.65)] = 30.0
    strokes(8.65, [22.5, 22.5] + [30.0] * 10, [8.0, 4.0] + [10.0] * 10)
    return t, h + rng.normal(0, 0.3, t.size)


def test_a_shallow_set_coming_back_leaning_is_no_rest_hold():
    """A trainee compressing 20 mm, back from the pause leaning 7.5 mm on the first two strokes: they come back up only
    14.5 mm, less than the 15 a stroke must (``rise_mm``), and the top of so short a stroke holds within the rest's 4 mm
    long enough to be taken for a still rest, 7.5 mm low (rendered straight in: the set read 5.7-6.0 mm shallow, -1.94
    against a stated +-1.87). For a set that was 20 mm deep (``for_depth``: half of it) the strokes are strokes and
    their tops are collected: the rest comes from the later tops that recoil fully."""
    t, h = _shallow_return()
    _, events = _watch(t, h)
    (_, (kind, rest)), = [e for e in events if isinstance(e[1], tuple)]
    assert kind == "end" and isinstance(rest, RestEstimate) and rest.value < 27.0  # (the bug: a leaning top held)
    opts = ReturnOptions().for_depth(20.0)
    assert opts.rise_mm == pytest.approx(10.0) and ReturnOptions().for_depth(55.0) == ReturnOptions()
    _, events = _watch(t, h, options=opts)
    (_, (kind, rest)), = [e for e in events if isinstance(e[1], tuple)]
    assert kind == "end" and isinstance(rest, RecoilTops)
    assert rest.value == pytest.approx(30.0, abs=1.0)


@pytest.mark.parametrize("fps", [30.0, 15.0])
def test_a_shallow_trainee_leaning_from_the_first_stroke_gives_tops_when_the_start_times_out(fps):
    """Straight in at the session's start (no rest hold, no set before to say how deep this trainee compresses): 20 mm
    strokes whose tops lean 7 mm come back up 13 mm, less than a return's 15 (``rise_mm``). The start watched with
    those options never sees a stroke, so no rest was taken at all and the core's baseline followed the leaning tops
    (rendered, seed 11: 6.4-7.3 mm shallow, not covered). When no rest has come by the pipeline's timeout, the held
    samples are watched again with a rise as short as a compression the core counts (``shallow_start_options``: 10 mm),
    and the recoil tops are the rest; their lean the set's later tops and the core's baseline can then show. At
    15 fps too: a 5-sample median there spans a third of a stroke and flattened the 13 mm rise under 10 (rendered,
    one hand at 15 fps: no rest at all, -7.8 mm against a stated +-3.4), so it spans no more than 0.18 s."""
    from coach.pipeline import PipelineOptions, shallow_start_options, start_watch_options, watch_start

    f = 1.8
    t = np.arange(0, 8.0, 1 / fps)
    u = (t * f) % 1.0
    lean = np.where(t * f < 1.0, 0.0, 7.0)  # down from the rest 30 to 10, then back to 23 each time
    h = 30.0 - lean - (20.0 - lean) * (1 - np.cos(2 * math.pi * u)) / 2 + np.random.default_rng(3).normal(0, 0.3, t.size)
    samples = list(zip(t.tolist(), h.tolist()))
    po = PipelineOptions()
    assert start_watch_options(po).rise_mm == pytest.approx(15.0)
    assert watch_start(samples, start_watch_options(po)) is None
    shallow = shallow_start_options(po)
    assert shallow.rise_mm == pytest.approx(10.0) and replace(shallow, rise_mm=15.0) == start_watch_options(po)
    rest = watch_start(samples, shallow)
    assert isinstance(rest, RecoilTops) and rest.value == pytest.approx(23.0, abs=1.0)


@pytest.mark.parametrize("fps, n", [(60.0, 5), (30.0, 5), (24.0, 5), (20.0, 3), (15.0, 3), (10.0, 1)])
def test_the_running_median_spans_no_more_than_a_sixth_of_a_second(fps, n):
    """Five samples at 24-60 fps (as always at 30), fewer where five would span more than ``smooth_s`` (a third of a
    stroke at 15 fps); an odd count, so the median is a sample. A gap in tracking does not shrink it: the nominal
    interval is the median of the first ones."""
    o = RestOptions()
    assert (o.smooth_samples, o.smooth_s) == (5, 0.18)
    m = RunningMedian.of(o)
    t = [i / fps for i in range(10)] + [2.0 + i / fps for i in range(10)]  # (a 1 s gap)
    out = [m.push(ti, 0.0 if i < 14 else 10.0) for i, ti in enumerate(t)]
    assert out.index(10.0) == 14 + n // 2  # the median turns once more than half of the last n are the new level
    m.clear()
    assert m.push(3.0, 4.0) == 4.0  # (cleared: a hold restarting after a gap)


def test_a_still_hold_after_a_compression_is_a_top_not_the_rest_at_a_start():
    """The heights the start watcher saw of a rendered trainee (the hand tag at 15 fps, straight in, asymmetric
    strokes 25 mm deep, leaning 8 mm from the first stroke; seed 11): the first stroke came back up 13.6 mm in the
    3-sample medians (17.7 in the frames), short of the start's 15, so no stroke was seen; the next top held within
    4 mm for 0.2 s and was taken for the rest (confirmed by the tops, all leaning alike): -8.0 mm against the tag's
    +-2.6. A hold 10 mm (the shallowest compression the core counts) above the lowest point since the hands came
    followed a compression: a top between strokes. The tops are the rest then, and the follow states their lean."""
    from coach.pipeline import PipelineOptions, start_watch_options, watch_start

    heights = [47.8, 33.2, 29.9, 27.2, 29.4, 34.7, 39.4, 42.0, 39.4, 26.7, 21.6, 23.5, 27.7, 32.9, 37.9, 41.2, 41.6, 35.4, 29.6, 30.1, 32.9, 36.9, 40.8, 43.3, 43.2, 32.2, 21.1, 21.0, 24.3, 29.6, 35.3, 40.2, 42.6, 39.6, 25.9, 18.8, 20.6, 25.1, 31.1, 36.9, 40.9, 41.7, 33.0, 22.4, 21.6, 24.7, 29.7, 35.2, 39.6, 41.4, 36.7, 24.4, 19.4]
    samples = [(round((i + 1) * 1000 / 15) / 1000, h) for i, h in enumerate(heights)]  # (the frames' ms stamps)
    o = start_watch_options(PipelineOptions())
    assert o.hold_above_dip_mm == pytest.approx(10.0)
    was = watch_start(samples, replace(o, hold_above_dip_mm=math.inf))
    assert isinstance(was, RestEstimate) and was.value == pytest.approx(39.4, abs=0.5)
    rest = watch_start(samples, o)
    assert isinstance(rest, RecoilTops) and rest.value == pytest.approx(42.0, abs=1.0)
    assert ReturnOptions().hold_above_dip_mm == math.inf  # (returns: unchanged)


def test_a_hold_ends_where_its_frames_leave_its_level():
    """The running median lags: a hold judged on it took in the first downstroke's frames (here 3, 11, 23 and 35 mm
    down) and a restated landing frame; its ends are trimmed to the frames still at its level, the middle kept."""
    rng = np.random.default_rng(4)
    still = 63.3 + rng.normal(0.0, 0.4, 12)
    h = np.concatenate([[58.0], still[:6], [62.0], still[6:], [60.3, 52.4, 41.6, 29.1]])
    span = still_span(h, RestOptions().tolerance)
    assert (span.start, span.stop) == (1, 14)  # the landing frame and the downstroke's four out, the 62.0 kept
    # detected on its running medians, the same frames make one hold that reaches into the downstroke
    det = RestDetector(RestOptions(hold_s=0.3, min_hold_s=0.2, max_s=2.0))
    found = [det.push(i / 30.0, v) for i, v in enumerate(np.concatenate([h, [18.0, 11.0, 9.0]]))]
    rest = next(r for r in found if r is not None)
    assert rest.t_end_s * 30.0 > 14.5  # (what the trim is for)
    assert still_span([], 4.0) == slice(0, 0) and still_span([math.nan] * 3, 4.0) == slice(0, 3)
    assert still_span([63.0, 70.0, 63.2], 4.0) == slice(0, 3)  # a frame in the middle stays
