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
