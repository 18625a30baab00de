"""Where the tracked hand surface is (markerless), the worn hand tag, and the stated uncertainty.

Fast, no video: exact synthetic cameras and points (the renderer's camera, written apart from
calibration/), real OpenCV for the tag's corners. The rendered end-to-end figures are in
tests/test_analyze_families*.py.
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from calibration.camera import CameraIntrinsics
from calibration.geometry import Pose, camera_from_angles, project_points
from calibration.handpoint import (HandPointOptions, HandTagSpec, HandTagTracker, OffsetMatcher, RestHand, TrackedPoint,
                                   core_floor_mm, depth_uncertainty_mm, locate_tracked_point, seen_from)
from calibration.height import HeightEstimator
from coach.cli import main


def _intr(w=1280, h=720, hfov=60.0) -> CameraIntrinsics:
    return CameraIntrinsics.from_hfov(hfov, w, h)


def _px(intr: CameraIntrinsics, pose: Pose, p_mm) -> np.ndarray:
    return project_points(pose.apply(np.asarray(p_mm, float)[None]), intr.matrix, intr.dist_coeffs)[0]


def _rest(xy) -> list[RestHand]:
    # no landmarks: the model falls back to its flat-hand priors (no tilt, no stack)
    return [RestHand(np.asarray(xy, float), np.zeros((0, 21, 3)), np.zeros((0, 21, 3))) for _ in range(5)]


@pytest.mark.parametrize("elev,az", [(30.0, 0.0), (45.0, 45.0), (20.0, -30.0)])
def test_a_flat_hand_on_the_midline_is_located_where_it_is(elev, az):
    intr = _intr()
    pose = camera_from_angles(elev, az, 900.0)
    o = HandPointOptions()
    truth = np.array([12.0, 0.0, o.one_hand_mm])  # both priors hold exactly
    tp = locate_tracked_point(_rest(_px(intr, pose, truth)), intr, pose, o)
    np.testing.assert_allclose(tp.point_mm, truth, atol=1e-6)
    assert not tp.stacked and math.isnan(tp.tilt_deg)


def test_a_surface_off_the_midline_moves_the_estimate_toward_it_and_states_the_spread():
    """A point 20 mm toward the camera at 20 mm height: the midline prior reads it 23 mm too far (below the
    20 mm floor), the floor slides it back up the ray, and the stated along-ray spread covers the miss."""
    intr = _intr()
    pose = camera_from_angles(30.0, 0.0, 900.0)
    truth = np.array([0.0, -20.0, 20.0])
    tp = locate_tracked_point(_rest(_px(intr, pose, truth)), intr, pose, HandPointOptions(min_height_mm=20.0))
    c = pose.inverse().translation_mm
    miss = abs(np.linalg.norm(tp.point_mm - c) - np.linalg.norm(truth - c))
    sagittal_miss = 20.0 / math.cos(math.radians(30.0))  # what assuming the midline costs along the ray
    assert miss < sagittal_miss
    assert 2 * tp.along_ray_sd_mm >= miss  # two sigma covers it


def test_heights_through_the_located_plane_are_exact_for_a_point_off_the_midline():
    intr = _intr()
    pose = camera_from_angles(30.0, 0.0, 900.0)
    p0 = np.array([5.0, -35.0, 50.0])
    on_plane = HeightEstimator(intr, pose, plane_y_mm=p0[1])
    sagittal = HeightEstimator(intr, pose)
    for dz in (-60.0, -25.0, 0.0, 10.0):
        px = _px(intr, pose, p0 + [0, 0, dz])
        assert on_plane.measure(px).height_mm == pytest.approx(p0[2] + dz, abs=1e-6)
    # the midline plane reads a 60 mm push off by the depth ratio (the error this module removes)
    d_sag = sagittal.measure(_px(intr, pose, p0)).height_mm - sagittal.measure(_px(intr, pose, p0 + [0, 0, -60])).height_mm
    assert d_sag > 62.0


def _tag_corners(intr, pose, centre, size, normal, dz=0.0, noise_px=0.0, rng=None) -> np.ndarray:
    n = np.asarray(normal, float) / np.linalg.norm(normal)
    right = np.cross([0.0, 0.0, 1.0], n)
    right /= np.linalg.norm(right)
    down = np.cross(right, n)
    h = size / 2
    c = np.asarray(centre, float) + [0, 0, dz]
    quad = np.array([c - h * right - h * down, c + h * right - h * down, c + h * right + h * down, c - h * right + h * down])
    px = project_points(pose.apply(quad), intr.matrix, intr.dist_coeffs)
    if noise_px and rng is not None:
        px = px + rng.normal(0, noise_px, px.shape)
    return px


@pytest.mark.parametrize("elev,az,res", [(30.0, 0.0, (1280, 720)), (45.0, 45.0, (1280, 720)), (30.0, 0.0, (640, 480))])
def test_hand_tag_displacement_along_the_chest_normal(elev, az, res):
    """The rest pose from noisy corners (0.15 px), then each frame's displacement: within 0.3 mm of the truth
    over a full stroke, although a single frame's IPPE distance is uncertain by millimetres."""
    rng = np.random.default_rng(4)
    intr = _intr(*res)
    pose = camera_from_angles(elev, az, 900.0)
    spec = HandTagSpec(size_mm=40.0)
    centre, normal = [0.0, -40.0, 60.0], [0.0, -0.9, 0.42]
    tr = HandTagTracker(intr, spec)
    rest = [_tag_corners(intr, pose, centre, 40.0, normal, 0.0, 0.15, rng) for _ in range(40)]
    assert tr.set_reference(rest, pose)
    for dz in (-62.0, -30.0, -5.0, 8.0):
        got = np.mean([tr.displacement_mm(_tag_corners(intr, pose, centre, 40.0, normal, dz, 0.15, rng), pose)
                       for _ in range(5)])
        assert got == pytest.approx(dz, abs=0.3 + 0.005 * abs(dz))


