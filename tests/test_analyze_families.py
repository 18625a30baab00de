"""Hand families end to end: rendered clips of other hands than the project's first one, real CLI.

The CI subset of ``python -m tests.render.accuracy --all`` (which prints every family x view and the
geometry variants; docs/calibration.md has its table). Short clips (about 10 s: the rest hold, one
set of 6 compressions, the breaths), real MediaPipe, real OpenCV decoding. Every case must count
exactly and state an uncertainty that covers its depth bias; the limits are the issue's (markerless:
MAE 1.5 mm and bias 1 mm; the hand tag 1 mm; blur and noise 2.5 mm; the wrong lens 2 mm).
"""
from __future__ import annotations

import numpy as np
import pytest

from coach.pipeline import PipelineOptions
from render.accuracy import VIEWS, match, run_family_case
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

    def get(family: str, view: str, sim_s: float = SIM_S, per_set: int = PER_SET, shape: str = "cosine"):
        key = (family, view, sim_s, per_set, shape)
        if key not in done:
            fam = FAMILIES.get(family) or VARIANTS[family]
            sub = work / f"{sim_s:g}s{per_set}{shape}"  # (a clip of another length or waveform: its own files)
            sub.mkdir(exist_ok=True)
            done[key] = run_family_case(VIEWS[view], fam, sub, hands_dir, sim_s=sim_s, per_set=per_set, shape=shape)
            acc = done[key][2]
            print(f"\n{acc.name}: depth MAE {acc.depth_mae_mm:.2f} mm (bias {acc.depth_bias_mm:+.2f}), stated "
                  f"±{acc.depth_uncertainty_mm:.2f} mm, count {acc.count}/{acc.truth_count}, "
                  f"rate error {acc.mean_rate_err_cpm:+.2f} cpm, mode {acc.mode}")
        return done[key]

    return get


def _common(acc, out, max_stated_mm: float = 10.0) -> None:
    assert acc.count == acc.truth_count == acc.matched  # counts exact
    assert abs(acc.mean_rate_err_cpm) <= 1.0
    u = out["summary"]["depth_uncertainty_mm"]
    assert u == pytest.approx(acc.depth_uncertainty_mm) and 0.3 < u < max_stated_mm
    assert abs(acc.depth_bias_mm) <= u  # the stated uncertainty covers the error


def test_markerless_heel_side_view(run_case):
    _, out, acc = run_case("heel", "side30")
    _common(acc, out)
    assert out["calibration"]["tracked_point_mm"] is not None  # the hands were located at rest
    assert acc.depth_mae_mm <= 1.5 and abs(acc.depth_bias_mm) <= 1.0


def test_markerless_stacked_hands_640x480(run_case):
    """The issue's markerless bar. It used to miss it (+1.55 mm on the 6 s clip of docs/calibration.md): the texture
    tracker's features lie on the top hand's back, nearer the camera than the point it carried, and its one scale
    extrapolated the depth gradient to that point. With the chest's motion field and the point converted at the
    features' depth: 0.44 mm (-0.18) on the 6 s clip."""
    _, out, acc = run_case("stacked", "vga")
    _common(acc, out)
    assert acc.depth_mae_mm <= 1.5 and abs(acc.depth_bias_mm) <= 1.0


def test_hands_back_after_the_breaths_count_exactly(run_case):
    """Two sets with the breaths between them (the hands leave the frame for 2 s). Coming back, the hands are
    not matched to their old texture until they are still; MediaPipe's point stood in bare and read 15 mm low
    for the frames between landing and stillness, and the step back up counted as a compression (17/16 on this
    clip). It is now carried by the offset it had while the hands rested."""
    _, out, acc = run_case("stacked", "vga", sim_s=15.0, per_set=10)
    _common(acc, out)
    assert len(out["sets"]) == 2 and acc.truth_count == 16
    assert acc.depth_mae_mm <= 1.5 and abs(acc.depth_bias_mm) <= 1.0


def test_a_dim_webcams_15_fps_counts_the_last_compression_before_the_breaths(run_case):
    """The side view filmed at 15 fps, two sets. The hands leave the picture three frames after the first set's last
    bottom, and the core's gap test reached the frame that decides the release: that compression was dropped
    (15/16 in every family). The gap test now ends at the release crossing: 16/16, 0.36 mm (+0.32). Live, it came
    out 1.54 s after its release (the streaming core waited for its 2 s fallback); since session 21 once the lost
    tracking can no longer be bridged: 0.74 s."""
    _, out, acc = run_case("heel", "fps15", sim_s=15.0, per_set=10)
    _common(acc, out)
    assert len(out["sets"]) == 2 and acc.truth_count == 16
    assert acc.depth_mae_mm <= 1.0 and abs(acc.depth_bias_mm) <= 1.0
    first_set_end = max(c["t_release_s"] for c in out["compressions"] if c["set_index"] == 0)
    release, delay = min(out["live"]["feedback_delays_s"], key=lambda rd: abs(rd[0] - first_set_end))
    assert abs(release - first_set_end) < 0.01
    assert delay < 1.0  # measured 0.74 (1.54 before)


