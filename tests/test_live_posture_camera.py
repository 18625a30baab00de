"""A second camera for posture (``run --posture-source``): two real clips, two real sources, one clock.

The hand camera: the demo's virtual camera (a real photographed hand compressing a rendered manikin,
calibrated by the real CLI). The posture camera: another clip, the licensed astronaut photo (NASA,
public domain; models/sample_images.py) sliding sideways at a known speed, so each pose frame's
content says when it was filmed: her shoulder's x = x at file time 0 + speed * file time. Both clips
are played as cameras (newest frame only), stamped by the monotonic clock, and the station must put
each pose frame at the right time on the hand camera's clock.
"""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from live_helpers import Collector, cli_process, free_tcp_endpoint

SPEED_PX_S = 90.0  # the photo's sideways speed in the posture clip
PHOTO_PX = 300
POSTURE_WH = (1280, 400)
RIGHT_SHOULDER = (1, 0)  # [arm, joint] in ArmLandmarks / arms_px


def _posture_clip(path, seconds: float) -> None:
    """The astronaut photo sliding right at SPEED_PX_S on grey, 30 fps."""
    import cv2

    from models.sample_images import sample_image_path

    photo = cv2.resize(cv2.imread(str(sample_image_path("astronaut"))), (PHOTO_PX, PHOTO_PX), interpolation=cv2.INTER_AREA)
    w, h = POSTURE_WH
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (w, h))
    assert out.isOpened()
    for i in range(int(seconds * 30)):
        x = int(round(40 + SPEED_PX_S * i / 30.0))
        frame = np.full((h, w, 3), 128, np.uint8)
        frame[50:50 + PHOTO_PX, x:x + PHOTO_PX] = photo[:, : max(0, min(PHOTO_PX, w - x))]
        out.write(frame)
    out.release()


@pytest.fixture(scope="module")
def two_cameras(tmp_path_factory, hand_model_path):
    """(hand clip, its station.json, true compressions, posture clip, the shoulder's x at posture file time 0)."""
    import cv2

    from coach.live.bench import make_clip
    from models import ModelError
    from posture_helpers import require_pose_model
    from vision.pose import PoseTracker, PoseTrackerOptions

    require_pose_model()
    d = tmp_path_factory.mktemp("two-cameras")
    clip, station, n_true = make_clip(d, 8.0, (640, 360), seed=5)
    try:
        _posture_clip(d / "posture.mp4", 15.0)
    except ModelError as exc:
        pytest.skip(f"licensed sample photo unavailable: {exc}")
    cap = cv2.VideoCapture(str(d / "posture.mp4"))
    ok, first = cap.read()
    cap.release()
    assert ok
    with PoseTracker.create_from_options(PoseTrackerOptions(running_mode="image")) as pose:
        arms = pose.process(first, 0)
    assert arms is not None
    return clip, station, n_true, d / "posture.mp4", float(arms.image_px[RIGHT_SHOULDER][0])


def _gap_s(samples: list[tuple[float, float]], x0: float) -> np.ndarray:
    """Per pose frame: its time on the hand clock minus its file time read from its content (s)."""
    t = np.array([s[0] for s in samples]) / 1000.0
    x = np.array([s[1] for s in samples])
    return t - (x - x0) / SPEED_PX_S


