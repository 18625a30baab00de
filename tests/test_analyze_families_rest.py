"""Where the hands rest: put back otherwise after the pause, straight into a set, or placed and hovering at the start.

Rendered clips of two sets around a ventilation pause (15 s of CPR, sets of 10), real CLI: the hands are located again
from their rest before the first downstroke, or from the first recoil tops when there is none, and a start that is no
rest (dips while placing, a hover) is not taken for one.
"""
from __future__ import annotations

import numpy as np
import pytest

from family_checks import check_case
from render.accuracy import VIEWS, match, run_family_case
from render.families import FAMILIES, VARIANTS

pytestmark = pytest.mark.slow


# ---------------------------------------------------------------- hands put back otherwise after the pause (session 17)
@pytest.fixture(scope="module")
def replaced(work, hands_dir, hand_model_path):
    """Two sets around a ventilation pause (15 s of CPR, sets of 10): the hands come back as another family."""
    done: dict = {}

    def get(first: str, then: str, return_rest_s: tuple[float, float] = (0.2, 0.5), straight_in: bool = False):
        key = (first, then, return_rest_s, straight_in)
        if key not in done:
            sub = work / f"then-{first}-{then}-{return_rest_s[1]:g}{'-straight-in' if straight_in else ''}"
            sub.mkdir(exist_ok=True)
            fam = {**FAMILIES, **VARIANTS}
            done[key] = run_family_case(VIEWS["side30"], fam[first], sub, hands_dir, sim_s=15.0, per_set=10,
                                        family_after=fam[then], return_rest_s=return_rest_s, straight_in=straight_in)
        return done[key]

    return get


def _located_again(case, out, acc, max_stated_mm: float = 6.0) -> list[float]:
    """Counted exactly, the hands located again after the pause, nothing left unresolved: the set-2 errors (mm)."""
    assert acc.count == acc.truth_count == acc.matched
    assert out["calibration"]["relocations"] == 1 and out["calibration"]["rest_drop_mm"] == 0.0
    assert abs(acc.depth_bias_mm) <= out["summary"]["depth_uncertainty_mm"] < max_stated_mm  # covered, and not widened
    pairs = sorted(match(out["compressions"], case.scenario.truth), key=lambda p: p[1].t_bottom_s)
    return [m["depth_mm"] - t.depth_mm for m, t in pairs[10:]]  # (sets of 10)


def test_a_stack_then_one_hand_is_located_again(replaced):
    """A stack, then one flat hand: the tracked rest comes back 36 mm lower. Before session 17 the whole second set read
    34 mm too deep and 'leaning' 41-45 mm; session 17's core took the jump after three compressions (+34 mm each) and
    stated +-20 mm for what it could not resolve. Located again from the 0.45 s rest before the first downstroke,
    every compression of the second set reads within 0.2 mm."""
    case, out, acc = replaced("stacked", "heel")
    errs = _located_again(case, out, acc)
    assert len(errs) == 6 and max(abs(e) for e in errs) < 1.0


def test_one_hand_then_turned_is_located_again(replaced):
    """One flat hand, then turned toward the camera: the tracked rest comes back 12.6 mm lower, within what a lean can
    be, so the second set read 14 mm too deep against the rest hold's rest and the session could only state it
    (+-15.5 mm). The rest before the first downstroke tells the two apart: a lean does not rest still."""
    case, out, acc = replaced("heel", "palm")
    errs = _located_again(case, out, acc)
    assert len(errs) == 6 and max(abs(e) for e in errs) < 1.0


def test_one_hand_then_a_stack_is_located_again(replaced):
    """One flat hand, then a stack: the tracked surface rests 37.5 mm higher. The core took that for hovering hands:
    14 of 16 counted, the second set 8-29 mm shallow. Located again: all counted, within 0.5 mm."""
    case, out, acc = replaced("heel", "stacked")
    errs = _located_again(case, out, acc)
    assert len(errs) == 6 and max(abs(e) for e in errs) < 1.0


def test_a_worn_tag_put_back_turned_is_referenced_again(replaced):
    """The hand tag on a stack, then on one hand turned toward the camera: the tag comes back turned and 13 mm lower,
    which its displacement from the first rest pose read as +33 mm for three compressions, then +2.5 (+6.58 mm bias,
    stated +-14.2 only by the rest drop). Referenced again at the rest before the first downstroke: within 0.2 mm,
    the tag's own +-1.14 statement."""
    case, out, acc = replaced("marker", "marker-palm")
    errs = _located_again(case, out, acc)
    assert out["calibration"]["hand_tag_frames"] > 0.9 * out["source"]["frames_with_hands"]
    assert len(errs) == 6 and max(abs(e) for e in errs) < 0.5
    assert out["summary"]["depth_uncertainty_mm"] < 1.5


