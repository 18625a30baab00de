"""The ONNX Runtime hand tracker: MediaPipe's pipeline step by step, against MediaPipe and the references."""
from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest

from vision import hand_rect as hr
from vision.onnx_tracker import OnnxHandTracker, resolve_providers
from vision.palm_anchors import PalmDetections, PalmDetectorOptions, ssd_anchors, weighted_nms
from vision.sources import open_source
from vision.tracker import HandTracker, HandTrackerOptions, create_tracker


@pytest.fixture(scope="module")
def onnx_video(hand_model_path):
    tr = create_tracker(HandTrackerOptions(model_path=hand_model_path, running_mode="video", num_hands=2), backend="onnx")
    yield tr
    tr.close()


def test_ssd_anchors_are_mediapipes_grid():
    a = ssd_anchors(PalmDetectorOptions())
    assert a.shape == (2016, 2)  # 24x24 cells x 2 anchors + 12x12 cells x 6 anchors
    np.testing.assert_allclose(a[:2], [[0.5 / 24, 0.5 / 24]] * 2)  # two anchors per stride-8 cell
    np.testing.assert_allclose(a[2], [1.5 / 24, 0.5 / 24])
    np.testing.assert_allclose(a[1152:1158], [[0.5 / 12, 0.5 / 12]] * 6)  # three stride-16 layers share a grid
    np.testing.assert_allclose(a[-1], [11.5 / 12, 11.5 / 12])


def test_weighted_nms_averages_a_cluster_and_keeps_distinct_boxes():
    boxes = np.array([[0.1, 0.1, 0.3, 0.3], [0.12, 0.1, 0.32, 0.3], [0.6, 0.6, 0.8, 0.8]], np.float32)
    kps = np.repeat(boxes[:, None, :2], 7, axis=1)
    out = weighted_nms(PalmDetections(boxes, kps, np.array([0.9, 0.6, 0.7], np.float32)), 0.3)
    assert len(out) == 2
    np.testing.assert_allclose(out.scores, [0.9, 0.7])  # best first, the cluster keeps its best score
    np.testing.assert_allclose(out.boxes[0], (0.9 * boxes[0] + 0.6 * boxes[1]) / 1.5, atol=1e-6)
    np.testing.assert_allclose(out.boxes[1], boxes[2])


def test_hand_roi_from_a_palm_pointing_right():
    """Wrist left of the middle-finger MCP: the ROI turns by +90 deg and moves towards the fingers."""
    box = np.array([100.0, 100.0, 140.0, 140.0])
    kps = np.zeros((7, 2))
    kps[0] = (100, 120)
    kps[2] = (140, 120)
    r = hr.rect_from_palm(box, kps)
    assert r.rotation_rad == pytest.approx(math.pi / 2)
    assert (r.cx_px, r.cy_px) == pytest.approx((140.0, 120.0))  # shifted half the palm height along the hand
    assert r.w_px == pytest.approx(40 * 2.6) and r.h_px == pytest.approx(40 * 2.6)
    # project() inverts crop(): the crop's centre maps back to the ROI's centre, its top edge towards the fingers.
    top_mid = hr.project(np.array([[0.5, 0.0, 0.0]]), r)[0]
    assert top_mid[:2] == pytest.approx((140.0 + r.w_px / 2, 120.0))


