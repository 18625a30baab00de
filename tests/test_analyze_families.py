"""Hand families end to end on a fixed camera: rendered clips of other hands than the project's first one, real CLI.

The CI subset of ``python -m tests.render.accuracy --all`` (which prints every family x view and the
geometry variants; docs/calibration.md has its table). Short clips (about 10 s: the rest hold, one
set of 6 compressions, the breaths), real MediaPipe, real OpenCV decoding. Every case must count
exactly and state an uncertainty that covers its depth bias; the limits are the issue's (markerless:
MAE 1.5 mm and bias 1 mm; the hand tag 1 mm; blur and noise 2.5 mm; the wrong lens 2 mm). The same on a
headset's moving camera, after a pause, and straight in or leaning: the ``test_analyze_families_*`` files (one file
each, so that the two CI workers share them; ``tests/family_checks.py`` holds what they share).
"""
from __future__ import annotations

import numpy as np
import pytest

from family_checks import check_case
from render.accuracy import VIEWS, run_family_case
from render.families import FAMILIES, VARIANTS

pytestmark = pytest.mark.slow


def test_markerless_heel_side_view(run_case):
    _, out, acc = run_case("heel", "side30")
    check_case(acc, out)
    assert out["calibration"]["tracked_point_mm"] is not None  # the hands were located at rest
    assert acc.depth_mae_mm <= 1.5 and abs(acc.depth_bias_mm) <= 1.0


def test_markerless_stacked_hands_640x480(run_case):
    """The issue's markerless bar. It used to miss it (+1.55 mm on the 6 s clip of docs/calibration.md): the texture
    tracker's features lie on the top hand's back, nearer the camera than the point it carried, and its one scale
    extrapolated the depth gradient to that point. With the chest's motion field and the point converted at the
    features' depth: 0.44 mm (-0.18) on the 6 s clip."""
    _, out, acc = run_case("stacked", "vga")
    check_case(acc, out)
    assert acc.depth_mae_mm <= 1.5 and abs(acc.depth_bias_mm) <= 1.0


def test_hands_back_after_the_breaths_count_exactly(run_case):
    """Two sets with the breaths between them (the hands leave the frame for 2 s). Coming back, the hands are
    not matched to their old texture until they are still; MediaPipe's point stood in bare and read 15 mm low
    for the frames between landing and stillness, and the step back up counted as a compression (17/16 on this
    clip). It is now carried by the offset it had while the hands rested."""
    _, out, acc = run_case("stacked", "vga", sim_s=15.0, per_set=10)
    check_case(acc, out)
    assert len(out["sets"]) == 2 and acc.truth_count == 16
    assert acc.depth_mae_mm <= 1.5 and abs(acc.depth_bias_mm) <= 1.0


def test_a_dim_webcams_15_fps_counts_the_last_compression_before_the_breaths(run_case):
    """The side view filmed at 15 fps, two sets. The hands leave the picture three frames after the first set's last
    bottom, and the core's gap test reached the frame that decides the release: that compression was dropped
    (15/16 in every family). The gap test now ends at the release crossing: 16/16, 0.36 mm (+0.32). Live, it came
    out 1.54 s after its release (the streaming core waited for its 2 s fallback); since session 21 once the lost
    tracking can no longer be bridged: 0.74 s."""
    _, out, acc = run_case("heel", "fps15", sim_s=15.0, per_set=10)
    check_case(acc, out)
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
    check_case(acc, out)
    assert acc.depth_mae_mm <= 2.5 and acc.depth_max_mm < 3.0  # measured 1.24, worst 1.98 (17.08 before)


def test_blurred_stacks_at_640x480_keep_their_level_over_two_sets(run_case):
    """Blur, flicker, noise and JPEG, two sets with leaning runs. A reference renewed mid-stroke that kept fitting
    never returned to the rest reference, so its error stayed in the level through every top (-3 then +4 mm) and
    went into the depth where the tops lean: 3.18 mm (-3.06) on this clip, over the issue's 2.5 mm. The frame is
    now measured against the rest reference at the tops as well (vision.hand_motion, key checks): 1.47 mm."""
    _, out, acc = run_case("degraded", "vga", sim_s=15.0, per_set=10)
    check_case(acc, out)
    assert len(out["sets"]) == 2 and acc.truth_count == 16
    assert acc.depth_mae_mm <= 2.0 and abs(acc.depth_bias_mm) <= 2.0


