"""Projective geometry against exact, hand-computed values (calibration/geometry, height, camera)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from calibration.camera import CameraCalibrationError, CameraIntrinsics
from calibration.geometry import (
    Pose,
    camera_center,
    camera_from_angles,
    intersect_rays_plane,
    look_at,
    mean_pose,
    pixel_rays,
    plane_homography,
    project_points,
    rotation_angle_deg,
    view_angles,
)
from calibration.height import HeightEstimator, sagittal_points
from calibration.manikin import MANIKIN_FROM_MARKER, cam_from_manikin_of, incidence_cos, mm_per_px_z


def _cam(f=1000.0, w=1281, h=721) -> CameraIntrinsics:
    # odd sizes put the principal point on integers: cx = 640, cy = 360
    return CameraIntrinsics(w, h, f, f, (w - 1) / 2, (h - 1) / 2)


def test_from_hfov_exact():
    c = CameraIntrinsics.from_hfov(60.0, 1280, 720)
    assert c.fx_px == pytest.approx(640.0 / math.tan(math.radians(30.0)), rel=1e-12)  # 1108.5125...
    assert c.fx_px == pytest.approx(1108.5125168440817, abs=1e-9)
    assert (c.cx_px, c.cy_px) == (639.5, 359.5)
    assert c.hfov_deg == pytest.approx(60.0, abs=1e-12)
    with pytest.raises(CameraCalibrationError, match="hfov"):
        CameraIntrinsics.from_hfov(0.5, 640, 480)


def test_scaled_to_keeps_the_field_of_view():
    c = CameraIntrinsics.from_hfov(70.0, 1280, 720)
    s = c.scaled_to(640, 360)
    assert s.hfov_deg == pytest.approx(70.0, abs=1e-9)
    assert (s.cx_px, s.cy_px) == (319.5, 179.5)
    with pytest.raises(CameraCalibrationError, match="aspect"):
        c.scaled_to(640, 480)


def test_side_view_level_camera_exact():
    """Camera 1 m to the manikin's right at chest height, looking across the body.

    Then image x is +x (head) and image up is +z, with no perspective on the plane:
    pixel (cx + f*X/d, cy - f*Z/d) must give exactly (X, Z).
    """
    cam = _cam()
    pose = look_at((0.0, -1000.0, 0.0), (0.0, 0.0, 0.0))
    est = HeightEstimator(cam, pose)
    hp = est.measure(np.array([640.0 + 100.0, 360.0 - 50.0]))
    assert hp.axial_mm == pytest.approx(100.0, abs=1e-9)
    assert hp.height_mm == pytest.approx(50.0, abs=1e-9)
    assert hp.incidence_cos == pytest.approx(1000.0 / math.sqrt(1000.0**2 + 100.0**2 + 50.0**2), abs=1e-12)
    hp0 = est.measure(np.array([640.0, 360.0]))
    assert (hp0.height_mm, hp0.axial_mm) == (pytest.approx(0.0, abs=1e-12), pytest.approx(0.0, abs=1e-12))


def test_elevated_camera_exact_formula():
    """Camera at elevation e, distance d, looking at the origin.

    A point (0, 0, h) projects to v = cy - f h cos(e) / (d - h sin(e)); invert that.
    """
    cam = _cam()
    d, e = 1000.0, math.radians(30.0)
    pose = look_at((0.0, -d * math.cos(e), d * math.sin(e)), (0.0, 0.0, 0.0))
    for h in (100.0, 50.0, -60.0):
        v = 360.0 - 1000.0 * h * math.cos(e) / (d - h * math.sin(e))
        hp = HeightEstimator(cam, pose).measure(np.array([640.0, v]))
        assert hp.height_mm == pytest.approx(h, abs=1e-9)
        assert hp.axial_mm == pytest.approx(0.0, abs=1e-9)
    # h = 100 mm at f = d = 1000 is 91.16057 px above the centre
    assert 1000.0 * 100.0 * math.cos(e) / (d - 100.0 * math.sin(e)) == pytest.approx(91.1605688, abs=1e-6)


@pytest.mark.parametrize("elev,az", [(15, 0), (30, 0), (45, 45), (60, -45), (30, 30), (20, -10)])
def test_round_trip_sagittal_points(elev, az):
    """Points of the sagittal plane project and come back exactly, from any supported view."""
    cam = CameraIntrinsics.from_hfov(60.0, 1280, 720)
    pose = camera_from_angles(elev, az, 900.0)
    rng = np.random.default_rng(elev * 100 + az)
    pts = np.stack([rng.uniform(-150, 150, 50), np.zeros(50), rng.uniform(-80, 200, 50)], axis=1)
    px = project_points(pose.apply(pts), cam.matrix)
    back, cos_inc = sagittal_points(px, cam, pose)
    np.testing.assert_allclose(back, pts, atol=1e-8)
    assert np.all(cos_inc > 0.2)


def test_round_trip_with_lens_distortion():
    cam = CameraIntrinsics(1280, 720, 1000.0, 1002.0, 641.3, 355.7, (-0.21, 0.07, 0.001, -0.0005, 0.0))
    pose = camera_from_angles(35.0, 20.0, 850.0)
    pts = np.array([[0.0, 0.0, 0.0], [40.0, 0.0, 55.0], [-120.0, 0.0, -30.0], [90.0, 0.0, 180.0]])
    px = project_points(pose.apply(pts), cam.matrix, cam.dist_coeffs)
    back, _ = sagittal_points(px, cam, pose)
    np.testing.assert_allclose(back, pts, atol=1e-4)  # cv2.undistortPoints iterates: sub-micron


def test_view_angles_invert_camera_from_angles():
    for elev, az, d in [(30.0, 0.0, 800.0), (45.0, 45.0, 1000.0), (15.0, -30.0, 600.0), (60.0, 10.0, 1200.0)]:
        pose = camera_from_angles(elev, az, d)
        v = view_angles(pose)
        assert v.elevation_deg == pytest.approx(elev, abs=1e-9)
        assert v.azimuth_from_side_deg == pytest.approx(az, abs=1e-9)
        assert v.distance_mm == pytest.approx(d, abs=1e-9)
        assert incidence_cos(pose) == pytest.approx(math.cos(math.radians(elev)) * math.cos(math.radians(az)), abs=1e-12)
    # the other side of the manikin reads the same angles
    v = view_angles(camera_from_angles(30.0, 20.0, 900.0, side=+1))
    assert (v.elevation_deg, v.azimuth_from_side_deg) == (pytest.approx(30.0), pytest.approx(20.0))


def test_mm_per_px_exact():
    """Level side view at d = f: 1 px is exactly 1 mm at the origin."""
    cam = _cam()
    pose = look_at((0.0, -1000.0, 0.0), (0.0, 0.0, 0.0))
    assert mm_per_px_z(pose, cam) == pytest.approx(1.0, abs=1e-12)


def test_ray_plane_exact_and_degenerate():
    pts, cos_inc = intersect_rays_plane(np.array([0.0, 0.0, 10.0]), np.array([[0.0, 0.0, -1.0], [1.0, 0.0, -1.0],
                                                                            [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]),
                                        np.zeros(3), np.array([0.0, 0.0, 2.0]))
    np.testing.assert_allclose(pts[0], [0, 0, 0], atol=1e-12)
    np.testing.assert_allclose(pts[1], [10, 0, 0], atol=1e-12)
    assert cos_inc[1] == pytest.approx(math.sqrt(0.5))
    assert np.all(np.isnan(pts[2]))  # parallel
    assert np.all(np.isnan(pts[3]))  # pointing away: behind the ray origin


def test_grazing_rays_are_refused():
    """A camera looking along the body axis: rays lie in the sagittal plane -> NaN, not garbage."""
    cam = _cam()
    pose = look_at((-1000.0, 0.0, 300.0), (0.0, 0.0, 0.0))
    hp = HeightEstimator(cam, pose).measure(np.array([640.0, 300.0]))
    assert math.isnan(hp.height_mm) and math.isnan(hp.axial_mm)
    assert incidence_cos(pose) == pytest.approx(0.0, abs=1e-12)


def test_pose_algebra():
    rng = np.random.default_rng(3)
    a = Pose.from_rvec_tvec(rng.normal(size=3), rng.normal(size=3) * 100)
    b = Pose.from_rvec_tvec(rng.normal(size=3), rng.normal(size=3) * 100)
    p = rng.normal(size=(7, 3)) * 50
    np.testing.assert_allclose(a.compose(b).apply(p), a.apply(b.apply(p)), atol=1e-9)
    np.testing.assert_allclose(a.inverse().apply(a.apply(p)), p, atol=1e-9)
    np.testing.assert_allclose(camera_center(a), a.inverse().translation_mm, atol=1e-9)
    np.testing.assert_allclose(Pose.from_rvec_tvec(a.rvec(), a.translation_mm).rotation, a.rotation, atol=1e-12)



@pytest.mark.parametrize("normal", [(0.0, 0.0, 1.0), (0.0, -0.57, 0.82), (0.0, 1.0, 0.0)])
def test_plane_homography_maps_a_planes_points_between_two_poses(normal):
    """A headset 30 mm and 1 deg elsewhere: the homography carries the pixels of points on the plane (the hands' back
    40 mm above the chest, or turned) exactly; a point 20 mm off the plane lands elsewhere (parallax)."""
    k = _cam().matrix
    a = camera_from_angles(30.0, 10.0, 800.0)
    b = Pose.from_rvec_tvec(np.radians([0.6, -0.8, 0.3]), np.array([18.0, -10.0, 22.0])).compose(a)
    n = np.array(normal) / np.linalg.norm(normal)
    p0 = np.array([5.0, -8.0, 40.0])
    rng = np.random.default_rng(2)
    u = np.cross(n, [1.0, 0.0, 0.0] if abs(n[0]) < 0.9 else [0.0, 1.0, 0.0])
    u /= np.linalg.norm(u)
    pts = p0 + rng.uniform(-60, 60, (20, 1)) * u + rng.uniform(-60, 60, (20, 1)) * np.cross(n, u)
    h = plane_homography(k, a, b, p0, n)
    src, dst = project_points(a.apply(pts), k), project_points(b.apply(pts), k)
    mapped = np.column_stack([src, np.ones(len(src))]) @ h.T
    np.testing.assert_allclose(mapped[:, :2] / mapped[:, 2:], dst, atol=1e-6)
    off = pts[:1] + 20.0 * n
    m = np.append(project_points(a.apply(off), k)[0], 1.0) @ h.T
    assert np.linalg.norm(m[:2] / m[2] - project_points(b.apply(off), k)[0]) > 0.3  # px

def test_mean_pose_of_symmetric_perturbations_is_exact():
    base = Pose.from_rvec_tvec(np.array([0.3, -0.2, 0.1]), np.array([10.0, -20.0, 900.0]))
    poses = []
    for axis in np.eye(3):
        for s in (-1.0, 1.0):
            d = Pose.from_rvec_tvec(axis * s * math.radians(2.0), axis * s * 5.0)
            poses.append(base.compose(d))
    m = mean_pose(poses)
    assert rotation_angle_deg(m.rotation.T @ base.rotation) < 1e-9
    np.testing.assert_allclose(m.translation_mm, base.translation_mm, atol=1e-9)


def test_manikin_axes_from_marker_axes():
    """Marker top edge (its +y) is the head (+x); its face normal is the chest normal (+z)."""
    np.testing.assert_array_equal(MANIKIN_FROM_MARKER.apply(np.array([0.0, 1.0, 0.0])), [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(MANIKIN_FROM_MARKER.apply(np.array([0.0, 0.0, 1.0])), [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(MANIKIN_FROM_MARKER.apply(np.array([1.0, 0.0, 0.0])), [0.0, -1.0, 0.0])
    assert np.linalg.det(MANIKIN_FROM_MARKER.rotation) == pytest.approx(1.0)
    # a marker seen by a side camera: the marker's pose turned into the manikin frame
    cam_from_manikin = camera_from_angles(30.0, 0.0, 900.0)
    cam_from_marker = cam_from_manikin.compose(MANIKIN_FROM_MARKER)
    back = cam_from_manikin_of(cam_from_marker)
    np.testing.assert_allclose(back.as_matrix(), cam_from_manikin.as_matrix(), atol=1e-12)


def test_pixel_rays_are_unit_and_centered():
    cam = _cam()
    r = pixel_rays(np.array([[640.0, 360.0], [1640.0, 360.0]]), cam.matrix)
    np.testing.assert_allclose(r[0], [0, 0, 1], atol=1e-15)
    np.testing.assert_allclose(r[1], [math.sqrt(0.5), 0, math.sqrt(0.5)], atol=1e-15)
