"""The monitor viewer, headless: PNG snapshots and an annotated video over the station's frames."""
from __future__ import annotations

import cv2
import numpy as np

from coach.cli import main as cli_main
from overlays.viewer import MonitorViewer, ViewerOptions

from station_helpers import StationThread


def test_headless_viewer_writes_snapshots_and_video(tmp_path):
    th = StationThread(duration_s=60.0, speed=4.0, seed=3, remote=False, scenario="shallow").start()
    try:
        opts = ViewerOptions(connect=th.pub_endpoint, size=(960, 540), fps=15.0, snapshot_dir=tmp_path / "snaps",
                             snapshot_every_s=0.5, video_path=tmp_path / "view.mp4", duration_s=3.0)
        with MonitorViewer(opts) as viewer:
            stats = viewer.run()
    finally:
        th.stop()
    assert stats.frames >= 30 and stats.messages > 100
    assert stats.video_frames_in >= 3  # cpr.frame JPEGs were decoded and drawn under the overlay
    assert stats.last_depth_mm is not None
    assert len(stats.snapshots) >= 4
    img = cv2.imread(str(stats.snapshots[-1]))
    assert img.shape == (540, 960, 3)
    # the depth gauge's green band sits where the overlay's image layout puts it
    x, y, w, h = 0.075, 0.52, 0.075, 0.56
    band = img[int((y - h / 2) * 540): int((y + h / 2) * 540), int((x - w / 4) * 960): int((x + w / 4) * 960)]
    green = (band[..., 1] > 180) & (band[..., 2] < 140) & (band[..., 0] < 140)
    assert green.sum() > 200
    cap = cv2.VideoCapture(str(tmp_path / "view.mp4"))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    ok, frame = cap.read()
    cap.release()
    assert ok and frame.shape == (540, 960, 3) and n >= 30


def test_viewer_without_a_station_says_no_signal(tmp_path):
    opts = ViewerOptions(connect="tcp://127.0.0.1:9", size=(640, 360), fps=10.0, duration_s=0.3)
    with MonitorViewer(opts) as viewer:
        viewer.run()
        img = viewer.compose()
    assert viewer.stats.messages == 0
    red = (img[..., 2] > 200) & (img[..., 1] < 120)
    assert red[150:210, 150:490].sum() > 300  # the big red NO SIGNAL in the middle


def test_view_command_needs_an_output_when_headless(monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert cli_main(["view", "--connect", "tcp://127.0.0.1:9"]) == 2
    assert "--video" in capsys.readouterr().err


def test_view_command_writes_snapshots_headless(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    th = StationThread(duration_s=60.0, speed=1.0, seed=2, remote=False).start()
    try:
        rc = cli_main(["view", "--connect", th.pub_endpoint, "--snapshots", str(tmp_path), "--every", "0.4",
                       "--duration", "1.5", "--size", "640x360", "--fps", "10"])
    finally:
        th.stop()
    assert rc == 0
    assert "snapshots in" in capsys.readouterr().out
    shots = sorted(tmp_path.glob("cpr-view-*.png"))
    assert len(shots) >= 2 and cv2.imread(str(shots[-1])).shape == (360, 640, 3)


def test_viewer_draws_over_a_local_camera_or_stream(tmp_path):
    """``camera`` takes anything cv2.VideoCapture opens (index, URL, file): here a real encoded clip."""
    clip = tmp_path / "cam.avi"
    w = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (320, 180))
    frame = np.zeros((180, 320, 3), np.uint8)
    frame[:] = (200, 40, 40)  # blue
    for _ in range(10):
        w.write(frame)
    w.release()
    with MonitorViewer(ViewerOptions(connect="tcp://127.0.0.1:9", camera=str(clip), size=(640, 360))) as viewer:
        img = viewer.compose()
    corner = img[20:60, 400:600].reshape(-1, 3).mean(axis=0)
    assert corner[0] > 150 and corner[2] < 90  # the camera picture is the background


def test_malformed_messages_never_stop_the_viewer():
    """A publisher that breaks the schema (a buggy client, another version) costs messages, not the viewer."""
    import json
    import time

    import zmq

    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    pub.bind("tcp://127.0.0.1:*")

    from coach.core.types import json_safe
    from overlays.messages import heartbeat_body, state_body

    from overlay_helpers import core_state

    def send(topic: str, body: dict, *extra: bytes) -> None:
        env = {"topic": topic, "v": 1, "station": "bad", "t_s": 1.0, "seq": 0, **body}
        pub.send_multipart([topic.encode(), json.dumps(json_safe(env)).encode(), *extra])

    good_beat = heartbeat_body(source_kind="test", source_name="t", tracker_status="ok", tracker_fps=None, running=False,
                               session=None, profile="adult", uptime_s=1.0, dropped=0)
    good_state = state_body(core_state(displacement_mm=42.0, last_depth_mm=51.0), hands_visible=True)

    opts = ViewerOptions(connect=pub.getsockopt_string(zmq.LAST_ENDPOINT), size=(640, 360), fps=10.0)
    try:
        with MonitorViewer(opts) as viewer:
            deadline = time.monotonic() + 5
            while viewer.stats.messages == 0:  # ZeroMQ's slow joiner
                assert time.monotonic() < deadline, "viewer never connected"
                send("cpr.heartbeat", good_beat)
                time.sleep(0.05)
                viewer.poll()
            send("cpr.overlay", {"primitives": "not a list"})
            send("cpr.overlay", {"primitives": [1, 2]})
            send("cpr.state", {"t_s": "soon", "displacement_mm": 3.0})
            send("cpr.feedback", {"prompt": "push harder"})
            send("cpr.heartbeat", {"source": "camera"})
            send("cpr.session", {"event": "stop", "summary": "all good"})
            send("cpr.session", {"event": "stop", "summary": {"mean_depth_mm": "deep", "compressions": 3}})
            send("cpr.frame", {"width_px": 1, "height_px": 1}, b"")
            send("cpr.frame", {"width_px": 1, "height_px": 1}, b"not a jpeg")
            send("cpr.state", good_state)  # a good one after the bad
            time.sleep(0.3)
            viewer.poll()
            img = viewer.compose()
            img = viewer.compose()  # still composing after the bad summary was dropped
            stats = viewer.stats
            rejected = viewer.sub.bad
    finally:
        pub.close(0)
        ctx.term()
    assert img.shape == (360, 640, 3)
    assert stats.bad_messages + rejected >= 6  # refused at decoding (schema) or when drawn
    assert stats.last_depth_mm == 51.0  # the good state after the bad ones was taken