@pytest.mark.slow
def test_run_with_a_second_posture_camera_publishes_time_matched_posture(two_cameras, tmp_path):
    clip, station, n_true, posture_clip, x0 = two_cameras
    ep = free_tcp_endpoint()
    col = Collector(ep, ("cpr.compression", "cpr.session", "cpr.state"))
    try:
        proc = cli_process(["run", "--source", clip, "--calibration", station, "--posture-source", posture_clip,
                            "--publish", ep, "--no-remote", "--quiet", "--posture-hz", "10", "--no-record"])
        out, err = proc.communicate(timeout=180)
        col.stopped.wait(5)
    finally:
        col.close()
    assert proc.returncode == 0, err
    assert "posture camera without --posture-calibration" in err  # its own vertical, said so
    states = [s for s in col.of("cpr.state") if s.get("posture")]
    frames = {s["posture"]["t_ms"]: s for s in states}
    found = {t: s["posture"] for t, s in frames.items() if s["posture"]["found"]}
    # the posture camera's person reached cpr.state (at most 10 Hz; fewer on a loaded machine)
    assert len(found) >= 5, f"{len(found)} pose frames with the person of {len(frames)}"
    assert {p["frame"] for p in found.values()} == {"camera"}
    # time-matched: a state never carries a pose frame from after its own hand frame, nor a stale one. (The
    # frames held while the hands first rest are published again, older, when the session starts: left out.)
    live, newest = [], -1.0
    for s in states:
        if s["t_s"] > newest:
            live.append(s)
        newest = max(newest, s["t_s"])
    assert len(live) >= 0.5 * len(states)
    lag_ms = [s["t_s"] * 1000.0 - s["posture"]["t_ms"] for s in live]
    assert min(lag_ms) >= -1.0, min(lag_ms)
    assert float(np.median(lag_ms)) < 1500.0, lag_ms
    # the content says when each pose frame was filmed: the shoulder moves at SPEED_PX_S on the hand clock too
    samples = sorted((t, p["arms_px"][1][0][0]) for t, p in found.items())
    t_s = np.array([s[0] for s in samples]) / 1000.0
    x = np.array([s[1] for s in samples])
    slope = np.polyfit(t_s, x, 1)[0]
    assert slope == pytest.approx(SPEED_PX_S, rel=0.15), slope
    # the posture camera opened after the hand camera, within the station's setup (the hand model's load)
    gap = _gap_s(samples, x0)
    assert -0.2 < float(np.median(gap)) < 3.0 and float(np.ptp(gap)) < 0.5, gap
    # the coach judged compressions with the second camera's posture
    comps = col.of("cpr.compression")
    assert len(comps) >= n_true - 2
    judged = [c["posture"] for c in comps if c.get("posture")]
    assert len(judged) >= 3, (len(judged), len(comps), sorted(found), [c["t_s"] for c in comps])


@pytest.mark.slow
def test_posture_camera_started_late_is_placed_by_capture_time(two_cameras):
    """The posture camera starts 2 s into the loop, well after the hand camera: its pose frames land on the
    hand clock later than their own file time by exactly the gap between the two cameras' starts (a feed
    that used the posture camera's own frame times would be seconds off)."""
    from calibration.store import load_calibration
    from coach.live.loop import LiveLoop, LiveOptions
    from coach.live.posture_source import PostureFeed
    from coach.live.station import LiveStation
    from coach.pipeline import Pipeline
    from coach.station import StationOptions
    from models import ensure_model
    from overlays.publisher import PublisherOptions
    from vision.posture_worker import PostureWorker
    from vision.sources import SourceOptions, open_source, require_frames

    clip, station_json, n_true, posture_clip, x0 = two_cameras
    src = open_source(clip, SourceOptions(realtime=True))
    require_frames(src)
    pipe = Pipeline.from_calibration(load_calibration(station_json), src.size_wh, model_path=ensure_model("hand_landmarker"))
    worker = PostureWorker.start_new()
    received: list = []

    class Recording(LiveStation):
        def on_posture(self, result):
            received.append(result)
            super().on_posture(result)

    st = Recording(StationOptions(station_id="t", publisher=PublisherOptions(endpoint="tcp://127.0.0.1:0"),
                                  remote=None, source_kind="video", source_name=str(clip)))
    feeds: list = []

    def start_late() -> None:
        feeds.append(PostureFeed.start(open_source(posture_clip, SourceOptions(realtime=True)), worker))

    loop = LiveLoop(src, pipe, st, LiveOptions(frame_hz=0), posture=worker, posture_source=object())
    timer = threading.Timer(2.0, start_late)
    t0 = time.monotonic()
    timer.start()
    try:
        res = loop.run()
    finally:
        timer.cancel()
        for f in feeds:
            f.close()
        worker.close()
        st.close()
        pipe.tracker.close()
        src.close()
    assert time.monotonic() - t0 > 4.0 and feeds and feeds[0].frames > 30
    samples = [(r.t_ms, float(r.arms.image_px[RIGHT_SHOULDER][0])) for r in received if r.arms is not None]
    assert len(samples) >= 5, f"{len(samples)} pose frames with the person"
    assert all(a.t_ms < b.t_ms for a, b in zip(received, received[1:]))  # in order on the hand clock
    started_later_s = feeds[0].source.origin_s - src.origin_s
    assert started_later_s > 1.9
    gap = _gap_s(samples, x0)
    assert float(np.median(gap)) == pytest.approx(started_later_s, abs=0.3), (started_later_s, gap)
    assert float(np.ptp(gap)) < 0.5, gap
    assert res.stats.posture_frames == len(received) and res.stats.compressions >= n_true - 2