# ... and straight into the first compression, as the filmed rescuers do (still 0.00-0.07 s; session 19)
NO_REST_S = (0.0, 0.07)


def _after_the_pause_delays_s(out) -> list[float]:
    """How long after its release each compression of the second set came out of the live pipeline (in order)."""
    rd = sorted(out["live"]["feedback_delays_s"])
    gap = int(np.argmax(np.diff([r for r, _ in rd]))) + 1  # the pause: the longest time between two releases
    return [d for _, d in rd[gap:]]


def _located_at_tops(case, out, acc) -> list[float]:
    """As ``_located_again``, from the recoil tops: the statement holds the lean those tops may have had, which here is
    this trainee's leaning before the pause (seed 3 leans 7-10 mm on 6 of the first set's 10 compressions)."""
    errs = _located_again(case, out, acc, max_stated_mm=16.0)
    assert 6.0 <= out["calibration"]["tops_lean_mm"] <= 10.5 and out["calibration"]["tops_raised_mm"] == 0.0
    return errs


def test_a_stack_then_one_hand_without_a_rest_is_located_at_the_recoil_tops(replaced):
    """A stack, then one flat hand, compressing at once: no rest to locate the hands from, so session 18 measured the
    second set through the stack's surface, from the stack's rest (+5.5 mm bias, one compression +32 mm; the session
    stated +-13.9 from the tops' drop). Located at the recoil tops of the set's first strokes instead (the point 45 mm
    lower; the same hands, located at their tops, move only along their ray, as a lean moves them, and are left)."""
    case, out, acc = replaced("stacked", "heel", NO_REST_S)
    errs = _located_at_tops(case, out, acc)
    assert len(errs) == 6 and max(abs(e) for e in errs) < 1.0
    # the price, live: the set's first compressions wait for the tops (1.98 s for the first, measured)
    d = _after_the_pause_delays_s(out)
    assert 1.5 < d[0] < 2.3 and max(d[4:]) < 0.2


def test_one_hand_then_turned_without_a_rest_is_located_at_the_recoil_tops(replaced):
    """One flat hand, then turned toward the camera, compressing at once: +4.3 mm bias before (covered by +-4.6 only
    by chance); located at the recoil tops (the palm's tilt changed), the second set reads within 1 mm."""
    case, out, acc = replaced("heel", "palm", NO_REST_S)
    errs = _located_at_tops(case, out, acc)
    assert len(errs) == 6 and max(abs(e) for e in errs) < 1.0


def test_hands_that_never_rest_are_located_at_their_first_recoil_tops(replaced):
    """No rest hold at the start either (the hands on the chest from the first frame, compressing after 0.1 s), a
    stack, then one hand without a rest: the pipeline used to hold every frame for 8 s waiting for a rest, then
    measured from the baseline the core tracks and never located the hands again (the first set's compressions came
    out up to 6.7 s late; the second set read +35 mm on three compressions, +6.0 mm bias outside its +-4.7). Now the
    first strokes' recoil tops give the rest and the hands' place, as after a pause."""
    case, out, acc = replaced("stacked", "heel", NO_REST_S, True)
    assert acc.count == acc.truth_count == acc.matched
    rest = out["calibration"]["rest"]
    assert rest is not None and rest["at_recoil_tops"] and rest["samples"] == 3  # (one per used top: all but the first)
    assert case.scenario.truth[0].t_release_s < rest["t_start_s"] < rest["t_end_s"] < case.scenario.truth[4].t_release_s
    assert out["calibration"]["relocations"] == 1 and not out["warnings"]
    assert abs(acc.depth_bias_mm) < 0.6
    # the core measures from those tops' rest (PipelineOptions.core_rest_at_tops), its first compression too (before
    # any recoil top; -2.7 mm when the core followed its own baseline), every later one within 0.5 mm
    errs = [m["depth_mm"] - t.depth_mm for m, t in match(out["compressions"], case.scenario.truth)]
    assert abs(errs[0]) < 3.5 and max(abs(e) for e in errs[1:]) < 1.0
    assert out["live"]["feedback_delay_s"]["max"] < 2.3  # the set's first compressions wait for the tops, no more