def test_blurred_stacks_put_back_with_another_look_are_found_where_they_rested(work, hands_dir, hand_model_path):
    """Blurred stacks at 640x480 again, with asymmetric strokes and another waveform seed (11), a world the tables
    had not run. Put back after the breaths, MediaPipe saw them otherwise: its point 15 px (0.4 palm) off where they
    had rested, so the refiner refused the old texture it had found there, restarted on the biased point, and the
    set read 17 mm shallow (5.29 mm, -5.29, against a stated 4.91: not covered). Now the old texture may lie 0.6 palm
    from MediaPipe's point while it is looked for again, and the landing frames are restated: 1.24 mm (-1.24)."""
    fam = FAMILIES.get("degraded") or VARIANTS["degraded"]
    sub = work / "seed11-asymmetric"
    sub.mkdir(exist_ok=True)
    _, out, acc = run_family_case(VIEWS["vga"], fam, sub, hands_dir, seed=11, sim_s=15.0, per_set=10, shape="asymmetric")
    _common(acc, out)
    assert acc.depth_mae_mm <= 2.5 and acc.depth_max_mm < 3.0  # measured 1.24, worst 1.98 (17.08 before)


def test_blurred_stacks_at_640x480_keep_their_level_over_two_sets(run_case):
    """Blur, flicker, noise and JPEG, two sets with leaning runs. A reference renewed mid-stroke that kept fitting
    never returned to the rest reference, so its error stayed in the level through every top (-3 then +4 mm) and
    went into the depth where the tops lean: 3.18 mm (-3.06) on this clip, over the issue's 2.5 mm. The frame is
    now measured against the rest reference at the tops as well (vision.hand_motion, key checks): 1.47 mm."""
    _, out, acc = run_case("degraded", "vga", sim_s=15.0, per_set=10)
    _common(acc, out)
    assert len(out["sets"]) == 2 and acc.truth_count == 16
    assert acc.depth_mae_mm <= 2.0 and abs(acc.depth_bias_mm) <= 2.0


def test_markerless_stacked_hands_seen_from_45_45(run_case):
    """The issue's markerless bar where it was missed most (+1.91 mm before the field and the features' depth; now
    0.12 mm, -0.09, on the 6 s clip)."""
    _, out, acc = run_case("stacked", "oblique45")
    _common(acc, out)
    assert acc.depth_mae_mm <= 1.5 and abs(acc.depth_bias_mm) <= 1.0


def test_a_stack_across_the_body_seen_from_45_45_is_covered(run_case):
    """The rescuer square beside the chest, the top hand 45 mm across the body toward a camera at 45/45: the tracked
    pixel's ray meets the midline only under the chest. Read as one hand it was +2.62 mm against a stated +-2.07
    (15 s clip, seed 3: not covered); now it is put between one hand and a stack, +1.54 stated +-3.15. The issue's
    1 mm bias is not met there (one view cannot tell the two apart; docs/calibration.md, session 12)."""
    _, out, acc = run_case("stacked-far-across", "oblique45")
    _common(acc, out)
    assert acc.depth_mae_mm <= 2.5


def test_hand_tag_on_stacked_hands_640x480(run_case):
    _, out, acc = run_case("marker", "vga")
    _common(acc, out)
    assert out["calibration"]["hand_tag_frames"] > 0.9 * out["source"]["frames_with_hands"] - 30
    assert acc.depth_mae_mm <= 1.0


def test_hand_tag_on_a_moving_camera(run_case):
    """A headset's camera (bob 3 cm, sway 1 deg) with the anchor marker: the tag's rest pose is read from frames each
    seen from its own pose. Read with the calibration's pose, as until session 31 (the family clips drew no anchor
    before then, so this was never rendered), the tag read +9 mm (MAE 9.24, worst 24.6) against ±1.23: the first rest
    was read about right, and the rest after the pause, where the headset stood elsewhere, was not."""
    _, out, acc = run_case("marker", "anchor", sim_s=15.0, per_set=10)
    _common(acc, out)
    assert acc.mode == "anchor" and out["source"]["frames_lost"] == 0
    assert out["calibration"]["hand_tag_frames"] > 0.9 * out["source"]["frames_with_hands"] - 30
    assert acc.depth_mae_mm <= 1.0



