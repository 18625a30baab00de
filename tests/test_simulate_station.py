"""The simulated station end to end: real simulator, analyzer, coach, publisher and sockets."""
from __future__ import annotations

import re
import threading
import time

from jsonschema import Draft202012Validator

from coach.cli import main as cli_main
from overlays.protocol import TOPICS, load_schema
from overlays.subscriber import Subscriber, SubscriberOptions

from station_helpers import StationThread, wait_for


class Collector:
    """Subscribe before the station publishes; keep every message."""

    def __init__(self):
        self.msgs = []
        self.sub = None
        self._stop = threading.Event()
        self._thread = None

    def attach(self, station):
        # a recorder that wants every message: a deep receive queue (the PUB side stays small)
        self.sub = Subscriber(SubscriberOptions(connect=station.publisher.endpoint, rcvhwm=100_000))
        time.sleep(0.3)  # ZeroMQ's slow-joiner window, before the clock starts
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        while True:
            m = self.sub.recv(0.1)
            if m is not None:
                self.msgs.append(m)
            elif self._stop.is_set():
                return  # asked to stop and the queue has been empty for 100 ms: drained

    def close(self):
        self._stop.set()
        self._thread.join()
        self.sub.close()


def test_simulate_publishes_every_topic_faster_than_real_time():
    col = Collector()
    th = StationThread(duration_s=40.0, speed=20.0, seed=4, on_ready=col.attach).start()
    t0 = time.monotonic()
    result = th.join()
    wall = time.monotonic() - t0
    col.close()
    assert wall < 20.0  # 40 simulated seconds at 20x: the clock parameter works
    assert {m.topic for m in col.msgs} == set(TOPICS)
    validators = {t: Draft202012Validator(load_schema(t)) for t in TOPICS}
    seen = {t: 0 for t in TOPICS}
    for m in col.msgs:
        seen[m.topic] += 1
        if m.topic in ("cpr.state", "cpr.overlay") and seen[m.topic] % 4 != 1:
            continue  # hundreds of the high-rate topics are enough; every event message is checked
        err = next(validators[m.topic].iter_errors(m.payload), None)
        assert err is None, f"{m.topic}: {err.message}"
    by = {t: [m for m in col.msgs if m.topic == t] for t in TOPICS}
    assert [m.payload["event"] for m in by["cpr.session"]] == ["start", "stop"]
    summary = by["cpr.session"][-1].payload["summary"]
    assert summary["compressions"] == result.summary.compressions
    assert abs(summary["compressions"] - result.truth_compressions) <= 3
    assert len(by["cpr.compression"]) == summary["compressions"]
    # the analyzer measured what the simulator made
    assert 40 <= summary["mean_depth_mm"] <= 70 and 90 <= summary["mean_rate_cpm"] <= 130
    # rates: state at the sample rate (<= 60 Hz), ~1 Hz heartbeat, frames at the reduced rate
    span = by["cpr.state"][-1].payload["t_s"] - by["cpr.state"][0].payload["t_s"]
    assert 25 <= len(by["cpr.state"]) / span <= 60
    assert 0.8 <= len(by["cpr.heartbeat"]) / span <= 1.3
    assert 3 <= len(by["cpr.frame"]) / span <= 6
    # 40 s of adult 30:2 CPR: at least one breath prompt and it cleared again
    prompts = [m.payload["prompt"] for m in by["cpr.feedback"]]
    assert any(p and p["id"] == "give_breaths" for p in prompts)
    assert prompts[-1] is None
    # the t_s timeline is monotonic per topic
    for t in TOPICS:
        ts = [m.payload["t_s"] for m in by[t]]
        assert ts == sorted(ts), t
    # one status line per simulated second
    assert 35 <= len(th.lines) <= 41 and re.search(r"depth\s+\d+ mm", th.lines[-1])


