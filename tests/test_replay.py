"""Replay: a recorded session goes back on the protocol, through the real station, with the same compressions."""
from __future__ import annotations

import threading
import time

from coach.cli import main as cli_main
from coach.records import SessionStore
from coach.records import format as fmt
from overlays.subscriber import Subscriber, SubscriberOptions
from records_helpers import free_tcp_endpoint

KEYS = ("index", "set_index", "t_start_s", "t_bottom_s", "t_release_s", "depth_mm", "rate_cpm", "duty_cycle",
        "recoil_residual_mm", "flags", "gap_s")


def _collect(ep: str, out: list, stop: threading.Event, ready: threading.Event) -> None:
    sub = Subscriber(SubscriberOptions(connect=ep, topics=("cpr.compression", "cpr.session"), rcvhwm=100_000))
    ready.set()
    try:
        while not stop.is_set():
            m = sub.recv(0.1)
            if m is not None:
                out.append(m)
    finally:
        sub.close()


def _replay(data_dir, sid: str, extra=()) -> tuple[list, int]:
    ep = free_tcp_endpoint()
    msgs: list = []
    stop, ready = threading.Event(), threading.Event()
    th = threading.Thread(target=_collect, args=(ep, msgs, stop, ready), daemon=True)
    th.start()
    ready.wait(5)
    rc = cli_main(["replay", sid, "--speed", "20", "--publish", ep, "--data-dir", str(data_dir), "--quiet",
                   "--wait", "0.4", *extra])
    time.sleep(0.3)
    stop.set()
    th.join(5)
    return msgs, rc


def test_replay_republishes_the_recorded_compressions(tmp_path, capsys):
    data = tmp_path / "data"
    # record: a real simulated station with the recorder (simulate --data-dir), trainee and all
    assert cli_main(["simulate", "--duration", "25", "--speed", "50", "--seed", "6", "--scenario", "leaning",
                     "--publish", free_tcp_endpoint(), "--no-remote", "--frame-hz", "0", "--quiet",
                     "--data-dir", str(data), "--trainee", "t-3"]) == 0
    assert "recorded in" in capsys.readouterr().out
    store = SessionStore(data)
    (row,) = store.list()
    recorded = store.load(row.id).log.compressions
    assert len(recorded) > 25 and row.state == "complete"
    msgs, rc = _replay(data, row.id)
    assert rc == 0
    comps = [m.payload for m in msgs if m.topic == "cpr.compression"]
    want = [{k: v for k, v in fmt.compression_line(c).items() if k in KEYS} for c in recorded]
    assert [{k: c[k] for k in KEYS} for c in comps] == want  # the same compressions, value for value
    sessions = [m.payload for m in msgs if m.topic == "cpr.session"]
    assert [s["event"] for s in sessions] == ["start", "stop"]
    assert sessions[0]["trainee"] == "t-3" and sessions[1]["summary"]["compressions"] == len(recorded)
    assert f"replayed {len(recorded)} compressions (recorded {len(recorded)})" in capsys.readouterr().out
    assert len(store.list()) == 1  # a replay is not recorded again


def test_replay_of_an_unknown_session_is_one_line(tmp_path, capsys):
    SessionStore(tmp_path / "d")
    assert cli_main(["replay", "nope", "--data-dir", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no session 'nope'" in err


def test_replay_measures_against_the_recorded_rest_height(tmp_path):
    """A live session's core starts from the rest hold's height; the record keeps it and the replay uses it."""
    import numpy as np

    from coach.core.simulator import simulate
    from coach.records import SessionRecorder
    from coach.simsource import SimSourceOptions, sim_options_for, sim_samples
    from coach.station import Station, StationOptions
    from overlays.publisher import PublisherOptions

    trace = simulate(sim_options_for("leaning", seed=9, duration_s=20.0, profile=None))
    rest = float(np.median(trace.rest_mm))  # what a rest hold would have measured
    store = SessionStore(tmp_path / "data")
    rec = SessionRecorder(store)
    with Station(StationOptions(remote=None, rest_height_mm=rest, publisher=PublisherOptions(endpoint="tcp://127.0.0.1:0")),
                 recorder=rec) as st:
        live = [c for s in sim_samples(trace, SimSourceOptions(frame_hz=0)) for c in st.process(s)]
    loaded = store.load(rec.last_session_id)
    assert loaded.meta["core"]["rest_height_mm"] == rest
    msgs, rc = _replay(tmp_path / "data", rec.last_session_id)
    got = [m.payload for m in msgs if m.topic == "cpr.compression"]
    assert rc == 0 and len(got) == len(live) > 20
    assert [c["recoil_residual_mm"] for c in got] == [c.recoil_residual_mm for c in live]
    assert [c["depth_mm"] for c in got] == [c.depth_mm for c in live]


def test_a_rest_moved_live_is_moved_again_by_the_replay(tmp_path):
    """The pipeline may move the rest beside the heights (a set's tops rose above a rest it took at leaning tops): the
    live station's core is told with that sample (``Sample.rest_move_mm``), the record notes it (``rest_moved``), and
    the replay makes the same move before the same sample: the same compressions, which a replay without the move
    would not give (its depths stay 6 mm shallow from there on)."""
    from dataclasses import replace

    import numpy as np

    from coach.core.simulator import simulate
    from coach.records import SessionRecorder
    from coach.simsource import SimSourceOptions, sim_options_for, sim_samples
    from coach.station import Station, StationOptions
    from overlays.publisher import PublisherOptions

    trace = simulate(sim_options_for("leaning", seed=9, duration_s=20.0, profile=None))
    rest = float(np.median(trace.rest_mm)) - 6.0  # a rest taken at leaning tops: 6 mm low
    samples = list(sim_samples(trace, SimSourceOptions(frame_hz=0)))
    k = next(i for i, s in enumerate(samples) if s.t_s >= 8.0)
    samples[k] = replace(samples[k], rest_move_mm=6.0)
    store = SessionStore(tmp_path / "data")
    rec = SessionRecorder(store)
    opts = StationOptions(remote=None, rest_height_mm=rest, publisher=PublisherOptions(endpoint="tcp://127.0.0.1:0"))
    with Station(opts, recorder=rec) as st:
        live = [c for s in samples for c in st.process(s)]
        assert st.options.rest_height_mm == rest + 6.0  # (a session started after the move starts there)
    with Station(opts) as st:
        unmoved = [c for s in samples for c in st.process(replace(s, rest_move_mm=0.0))]
    loaded = store.load(rec.last_session_id)
    assert [(e["t_s"], e["data"]["mm"]) for e in loaded.log.events if e["event"] == "rest_moved"] == [(samples[k].t_s, 6.0)]
    msgs, rc = _replay(tmp_path / "data", rec.last_session_id)
    got = [m.payload for m in msgs if m.topic == "cpr.compression"]
    assert rc == 0 and len(got) == len(live) > 20
    assert [c["depth_mm"] for c in got] == [c.depth_mm for c in live]
    late = [(a.depth_mm, b.depth_mm) for a, b in zip(live, unmoved) if a.t_bottom_s > 12.0]
    assert late and min(a - b for a, b in late) > 3.0
