"""Session records: the station writes every session to JSONL + SQLite; crashes and bad lines cost nothing else."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from coach.cli import main as cli_main
from coach.records import (RecordWarning, SessionRecorder, SessionStore, StoreError, platform_data_dir,
                           read_session, resolve_data_dir)
from records_helpers import as_dicts, free_tcp_endpoint

REPO = Path(__file__).resolve().parent.parent


def _station_session(tmp_path, seconds=25.0, seed=2, trainee="t-7"):
    """A real Station with a recorder, fed the simulator's samples at full speed."""
    from coach.core.simulator import simulate
    from coach.records import calibration_info
    from coach.simsource import SimSourceOptions, sim_options_for, sim_samples
    from coach.station import Station, StationOptions
    from overlays.publisher import PublisherOptions

    store = SessionStore(tmp_path / "data")
    rec = SessionRecorder(store, calibration=calibration_info("marker", file="station.json"))
    st = Station(StationOptions(station_id="lab-2", trainee_id=trainee, source_kind="simulator", remote=None,
                                publisher=PublisherOptions(endpoint="tcp://127.0.0.1:0")), recorder=rec)
    trace = simulate(sim_options_for("leaning", seed=seed, duration_s=seconds, profile=None))
    published = []
    evented = []
    for s in sim_samples(trace, SimSourceOptions(frame_hz=0)):
        published += st.process(s)
        if len(published) >= 10 and not evented:
            st.record_event("source_lost", s.t_s, reason="test unplug")
            evented.append(s.t_s)
    summary = st.stop_session()
    st.close()
    return store, rec, published, summary


def test_station_records_every_compression_sample_and_the_summary(tmp_path):
    store, rec, published, summary = _station_session(tmp_path)
    rows = store.list()
    assert len(rows) == 1
    row = rows[0]
    assert (row.state, row.trainee, row.station, row.profile) == ("complete", "t-7", "lab-2", "adult")
    assert row.compressions == len(published) == summary.compressions > 20
    loaded = store.load(row.id[:6])  # a prefix is enough
    assert as_dicts(loaded.log.compressions) == as_dicts(published)
    assert loaded.log.t_s.size > 600 and loaded.summary.to_dict() == summary.to_dict()
    assert loaded.meta["calibration"]["mode"] == "marker" and loaded.meta["trainee_id"] == "t-7"
    assert [e["event"] for e in loaded.log.events] == ["source_lost"]
    assert loaded.log.feedback and loaded.log.feedback[0]["prompt"] is not None  # the leaning trainee was coached
    assert store.list(trainee="t-7") == rows and store.list(trainee="nobody") == []


def test_a_station_without_recorder_writes_nothing(tmp_path, monkeypatch):
    from coach.station import Sample, Station, StationOptions
    from overlays.publisher import PublisherOptions

    monkeypatch.setenv("CPR_COACH_DATA", str(tmp_path / "d"))
    with Station(StationOptions(remote=None, publisher=PublisherOptions(endpoint="tcp://127.0.0.1:0"))) as st:
        for i in range(50):
            st.process(Sample(t_s=i / 30, height_mm=100.0))
        st.record_event("source_lost")  # no recorder: a no-op
    assert not (tmp_path / "d").exists()


