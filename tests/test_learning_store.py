"""One store for the learning rules: recorded sessions of a trainee -> the station's plan for the next one
(real `simulate` stations through the CLI, real records store, real ZeroMQ), and the cohort export."""
from __future__ import annotations

import csv

from live_helpers import Collector, free_tcp_endpoint

from coach.cli import main
from coach.learning.plan import coaching_plan
from coach.records import SessionStore
from coach.trainee.data import load_trainee_sessions


def _simulate(data_dir, trainee, seed, scenario="good", publish="tcp://127.0.0.1:0", speed=40):
    return main(["simulate", "--scenario", scenario, "--duration", "25", "--speed", str(speed), "--quiet",
                 "--frame-hz", "0", "--no-remote", "--publish", publish, "--seed", str(seed),
                 "--data-dir", str(data_dir), "--trainee", trainee])


def _watched(data_dir, trainee, seed):
    """A station session for ``trainee`` watched by a real subscriber: (overlay levels shown, cpr.session bodies)."""
    ep = free_tcp_endpoint()
    col = Collector(ep, topics=("cpr.overlay", "cpr.session"))
    try:
        assert _simulate(data_dir, trainee, seed, publish=ep, speed=10) == 0
        assert col.stopped.wait(5)
    finally:
        col.close()
    levels = {p["level"] for o in col.of("cpr.overlay") for p in o["primitives"] if p.get("role") == "feedback_level"}
    return levels, col.of("cpr.session")


def test_recorded_sessions_set_the_next_sessions_feedback_level(tmp_path, capsys):
    d = tmp_path / "data"
    for seed in (1, 2):  # two good sessions at full feedback ...
        assert _simulate(d, "ana", seed) == 0
    history = load_trainee_sessions("ana", d)
    assert [s.feedback_level for s in history.sessions] == ["full", "full"]
    plan = coaching_plan(history, "adult")
    assert plan.feedback_level == "errors"  # ... step the level down (docs/learning.md, fading)
    capsys.readouterr()
    # the station for ana starts at the plan's level: on its overlay, in cpr.session and in its record
    levels, session_msgs = _watched(d, "ana", 3)
    assert "feedback level   errors (last 2 sessions at least 80 % correct" in capsys.readouterr().out
    assert levels == {"errors"}
    stop = [p for p in session_msgs if p["event"] == "stop"][-1]
    assert stop["trainee"] == "ana" and stop["feedback_level"] == "errors"
    third = load_trainee_sessions("ana", d).sessions[-1]
    assert third.feedback_level == "errors" and third.session_id == stop["session"]
    # a trainee with no history starts at full feedback
    assert _watched(d, "newcomer", 4)[0] == {"full"}
    # three good sessions: set-summary next; a poor session there steps ana's level back up one
    assert _simulate(d, "ana", 5, scenario="shallow") == 0
    history = load_trainee_sessions("ana", d)
    assert [s.feedback_level for s in history.sessions] == ["full", "full", "errors", "set-summary"]
    assert coaching_plan(history, "adult").feedback_level == "errors"


def test_cohort_export_has_a_row_per_stored_session_and_compression(tmp_path, capsys):
    d = tmp_path / "data"
    for trainee, seed, scenario in (("ana", 1, "good"), ("ben", 2, "realistic"), ("ana", 3, "leaning")):
        assert _simulate(d, trainee, seed, scenario=scenario) == 0
    out = tmp_path / "export"
    capsys.readouterr()
    assert main(["sessions", "export", "--all", "--csv", str(out), "--data-dir", str(d)]) == 0
    rows = {r.id: r for r in SessionStore(d).list()}
    with open(out / "sessions.csv", newline="") as fh:
        sessions = list(csv.DictReader(fh))
    with open(out / "compressions.csv", newline="") as fh:
        comps = list(csv.DictReader(fh))
    assert len(sessions) == len(rows) == 3
    assert {s["session"]: int(s["compressions"]) for s in sessions} == {k: r.compressions for k, r in rows.items()}
    assert len(comps) == sum(r.compressions for r in rows.values()) > 30
    for sid, r in rows.items():
        mine = [c for c in comps if c["session"] == sid]
        assert len(mine) == r.compressions and {c["trainee"] for c in mine} == {r.trainee}
        assert {c["station"] for c in mine} == {"sim-1"}
    assert f"3 session(s), {len(comps)} compression(s)" in capsys.readouterr().out
    assert main(["sessions", "export", "--all", "--trainee", "ben", "--csv", str(tmp_path / "ben"),
                 "--data-dir", str(d)]) == 0
    with open(tmp_path / "ben" / "sessions.csv", newline="") as fh:
        assert [s["trainee"] for s in csv.DictReader(fh)] == ["ben"]
    assert main(["sessions", "export", "--all", "--json", "--data-dir", str(d)]) == 2
    assert "--all needs --csv DIR" in capsys.readouterr().err