def test_execution_providers():
    assert resolve_providers("cpu") == ["CPUExecutionProvider"]
    gpu = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert resolve_providers("auto", gpu) == gpu
    assert resolve_providers("auto", ["AzureExecutionProvider", "CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    with pytest.raises(ValueError, match="CUDAExecutionProvider is not offered"):
        resolve_providers("cuda", ["CPUExecutionProvider"])


def test_hands_jpg_both_hands_match_reference(hand_model_path, hands_dir):
    """The MediaPipe backend's test, with the same tolerances."""
    ref = np.array(json.loads((hands_dir / "hands.expected.json").read_text())["hands"], dtype=float)
    with create_tracker(HandTrackerOptions(model_path=hand_model_path, running_mode="image"), backend="onnx") as tr:
        res = tr.detect(cv2.imread(str(hands_dir / "hands.jpg")))
    assert res.n_hands == 2 and res.path == "full" and res.image_size_wh == (720, 382)
    for exp in ref:
        err = min((np.abs(h.landmarks_px[:, :2] - exp) for h in res.hands), key=lambda e: e.mean())
        assert err.max() <= 15.0, err.max()
        assert err.mean() <= 6.0, err.mean()
    for h in res.hands:
        assert h.handedness in ("Left", "Right") and 0.5 < h.score <= 1.0
        assert h.landmarks_px.shape == (21, 3) and h.world_landmarks_m.shape == (21, 3)
        assert 0.03 < np.linalg.norm(h.world_landmarks_m[0] - h.world_landmarks_m[9]) < 0.15
        assert h.landmarks_px[0, 2] == pytest.approx(0.0, abs=1e-3)  # z is relative to the wrist
    assert np.linalg.norm(res.hands[0].heel_px - res.hands[1].heel_px) > 200


@pytest.mark.slow
def test_asl_clip_matches_mediapipe_and_the_reference(onnx_video, hand_model_path, hands_dir):
    """Every frame of the clip through both backends (VIDEO mode, tracking): mean landmark distance between
    them <= 2 px and mean error against the reference <= 3 px (the issue's gates; measured 0.3 px)."""
    ref = np.array(json.loads((hands_dir / "asl_hand.full.json").read_text()), dtype=float)
    onnx_video.reset()
    errs, dists, handed = [], [], 0
    with HandTracker.create_from_options(HandTrackerOptions(model_path=hand_model_path, running_mode="video",
                                                            num_hands=2)) as mp, open_source(hands_dir / "asl_hand.25fps.mp4") as src:
        for frame in src:
            a = mp.detect(frame.image, frame.t_ms)
            b = onnx_video.detect(frame.image, frame.t_ms)
            assert b.n_hands >= 1, f"no hand in frame {frame.index}"
            errs.append(min(np.linalg.norm(h.landmarks_px[:, :2] - ref[frame.index][:, :2], axis=1).mean() for h in b.hands))
            if a.hands:
                dists.append(min(np.linalg.norm(h.landmarks_px[:, :2] - a.hands[0].landmarks_px[:, :2], axis=1).mean()
                                 for h in b.hands))
                handed += a.hands[0].handedness == b.hands[0].handedness
    print(f"\nmean error vs reference {np.mean(errs):.3f} px, vs MediaPipe {np.mean(dists):.3f} px")
    assert len(errs) == 325 and len(dists) >= 320
    assert np.mean(errs) <= 3.0 and np.mean(dists) <= 2.0
    assert np.median(errs) <= 1.0  # tracking from landmarks reproduces the reference's ROIs
    assert handed >= 0.95 * len(dists)
    # One hand of num_hands=2 held: palm detection looked for the other every search_every_frames (10) frames only.
    assert 325 // 10 <= onnx_video.stats["detector_images"] <= 325 // 10 + 5


def test_tracking_skips_detection_while_the_hands_are_held(hand_model_path, hands_dir):
    frames = []
    with open_source(hands_dir / "asl_hand.25fps.mp4") as src:
        for frame, _ in zip(src, range(20)):
            frames.append(frame)
    with create_tracker(HandTrackerOptions(model_path=hand_model_path, running_mode="video", num_hands=1), backend="onnx") as tr:
        results = [tr.detect(f.image, f.t_ms) for f in frames]
        assert all(r.n_hands == 1 for r in results)
        assert tr.stats["detector_images"] == 1  # the first frame only: the hand's own landmarks give each next ROI
        assert tr.stats["landmark_crops"] == 20


def test_detect_many_equals_one_tracker_per_source(hand_model_path, hands_dir):
    """Three sources batched in one call per tick give what three separate trackers give."""
    clip = []
    with open_source(hands_dir / "asl_hand.25fps.mp4") as src:
        for frame, _ in zip(src, range(12)):
            clip.append(frame.image)
    photo = cv2.imread(str(hands_dir / "hands.jpg"))
    opts = HandTrackerOptions(model_path=hand_model_path, running_mode="video", num_hands=2)
    sources = [lambda t: clip[t], lambda t: clip[(t + 6) % 12], lambda t: photo]
    with OnnxHandTracker.create_from_options(opts) as batched:
        singles = [OnnxHandTracker.create_from_options(opts) for _ in sources]
        for t in range(8):
            images = [s(t) for s in sources]
            many = batched.detect_many(images, [t * 40] * 3, streams=["a", "b", "c"])
            for k, (img, res) in enumerate(zip(images, many)):
                one = singles[k].detect(img, t * 40)
                assert res.n_hands == one.n_hands >= 1
                for h1, h2 in zip(res.hands, one.hands):
                    np.testing.assert_allclose(h1.landmarks_px, h2.landmarks_px, atol=1e-3)
                    assert h1.handedness == h2.handedness
        assert many[2].n_hands == 2  # the photo's two hands ride in the same landmark batch
        assert batched.stats["inferences"] < sum(s.stats["inferences"] for s in singles)
    with pytest.raises(ValueError, match="same length"):
        batched.detect_many([photo, photo], [0])


def test_empty_frames_and_timestamps(onnx_video, hands_dir):
    onnx_video.reset()
    img = cv2.imread(str(hands_dir / "thumbs_up.jpg"))
    a = onnx_video.detect(img, 1000)
    b = onnx_video.detect(img, 1000)
    assert (a.t_ms, b.t_ms) == (1000, 1000) and a.n_hands >= 1 and b.n_hands >= 1
    empty = onnx_video.detect(np.zeros((0, 0, 3), np.uint8), 1100)
    assert empty.n_hands == 0 and empty.path == "none"
    nothing = onnx_video.detect(np.full((240, 320, 3), 90, np.uint8), 1200)  # a grey frame: no hand anywhere
    assert nothing.n_hands == 0


@pytest.mark.slow
def test_analyze_with_the_onnx_backend(tmp_path, capsys, hands_dir, hand_model_path):
    from coach.cli import main

    out = tmp_path / "out.json"
    rc = main(["analyze", str(hands_dir / "asl_hand.25fps.mp4"), "--hfov", "65", "--json", str(out), "--max-frames", "30",
               "--backend", "onnx", "--providers", "cpu", "--model", str(hand_model_path)])
    assert rc == 0, capsys.readouterr().err
    doc = json.loads(out.read_text())
    assert doc["samples"] == 30 and doc["source"]["frames_with_hands"] >= 25


def test_a_bundle_that_cannot_be_converted_is_one_line(tmp_path, capsys, hands_dir):
    import zipfile

    from coach.cli import main

    bad = tmp_path / "bad.task"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("hand_detector.tflite", b"x" * 64)
        zf.writestr("hand_landmarks_detector.tflite", b"y" * 64)
    rc = main(["analyze", str(hands_dir / "asl_hand.25fps.mp4"), "--hfov", "60", "--model", str(bad), "--max-frames", "3",
               "--backend", "onnx"])
    err = capsys.readouterr().err
    assert rc == 2 and "bad.task" in err and "not a TFLite model" in err


def test_low_contrast_scene_is_recovered_through_crops(hand_model_path, hands_dir):
    """The MediaPipe backend's low-contrast scene (a real hand on its own skin colour): plain detection
    fails; the chest region, then the previous landmarks, or a tile search find it (palm detection on
    a crop, landmarks on the full-resolution frame)."""
    from test_vision_lowcontrast import N, _run, _scene, make_cutout

    cutout = make_cutout(hands_dir)
    _, _, box = _scene(cutout, 0)
    chest = (box[0] - 150, box[1] - 100, box[2] + 150, box[3] + 100)

    def make(**kw):
        return create_tracker(HandTrackerOptions(model_path=hand_model_path, running_mode="video", **kw), backend="onnx")

    with make(roi_fallback=False, tile_search=False) as plain:
        found, _, _ = _run(plain, cutout)
    assert found <= 2, found
    with make(tile_search=False) as tr:
        found, errs, paths = _run(tr, cutout, roi=chest, roi_first_only=True)
    assert found == N and set(paths) == {"roi"}, paths  # found in the chest crop, then tracked from its landmarks
    assert np.mean(errs) <= 6.0, errs
    with make() as tr:
        found, errs, paths = _run(tr, cutout)
    assert found >= N - 2 and "tile" in paths, paths
    assert np.mean(errs) <= 6.0, errs