def test_stacks_on_a_moving_camera(run_case):
    """Stacked hands, the top one 45 mm toward the camera, on the headset's camera: the texture tracker fitted one
    shift and scale to the features' motion, the camera's own and the hands' together, and a stack's slanted back read
    deep by the scale's extrapolation (+2.20 mm, height scale 1.051). Since session 32 the camera's motion is taken out
    first (through the hands' plane, from each frame's pose) and the hands' motion is read by that frame's field, as
    on a fixed camera: +0.48 mm (MAE 0.57)."""
    _, out, acc = run_case("stacked-far", "anchor", sim_s=15.0, per_set=10)
    _common(acc, out)
    assert acc.mode == "anchor" and out["source"]["frames_lost"] == 0
    assert abs(acc.depth_bias_mm) <= 1.0 and acc.depth_mae_mm <= 1.0


def test_a_headset_that_goes_down_with_each_compression(run_case):
    """The rescuer's head goes down with every compression (80 % of it, nodding 0.6 deg per cm; the view
    ``anchor-cpr``). The camera's motion was taken out through a plane through the tracked point (a flat hand's heel,
    11 mm under its back) while the features lie on the back: their parallax, the camera's 40 mm move times the 11 mm
    over the distance, read as the hands' motion, -1.26 mm (height scale 0.978) on this one flat hand and +1.46 on a
    stack. The features' own plane since session 33: -0.26 (MAE 0.34)."""
    _, out, acc = run_case("heel", "anchor-cpr", sim_s=15.0, per_set=10)
    _common(acc, out)
    assert acc.mode == "anchor" and out["source"]["frames_lost"] == 0
    assert abs(acc.depth_bias_mm) <= 0.7 and acc.depth_mae_mm <= 0.8


def test_one_hand_put_back_as_it_was_on_a_livelier_headset(run_case):
    """A livelier head (bob 6 cm, sway 3 deg; the view ``anchor-lively``): after the pause the same hand, put back as
    it was, was located from the pose of its return, and the priors met its ray elsewhere: 23 mm along it, into the
    band where it may be a stack, and the second set read 2-5 mm shallow (-1.73 mm, MAE 1.77). Since session 33 the
    hands are located again from the pose they were first located from: -0.38 (MAE 0.46). Session 34 trimmed the return
    hold's frames to those still at its level, and the same hand then read -1.41: seen from elsewhere it is located
    20 mm along its ray; a moving camera's rest now counts as other hands only where a view cannot move them: -0.31."""
    _, out, acc = run_case("heel", "anchor-lively", sim_s=15.0, per_set=10)
    _common(acc, out)
    assert acc.mode == "anchor"
    assert abs(acc.depth_bias_mm) <= 1.0 and acc.depth_mae_mm <= 1.0


def test_a_stack_put_back_after_a_short_rest_on_a_livelier_headset(run_case):
    """The stack 20 mm toward the camera came back after the pause and rested 0.4 s. The rest hold, judged on running
    medians, ended 4 frames into the first downstroke, the only frames where the texture had been found again; the
    hands were located from them 33 mm toward the camera, and the second set read 5 % shallow (-2.03 mm, MAE 2.57).
    The hold's ends are now trimmed to its frames still at its level (``calibration.rest.still_span``): -0.12."""
    _, out, acc = run_case("stacked-near", "anchor-lively", sim_s=15.0, per_set=10)
    _common(acc, out)
    assert acc.mode == "anchor"
    assert abs(acc.depth_bias_mm) <= 1.0 and acc.depth_mae_mm <= 1.2


def test_one_hand_put_back_turned_on_a_headset_is_located_again(work, hands_dir, hand_model_path):
    """A moving camera sees the rest after a pause from elsewhere, so the same hands located there may lie 20 mm away
    along their ray, and only what a view cannot do counts as other hands (``Pipeline._moved_at_tops``, ``tilt_gap``).
    One flat hand put back turned toward the camera is such a change (its palm 16 -> 43 deg): located again, the
    second set reads as the first. Judged by the recoil tops' stricter tilt rule (flat at one, fully turned at the
    other) it was taken for the same hand, and read +7.6 mm deep (MAE 8.1)."""
    sub = work / "then-heel-palm-anchor-cpr"
    sub.mkdir(exist_ok=True)
    _, out, acc = run_family_case(VIEWS["anchor-cpr"], FAMILIES["heel"], sub, hands_dir, sim_s=15.0, per_set=10,
                                  family_after=FAMILIES["palm"])
    _common(acc, out)
    assert out["calibration"]["relocations"] == 1
    assert abs(acc.depth_bias_mm) <= 1.0 and acc.depth_mae_mm <= 1.0


def test_stacked_hands_with_blur_flicker_noise_and_jpeg(run_case):
    _, out, acc = run_case("degraded", "side30")
    _common(acc, out)
    assert acc.depth_mae_mm <= 2.5
    cal = out["calibration"]  # the statement says why it is wide: a noisy trace, re-anchored many times
    assert cal["tracker_re_references"] >= 1 and cal["level_drift_mm"] > 0
    assert out["summary"]["depth_uncertainty_mm"] >= 2 * cal["level_drift_mm"]


