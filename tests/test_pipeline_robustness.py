"""The per-frame pipeline never dies on one bad frame (real MediaPipe, real frames, injected faults)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from calibration.camera import CameraIntrinsics
from coach.pipeline import Geometry, Pipeline, PipelineOptions
from vision.compression_point import CompressionPointTracker
from vision.sources import open_source
from vision.tracker import HandTracker, HandTrackerOptions


class FlakyTracker:
    """Fault injection around the real tracker: ``detect`` raises on the chosen calls."""

    def __init__(self, inner: HandTracker, fail_on: set[int]) -> None:
        self.inner, self.fail_on, self.calls = inner, fail_on, 0

    def detect(self, image, t_ms=None, roi_px=None):
        self.calls += 1
        if self.calls in self.fail_on:
            raise RuntimeError("injected tracker fault")
        return self.inner.detect(image, t_ms, roi_px=roi_px)


def test_bad_frames_and_tracker_faults_do_not_stop_the_pipeline(hands_dir, hand_model_path):
    with open_source(hands_dir / "one_hand_640x360.mp4") as src:
        frames = [f for _, f in zip(range(24), src)]
    w, h = frames[0].size_wh
    real = HandTracker.create_from_options(HandTrackerOptions(model_path=hand_model_path, running_mode="video"))
    tracker = FlakyTracker(real, fail_on={5})
    pipe = Pipeline(tracker, CompressionPointTracker(), Geometry(CameraIntrinsics.from_hfov(60, w, h), None),
                    PipelineOptions(use_rest_baseline=False))
    bad_images = {
        8: None,  # a source's empty frame
        10: frames[10].image.astype(np.float32),  # wrong dtype
        12: frames[12].image[:, :, :2].copy(),  # wrong channel count
        14: np.zeros(7, np.uint8),  # not an image at all
    }
    try:
        for i, f in enumerate(frames):
            pipe.process(bad_images.get(i, f.image), f.t_ms, f.index)
        res = pipe.finish()
    finally:
        real.close()
    assert len(res.records) == len(frames)  # every frame is on the timeline, bad ones included
    failed = {5 - 1, 10, 12, 14}  # call 5 is frame 4; frame 8 (no image) is simply a frame without hands
    assert pipe.frames_failed == len(failed)
    for i in failed | {8}:
        r = res.records[i]
        assert r.n_hands == 0 and math.isnan(r.height_mm) and math.isnan(r.xy_px[0]), i
    t = [r.t_s for r in res.records]
    assert all(b > a for a, b in zip(t, t[1:]))
    # tracking carries on after the faults: the hand is found in the good frames that follow
    after = [res.records[i].n_hands for i in range(15, len(frames))]
    assert sum(n >= 1 for n in after) >= 0.8 * len(after), after
    assert any("4 frame(s) could not be processed" in w and "injected tracker fault" in w for w in res.warnings), res.warnings


def test_video_under_15_fps_gets_a_warning_naming_its_rate():
    """At 12 fps a stroke spans a handful of frames: rendered, shallow sessions counted 1 and 9 of 17-18 compressions
    and deep ones read up to 9.8 mm shallow, so the result says so; 15 fps (millisecond stamps, a little jitter) and
    above say nothing."""
    from coach.core.options import nominal_dt
    from coach.pipeline import PipelineOptions, low_frame_rate_warning

    rng = np.random.default_rng(0)
    assert PipelineOptions().min_fps == 15.0
    msg = low_frame_rate_warning(nominal_dt([i / 12.0 for i in range(100)]), 15.0)
    assert msg is not None and "12 fps" in msg and "under 15" in msg
    assert low_frame_rate_warning(nominal_dt([i / 10.0 for i in range(100)]), 15.0).startswith("the video runs at 10 fps")
    for fps in (15.0, 24.0, 30.0, 60.0):
        t = [round(i * 1000 / fps + rng.normal(0, 2)) / 1000 for i in range(100)]
        assert low_frame_rate_warning(nominal_dt(sorted(t)), 15.0) is None, fps
    assert low_frame_rate_warning(nominal_dt([0.0]), 15.0) is None  # (one frame: the nominal 30 fps)


def test_the_stated_uncertainty_takes_the_larger_side_of_what_the_rest_may_hold():
    """A drop the pause left unexplained or a rest that settled lower read depths too deep; a rest at leaning tops reads
    them too shallow: the two sides do not add (rendered, seed 18: +-18.8 summed for a -5.6 mm error, +-12.9 now);
    the deep side's two terms do."""
    from coach.pipeline import stated_uncertainty_mm

    assert stated_uncertainty_mm(3.9, 5.9, 8.9, 0.0) == pytest.approx(3.9 + 8.9)
    assert stated_uncertainty_mm(3.9, 5.9, 0.0, 4.0) == pytest.approx(3.9 + 9.9)
    assert stated_uncertainty_mm(3.9, 5.9, 8.9, 4.0) == pytest.approx(3.9 + 9.9)
    assert stated_uncertainty_mm(3.9, 0.0, 0.0, 0.0) == pytest.approx(3.9)
    assert abs(-5.61) <= stated_uncertainty_mm(3.94, 5.93, 8.91, 0.0) < 18.78  # (the seed 18 case: covered, tighter)