def _analyze_scenario(sub, hands_dir, view, family, sc, tag: str):
    """A scenario of the test's own (its heights reshaped) rendered and analyzed as the accuracy runs do: (out, acc)."""
    from render.accuracy import RenderedCase, analyze_case, calibrate_case, family_view, render_family_clip, score
    from render.clips import render_calibration_clip

    rview, told = family_view(view, family)
    cal, vid = sub / f"{rview.name}_calibration.mp4", sub / f"{rview.name}_{tag}_compressions.mp4"
    render_calibration_clip(cal, rview, seconds=1.5)
    render_family_clip(vid, rview, family, hands_dir, sc.t_s, sc.height_mm, sc.placement_mm, sc.visible, truth=sc.truth)
    case = RenderedCase(rview, sc, cal, vid)
    out = analyze_case(case, sub, calibrate_case(case, sub, hfov_deg=told), tag=f"_{tag}")
    return out, score(f"{tag}@{view.name}", out, sc)


def test_hands_being_placed_before_their_rest_hold_do_not_start_the_session(work, hands_dir, hand_model_path):
    """Two 20 mm dips as the hand is placed, then 2 s still, then compressions: the watcher that looks for
    compressing without a rest hold takes the dips for strokes and starts collecting tops, but the rest hold ends
    first (at the first downstroke) and is the reference, as before. The core counts each dip as a shallow
    compression, as it would any 20 mm stroke."""
    from dataclasses import replace

    from render.scenario import compression_scenario

    sub = work / "placed-then-rest"
    sub.mkdir(exist_ok=True)
    view, family = VIEWS["side30"], FAMILIES["heel"]
    sc = compression_scenario(seed=3, fps=view.fps, sim_s=15.0, per_set=10, rest_s=3.5)
    h = sc.height_mm.copy()
    for a in (0.8, 1.4):  # the dips: down 20 mm and back in 0.5 s each, on the chest after the approach (0.6 s)
        k = (sc.t_s >= a) & (sc.t_s < a + 0.5)
        h[k] = -10.0 * (1 - np.cos(2 * np.pi * (sc.t_s[k] - a) / 0.5))
    sc = replace(sc, height_mm=h, rest_span_s=(1.9, sc.rest_span_s[1]))
    out, acc = _analyze_scenario(sub, hands_dir, view, family, sc, "placed")
    rest = out["calibration"]["rest"]
    assert rest is not None and not rest["at_recoil_tops"] and 1.8 <= rest["t_start_s"] < rest["t_end_s"] < sc.truth[0].t_bottom_s
    assert acc.matched == acc.truth_count and abs(acc.depth_bias_mm) < 0.5
    extra = [c for c in out["compressions"] if c["t_bottom_s"] < 2.0]  # the dips are shallow compressions to the core
    assert acc.count == acc.truth_count + 2 and len(extra) == 2 and all(15.0 < c["depth_mm"] < 25.0 for c in extra)


@pytest.mark.parametrize("hover_s", [0.55, 1.8])
def test_a_hover_before_landing_straight_in_is_not_the_rest(work, hands_dir, hand_model_path, hover_s):
    """The stack held 30 mm above the chest, then landing and compressing after 0.1 s on the chest (straight in, seed
    3). Held half a second, the hover was the start watcher's still hold; held 1.8 s, it was a rest hold. Either went
    to the core as its rest: 8 of 17 compressions counted, +36 mm (simulated on heights alone: python -m
    tests.core_rest_moves --start-core). Now either counts once the first recoil top comes back near it
    (ReturnOptions.top_confirms: in the start watcher, and for the rest hold Pipeline._confirmed_hold): the tops give
    the rest."""
    from dataclasses import replace

    from render.scenario import compression_scenario

    sub = work / f"hover-straight-in-{hover_s:g}"
    sub.mkdir(exist_ok=True)
    view, family = VIEWS["side30"], FAMILIES["stacked"]
    sc = compression_scenario(seed=3, fps=view.fps, sim_s=15.0, per_set=10, straight_in=True, return_rest_s=(0.0, 0.07))
    lead = int(round((hover_s + 0.35) * view.fps))  # the hover, the landing, then the clip's first frame on the chest
    u = np.arange(lead) / view.fps
    pre = np.where(u < hover_s, 30.0, 30.0 * (1 - np.clip((u - hover_s) / 0.35, 0, 1)))
    dt = lead / view.fps
    sc = replace(sc, t_s=np.concatenate([u, sc.t_s + dt]), height_mm=np.concatenate([pre, sc.height_mm]),
                 visible=np.concatenate([np.ones(lead, bool), sc.visible]),
                 truth=tuple(c.shifted(dt) for c in sc.truth), rest_span_s=(dt, dt))
    out, acc = _analyze_scenario(sub, hands_dir, view, family, sc, "hover")
    print(f"\n{acc.name}: depth MAE {acc.depth_mae_mm:.2f} mm (bias {acc.depth_bias_mm:+.2f}), count {acc.count}/"
          f"{acc.truth_count}, rest {out['calibration']['rest']}")
    check_case(acc, out)
    assert out["calibration"]["rest"]["at_recoil_tops"]
    assert abs(acc.depth_bias_mm) < 1.0