def test_stacked_hands_with_blur_seen_from_45_45(run_case):
    """The poor frames thin the texture tracker's inliers every few frames; a plain chain of renewals walked the
    level 5-7 mm here and read 4.9 mm deep (MAE 4.94). Renewals now return to the reference the hands rested on
    (vision.hand_motion): 1.3 mm on this clip."""
    _, out, acc = run_case("degraded", "oblique45")
    _common(acc, out)
    assert acc.depth_mae_mm <= 2.5


def test_lens_told_70_degrees_really_62(run_case):
    _, out, acc = run_case("lens62", "side30")
    _common(acc, out)
    assert acc.depth_mae_mm <= 2.0


def test_hand_tag_covered_for_a_second_falls_back_without_a_jump(run_case):
    """The tag is hidden 6-7 s into the clip, mid-stroke: the markerless fallback must continue the trace (the
    texture tracker bridges the changed look of the hands instead of restarting from MediaPipe's point, which
    jumps ~11 mm there). Before: a 20 mm step, 16 mm on that compression, MAE 3.4 mm."""
    case, out, acc = run_case("marker-lost", "side30")
    _common(acc, out)
    assert acc.depth_mae_mm <= 1.0
    sc = case.scenario
    t = np.asarray(out["trace"]["t_s"], float)
    h = np.array([np.nan if v is None else v for v in out["trace"]["height_mm"]], float)
    err = h - np.interp(t, sc.t_s, sc.height_mm)  # measured minus true height: the rest level plus the error
    lo, hi = VARIANTS["marker-lost"].tag_hidden_s
    span = (t >= lo - 0.2) & (t <= hi + 0.2)
    steps = np.abs(np.diff(err))[span[1:] & span[:-1]]
    assert steps.size > 20 and np.all(np.isfinite(steps))
    # per frame, against the true motion: no jump when the tag goes or comes back. Measured 2.55 mm: one frame
    # tracked on 7 features, back the next (2.26 with the shift-and-scale fit); the jump this guards against was 20
    assert steps.max() <= 3.0


def test_markerless_stacked_hands_side_view(run_case):
    """The issue's markerless bar (measured on the 6 s clip: MAE 0.51 mm, -0.51; 0.25 mm, +0.06 before the field)."""
    _, out, acc = run_case("stacked", "side30")
    _common(acc, out)
    assert acc.depth_mae_mm <= 1.5 and abs(acc.depth_bias_mm) <= 1.0


def test_lens_told_70_degrees_really_62_stacked_hands(run_case):
    """The texture tracker used to slip 6 mm after the second stroke here (+5.2 mm). On the 6 s clip now 1.86 mm
    (-1.72): the wrong focal length enters the motion field and the features' ray (was 1.28, -0.50); with the key
    checks at the tops 1.94 on this 7 s clip (15 s: 2.11 -> 1.96). Told 62 degrees it reads the same: the
    lens is measured; what is left is the stack's per-reference scale (docs/calibration.md)."""
    _, out, acc = run_case("lens62-stacked", "side30")
    _common(acc, out)
    assert acc.depth_mae_mm <= 2.0


def test_real_stroke_shapes_rendered_with_the_hand_tag(run_case):
    """The waveform itself from outside the simulator: real strokes (the filmed traces' and the cardiac arrest's,
    normalised; skipped without the shared data) drive the rendered hands. The rate is clocked by each stroke's
    centre: by its bottom it read 2.0 cpm per compression on this kind of clip (a real bottom is nearly flat, so
    its deepest instant wanders), by its centre 0.3 (docs/core.md, "The rate's clock")."""
    _, out, acc = run_case("marker", "side30", shape="template")
    _common(acc, out)
    assert acc.rate_mae_cpm <= 1.0
    assert acc.depth_mae_mm <= 1.0 and abs(acc.depth_bias_mm) <= 1.0


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


def test_a_trainee_who_leans_early_without_a_rest_hold_reads_from_the_first_tops(work, hands_dir, hand_model_path):
    """Straight in with real strokes at waveform seed 12, a world the tables had not run: the stack on the side view
    leans 8-10 mm on five of its first eight strokes. The rest taken at the first recoil tops was kept from the core,
    which followed its own baseline: two leaning tops got into it, it sank to 54.9 mm after the pause against a rest of
    65, and the stack read 2.60 mm shallow (worst 11.1). And the first downstroke, before any still frame, was
    MediaPipe's lagging point: 4-9 mm high, a first compression 7.9 mm shallow. Now the tops' rest is the core's
    (``PipelineOptions.core_rest_at_tops``) and those frames are tracked back once the texture has a reference:
    0.95 mm (-0.95), worst 2.45."""
    fam = FAMILIES["stacked"]
    sub = work / "seed12-template-straight-in"
    sub.mkdir(exist_ok=True)
    case, out, acc = run_family_case(VIEWS["side30"], fam, sub, hands_dir, seed=12, sim_s=15.0, per_set=10,
                                     shape="template", return_rest_s=(0.0, 0.07), straight_in=True)
    _common(acc, out)
    assert out["calibration"]["rest"]["at_recoil_tops"]
    assert abs(acc.depth_bias_mm) < 1.5 and acc.depth_max_mm < 4.0  # measured -0.95, worst 2.45


