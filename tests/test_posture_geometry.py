"""Posture geometry against synthetic rescuers seen by cameras at the documented placements.

Truth is exact (arms built from their elbow angles), the "pose model" is the
truth plus landmark noise in camera axes (5 mm across the image, 10 mm in
depth), averaged over the profile's 5 frames as the coach does. Must hold:
elbow angles within 5 deg, shoulder offsets within 2 cm, and "not visible"
where the arms are seen end-on.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from calibration.posture import elbow_angle_deg, measure_posture, smoothed_elbow_deg
from coach.core.profiles import load_profile
from posture_helpers import camera_above, camera_at, make_rescuer, observe

SMOOTH = load_profile().posture.smooth_frames
# Placements docs/posture.md recommends: far side of the manikin, 15-30 deg up at up to 45 deg toward the
# head or feet, up to 45 deg up within 15 deg of the side view. (45 deg up AND 45 deg round sees one arm
# nearly end-on: see test_end_on_view_says_not_visible_instead_of_guessing.)
PLACEMENTS = [(az, el) for az in (-45.0, -30.0, 0.0, 30.0, 45.0) for el in (15.0, 30.0)] + [
    (az, 45.0) for az in (-15.0, 0.0, 15.0)
]
WINDOWS = 40  # independent 5-frame windows per case


def _smoothed(rescuer, cam, seed: int, calibrated: bool = True):
    """5 noisy frames through the coach's own smoother: (measurements, smoothed (left, right), front, side)."""
    rng = np.random.default_rng(seed)
    ms = [observe(rescuer, cam, rng, calibrated=calibrated, t_ms=i * 100) for i in range(SMOOTH)]
    elbows = np.array([smoothed_elbow_deg([m.extra["arm_vectors"][arm] for m in ms]) for arm in (0, 1)])
    front = np.mean([m.shoulder_offset_front_mm for m in ms])
    side = np.mean([m.shoulder_offset_side_mm for m in ms])
    return ms, elbows, front, side


def test_law_of_cosines_builder_is_exact():
    r = make_rescuer((150.0, 120.0), offset_front_mm=-80.0, offset_side_mm=30.0)
    assert elbow_angle_deg(*r.arms_m[0]) == pytest.approx(150.0, abs=1e-6)
    assert elbow_angle_deg(*r.arms_m[1]) == pytest.approx(120.0, abs=1e-6)
    assert r.offset_front_mm == pytest.approx(-80.0, abs=1e-6)
    assert r.offset_side_mm == pytest.approx(30.0, abs=1e-6)


@pytest.mark.parametrize("az,el", PLACEMENTS)
def test_elbow_angles_within_5_deg_at_documented_placements(az, el):
    """Over many noisy 5-frame windows: 95 % within 5 deg, mean error under 2.5 deg, always visible."""
    cam = camera_at(az, el)
    min_conf = load_profile().posture.min_confidence
    for i, angles in enumerate([(178.0, 176.0), (160.0, 150.0), (140.0, 125.0), (110.0, 100.0)]):
        r = make_rescuer(angles, offset_front_mm=-40.0 + 20 * i)
        errs = []
        for w in range(WINDOWS):
            ms, elbows, _, _ = _smoothed(r, cam, seed=w * 1000 + abs(int(az * 10 + el + i)))
            assert all(all(m.elbow_visible) for m in ms), f"arms should be visible from az {az}, el {el}"
            assert min(min(m.elbow_confidence) for m in ms) > min_conf
            errs.append(np.abs(elbows - np.array(angles)))
        errs = np.array(errs)
        assert np.percentile(errs, 95) < 5.0 and errs.mean() < 2.5, (az, el, angles, errs.max())