def test_a_rest_that_sinks_under_the_first_tops_is_followed(work, hands_dir, hand_model_path):
    """Straight in, and once the rest is taken at the first recoil tops, the whole stroke (tops and bottoms) sinks 14
    mm over three compressions and stays there: the rest the hands recoil to moved (the filmed SC1's body marker sank so; so would a chest that takes a set).
    The rest taken at the first recoil tops, given to the core, would read every later compression 14 mm deep; nine
    tops in a row 8 mm or more below it lower it to them (ReturnOptions.settle_tops), and the statement adds the move."""
    from dataclasses import replace

    from render.scenario import compression_scenario

    sub = work / "sinking-rest"
    sub.mkdir(exist_ok=True)
    view, family = VIEWS["side30"], FAMILIES["heel"]
    sc = compression_scenario(seed=3, fps=view.fps, sim_s=15.0, per_set=20, straight_in=True, return_rest_s=(0.0, 0.07))
    t0, t1 = sc.truth[4].t_release_s, sc.truth[7].t_start_s  # (the rest taken at the first tops; then down 14 mm)
    sink = -14.0 * np.clip((sc.t_s - t0) / (t1 - t0), 0.0, 1.0)
    sc = replace(sc, height_mm=sc.height_mm + sink)
    out, acc = _analyze_scenario(sub, hands_dir, view, family, sc, "sinking")
    errs = [m["depth_mm"] - t.depth_mm for m, t in match(out["compressions"], sc.truth)]
    print(f"\n{acc.name}: depth MAE {acc.depth_mae_mm:.2f} mm (bias {acc.depth_bias_mm:+.2f}), count {acc.count}/"
          f"{acc.truth_count}, settled {out['calibration']['tops_settled_mm']:.1f} mm; " + " ".join(f"{e:+.1f}" for e in errs))
    assert acc.count == acc.truth_count == acc.matched
    assert out["calibration"]["rest"]["at_recoil_tops"] and 12.0 < out["calibration"]["tops_settled_mm"] < 18.0
    # the tops it was lowered to lean 8-10 mm on most of the nine (this seed's leaning run), so it went 15.7 mm for a
    # sink of 14; the core, told, forgets the tops it had and follows the set's own from there: the compressions after
    # it within 0.3 mm (1.6-2.8 mm shallow while the heights were raised instead, before session 23; 14 mm deep for the
    # rest of the set without settling: python -m tests.render.accuracy cannot draw a sinking rest)
    assert max(abs(e) for e in errs[-7:]) < 1.0
    assert abs(acc.depth_bias_mm) <= out["summary"]["depth_uncertainty_mm"]  # the move is in the statement (+-20)


def test_the_same_hand_leaning_at_its_first_tops_is_not_located_again(work, hands_dir, hand_model_path):
    """The same flat hand put back as it was, straight into a set that leans 6-7 mm on its first four compressions
    (seed 8): located at those tops, its point slides 13 mm along its ray toward the camera, which a lean does and
    other hands need not; so it is not taken for a re-placement (it would have read the set 7 mm shallow), and the
    known rest measures the lean as before."""
    sub = work / "same-heel-leaning"
    sub.mkdir(exist_ok=True)
    case, out, acc = run_family_case(VIEWS["side30"], FAMILIES["heel"], sub, hands_dir, seed=8, sim_s=15.0, per_set=10,
                                     return_rest_s=NO_REST_S)
    assert acc.count == acc.truth_count == acc.matched
    assert out["calibration"]["relocations"] == 0 and out["calibration"]["tops_lean_mm"] == 0.0
    assert abs(acc.depth_bias_mm) < 0.5 and acc.depth_max_mm < 1.0
    # the first used top already shows the same hand, clearly: the held frames go on there, not after all four tops
    # (the set's first compression came out 1.87 s after its release then; 0.80 s now)
    d = _after_the_pause_delays_s(out)
    assert d[0] < 1.0 and max(d[2:]) < 0.2