def test_a_shallow_trainee_coming_back_leaning_is_located_at_the_tops(work, hands_dir, hand_model_path):
    """Straight in, 20 mm deep (seed 3's stream for a given depth), back from the pause leaning 5-7 mm: the first
    strokes come back up 13-15 mm, less than the 15 a stroke must, and the return watcher took a stroke's top for a
    still rest and located the hands there, 5.5 mm low: four compressions 5.7-6.0 mm shallow, -1.94 against a stated
    +-1.87 (a stack at 640x480 -2.04 against +-1.82). A return now counts strokes of half the set's depth
    (``ReturnOptions.rise_frac``): -0.25, worst 0.93."""
    sub = work / "shallow-20mm"
    sub.mkdir(exist_ok=True)
    case, out, acc = run_family_case(VIEWS["side30"], FAMILIES["heel"], sub, hands_dir, sim_s=15.0, per_set=10,
                                     return_rest_s=(0.0, 0.07), straight_in=True, depth_mm=20.0)
    _common(acc, out)
    assert abs(acc.depth_bias_mm) < 0.6 and acc.depth_max_mm < 2.0  # measured -0.25, worst 0.93


def _leaning_from_the_first_stroke(work, hands_dir, hand_model_path, depth_mm):
    sub = work / f"seed11-asymmetric-straight-in-{depth_mm}"
    sub.mkdir(exist_ok=True)
    case, out, acc = run_family_case(VIEWS["side30"], FAMILIES["heel"], sub, hands_dir, seed=11, sim_s=15.0, per_set=10,
                                     shape="asymmetric", return_rest_s=(0.0, 0.07), straight_in=True, depth_mm=depth_mm)
    _common(acc, out, max_stated_mm=12.0)  # (the lean the rest taken at the leaning tops may hold: 6.4-8.2 mm)
    assert out["calibration"]["rest"]["at_recoil_tops"]
    return case, out, acc


def test_a_trainee_leaning_on_most_strokes_from_the_first_is_raised_by_the_cores_baseline(work, hands_dir,
                                                                                            hand_model_path):
    """Straight in, asymmetric strokes at waveform seed 11: the trainee leans 6-10 mm on 12 of 16 strokes, the second to
    fourth among them, so the rest taken at the first recoil tops was 6 mm low. The core's baseline found the full
    recoils (tops above a known rest are no lean), but they came one at a time, never two in a row, and the watcher
    never raised the rest; after the pause the baseline followed the leaning tops down: the last three compressions
    read 8.9 mm shallow with their 7.5 mm lean unseen (-3.78 mm in all, worst 8.94). The core's baseline standing above
    the rest now raises it (``ReturnWatcher.core_baseline``): -1.84, every lean after the pause measured."""
    case, out, acc = _leaning_from_the_first_stroke(work, hands_dir, hand_model_path, None)
    assert out["calibration"]["tops_raised_mm"] == pytest.approx(6.4, abs=1.0)
    assert -2.5 < acc.depth_bias_mm < -1.0 and abs(acc.depth_bias_mm) <= acc.depth_uncertainty_mm  # measured -1.84
    pairs = match(out["compressions"], case.scenario.truth)
    after = [(m, t) for m, t in pairs if t.t_bottom_s > 9.0]  # (the second set)
    assert len(after) == 6
    assert max(abs(m["recoil_residual_mm"] - t.recoil_residual_mm) for m, t in after) < 1.5  # measured 0.5; was 7.1
    assert max(abs(m["depth_mm"] - t.depth_mm) for m, t in after) < 2.5  # was 8.94


def test_a_trainee_leaning_on_all_but_one_stroke_from_the_first_is_covered(work, hands_dir, hand_model_path):
    """The same waveform seed at 35 mm leans 7-10 mm on 16 of 17 strokes from the first: no rest hold and one full
    recoil, which the core trims from its baseline as it would hands lifted once, so nothing in the set measures the
    lean (-9.0 mm). It used to be stated +-2.4-4.0; the one top that came back 7 mm above the rest now says the rest may
    be a lean's by that much (``ReturnWatcher.top_above_mm``, ``calibration.tops_above_mm``)."""
    case, out, acc = _leaning_from_the_first_stroke(work, hands_dir, hand_model_path, 35.0)
    assert out["calibration"]["tops_raised_mm"] == 0.0 and 5.0 <= out["calibration"]["tops_above_mm"] <= 9.0
    assert acc.depth_bias_mm < -7.0  # measured -9.0: not measured, only stated
    assert abs(acc.depth_bias_mm) <= acc.depth_uncertainty_mm  # measured +-9.5