def _bobbed(pose, k: int):
    """The camera of ``pose`` moved like a headset: up to 30 mm and 1 deg, a different amount per frame ``k``."""
    a = math.radians(math.sin(0.7 * k))
    rx = np.array([[1.0, 0.0, 0.0], [0.0, math.cos(a), -math.sin(a)], [0.0, math.sin(a), math.cos(a)]])
    shift = 30.0 * np.array([0.35 * math.sin(0.9 * k), 0.35 * math.sin(1.3 * k + 1.0), math.sin(0.5 * k)])
    return Pose(rx @ pose.rotation, rx @ pose.translation_mm + shift)


def test_hand_tag_on_a_moving_camera_takes_each_frames_pose():
    """Anchor mode: each rest frame was seen from its own pose. The rest pose from them, each read with its own pose,
    gives every later displacement (seen from yet other poses) within 0.3 mm; read with one pose, as it was until
    session 31, the rest pose moved with the camera (the rendered tag on a moving camera: +9 mm)."""
    rng = np.random.default_rng(5)
    intr = _intr()
    pose = camera_from_angles(45.0, 20.0, 800.0)
    centre, normal = [0.0, -40.0, 60.0], [0.0, -0.9, 0.42]
    poses = [_bobbed(pose, k) for k in range(40)]
    rest = [_tag_corners(intr, p, centre, 40.0, normal, 0.0, 0.15, rng) for p in poses]
    errs = {}
    for label, given in (("each", poses), ("one", poses[20])):
        tr = HandTagTracker(intr, HandTagSpec(size_mm=40.0))
        assert tr.set_reference(rest, given)
        errs[label] = max(abs(tr.displacement_mm(_tag_corners(intr, _bobbed(pose, 50 + k), centre, 40.0, normal, dz, 0.15,
                                                               rng), _bobbed(pose, 50 + k)) - dz)
                          for k, dz in enumerate((-55.0, -20.0, 0.0, 5.0)))
    assert errs["each"] < 0.3 + 0.005 * 55, errs
    assert errs["one"] > 2.0, errs  # (what one pose made of it)
    with pytest.raises(ValueError, match="3 frames of tag corners, 2 camera poses"):
        HandTagTracker(intr).set_reference(rest[:3], poses[:2])