def test_subscriber_joining_mid_session_gets_state_within_a_second():
    th = StationThread(duration_s=30.0, speed=1.0, seed=7, frame_hz=0).start()
    try:
        time.sleep(2.0)  # the session is running
        sub = Subscriber(SubscriberOptions(connect=th.pub_endpoint))
        t0 = time.monotonic()
        first: dict[str, float] = {}
        want = {"cpr.state", "cpr.feedback", "cpr.heartbeat"}
        while time.monotonic() - t0 < 2.5 and not want <= set(first):
            m = sub.recv(0.05)
            if m is not None and m.topic not in first:
                first[m.topic] = time.monotonic() - t0
        sub.close()
        assert first.get("cpr.state", 9) < 1.0
        assert first.get("cpr.feedback", 9) < 1.5  # repeated once a second for late joiners
        assert first.get("cpr.heartbeat", 9) < 1.5
    finally:
        th.stop()


def test_simulate_command_prints_status_lines_and_a_summary(capsys):
    rc = cli_main(["simulate", "--duration", "8", "--speed", "16", "--seed", "2", "--publish", "tcp://127.0.0.1:0",
                   "--no-remote", "--frame-hz", "0", "--scenario", "shallow", "--profile", "adult-compression-only"])
    out = capsys.readouterr().out
    assert rc == 0
    assert re.search(r"publishing on tcp://127\.0\.0\.1:\d+", out)
    lines = [ln for ln in out.splitlines() if ln.startswith("t ")]
    assert 6 <= len(lines) <= 9
    assert "session summary" in out and "push_harder" in out  # the shallow trainee was told
    assert "give_breaths" not in out  # compression-only profile


def test_simulate_command_rejects_bad_input(capsys):
    assert cli_main(["simulate", "--publish", "http://x", "--duration", "1"]) == 2
    assert "must start with" in capsys.readouterr().err
    assert cli_main(["simulate", "--profile", "martian", "--duration", "1"]) == 2
    assert "unknown profile" in capsys.readouterr().err


def test_station_stops_on_request_and_publishes_the_summary():
    col = Collector()
    th = StationThread(duration_s=300.0, speed=10.0, seed=1, frame_hz=0, remote=False, on_ready=col.attach).start()
    assert wait_for(lambda: th.station.stats.compressions > 10, 20)
    result = th.stop()
    col.close()
    assert result.summary is not None and result.summary.compressions >= 10
    assert col.msgs[-1].topic in ("cpr.session", "cpr.feedback")
    stops = [m for m in col.msgs if m.topic == "cpr.session" and m.payload["event"] == "stop"]
    assert len(stops) == 1 and stops[0].payload["reason"] == "stopped"


def test_station_skips_bad_samples_and_keeps_going():
    import math

    from coach.station import Sample, Station, StationOptions
    from overlays.publisher import PublisherOptions

    opts = StationOptions(publisher=PublisherOptions(endpoint="tcp://127.0.0.1:0"), remote=None)
    with Station(opts) as st:
        st.process(Sample(0.0, 0.0))
        for bad_t in (None, "soon", math.nan, math.inf, 0.0):  # not a number, not finite, not increasing
            assert st.process(Sample(bad_t, 0.0)) == []  # type: ignore[arg-type]
        st.process(Sample(0.1, "garbled"))  # type: ignore[arg-type]  # a bad height is a lost frame
        st.process(Sample(0.2, -10.0))
        assert st.stats.dropped == 5 and st.stats.samples == 3
        assert st.t_last_s == 0.2 and st.running


def test_a_live_loop_calling_process_answers_the_remote():
    """Live callers drive ``process()`` per frame themselves (no ``run()``): the remote must still answer."""
    from coach.station import Sample, Station, StationOptions
    from overlays.publisher import PublisherOptions
    from overlays.remote import RemoteClient, RemoteOptions

    opts = StationOptions(publisher=PublisherOptions(endpoint="tcp://127.0.0.1:0"),
                          remote=RemoteOptions(endpoint="tcp://127.0.0.1:0"))
    replies = []
    with Station(opts) as st:
        def ask() -> None:
            with RemoteClient(st.remote.endpoint, timeout_s=5.0) as c:
                replies.append(c.request("status"))

        th = threading.Thread(target=ask)
        th.start()
        t = 0.0
        while th.is_alive() and t < 10.0:  # the camera loop: one frame every 1/30 s
            st.process(Sample(t, 0.0))
            t += 1 / 30
            time.sleep(1 / 30)
        th.join()
    assert replies and replies[0]["ok"] and replies[0]["running"]