def test_a_shallow_trainee_leaning_from_the_first_stroke_is_located_at_the_tops(work, hands_dir, hand_model_path):
    """The same waveform seed at 20 mm, the hand tag: leaning 6-7 mm from the first stroke, the strokes came back up
    13-14 mm, under the 15 mm a start's stroke needed, so no rest was taken at all (a warning after 8 s) and the core
    measured from its own leaning tops: -6.38 mm against a stated +-0.76. When no rest has come by then, the held frames
    are now watched again with a rise as short as a compression the core counts (``shallow_start_options``: 10 mm): the
    rest is taken at the recoil tops, and a later top back above it states the lean."""
    sub = work / "seed11-asymmetric-straight-in-20-tag"
    sub.mkdir(exist_ok=True)
    case, out, acc = run_family_case(VIEWS["side30"], FAMILIES["marker"], sub, hands_dir, seed=11, sim_s=15.0,
                                     per_set=10, shape="asymmetric", return_rest_s=(0.0, 0.07), straight_in=True,
                                     depth_mm=20.0)
    assert out["calibration"]["rest"] is not None and out["calibration"]["rest"]["at_recoil_tops"]
    assert acc.count >= acc.truth_count - 2 and acc.matched == acc.count  # (15/17: two strokes under 10 mm, less the lean)
    assert acc.depth_bias_mm < -5.0  # measured -6.45: the lean is not measured, only stated
    assert abs(acc.depth_bias_mm) <= acc.depth_uncertainty_mm < 10.0  # measured +-7.81



def test_a_shallow_trainee_at_15_fps_is_located_at_the_tops(work, hands_dir, hand_model_path):
    """The same trainee at 20 mm, one hand filmed at 15 fps: the watchers' running median over 5 samples spanned a third
    of a stroke there and flattened its 13-14 mm rise under even the timeout's 10 mm, so no rest was taken at all:
    -7.81 mm against a stated +-3.42, 13 of 17 counted. A median spans no more than 0.18 s now (3 samples at 15 fps;
    ``RestOptions.smooth_s``): the rest is taken at the recoil tops and their lean stated."""
    sub = work / "seed11-asymmetric-straight-in-20-fps15"
    sub.mkdir(exist_ok=True)
    case, out, acc = run_family_case(VIEWS["fps15"], FAMILIES["heel"], sub, hands_dir, seed=11, sim_s=15.0, per_set=10,
                                     shape="asymmetric", return_rest_s=(0.0, 0.07), straight_in=True, depth_mm=20.0)
    assert out["calibration"]["rest"] is not None and out["calibration"]["rest"]["at_recoil_tops"]
    assert acc.count >= acc.truth_count - 2 and acc.matched == acc.count  # measured 15/17
    assert abs(acc.depth_bias_mm) <= acc.depth_uncertainty_mm  # measured -7.15 against +-10.55
    assert not any("fps" in w for w in out["warnings"])  # (15 fps is no low frame rate)


def test_a_full_recoil_among_the_tops_after_a_pause_states_the_lean_at_15_fps(work, hands_dir, hand_model_path):
    """Held-out waveform seed 17, the hand tag at 15 fps, straight in: the trainee leans 6-10 mm on nearly every
    stroke. After the pause the tag did not show the same hands until the third top, the one full recoil (8 mm up),
    so the return held it among its tops; the hands being the same, the rest stayed and that top was never compared
    with it: -7.2 mm against the tag's +-2.9. A top the return held is now judged as a followed one is."""
    sub = work / "seed17-asymmetric-straight-in-fps15-tag"
    sub.mkdir(exist_ok=True)
    case, out, acc = run_family_case(VIEWS["fps15"], FAMILIES["marker"], sub, hands_dir, seed=17, sim_s=15.0, per_set=10,
                                     shape="asymmetric", return_rest_s=(0.0, 0.07), straight_in=True)
    assert acc.count == acc.truth_count == acc.matched
    assert acc.depth_bias_mm < -5.0  # measured -7.20: the lean is stated, not measured
    assert out["calibration"]["tops_above_mm"] >= 5.0  # measured 7.98
    assert abs(acc.depth_bias_mm) <= acc.depth_uncertainty_mm  # measured +-10.89