def test_resting_evidence_seen_from_another_pose():
    """``seen_from`` carries a resting frame's pixels to another camera pose through the point ``height_mm`` up their
    ray: exact at that height, within a pixel 20 mm off it for a 3 cm bob; the same pose returns the sample itself."""
    intr = _intr()
    pose = camera_from_angles(45.0, 20.0, 800.0)
    other = _bobbed(pose, 3)
    pts = np.array([[0.0, -30.0, 40.0], [20.0, -60.0, 40.0], [-15.0, 10.0, 60.0]])
    s = RestHand(_px(intr, pose, pts[0]), np.concatenate([[_px(intr, pose, p) for p in pts]], axis=0)[None],
                 np.zeros((1, 3, 3)), _px(intr, pose, pts[1]))
    assert seen_from(s, intr, pose, pose) is s
    got = seen_from(s, intr, pose, other, height_mm=40.0)
    assert np.allclose(got.xy_px, _px(intr, other, pts[0]), atol=1e-6)
    assert np.allclose(got.features_px, _px(intr, other, pts[1]), atol=1e-6)
    assert got.landmarks_px.shape == (1, 3, 2)
    assert np.abs(got.landmarks_px[0, 2] - _px(intr, other, pts[2])).max() < 1.0  # (20 mm above the height given)
    assert np.abs(got.landmarks_px[0, 2] - s.landmarks_px[0, 2]).max() > 10.0  # (the bob moved it that much)


def test_hand_tag_needs_a_rest_view():
    intr = _intr()
    pose = camera_from_angles(30.0, 0.0, 900.0)
    assert not HandTagTracker(intr).set_reference([], pose)


def test_offset_matcher_bridges_a_lost_tag_without_a_jump():
    m = OffsetMatcher(window=5)
    for k in range(10):  # both seen: the tag reads 3 mm above the markerless height
        h, from_tag = m.combine(40.0 - k + 3.0, 40.0 - k)
        assert from_tag and h == 40.0 - k + 3.0
    h, from_tag = m.combine(math.nan, 30.0)  # lost: markerless + the matched offset, continuous
    assert not from_tag and h == pytest.approx(33.0)
    assert math.isnan(m.combine(math.nan, math.nan)[0])


def test_stated_uncertainty_grows_with_the_scale_spread_and_the_depth():
    assert depth_uncertainty_mm(0.01, 50.0) == pytest.approx(2 * 0.01 * 50 + 0.6)
    assert depth_uncertainty_mm(0.02, 50.0) > depth_uncertainty_mm(0.01, 50.0)
    assert depth_uncertainty_mm(0.01, 60.0) > depth_uncertainty_mm(0.01, 40.0)


@pytest.mark.parametrize("shape", ["cosine", "trapezoid", "asymmetric", "template"])
@pytest.mark.parametrize("fps,kw", [(30.0, dict(jitter=0.3, frame_drop_prob=0.05)), (15.0, dict(jitter=0.3, frame_drop_prob=0.05)),
                                    (20.0, {}), (24.0, {})], ids=["30fps-uneven", "15fps-uneven", "20fps", "24fps"])
def test_the_cores_share_of_the_statement_covers_its_bias(fps, kw, shape):
    """The core reads some stroke shapes off, and curved tops and bottoms worse from frames further apart: on the
    default shape alone its bias reached 0.35 mm at 20 fps and -0.98 at 15 fps with uneven frames, over the 0.3 mm
    it was given at any rate; asymmetric and real strokes read 0.4-0.56 mm off at 30 fps already (session 17). The
    share of the statement the core claims must cover its bias on every stroke family, not only the default."""
    from coach.core import analyze
    from coach.core.simulator import SimOptions, simulate

    from tests.core_helpers import depth_errors, real_templates

    assert core_floor_mm(1 / 30.0) == core_floor_mm(1 / 60.0) == core_floor_mm(math.nan) == 0.6
    extra = dict(templates=real_templates()) if shape == "template" else {}
    sessions = []
    for seed in range(4):
        sim = simulate(SimOptions(seed=seed, fps=fps, shape=shape, **kw, **extra))
        sessions.append((sim, analyze(sim.t_s, sim.height_mm)))
    bias = float(depth_errors(sessions).mean())
    assert abs(bias) <= core_floor_mm(1 / fps), (bias, core_floor_mm(1 / fps))


def test_the_old_share_of_the_core_did_not_cover_real_strokes():
    """What the test above guards against: 0.3 mm at 30 fps (the share until session 17) is under the bias of the
    asymmetric and real stroke shapes (-0.4 to -0.5 mm, 1 mm noise, 30 fps)."""
    from coach.core import analyze
    from coach.core.simulator import SimOptions, simulate

    from tests.core_helpers import depth_errors

    sessions = []
    for seed in range(4):
        sim = simulate(SimOptions(seed=seed, fps=30.0, shape="asymmetric"))
        sessions.append((sim, analyze(sim.t_s, sim.height_mm)))
    assert abs(float(depth_errors(sessions).mean())) > 0.3


