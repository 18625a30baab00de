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


def test_an_anchor_out_of_view_is_said_not_taken_for_a_missing_rest(hand_model_path):
    """A moving camera measures from the anchor marker; frames without it have no pose and so no heights. A clip
    where it never showed gave 0 compressions and only a warning about a missing rest hold (session 31: every hand
    family rendered without the anchor); the result now names the anchor and how many frames lacked it, and the
    pipeline says since when it has been missing (the live status line shows it)."""
    from render.clips import anchor_marker, calibrated_anchor_view, calibration_frames

    view, intr, manikin = calibrated_anchor_view(12, 640, 360)
    seen = list(calibration_frames(view, 8, seed=9, markers=[anchor_marker()]))  # the anchor alone, in view
    blank = np.full_like(seen[0], 128)
    tracker = HandTracker.create_from_options(HandTrackerOptions(model_path=hand_model_path, running_mode="video"))
    try:
        def run(images):
            geo = Geometry(intr, manikin)
            assert geo.mode == "anchor"
            pipe = Pipeline(tracker, CompressionPointTracker(), geo, PipelineOptions(use_rest_baseline=False))
            since = []
            for i, img in enumerate(images):
                pipe.process(img, 1000 + 100 * i, i)
                since.append(pipe.anchor_lost_since_s)
            return pipe, pipe.finish(), since

        pipe, res, _ = run([blank] * 10)
        assert pipe.anchor_lost_frames == 10
        assert any(w.startswith("the anchor marker (id 1) was not found in any of the 10 frames") for w in res.warnings)
        # found, then lost (after the tracker's hold of a few frames), then found again
        pipe, res, since = run(seen[:4] + [blank] * 8 + seen[4:])
        lost = pipe.anchor_lost_frames
        assert 1 <= lost <= 8 and since[3] is None and since[-1] is None
        assert since[11] is not None and 1.4 <= since[11] <= 2.1  # (the first frame without a pose: 1.4 s + the hold)
        msg = [w for w in res.warnings if w.startswith("the anchor marker")]
        assert msg == [f"the anchor marker (id 1) was not found in {lost} of 16 frames (first at {since[11]:.1f} s): "
                       "those frames have no heights; keep it in the camera's view"]
        # live: the status line says so once the anchor has been missing for a second, and stops when it is back
        from coach.live.loop import LiveLoop, LiveOptions
        from coach.live.station import LiveStation
        from coach.station import StationOptions
        from overlays.publisher import PublisherOptions
        from vision.source_base import Frame

        images = seen[:4] + [blank] * 24 + seen[4:]
        st = LiveStation(StationOptions(station_id="t", publisher=PublisherOptions(endpoint="tcp://127.0.0.1:0"),
                                        remote=None, source_kind="video", source_name="anchor"))
        lines: list[str] = []
        try:
            pipe = Pipeline(tracker, CompressionPointTracker(), Geometry(intr, manikin), PipelineOptions())
            frames = iter([Frame(img, 1000 + 100 * i, i) for i, img in enumerate(images)])
            res = LiveLoop(frames, pipe, st, LiveOptions(frame_hz=0, status_every_s=0.0), status=lines.append).run()
        finally:
            st.close()
        said = ["ANCHOR MARKER NOT SEEN" in x for x in lines]
        assert any(said) and not any(said[:12]) and not said[-1], lines  # (no pose from the 6th blank frame on, said 1 s later)
        assert any(w.startswith("the anchor marker (id 1) was not found in") for w in res.warnings)
    finally:
        tracker.close()