def test_sigkill_mid_session_leaves_an_interrupted_session_with_every_published_compression(tmp_path):
    """A real `simulate` process recording, a real SUB on 127.0.0.1, then kill -9."""
    from overlays.subscriber import Subscriber, SubscriberOptions

    data = tmp_path / "data"
    ep = free_tcp_endpoint()
    proc = subprocess.Popen(
        [sys.executable, "-m", "coach.cli", "simulate", "--speed", "8", "--duration", "120", "--data-dir", str(data),
         "--no-remote", "--publish", ep, "--frame-hz", "0", "--quiet", "--trainee", "t-kill", "--seed", "3"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    sub = Subscriber(SubscriberOptions(connect=ep, topics=("cpr.compression",), rcvhwm=100_000))
    got: list[tuple[float, int]] = []  # (receive time, index)
    try:
        t_end = time.monotonic() + 40
        while time.monotonic() < t_end and len(got) < 40 and proc.poll() is None:
            m = sub.recv(0.2)
            if m is not None:
                got.append((time.monotonic(), int(m.payload["index"])))
        assert len(got) >= 40, f"only {len(got)} compressions received: {proc.stdout.read1().decode() if proc.poll() is not None else ''}"
        t_kill = time.monotonic() + 1.0
        while time.monotonic() < t_kill:  # keep receiving until the kill: some arrive in the last second
            m = sub.recv(0.05)
            if m is not None:
                got.append((time.monotonic(), int(m.payload["index"])))
        os.kill(proc.pid, signal.SIGKILL)
        t_killed = time.monotonic()
        proc.wait(10)
    finally:
        sub.close()
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    store = SessionStore(data)  # the next open recovers it
    rows = store.list()
    assert len(rows) == 1 and rows[0].state == "interrupted" and rows[0].trainee == "t-kill"
    assert store.recovered == [rows[0].id]
    rec = store.load(rows[0].id)
    on_disk = [c.index for c in rec.log.compressions]
    assert on_disk == list(range(len(on_disk)))  # in order, none missing in between
    must = [i for t, i in got if t <= t_killed - 1.0]  # published at least a second before the kill
    assert must and set(must) <= set(on_disk)
    assert set(i for _, i in got) <= set(on_disk) | {max(on_disk) + 1, max(on_disk) + 2}
    # the index re-derives the figures from the file
    assert rows[0].compressions == len(on_disk) and rows[0].mean_depth_mm == pytest.approx(
        sum(c.depth_mm for c in rec.log.compressions) / len(on_disk))
    assert rec.summary.compressions == len(on_disk) and rec.log.summary is None
    assert SessionStore(data).recovered == []  # once recovered, it stays recovered


def test_a_corrupt_and_a_truncated_line_are_skipped_with_a_warning_naming_file_and_line(tmp_path):
    store, rec, published, _ = _station_session(tmp_path, seconds=15.0)
    path = Path(store.list()[0].path)
    lines = path.read_text().splitlines()
    k = next(i for i, ln in enumerate(lines) if '"kind":"compression"' in ln)
    garbled_was_compression = '"kind":"compression"' in lines[k + 1]
    samples_kept = sum('"kind":"sample"' in ln for j, ln in enumerate(lines) if j != k + 1)
    lines[k + 1] = lines[k + 1][:17] + "\x00garbage{"  # one garbled line after the first compression
    body = "\n".join(lines[:-1]) + "\n" + lines[-1][: len(lines[-1]) // 2]  # the summary cut mid-line
    path.write_text(body)
    with pytest.warns(RecordWarning) as caught:
        log = read_session(path)
    msgs = [str(w.message) for w in caught]
    assert any(f"{path}: line {k + 2}:" in m for m in msgs), msgs
    assert any(f"{path}: line {len(lines)}:" in m and "truncated" in m for m in msgs), msgs
    assert len(msgs) == 2
    assert len(log.compressions) == len(published) - int(garbled_was_compression)
    assert log.t_s.size == samples_kept
    assert log.summary is None  # the cut summary line is gone; nothing else is


def test_the_cli_prints_skipped_lines_as_one_line_warnings(tmp_path, capsys):
    store, rec, published, _ = _station_session(tmp_path, seconds=10.0)
    row = store.list()[0]
    with open(row.path, "a") as fh:
        fh.write('{"kind":"compression","index":')  # a writer killed mid-line
    assert cli_main(["sessions", "show", row.id, "--data-dir", str(store.data_dir)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    n = len(Path(row.path).read_text().splitlines())
    assert err == [f"cpr-coach: warning: {row.path}: line {n}: truncated (the writer stopped mid-line); line skipped"]


def test_a_newer_schema_database_is_refused_with_one_line(tmp_path, capsys):
    data = tmp_path / "data"
    SessionStore(data)
    with sqlite3.connect(data / "sessions.sqlite") as con:
        con.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(StoreError, match=r"sessions\.sqlite: session index schema version 99 is newer"):
        SessionStore(data)
    assert cli_main(["sessions", "list", "--data-dir", str(data)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(data / "sessions.sqlite") in err and "version 99" in err


def test_a_garbage_database_is_refused_with_one_line(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / "sessions.sqlite").write_bytes(b"this is not sqlite at all" * 100)
    assert cli_main(["sessions", "list", "--data-dir", str(data)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "sessions.sqlite" in err


def test_writer_thins_samples_when_it_falls_behind_but_never_drops_compressions(tmp_path):
    from coach.records import WriterOptions
    from coach.records import format as fmt
    from coach.records.writer import SessionWriter
    from records_helpers import comp

    w = SessionWriter(tmp_path / "s.jsonl", fmt.header_line("s", {}), WriterOptions(max_pending_samples=50))
    for i in range(5000):  # far faster than one line each: the queue outruns the writer
        w.put(fmt.sample_line(i / 30, 100.0, True), sample=True)
        if i % 100 == 0:
            w.put(fmt.compression_line(comp(i // 100, 0, i / 30, 55.0, 110.0, 0.0)))
    w.close(wait=True)
    log = read_session(tmp_path / "s.jsonl")
    assert [c.index for c in log.compressions] == list(range(50))
    assert w.samples_thinned > 0 and log.t_s.size == 5000 - w.samples_thinned
    assert any(e["event"] == "samples_thinned" for e in log.events)


def test_data_dir_flag_then_environment_then_platform(tmp_path):
    assert resolve_data_dir(tmp_path / "flag", env={"CPR_COACH_DATA": "/x"}) == tmp_path / "flag"
    assert resolve_data_dir(None, env={"CPR_COACH_DATA": str(tmp_path / "env")}) == tmp_path / "env"
    home = Path("/home/u")
    assert platform_data_dir({}, "linux", home) == home / ".local/share/cpr-coach"
    assert platform_data_dir({"XDG_DATA_HOME": "/xdg"}, "linux", home) == Path("/xdg/cpr-coach")
    assert platform_data_dir({}, "darwin", home) == home / "Library/Application Support/cpr-coach"
    assert platform_data_dir({"LOCALAPPDATA": "C:/L"}, "win32", home) == Path("C:/L/cpr-coach")


def test_sessions_cli_list_show_export_delete(tmp_path, capsys):
    store, rec, published, summary = _station_session(tmp_path, seconds=12.0, trainee="t-9")
    d = str(store.data_dir)
    sid = store.list()[0].id
    assert cli_main(["sessions", "list", "--trainee", "t-9", "--data-dir", d]) == 0
    out = capsys.readouterr().out
    assert sid in out and "complete" in out and f"{len(published):>4}" in out
    assert cli_main(["sessions", "list", "--trainee", "t-0", "--data-dir", d]) == 0
    assert "no sessions for trainee t-0" in capsys.readouterr().out
    assert cli_main(["sessions", "show", sid, "--data-dir", d]) == 0
    out = capsys.readouterr().out
    assert f"compressions    {len(published)}" in out and "marker" in out
    csv_path, json_path, trace_path = tmp_path / "c.csv", tmp_path / "s.json", tmp_path / "t.csv"
    assert cli_main(["sessions", "export", sid, "--csv", "-o", str(csv_path), "--data-dir", d]) == 0
    rows = csv_path.read_text().splitlines()
    assert rows[0].startswith("index,set_index,t_start_s") and len(rows) == len(published) + 1
    assert float(rows[1].split(",")[5]) == published[0].depth_mm
    assert cli_main(["sessions", "export", sid, "--json", "-o", str(json_path), "--data-dir", d]) == 0
    doc = json.loads(json_path.read_text())
    assert doc["summary"]["compressions"] == len(published) and doc["meta"]["trainee_id"] == "t-9"
    assert len(doc["samples"]["t_s"]) == len(doc["samples"]["height_mm"]) > 300
    # the trace export is analyze-trace input, and analysing it gives the recorded compressions back
    assert cli_main(["sessions", "export", sid, "--trace", "-o", str(trace_path), "--data-dir", d]) == 0
    assert cli_main(["analyze-trace", str(trace_path), "--json", str(tmp_path / "a.json"), "--no-record"]) == 0
    again = json.loads((tmp_path / "a.json").read_text())
    assert again["summary"]["compressions"] == len(published)
    capsys.readouterr()
    assert cli_main(["sessions", "delete", sid, "--data-dir", d]) == 0
    assert not store.path_for(sid).exists() and store.list() == []
    assert cli_main(["sessions", "show", sid, "--data-dir", d]) == 2
    assert "no session" in capsys.readouterr().err


def test_analyze_trace_records_a_session_unless_told_not_to(tmp_path, capsys):
    from coach.core.simulator import SimOptions, simulate

    csv = tmp_path / "t.csv"
    simulate(SimOptions(seed=4, duration_s=20.0)).write_csv(csv)
    data = str(tmp_path / "data")
    assert cli_main(["analyze-trace", str(csv), "--json", str(tmp_path / "a.json"), "--data-dir", data,
                     "--trainee", "t-1"]) == 0
    out = capsys.readouterr().out
    doc = json.loads((tmp_path / "a.json").read_text())
    (row,) = SessionStore(data).list()
    assert row.id in out and row.state == "complete" and row.trainee == "t-1" and row.source == f"trace: {csv}"
    assert row.compressions == doc["summary"]["compressions"] > 20
    rec = SessionStore(data).load(row.id)
    assert rec.log.t_s.size == doc["samples"] and rec.meta["calibration"]["mode"] == "trace"
    assert cli_main(["analyze-trace", str(csv), "--json", str(tmp_path / "b.json"), "--data-dir", data,
                     "--no-record"]) == 0
    assert len(SessionStore(data).list()) == 1


@pytest.mark.slow
def test_analyze_video_records_the_session_with_its_geometry(tmp_path, capsys, hands_dir, hand_model_path):
    """A real clip through MediaPipe: the recorded session has every frame's sample and the geometry mode."""
    data = str(tmp_path / "data")
    video = hands_dir / "one_hand_640x360.mp4"
    assert cli_main(["analyze", str(video), "--hfov", "65", "--max-frames", "40", "--no-progress",
                     "--model", str(hand_model_path), "--data-dir", data, "--trainee", "t-v"]) == 0, capsys.readouterr().err
    (row,) = SessionStore(data).list()
    rec = SessionStore(data).load(row.id)
    assert row.state == "complete" and row.trainee == "t-v" and row.source == f"video: {video}"
    assert rec.log.t_s.size == 40 and rec.log.hands_visible.sum() >= 30
    assert rec.meta["calibration"]["mode"] == "hand-size" and rec.meta["calibration"]["depth_uncertainty_mm"] == 10.0
    from coach.report import build_report

    basis = build_report(rec).html.split("What the numbers rest on")[1]
    assert "the hand&#x27;s own size" in basis and "3-10 mm" in basis


def test_a_disk_that_refuses_the_file_never_stops_the_station(tmp_path, monkeypatch):
    """Fault injection: the session file cannot be created; the station coaches and publishes on."""
    from coach.records import writer as writer_mod
    from coach.station import Sample, Station, StationOptions
    from overlays.publisher import PublisherOptions

    def refuse(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer_mod.SessionWriter, "__init__", refuse)
    rec = SessionRecorder(SessionStore(tmp_path / "d"))
    with Station(StationOptions(remote=None, publisher=PublisherOptions(endpoint="tcp://127.0.0.1:0")),
                 recorder=rec) as st:
        for i in range(90):
            st.process(Sample(t_s=i / 30, height_mm=100.0))
        st.record_event("source_lost")
        assert st.stats.samples == 90 and st.running
        assert st.record_error and "No space left on device" in st.record_error


def test_calibration_info_carries_the_sessions_own_stated_uncertainty():
    """``analyze`` passes the geometry's stated uncertainty; the record keeps it beside the mode's worst case."""
    from coach.records import calibration_info

    assert calibration_info("marker")["depth_uncertainty_mm"] == 4.0
    info = calibration_info("marker", depth_uncertainty_mm=2.4)
    assert info["stated_depth_uncertainty_mm"] == 2.4 and "±2.4 mm" in info["uncertainty_text"]
    assert info["depth_uncertainty_mm"] == 4.0
    assert "stated_depth_uncertainty_mm" not in calibration_info("marker", depth_uncertainty_mm=float("nan"))