def test_markerless_stacked_hands_seen_from_45_45(run_case):
    """The issue's markerless bar where it was missed most (+1.91 mm before the field and the features' depth; now
    0.12 mm, -0.09, on the 6 s clip)."""
    _, out, acc = run_case("stacked", "oblique45")
    check_case(acc, out)
    assert acc.depth_mae_mm <= 1.5 and abs(acc.depth_bias_mm) <= 1.0


def test_a_stack_across_the_body_seen_from_45_45_is_covered(run_case):
    """The rescuer square beside the chest, the top hand 45 mm across the body toward a camera at 45/45: the tracked
    pixel's ray meets the midline only under the chest. Read as one hand it was +2.62 mm against a stated +-2.07
    (15 s clip, seed 3: not covered); now it is put between one hand and a stack, +1.54 stated +-3.15. The issue's
    1 mm bias is not met there (one view cannot tell the two apart; docs/calibration.md, session 12)."""
    _, out, acc = run_case("stacked-far-across", "oblique45")
    check_case(acc, out)
    assert acc.depth_mae_mm <= 2.5


def test_hand_tag_on_stacked_hands_640x480(run_case):
    _, out, acc = run_case("marker", "vga")
    check_case(acc, out)
    assert out["calibration"]["hand_tag_frames"] > 0.9 * out["source"]["frames_with_hands"] - 30
    assert acc.depth_mae_mm <= 1.0


def test_stacked_hands_with_blur_flicker_noise_and_jpeg(run_case):
    _, out, acc = run_case("degraded", "side30")
    check_case(acc, out)
    assert acc.depth_mae_mm <= 2.5
    cal = out["calibration"]  # the statement says why it is wide: a noisy trace, re-anchored many times
    assert cal["tracker_re_references"] >= 1 and cal["level_drift_mm"] > 0
    assert out["summary"]["depth_uncertainty_mm"] >= 2 * cal["level_drift_mm"]


def test_stacked_hands_with_blur_seen_from_45_45(run_case):
    """The poor frames thin the texture tracker's inliers every few frames; a plain chain of renewals walked the
    level 5-7 mm here and read 4.9 mm deep (MAE 4.94). Renewals now return to the reference the hands rested on
    (vision.hand_motion): 1.3 mm on this clip."""
    _, out, acc = run_case("degraded", "oblique45")
    check_case(acc, out)
    assert acc.depth_mae_mm <= 2.5


def test_lens_told_70_degrees_really_62(run_case):
    _, out, acc = run_case("lens62", "side30")
    check_case(acc, out)
    assert acc.depth_mae_mm <= 2.0


def test_hand_tag_covered_for_a_second_falls_back_without_a_jump(run_case):
    """The tag is hidden 6-7 s into the clip, mid-stroke: the markerless fallback must continue the trace (the
    texture tracker bridges the changed look of the hands instead of restarting from MediaPipe's point, which
    jumps ~11 mm there). Before: a 20 mm step, 16 mm on that compression, MAE 3.4 mm."""
    case, out, acc = run_case("marker-lost", "side30")
    check_case(acc, out)
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
    check_case(acc, out)
    assert acc.depth_mae_mm <= 1.5 and abs(acc.depth_bias_mm) <= 1.0


def test_lens_told_70_degrees_really_62_stacked_hands(run_case):
    """The texture tracker used to slip 6 mm after the second stroke here (+5.2 mm). On the 6 s clip now 1.86 mm
    (-1.72): the wrong focal length enters the motion field and the features' ray (was 1.28, -0.50); with the key
    checks at the tops 1.94 on this 7 s clip (15 s: 2.11 -> 1.96). Told 62 degrees it reads the same: the
    lens is measured; what is left is the stack's per-reference scale (docs/calibration.md)."""
    _, out, acc = run_case("lens62-stacked", "side30")
    check_case(acc, out)
    assert acc.depth_mae_mm <= 2.0


def test_real_stroke_shapes_rendered_with_the_hand_tag(run_case):
    """The waveform itself from outside the simulator: real strokes (the filmed traces' and the cardiac arrest's,
    normalised; skipped without the shared data) drive the rendered hands. The rate is clocked by each stroke's
    centre: by its bottom it read 2.0 cpm per compression on this kind of clip (a real bottom is nearly flat, so
    its deepest instant wanders), by its centre 0.3 (docs/core.md, "The rate's clock")."""
    _, out, acc = run_case("marker", "side30", shape="template")
    check_case(acc, out)
    assert acc.rate_mae_cpm <= 1.0
    assert acc.depth_mae_mm <= 1.0 and abs(acc.depth_bias_mm) <= 1.0