def test_print_marker_hand_writes_the_small_tag(tmp_path, capsys):
    out = tmp_path / "hand.pdf"
    assert main(["calibrate", "print-marker", "--hand", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "id 7" in text and "40 mm" in text and "--hand-marker-mm 40" in text
    assert out.read_bytes().startswith(b"%PDF")


def test_print_marker_hand_refuses_the_chest_and_anchor_ids(tmp_path, capsys):
    assert main(["calibrate", "print-marker", "--hand", "--id", "0", "-o", str(tmp_path / "x.pdf")]) == 2
    assert "chest and anchor" in capsys.readouterr().err


def test_analyze_hand_marker_needs_a_manikin_calibration(tmp_path, capsys):
    import cv2

    vid = tmp_path / "v.mp4"
    w = cv2.VideoWriter(str(vid), cv2.VideoWriter_fourcc(*"mp4v"), 30, (64, 48))
    for _ in range(3):
        w.write(np.zeros((48, 64, 3), np.uint8))
    w.release()
    assert main(["analyze", str(vid), "--hfov", "60", "--hand-marker-mm", "40", "--no-progress"]) == 2
    assert "--hand-marker-mm needs --calibration" in capsys.readouterr().err


@pytest.mark.parametrize("true_hfov,told_hfov,changed", [(62.0, 70.0, True), (60.0, 60.0, False)])
def test_calibrate_manikin_measures_a_wrongly_stated_lens(tmp_path, capsys, true_hfov, told_hfov, changed):
    """A rendered marker clip (1 s) through the real CLI: told 70 deg for a 62 deg lens, the marker's perspective
    measures 62 deg and the pose comes out at the true distance; a right statement is kept."""
    from dataclasses import replace

    from calibration.store import load_calibration
    from render.accuracy import VIEWS
    from render.clips import render_calibration_clip

    view = replace(VIEWS["side30"], hfov_deg=true_hfov)
    clip = tmp_path / "cal.mp4"
    render_calibration_clip(clip, view, seconds=1.0)
    out = tmp_path / "station.json"
    assert main(["calibrate", "manikin", "--source", str(clip), "--hfov", f"{told_hfov:g}", "--marker-mm", "120",
                 "-o", str(out)]) == 0
    err = capsys.readouterr().err
    st = load_calibration(out)
    hfov = math.degrees(2 * math.atan(st.camera.width_px / 2 / st.camera.fx_px))
    assert ("perspective says the lens is" in err) == changed
    assert hfov == pytest.approx(true_hfov, abs=0.5)
    assert st.manikin.view.distance_mm == pytest.approx(view.distance_mm, rel=0.01)


def test_scale_spread_is_wider_for_a_stack():
    """Two hands seen, or one resting as high as a stack's top hand: its features lie on two hands (and a forearm), so
    the stated scale spread is the wider one (the stacked renders read 0.955-1.024 in scale)."""
    o = HandPointOptions()
    p = np.array([0.0, 0.0, 28.0])
    flat = TrackedPoint(p, 9.0, 900.0, 0.0, False, 0.0, 28.0)
    two = TrackedPoint(p, 9.0, 900.0, 0.0, True, 0.0, 28.0)
    raised = TrackedPoint(p, 9.0, 900.0, 0.0, False, 0.0, 50.0)
    assert flat.scale_rel_sd(o) == pytest.approx(math.hypot(0.01, o.vision_rel_sd))
    assert two.scale_rel_sd(o) == raised.scale_rel_sd(o) == pytest.approx(math.hypot(0.01, o.vision_rel_sd_stacked))


def _depth(pose: Pose, p_mm) -> float:
    return float(pose.apply(np.asarray(p_mm, float)[None])[0, 2])


@pytest.mark.parametrize("elev,az", [(30.0, 0.0), (45.0, 45.0)])
def test_the_point_is_converted_at_the_depth_of_the_features_on_a_stack(elev, az):
    """The texture tracker measures a point at its features' depth. On a stack the features lie on the top hand's
    back (52 mm) toward the camera, the tracked pixel elsewhere (the wrist, behind): the located point sits on the
    tracked pixel's ray at the features' depth, and its stated spread is the back height's."""
    intr = _intr()
    pose = camera_from_angles(elev, az, 900.0)
    o = HandPointOptions()
    c = pose.inverse().translation_mm
    toward = np.array([c[0], c[1], 0.0]) / math.hypot(c[0], c[1])
    tracked = np.array([0.0, 0.0, o.stacked_mm]) - 10.0 * toward  # where the tracked pixel's surface is
    features = np.array([0.0, 0.0, o.stacked_mm]) + 60.0 * toward  # the features' centroid, nearer the camera
    rest = [RestHand(_px(intr, pose, tracked), np.zeros((0, 21, 3)), np.zeros((0, 21, 3)), _px(intr, pose, features))
            for _ in range(5)]
    tp = locate_tracked_point(rest, intr, pose, o)
    assert tp.height_prior_mm >= o.stack_min_height_mm  # read as a stack's top hand from where its ray crosses the midline
    assert _depth(pose, tp.point_mm) == pytest.approx(_depth(pose, features), abs=1e-6)
    np.testing.assert_allclose(_px(intr, pose, tp.point_mm), _px(intr, pose, tracked), atol=1e-6)  # on the tracked ray
    # ... and the features' surface (what a moving camera's motion is taken out through) at the features themselves,
    # not at the point's height, 27-33 mm above them (session 33: through the point, a headset's parallax read +1.5 mm
    # on a stack)
    np.testing.assert_allclose(tp.surface_point_mm, features, atol=1e-6)
    assert tp.point_mm[2] - features[2] > 20.0
    assert tp.along_ray_sd_mm == pytest.approx(o.back_sd_mm / math.sin(math.radians(elev)), rel=0.15)
    # without the features (no texture refinement) the tracked pixel's own surface is located, as before
    plain = locate_tracked_point([RestHand(r.xy_px, r.landmarks_px, r.world_landmarks_m) for r in rest],
                                 intr, pose, o)
    assert _depth(pose, plain.point_mm) > _depth(pose, features) + 20.0
    np.testing.assert_allclose(plain.surface_point_mm, plain.point_mm)  # (no features: the point's own surface)


def test_a_single_flat_hand_uses_one_hands_back():
    """A hand resting low (its tracked heel crosses the midline below a stack's height) is one hand: its features
    are placed on one hand's back (28 mm), wherever the tracked pixel is. Its stated spread still covers a stack's
    back (52 mm): a 30 mm stack across the body, seen from 45 deg toward the feet, rests that low (session 12)."""
    intr = _intr()
    pose = camera_from_angles(30.0, 0.0, 900.0)
    o = HandPointOptions()
    heel = np.array([0.0, -5.0, 18.0])
    features = np.array([0.0, 40.0, o.one_hand_mm])  # over the palm, the fingers away from the camera
    rest = [RestHand(_px(intr, pose, heel), np.zeros((0, 21, 3)), np.zeros((0, 21, 3)), _px(intr, pose, features))]
    tp = locate_tracked_point(rest, intr, pose, o)
    assert tp.height_prior_mm < o.stack_min_height_mm
    assert _depth(pose, tp.point_mm) == pytest.approx(_depth(pose, features), abs=1e-6)
    np.testing.assert_allclose(tp.surface_point_mm, features, atol=1e-6)  # the back, not the heel's 10 mm lower ray
    on_stack = np.array([0.0, 40.0, o.stacked_mm])
    rest = [RestHand(r.xy_px, r.landmarks_px, r.world_landmarks_m, _px(intr, pose, on_stack)) for r in rest]
    hidden = locate_tracked_point(rest, intr, pose, o)
    miss = abs(_depth(pose, hidden.point_mm) - _depth(pose, on_stack))
    assert miss > 15.0 and 2.0 * _depth_sd(pose, hidden) >= miss


def test_a_hand_resting_between_one_hands_and_a_stacks_height_is_stated_as_either():
    """A tracked point crossing the midline a little below a stack's height may be either (a stack's top hand shifted
    far toward the camera reads that low from 45/45): the features are put between the two backs, and the stated
    along-ray spread covers both."""
    intr = _intr()
    pose = camera_from_angles(45.0, 45.0, 900.0)
    o = HandPointOptions()
    c = pose.inverse().translation_mm
    heel = np.array([0.0, 0.0, o.stack_min_height_mm - 5.0])
    features = np.array([0.0, 0.0, o.stacked_mm]) + 50.0 * np.array([c[0], c[1], 0.0]) / math.hypot(c[0], c[1])
    rest = [RestHand(_px(intr, pose, heel), np.zeros((0, 21, 3)), np.zeros((0, 21, 3)), _px(intr, pose, features))]
    tp = locate_tracked_point(rest, intr, pose, o)
    assert o.stack_min_height_mm - o.stack_band_mm <= tp.height_prior_mm < o.stack_min_height_mm
    on_one = locate_tracked_point(rest, intr, pose, replace(o, stack_band_mm=0.0))  # read as one hand
    miss_either = abs(_depth(pose, tp.point_mm) - _depth(pose, features))
    miss_one = abs(_depth(pose, on_one.point_mm) - _depth(pose, features))
    assert miss_either < 0.6 * miss_one
    assert 2.0 * tp.along_ray_sd_mm >= 1.2 * miss_either  # along the ray a depth miss is a little longer
    # read as one hand, the point misses by the two backs' difference, and its stated spread covers that too (one
    # seen hand may be a stack's top hand, its bottom one hidden)
    assert 2.0 * _depth_sd(pose, on_one) >= miss_one


def _depth_sd(pose: Pose, tp: TrackedPoint) -> float:
    """The located point's 1-sigma along the camera's optical axis (its along-ray spread projected)."""
    c = pose.inverse().translation_mm
    r = (tp.point_mm - c) / np.linalg.norm(tp.point_mm - c)
    return tp.along_ray_sd_mm * float(pose.rotation[2] @ r)


def test_a_ray_meeting_the_midline_under_the_chest_is_stated_as_either():
    """A stack's top hand shifted 45 mm across the body toward a camera at 45/45 (the rescuer square beside the
    chest): its tracked pixel's ray reaches the midline only under the chest, so it cannot be one hand on the
    midline. Read as one hand (the old rule) its features' depth missed by the difference of the two backs; stated as
    either, the miss is about halved and the stated along-ray spread covers it."""
    intr = _intr()
    pose = camera_from_angles(45.0, 45.0, 900.0)
    o = HandPointOptions()
    c = pose.inverse().translation_mm
    across = np.array([0.0, math.copysign(1.0, c[1]), 0.0])
    heel = np.array([0.0, 0.0, o.stacked_mm - 8.0]) + 45.0 * across
    features = np.array([0.0, 0.0, o.stacked_mm]) + 60.0 * across
    rest = [RestHand(_px(intr, pose, heel), np.zeros((0, 21, 3)), np.zeros((0, 21, 3)), _px(intr, pose, features))]
    tp = locate_tracked_point(rest, intr, pose, o)
    assert tp.height_prior_mm == o.min_height_mm  # the midline crossing was under the chest, slid up to it
    on_one = locate_tracked_point(rest, intr, pose, replace(o, min_height_mm=-1e3))  # no floor: read as one hand
    miss_either = abs(_depth(pose, tp.point_mm) - _depth(pose, features))
    miss_one = abs(_depth(pose, on_one.point_mm) - _depth(pose, features))
    assert miss_either < 0.6 * miss_one
    assert 2.0 * tp.along_ray_sd_mm >= 1.2 * miss_either


# a right hand in its own frame (mm): x across, y along the fingers, z out of its back; the fingers curl a little
_HAND_MM = np.array([
    [0, 0, 0], [-25, 15, -5], [-40, 30, -8], [-50, 45, -10], [-58, 58, -12],
    [-22, 85, 0], [-24, 120, -3], [-25, 142, -6], [-26, 160, -9],
    [-3, 90, 0], [-3, 128, -3], [-3, 152, -6], [-3, 172, -9],
    [15, 85, 0], [17, 118, -3], [18, 140, -6], [19, 157, -9],
    [30, 75, 0], [34, 100, -3], [36, 116, -6], [38, 130, -9]], dtype=np.float64)


def _turned_hand(tilt_deg: float) -> tuple[TrackedPoint, np.ndarray]:
    """(the located point, the hand's true normal) for a hand turned toward a side-view camera by ``tilt_deg``, its
    palm centre 45 mm above the midline, with exact landmarks."""
    intr = _intr()
    pose = camera_from_angles(30.0, 0.0, 900.0)
    c = pose.inverse().translation_mm
    toward = np.array([c[0], c[1], 0.0]) / math.hypot(c[0], c[1])
    t = math.radians(tilt_deg)
    normal = math.cos(t) * np.array([0.0, 0.0, 1.0]) + math.sin(t) * toward
    fingers = -toward - float(-toward @ normal) * normal
    fingers /= np.linalg.norm(fingers)
    rot = np.column_stack([np.cross(fingers, normal), fingers, normal])  # hand frame -> manikin frame
    palm_c = _HAND_MM[[0, 5, 9, 13, 17]].mean(axis=0)
    pts = (_HAND_MM - palm_c) @ rot.T + np.array([0.0, 0.0, 45.0])  # the palm centre 45 mm above the midline
    lms = project_points(pose.apply(pts), intr.matrix, intr.dist_coeffs)
    heel = lms[0] + 0.4 * (lms[[0, 5, 9, 13, 17]].mean(axis=0) - lms[0])
    rest = [RestHand(heel, lms[None], (_HAND_MM / 1000.0)[None], lms[[0, 5, 9, 13, 17]].mean(axis=0)) for _ in range(3)]
    return locate_tracked_point(rest, intr, pose, HandPointOptions()), normal


@pytest.mark.parametrize("tilt_deg", [0.0, 35.0])
def test_the_surface_plane_is_the_chest_for_a_flat_hand_and_the_palm_for_a_turned_one(tilt_deg):
    """The texture tracker scales its features' motion to one point's depth on the surface's plane (vision.hand_motion):
    for a flat hand that plane is the chest's; for a hand turned toward the camera by 35 deg it is the palm's, as PnP
    measures it from the landmarks (exact landmarks here: within a few degrees of the truth)."""
    tp, normal = _turned_hand(tilt_deg)
    assert tp.tilt_deg == pytest.approx(tilt_deg, abs=4.0)
    angle = math.degrees(math.acos(min(1.0, float(tp.surface_normal @ normal))))
    assert angle < 4.0, angle


def test_a_tilt_within_pnps_noise_is_taken_for_a_flat_hand():
    """PnP's tilt noise (~10 deg, mostly toward the camera) read flat hands 11-14 deg tilted from 45 deg toward the
    feet and from 60 deg up, and the old 8 deg threshold blended them toward a turned hand (-1.2 mm). A reading under
    ``tilt_none_deg`` (15) is taken as noise: the chest's plane, the heel on the midline."""
    tp, _ = _turned_hand(12.0)
    assert tp.tilt_deg == pytest.approx(12.0, abs=4.0)
    np.testing.assert_allclose(tp.surface_normal, [0.0, 0.0, 1.0], atol=1e-12)
    assert tp.lateral_prior_mm == 0.0


def test_the_trace_noise_window_spans_no_more_than_a_quarter_second():
    """The level drift the statement carries is the trace's per-frame noise times the root of its re-references, the
    noise read as each sample's residual from a cubic over the samples around it. Over 7 frames at 15 fps (0.4 s) a
    real stroke is not cubic: the cardiac arrest's compressions (cpr-accel, 250 Hz, resampled; no camera noise at all)
    read 4.2 mm of noise, and blurred stacks at 15 fps were stated ±70 mm for a 4.4 mm error. Below 24 fps the
    window is 5 frames: 1.65 (1.86 with 0.5 mm of noise); at 24 fps and above it is 7 as before."""
    from calibration.handpoint import trace_noise_mm
    from core_helpers import case1_at, load_case1

    periods = load_case1()[2]
    rng = np.random.default_rng(0)
    for fps in (15.0, 20.0, 24.0, 30.0):
        t, h = case1_at(fps)
        during = np.zeros(t.size, bool)
        for a, b in periods[:6]:
            during |= (t >= a) & (t <= b)
        h = h[during]
        noisy = h + rng.normal(0.0, 0.5, h.size)
        if fps >= 24.0:
            assert trace_noise_mm(noisy, 1.0 / fps) == trace_noise_mm(noisy)  # (24 fps: 1.45, 30: 1.04, as before)
            continue
        assert trace_noise_mm(h) > 1.7  # 7 frames: 4.17 at 15 fps, 1.75 at 20
        assert trace_noise_mm(h, 1.0 / fps) < 1.8 and trace_noise_mm(noisy, 1.0 / fps) < 2.0  # 1.65 / 1.86, 0.84 / 1.12