def test_a_set_that_leaned_before_the_hands_were_located_again_states_its_lean(work, hands_dir, hand_model_path):
    """Held-out seed 26, real strokes at 40 mm, one flat hand straight in: the trainee leans 5-10 mm on every stroke of
    the first set and then not. Its rest was taken at those leaning tops, and the one seen hand's point slid along its
    ray toward the camera; after the pause, at full recoil, it lay 15 mm farther, which reads as other hands, so the
    hands were located again, and the first set's lean was stated nowhere: -5.09 mm against +-4.18. The tops after the
    pause stood 8.2 mm above the rest the first set was read from, which a lean of the first set explains: stated."""
    sub = work / "seed26-template-straight-in-40"
    sub.mkdir(exist_ok=True)
    case, out, acc = run_family_case(VIEWS["side30"], FAMILIES["heel"], sub, hands_dir, seed=26, sim_s=15.0, per_set=10,
                                     shape="template", return_rest_s=(0.0, 0.07), straight_in=True, depth_mm=40.0)
    assert acc.count == acc.truth_count == acc.matched
    assert out["calibration"]["relocations"] == 1
    assert acc.depth_bias_mm < -4.0  # measured -5.09: the first set's lean is stated, not measured
    assert 5.0 <= out["calibration"]["tops_above_mm"] < 10.0  # measured 8.17
    assert abs(acc.depth_bias_mm) <= acc.depth_uncertainty_mm  # measured +-11.2 (was +-4.18)


def test_the_same_hand_resting_after_a_leaning_set_states_its_lean(work, hands_dir, hand_model_path):
    """The same trainee (seed 26, straight in, leaning 5-10 mm on every stroke of the first set), now resting still
    after the pause: the hold stood 8 mm above the rest the first set was read from, which only a lean of that set
    explains, and was compared with nothing (only recoil tops were): -5.07 mm against +-3.35. The rest is now raised
    to the hold, and the raise stated."""
    sub = work / "seed26-template-straight-in-40-rest-after"
    sub.mkdir(exist_ok=True)
    case, out, acc = run_family_case(VIEWS["side30"], FAMILIES["heel"], sub, hands_dir, seed=26, sim_s=15.0, per_set=10,
                                     shape="template", return_rest_s=(0.5, 1.0), straight_in=True, depth_mm=40.0)
    assert acc.count == acc.truth_count == acc.matched
    assert acc.depth_bias_mm < -4.0  # measured -5.47: the first set's lean is stated, not measured
    assert 5.0 <= out["calibration"]["tops_raised_mm"] < 10.0  # measured 8.2
    assert not out["calibration"]["tops_unchecked"]  # (the same hand came back: compared)
    assert abs(acc.depth_bias_mm) <= acc.depth_uncertainty_mm  # measured +-11.4


def test_a_still_hold_after_the_pause_raises_a_rest_taken_at_leaning_tops(work, hands_dir, hand_model_path):
    """Held-out seed 44, 35 mm, straight in with the hand tag: the first set's rest was taken at recoil tops that leant
    4-5 mm, under the 5 mm a rise of the later tops needs; the core's baseline followed the set's full recoils up. The
    still hold after the pause, read as that rest, stood 4.5 mm under the baseline: every compression after it read
    4.5 mm deep (MAE 2.50, +1.56 against +-0.97). The hold is where the chest rests: the rest is raised to it."""
    sub = work / "seed44-tag-straight-in-hold-after"
    sub.mkdir(exist_ok=True)
    case, out, acc = run_family_case(VIEWS["side30"], FAMILIES["marker"], sub, hands_dir, seed=44, sim_s=15.0,
                                     per_set=10, return_rest_s=(0.5, 1.0), straight_in=True, depth_mm=35.0)
    errs = [m["depth_mm"] - t.depth_mm for m, t in match(out["compressions"], case.scenario.truth)]
    assert acc.count == acc.truth_count == acc.matched
    assert 3.0 <= out["calibration"]["tops_raised_mm"] <= 6.0  # measured 4.5
    assert max(abs(e) for e in errs[-8:]) < 0.8  # after the pause (were +4.5 each)
    assert acc.depth_mae_mm < 1.0  # measured 0.58 (was 2.50)
    assert abs(acc.depth_bias_mm) <= acc.depth_uncertainty_mm


def test_other_hands_holding_after_such_a_set_are_raised_by_the_cores_baseline(work, hands_dir, hand_model_path):
    """Seed 44 again, a stack and then one hand after the pause, holding still: the hand's hold stands on another
    surface and cannot tell the first set's lean, but the core's baseline, which followed the set's full recoils 4.5 mm
    above the rest taken at its leaning tops, can (MAE 2.74 before, every compression after the pause +4.3 mm)."""
    sub = work / "seed44-straight-in-hold-after-stack-then-one"
    sub.mkdir(exist_ok=True)
    case, out, acc = run_family_case(VIEWS["side30"], FAMILIES["stacked"], sub, hands_dir, seed=44, sim_s=15.0,
                                     per_set=10, return_rest_s=(0.5, 1.0), straight_in=True, depth_mm=35.0,
                                     family_after=FAMILIES["heel"])
    errs = [m["depth_mm"] - t.depth_mm for m, t in match(out["compressions"], case.scenario.truth)]
    assert acc.count == acc.truth_count == acc.matched and out["calibration"]["relocations"] == 1
    assert 3.0 <= out["calibration"]["tops_raised_mm"] <= 6.0  # measured 4.4
    assert max(abs(e) for e in errs[-8:]) < 1.2  # after the pause (were +4.3 each)
    assert out["calibration"]["tops_unchecked"]  # (the baseline checks no lean on every stroke)
    assert abs(acc.depth_bias_mm) <= acc.depth_uncertainty_mm


