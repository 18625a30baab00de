"""The publisher never stalls its caller, keeps memory bounded, and obeys the topic rate caps."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from overlays.protocol import TOPIC_FRAME, TOPIC_STATE
from overlays.publisher import Publisher, PublisherError, PublisherOptions
from overlays.subscriber import Subscriber, SubscriberError, SubscriberOptions

from overlay_helpers import ANY_PORT, core_state, wait_connected


def _rss_mb(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc to read memory use")
def test_stalled_subscriber_neither_slows_the_publisher_nor_grows_its_memory():
    pub = Publisher(PublisherOptions(endpoint=ANY_PORT, frame_hz=1e9))  # no frame cap: push hard
    # a subscriber in another process that connects and never reads (default socket options)
    stalled = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time, zmq\n"
         "c = zmq.Context(); s = c.socket(zmq.SUB); s.setsockopt(zmq.SUBSCRIBE, b'')\n"
         f"s.connect('{pub.endpoint}'); print('ready', flush=True); time.sleep(120)\n"],
        stdout=subprocess.PIPE, text=True)
    healthy = Subscriber(SubscriberOptions(connect=pub.endpoint, topics=(TOPIC_FRAME,)))
    try:
        assert stalled.stdout.readline().strip() == "ready"
        wait_connected(pub, Subscriber(SubscriberOptions(connect=pub.endpoint)))  # both peers are up
        time.sleep(0.2)
        received: list[int] = []
        stop = threading.Event()

        def read() -> None:
            while not stop.is_set():
                m = healthy.recv(0.05)
                if m is not None:
                    received.append(m.payload["seq"])

        reader = threading.Thread(target=read)
        reader.start()
        rss0 = _rss_mb()
        blob = os.urandom(100_000)
        n = 1500  # 150 MB offered to a peer that reads nothing
        worst = 0.0
        for i in range(n):
            t = time.perf_counter()
            assert pub.publish_frame(blob, width_px=640, height_px=360, t_s=float(i))
            worst = max(worst, time.perf_counter() - t)
        growth = _rss_mb() - rss0
        time.sleep(0.3)  # the healthy reader catches up (ZeroMQ dropped what it could not hold)...
        pub.publish_frame(b"last", width_px=1, height_px=1, t_s=float(n))
        deadline = time.monotonic() + 2.0
        while (not received or received[-1] != n) and time.monotonic() < deadline:
            time.sleep(0.01)
        stop.set()
        reader.join()
        # a blocking send would hang for good; the bound only leaves room for a busy 2-core machine's hiccups
        assert worst < 1.0, f"a publish call blocked for {worst:.3f} s"
        assert growth < 40, f"publisher memory grew {growth:.0f} MB while 150 MB went to a stalled peer"
        assert received[-1] == n  # ...and still gets the newest message: the stalled peer holds nobody up
        assert len(received) > 100
        assert pub.stats.sent[TOPIC_FRAME] == n + 1
    finally:
        stalled.kill()
        stalled.wait()
        healthy.close()
        pub.close()


def test_conflate_endpoint_gives_latest_only_state():
    with Publisher(PublisherOptions(endpoint=ANY_PORT, conflate_endpoint=ANY_PORT, max_state_hz=1e9)) as pub:
        sub = Subscriber(SubscriberOptions(connect=pub.conflate_endpoint, conflate=True))
        deadline = time.monotonic() + 5
        while sub.recv(0.02) is None:  # slow joiner
            pub.publish_state(core_state(t_s=0.0), t_s=0.0)
            assert time.monotonic() < deadline
        for i in range(1, 201):
            pub.publish_state(core_state(t_s=float(i), displacement_mm=float(i % 60)), t_s=float(i))
            pub.heartbeat(source_kind="camera", source_name="x", tracker_status="ok", t_s=float(i))  # not on conflate
        time.sleep(0.3)
        msgs = sub.drain()
        sub.close()
    assert len(msgs) == 1  # only the newest survives, whatever queued before
    assert msgs[0].topic == TOPIC_STATE and msgs[0].payload["t_s"] == 200.0


def test_state_is_capped_at_max_state_hz():
    with Publisher(PublisherOptions(endpoint=ANY_PORT, max_state_hz=60.0)) as pub:
        sent = sum(pub.publish_state(core_state(t_s=i / 240.0), t_s=i / 240.0) for i in range(240))  # 240 Hz for 1 s
    assert 58 <= sent <= 62
    assert pub.stats.throttled[TOPIC_STATE] == 240 - sent


def test_bad_endpoints_fail_with_one_line_errors():
    with pytest.raises(PublisherError, match="must start with"):
        Publisher(PublisherOptions(endpoint="http://127.0.0.1:5556"))
    with pytest.raises(PublisherError, match="bad port"):
        Publisher(PublisherOptions(endpoint="tcp://127.0.0.1:99999"))
    with Publisher(PublisherOptions(endpoint=ANY_PORT)) as first:
        with pytest.raises(PublisherError, match="cannot bind publisher to tcp://127.0.0.1:\\d+: Address already in use"):
            Publisher(PublisherOptions(endpoint=first.endpoint))
    with pytest.raises(SubscriberError, match="unknown topic"):
        Subscriber(SubscriberOptions(topics=("cpr.nothing",)))


def test_topic_filter_does_not_leak_longer_topic_names():
    with Publisher(PublisherOptions(endpoint=ANY_PORT)) as pub, \
            Subscriber(SubscriberOptions(connect=pub.endpoint, topics=(TOPIC_STATE,))) as sub:
        deadline = time.monotonic() + 5
        while sub.recv(0.02) is None:
            pub.publish_state(core_state(t_s=time.monotonic()), t_s=time.monotonic())
            assert time.monotonic() < deadline
        pub.heartbeat(source_kind="camera", source_name="x", tracker_status="ok")
        time.sleep(0.1)
        assert all(m.topic == TOPIC_STATE for m in sub.drain())


def test_frames_are_capped_and_frame_due_says_when_to_encode():
    with Publisher(PublisherOptions(endpoint=ANY_PORT, frame_hz=5.0)) as pub:
        due = [pub.frame_due(i / 30.0) and pub.publish_frame(b"j", width_px=1, height_px=1, t_s=i / 30.0)
               for i in range(60)]  # 2 s of camera frames at 30 fps
    assert sum(due) == 10 and pub.stats.sent["cpr.frame"] == 10
    with Publisher(PublisherOptions(endpoint=ANY_PORT, frame_hz=0.0)) as off:
        assert not off.frame_due(1.0)
        assert not off.publish_frame(b"j", width_px=1, height_px=1, t_s=1.0)