@pytest.mark.parametrize("az,el", PLACEMENTS)
def test_shoulder_offsets_within_2_cm_in_the_manikin_frame(az, el):
    cam = camera_at(az, el)
    for front, side, angles in [(0.0, 0.0, (175.0, 175.0)), (-120.0, 40.0, (150.0, 160.0)), (90.0, -60.0, (170.0, 140.0))]:
        r = make_rescuer(angles, offset_front_mm=front, offset_side_mm=side)
        ms, _, f, s = _smoothed(r, cam, seed=abs(int(az * 7 + el + front)))
        assert ms[0].frame == "manikin"
        assert abs(f - r.offset_front_mm) < 20.0 and abs(s - r.offset_side_mm) < 20.0, (az, el, f, s)
        lean_true = math.degrees(math.atan2(math.hypot(r.offset_front_mm, r.offset_side_mm) / 1000, 0.5))
        assert ms[0].lean_deg == pytest.approx(lean_true, abs=8.0)


def test_body_sizes_and_bend_directions_beyond_the_defaults():
    rng = np.random.default_rng(7)
    for trial in range(12):
        angles = tuple(rng.uniform(100, 179, 2))
        r = make_rescuer(
            angles,
            offset_front_mm=float(rng.uniform(-150, 150)),
            offset_side_mm=float(rng.uniform(-60, 60)),
            upper_arm_m=float(rng.uniform(0.26, 0.34)),
            forearm_m=float(rng.uniform(0.23, 0.30)),
            shoulder_width_m=float(rng.uniform(0.30, 0.44)),
            bend_dir=np.array([rng.uniform(-1, 1), rng.uniform(-1, 0.3), rng.uniform(-0.3, 0.3)]),
        )
        cam = camera_at(float(rng.uniform(-45, 45)), float(rng.uniform(15, 30)), distance_m=float(rng.uniform(1.2, 2.2)))
        ms, elbows, f, s = _smoothed(r, cam, seed=trial)
        assert np.abs(elbows - np.array(angles)).max() < 6.0, (trial, angles, elbows)  # one window: p99 bound
        assert abs(f - r.offset_front_mm) < 20.0 and abs(s - r.offset_side_mm) < 20.0


def test_end_on_view_says_not_visible_instead_of_guessing():
    cam = camera_above()
    rng = np.random.default_rng(3)
    for angles in [(178.0, 178.0), (165.0, 160.0)]:
        m = observe(make_rescuer(angles), cam, rng)
        assert m.elbow_visible == (False, False)
        assert all(math.isnan(a) for a in m.elbow_deg) and math.isnan(m.elbow_min_deg)
        assert m.elbow_confidence == (0.0, 0.0)
        assert max(m.end_on_deg) < 30.0
    # The same rescuer from the documented placement is measured.
    m = observe(make_rescuer((165.0, 160.0)), camera_at(30, 30), rng)
    assert all(m.elbow_visible)


def test_uncalibrated_uses_the_image_vertical_and_says_so():
    r = make_rescuer((170.0, 170.0), offset_front_mm=-100.0)
    level = camera_at(0.0, 15.0)
    m = observe(r, level, np.random.default_rng(1), calibrated=False)
    assert m.frame == "camera" and m.offset_confidence < observe(r, level, np.random.default_rng(1)).offset_confidence
    # A tilted camera's image vertical is not the chest normal: the calibrated frame corrects it.
    steep = camera_at(0.0, 45.0)
    cal = observe(r, steep, np.random.default_rng(2))
    raw = observe(r, steep, np.random.default_rng(2), calibrated=False)
    assert abs(cal.shoulder_offset_front_mm - r.offset_front_mm) < 20.0
    assert abs(raw.shoulder_offset_front_mm - r.offset_front_mm) > 100.0


def test_low_visibility_joints_are_not_measured():
    r = make_rescuer((150.0, 150.0))
    cam = camera_at(30, 30)
    world = (r.arms_m - r.hips_m) @ cam.rotation.T
    vis = np.full((2, 3), 0.9)
    vis[0, 1] = 0.1  # left elbow hidden
    m = measure_posture(world, vis, cam_from_manikin_rotation=cam.rotation)
    assert m.elbow_visible == (False, True) and m.elbow_min_deg == pytest.approx(150.0, abs=0.01)
    vis[:, 2] = 0.1  # wrists hidden: no offset
    m = measure_posture(world, vis, cam_from_manikin_rotation=cam.rotation)
    assert math.isnan(m.shoulder_offset_front_mm) and m.offset_confidence == 0.0