def test_a_leaning_set_that_other_hands_followed_is_stated_unchecked(work, hands_dir, hand_model_path):
    """Seed 26 again, a stack on the leaning first set and one hand on the second, both straight in: the hand's tops
    stand on another surface, 30 mm under the stack's rest, and cannot be compared with it, and nothing leant before
    the first set: -5.08 mm against +-4.35. No full recoil of the same hands checked either set's rest, so each may
    hold any lean short of hands off the chest (``returns.raise_max_mm``), stated."""
    sub = work / "seed26-template-straight-in-40-stack-then-one"
    sub.mkdir(exist_ok=True)
    case, out, acc = run_family_case(VIEWS["side30"], FAMILIES["stacked"], sub, hands_dir, seed=26, sim_s=15.0,
                                     per_set=10, shape="template", return_rest_s=(0.0, 0.07), straight_in=True,
                                     depth_mm=40.0, family_after=FAMILIES["heel"])
    assert acc.count == acc.truth_count == acc.matched
    assert out["calibration"]["relocations"] == 1 and out["calibration"]["tops_unchecked"]
    assert out["calibration"]["tops_lean_mm"] == PipelineOptions().returns.raise_max_mm
    assert acc.depth_bias_mm < -4.0  # measured -5.08
    assert abs(acc.depth_bias_mm) <= acc.depth_uncertainty_mm  # measured +-13.2


def test_a_stroke_shape_the_core_reads_deep_widens_the_hand_tags_statement(work, hands_dir, hand_model_path):
    """Held-out seed 38, trapezoid strokes (a bottom held ~140 ms) with the hand tag and the protocol's rest hold: every
    family read +1.4 to +1.9 mm deep, the core's fits on that shape (docs/core.md, "One shape held fixed"), and the
    tag stated +-1.18 (its core floor, 0.6 mm, covers the simulated families on average, not one shape held). The
    session's pooled bottoms and tops see the shape's bias (coach.core.shape_bias), which the statement now takes in."""
    sub = work / "seed38-trapezoid-tag"
    sub.mkdir(exist_ok=True)
    case, out, acc = run_family_case(VIEWS["side30"], FAMILIES["marker"], sub, hands_dir, seed=38, sim_s=15.0,
                                     per_set=10, shape="trapezoid")
    assert acc.count == acc.truth_count == acc.matched
    assert acc.depth_bias_mm > 1.2  # measured +1.83: the core's, stated, not corrected
    assert 1.0 <= out["calibration"]["stroke_shape_bias_mm"] <= 2.5  # measured +1.6
    assert abs(acc.depth_bias_mm) <= acc.depth_uncertainty_mm < 4.0  # measured +-2.8 (was +-1.18)


def test_blurred_stacks_found_again_mid_stroke_at_15_fps_restate_each_frame(work, hands_dir, hand_model_path):
    """Held-out seed 17, blurred noisy stacks at 15 fps, straight in. After the pause MediaPipe's point stood in for
    2.9 s (never still long enough to match the old texture), and on some frames it jumped 10 px sideways and 20-27
    px up (another reading of the stack). The texture was found again on such a frame, mid-downstroke, and all those
    frames were restated by its offset: the hands were located 52 mm low from them, and the last three compressions
    read 22-31 mm shallow (-13.18 mm against +-30.46, height scale 1.16). Each stand-in is now tracked back against
    the texture found (one that does not fit, between two that do, takes theirs interpolated)."""
    sub = work / "seed17-asymmetric-straight-in-fps15-degraded"
    sub.mkdir(exist_ok=True)
    case, out, acc = run_family_case(VIEWS["fps15"], FAMILIES.get("degraded") or VARIANTS["degraded"], sub, hands_dir, seed=17, sim_s=15.0,
                                     per_set=10, shape="asymmetric", return_rest_s=(0.0, 0.07), straight_in=True)
    assert acc.count == acc.truth_count == acc.matched
    assert abs(acc.height_scale - 1.0) < 0.05  # measured 0.983 (1.164 before)
    after = [m["depth_mm"] - t.depth_mm for m, t in match(out["compressions"], case.scenario.truth)
             if t.t_bottom_s > out["pauses"][0]["end_s"]]
    assert len(after) == 6 and min(after) > -12.0  # measured -10.4 to +0.4 (the lean, 7-8 mm; before: to -31.5)
    assert abs(acc.depth_bias_mm) <= acc.depth_uncertainty_mm  # measured -8.31 against +-22.9


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
    _common(acc, out)
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
