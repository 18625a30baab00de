"""The instructor's class page: the ClassRoom rules on hand-made messages, then real `simulate`
stations (separate processes, real ZeroMQ on 127.0.0.1) seen through the real server and WebSocket."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from overlays.hud.websocket import WebSocketClient
from overlays.instructor.model import ClassRoom
from overlays.instructor.server import InstructorOptions, StationAddress, run_instructor_async
from overlays.protocol import Message
from overlays.subscriber import Subscriber, SubscriberOptions

ROOT = Path(__file__).resolve().parents[1]
SPEED = 5.0


def _msg(topic, station="s1", t_s=1.0, **body):
    return Message(topic, {"topic": topic, "v": 1, "station": station, "t_s": t_s, "seq": 0, **body})


def _comp(i, depth, set_index=0, t=None):
    t = 0.5 * i if t is None else t
    return {"session": "A", "index": i, "set_index": set_index, "t_start_s": t, "t_bottom_s": t + 0.15,
            "t_release_s": t + 0.3, "depth_mm": depth, "rate_cpm": 110.0}


def test_classroom_tiles_alerts_lost_ccf_and_record():
    room = ClassRoom(wall_iso=lambda: "2026-03-01T10:00:00+00:00")
    room.update(_msg("cpr.heartbeat", source={"kind": "camera"}, tracker={"status": "ok", "fps": 30.0},
                     session={"running": False, "id": None, "profile": "adult"}), 0.0)
    room.set_trainee("s1", "ana")
    room.update(_msg("cpr.session", event="start", session="A", profile="adult"), 0.1)
    for i in range(10):
        room.update(_msg("cpr.compression", **_comp(i, 40.0)), 0.2)
    room.update(_msg("cpr.state", compressions=10, rate_cpm=110.0, last_depth_mm=40.0, since_last_compression_s=0.2), 0.3)
    t = room.tiles(0.4)[0]
    assert t["trainee"] == "ana" and t["status"] == "alert" and t["alerts"] == ["depth out of band (10)"]
    assert t["depth_ok"] is False and t["rate_ok"] is True and t["ccf"] == pytest.approx(1.0)
    room.update(_msg("cpr.compression", **_comp(10, 55.0, set_index=1, t=10.0)), 0.5)  # a 5.2 s pause between sets
    room.update(_msg("cpr.state", compressions=11, since_last_compression_s=12.0), 0.6)
    t = room.tiles(0.7)[0]
    assert t["ccf"] == pytest.approx(1 - (10.0 - 4.8) / (10.3 - 0.0), abs=1e-6)
    assert t["alerts"] == ["pause > 10 s"]
    room.update(_msg("cpr.heartbeat", tracker={"status": "lost", "fps": None}, session={"running": True, "id": "A", "profile": "adult"}), 3.0)
    assert set(room.tiles(3.1)[0]["alerts"]) == {"station silent", "source lost", "pause > 10 s"}
    assert room.tiles(5.2)[0]["status"] == "lost"
    done = room.update(_msg("cpr.session", event="stop", session="A", profile="adult", summary={"compressions": 11}), 5.3)
    assert done["trainee"] == "ana" and len(done["compressions"]) == 11 and done["started_at"].startswith("2026-03-01")
    assert room.detail("s1", 5.4)["compressions"][-1][2] == 55.0 and room.detail("nope", 5.4) is None
    # a station that names its own trainee and level (run --trainee): shown unless the instructor named one
    room.update(_msg("cpr.session", station="s2", event="start", session="B", profile="adult", trainee="ben",
                     feedback_level="errors"), 6.0)
    room.station_trainee("s3", "cy")
    tiles = {t["station"]: t for t in room.tiles(6.1)}
    assert (tiles["s2"]["trainee"], tiles["s2"]["feedback_level"], tiles["s3"]["trainee"]) == ("ben", "errors", "cy")
    room.station_trainee("s1", "other")
    assert room.tiles(6.2)[0]["trainee"] == "ana"


def test_a_seen_session_goes_into_the_store_once(tmp_path):
    from coach.records import SessionStore
    from coach.records.seen import record_seen_session
    from coach.trainee.data import load_trainee_sessions

    store = SessionStore(tmp_path)
    comps = [{**_comp(i, 40.0 + i, set_index=i // 5), "placement_mm": 2.0, "flags": [], "duty_cycle": 0.5,
              "recoil_residual_mm": 0.5, "gap_s": 0.0, "topic": "cpr.compression", "seq": i} for i in range(10)]
    done = {"station": "s1", "trainee": "ana", "session": "A1", "profile": "adult", "feedback_level": "none",
            "started_at": "2026-03-01T10:00:00+00:00", "summary": None, "compressions": comps[::-1]}
    assert record_seen_session(store, done) == "A1"
    assert record_seen_session(store, done) is None  # already here (e.g. the station's own record)
    (row,) = store.list(trainee="ana")
    assert (row.compressions, row.source, row.station, row.state) == (10, "instructor: s1", "s1", "complete")
    (s,) = load_trainee_sessions("ana", tmp_path).sessions
    assert s.feedback_level == "none" and [c.depth_mm for c in s.compressions] == [40.0 + i for i in range(10)]
    assert s.placement_mm == (2.0,) * 10 and s.summary.sets == 2


_TAKEN: set[int] = set()


def _free_port_pair() -> int:
    """A port p with p and p - 1 free (PUB p, remote p - 1, as the defaults).

    Drawn below Linux's ephemeral range (32768+): a station binds a second or so after the draw, and
    meanwhile the test's own outgoing connections take ephemeral ports, which once took a drawn one.
    """
    import random

    rng = random.Random()
    for _ in range(200):
        p = rng.randrange(20002, 32000)
        if p in _TAKEN or p - 1 in _TAKEN:
            continue
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", p))
                b.bind(("127.0.0.1", p - 1))
        except OSError:
            continue
        _TAKEN.update((p, p - 1))
        return p
    raise RuntimeError("no free port pair")


def _stop_all(procs) -> None:
    """End the station processes: SIGINT (a clean stop), then kill what did not exit within 5 s."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    for p in procs:
        try:
            p.wait(5.0)
        except subprocess.TimeoutExpired:
            p.kill()


class _Instructor:
    def __init__(self, options, trainee_page=None, record_session=None):
        self.server, self.loop, self.stop = None, None, None
        self._ready = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._main(options, trainee_page, record_session)),
                                       daemon=True)

    async def _main(self, options, trainee_page, record_session):
        self.loop, self.stop = asyncio.get_running_loop(), asyncio.Event()

        def ready(s):
            self.server = s
            self._ready.set()

        await run_instructor_async(options, ready, self.stop, trainee_page=trainee_page, record_session=record_session)

    def start(self):
        self.thread.start()
        assert self._ready.wait(10.0)
        return self.server

    def close(self):
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(5.0)


def _tiles(ws, timeout_s=3.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        m = json.loads(ws.recv(timeout_s))
        if m["topic"] == "instructor.class":
            return {t["station"]: t for t in m["tiles"]}, m
    raise TimeoutError


def _reply(ws, timeout_s=5.0):
    while True:
        m = json.loads(ws.recv(timeout_s))
        if m["topic"] == "instructor.reply":
            return m


def test_class_page_tracks_controls_and_records_real_stations(tmp_path):
    ports = []
    procs = []
    try:
        for i in range(3):
            p = _free_port_pair()
            ports.append(p)
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "coach.cli", "simulate", "--speed", str(SPEED), "--duration", "600", "--quiet",
                 "--frame-hz", "0", "--seed", str(i), "--station-id", f"st-{i}", "--trainee", f"t-{i}",
                 "--data-dir", str(tmp_path / f"st-{i}"),
                 "--publish", f"tcp://127.0.0.1:{p}", "--remote", f"tcp://127.0.0.1:{p - 1}"],
                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        from coach.cli.instructor import class_recorder, trainee_page_from_record

        inst = _Instructor(InstructorOptions(stations=tuple(StationAddress.parse(f"tcp://127.0.0.1:{p}") for p in ports),
                                             port=0, data_dir=tmp_path / "class", status_poll_s=0.5),
                           trainee_page_from_record, class_recorder(tmp_path / "class"))
        server = inst.start()
        own = Subscriber(SubscriberOptions(connect=f"tcp://127.0.0.1:{ports[0]}", topics=("cpr.state", "cpr.session")))
        try:
            with WebSocketClient(f"ws://127.0.0.1:{server.hud.port}/ws") as ws:
                deadline = time.monotonic() + 20.0
                while time.monotonic() < deadline:
                    tiles, _ = _tiles(ws)
                    if len(tiles) == 3 and all(t["compressions"] > 0 and t["rate_cpm"] for t in tiles.values()) \
                            and len(server.remotes) == 3:
                        break
                assert len(tiles) == 3 and all(t["status"] in ("running", "alert") for t in tiles.values()), tiles
                # each tile names the trainee its station was started for (the station's status / cpr.session)
                assert {k: t["trainee"] for k, t in tiles.items()} == {f"st-{i}": f"t-{i}" for i in range(3)}
                # the tile lags the station's own newest state by under one second of wall time
                own.drain()
                newest = own.recv(2.0)
                tiles, _ = _tiles(ws)
                lag_s = (newest.payload["t_s"] - tiles["st-0"]["t_s"]) / SPEED
                assert lag_s < 1.0, lag_s
                # control through the station's remote, seen on the station's own cpr.session
                ws.send_text(json.dumps({"cmd": "stop", "station": "st-0"}))
                assert _reply(ws)["ok"]
                ws.send_text(json.dumps({"cmd": "start", "station": "st-0", "trainee": "ana"}))
                assert _reply(ws)["ok"]
                events, deadline = [], time.monotonic() + 3.0
                while len(events) < 2 and time.monotonic() < deadline:
                    m = own.recv(0.5)
                    if m is not None and m.topic == "cpr.session":
                        events.append(m.payload["event"])
                assert events == ["stop", "start"], events
                time.sleep(12.0 / SPEED)
                ws.send_text(json.dumps({"cmd": "stop", "station": "st-0"}))
                stopped = _reply(ws)
                assert stopped["ok"]
                deadline = time.monotonic() + 5.0
                while time.monotonic() < deadline:
                    tiles, msg = _tiles(ws)
                    if msg["recorded"] == 2:
                        break
                assert tiles["st-0"]["trainee"] == "ana" and msg["recorded"] == 2
                # the class record is a session store: the same sessions, compressions and level as the station's own
                from coach.records import SessionStore
                from coach.trainee.data import load_trainee_sessions

                cls, own_store = SessionStore(tmp_path / "class"), SessionStore(tmp_path / "st-0")
                (seen,) = cls.list(trainee="ana")
                mine = own_store.get(seen.id)
                assert mine.trainee == "ana" and seen.compressions == mine.compressions == \
                    stopped["summary"]["compressions"] > 5 and seen.source == "instructor: st-0"
                (s_cls,) = load_trainee_sessions("ana", cls).sessions
                (s_own,) = load_trainee_sessions("ana", own_store).sessions
                assert len(s_cls.compressions) == len(s_own.compressions) == seen.compressions
                assert s_cls.feedback_level == s_own.feedback_level == "full"
                assert [c.depth_mm for c in s_cls.compressions] == [c.depth_mm for c in s_own.compressions]
                ws.send_text(json.dumps({"cmd": "trainee-page", "station": "st-0"}))
                deadline = time.monotonic() + 20.0
                while True:
                    m = json.loads(ws.recv(20.0))
                    if m["topic"] == "instructor.trainee_page" or time.monotonic() > deadline:
                        break
                assert m["trainee"] == "ana" and "CPR practice: ana" in m["html"] and "data:image/png;base64" in m["html"]
                # a station disappears: its tile says "lost" within 3 s, the others keep updating
                before = tiles["st-2"]["t_s"]
                procs[1].send_signal(signal.SIGKILL)
                t0 = time.monotonic()
                while time.monotonic() - t0 < 3.0:
                    tiles, _ = _tiles(ws)
                    if tiles["st-1"]["status"] == "lost":
                        break
                assert tiles["st-1"]["status"] == "lost", tiles["st-1"]
                assert tiles["st-2"]["status"] != "lost" and tiles["st-2"]["t_s"] > before
        finally:
            own.close()
            inst.close()
    finally:
        _stop_all(procs)


_DOM_TILES = """Object.fromEntries([...document.querySelectorAll('.tile')].map(e => [e.dataset.station, {
  trainee: e.querySelector('.trainee').textContent, n: Number(e.querySelector('.compressions').textContent),
  rate: e.querySelector('.rate').textContent, status: e.dataset.status || ''}]))"""


class _OwnStates:
    """Each station's own cpr.state, as its subscribers receive it: station -> [(monotonic s, compressions, rate)]."""

    def __init__(self, endpoints):
        self.subs = [Subscriber(SubscriberOptions(connect=ep, topics=("cpr.state",))) for ep in endpoints]
        self.seen: dict[str, list] = {}
        self._quit = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self._quit.is_set():
            for sub in self.subs:
                m = sub.recv(0.002)
                while m is not None:
                    p = m.payload
                    self.seen.setdefault(p["station"], []).append((time.monotonic(), p["compressions"], p["rate_cpm"]))
                    m = sub.recv(0.0)

    def within(self, station, t_end, window_s=1.0):
        return [(n, r) for t, n, r in self.seen.get(station, []) if t_end - window_s <= t <= t_end]

    def close(self):
        self._quit.set()
        self.thread.join(5.0)
        for s in self.subs:
            s.close()


@pytest.mark.slow
def test_eight_stations_in_headless_chromium(tmp_path):
    """Must-show: 8 `simulate` stations and the instructor in Chromium: each tile shows its station's trainee,
    compressions and rate within 1 s of the station's own state; the class store holds every session with the
    station's compression count; a killed station's tile says "lost" within 3 s and the others keep updating."""
    from browser_helpers import CHROMIUM

    if CHROMIUM is None:
        pytest.skip("headless Chromium absent: apt-get install -y chromium")
    from browser_helpers import chromium_page
    from coach.cli.instructor import class_recorder, trainee_page_from_record
    from coach.records import SessionStore

    n_st = 8
    ports, procs = [], []
    try:
        for i in range(n_st):
            p = _free_port_pair()
            ports.append(p)
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "coach.cli", "simulate", "--duration", "600", "--quiet", "--frame-hz", "0",
                 "--seed", str(i), "--station-id", f"st-{i}", "--trainee", f"t-{i}", "--data-dir", str(tmp_path / f"st-{i}"),
                 "--publish", f"tcp://127.0.0.1:{p}", "--remote", f"tcp://127.0.0.1:{p - 1}"],
                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=(tmp_path / f"st-{i}.err").open("w")))
        own = _OwnStates([f"tcp://127.0.0.1:{p}" for p in ports])
        inst = _Instructor(InstructorOptions(stations=tuple(StationAddress.parse(f"tcp://127.0.0.1:{p}") for p in ports),
                                             port=0, data_dir=tmp_path / "class", status_poll_s=0.5),
                           trainee_page_from_record, class_recorder(tmp_path / "class"))
        server = inst.start()
        names = [f"st-{i}" for i in range(n_st)]
        try:
            with chromium_page(server.url, 1400, 900) as dt, WebSocketClient(f"ws://127.0.0.1:{server.hud.port}/ws") as ws:
                deadline = time.monotonic() + 40.0
                while time.monotonic() < deadline:
                    dom = dt.eval(_DOM_TILES) or {}
                    if len(dom) == n_st and all(d["n"] > 0 and d["trainee"].startswith("Trainee: t-") for d in dom.values()):
                        break
                    time.sleep(0.2)
                errs = {n: (tmp_path / f"{n}.err").read_text()[-300:] for n in names if n not in dom}
                assert sorted(dom) == names, (dom, errs)
                for _ in range(3):  # the page against each station's own state of the last second
                    dom, t_read = dt.eval(_DOM_TILES), time.monotonic()
                    for i, name in enumerate(names):
                        d, recent = dom[name], own.within(name, t_read)
                        assert d["trainee"] == f"Trainee: t-{i}"
                        assert recent and min(n for n, _ in recent) <= d["n"] <= max(n for n, _ in recent), (name, d, recent)
                        assert d["rate"] in {"–" if r is None else f"{r:.0f}" for _, r in recent}, (name, d, recent)
                    time.sleep(0.7)
                # the class record: restart every session from the page's API so the instructor sees each whole
                for name in names:
                    for cmd in ("stop", "start"):
                        ws.send_text(json.dumps({"cmd": cmd, "station": name}))
                        assert _reply(ws)["ok"], (name, cmd)
                time.sleep(6.0)
                stopped = {}
                for name in names:
                    ws.send_text(json.dumps({"cmd": "stop", "station": name}))
                    r = _reply(ws)
                    assert r["ok"], r
                    stopped[name] = r["session"]
                cls = SessionStore(tmp_path / "class")
                deadline = time.monotonic() + 10.0
                # a session row appears as "running" when its record is opened, "complete" once written
                def complete() -> bool:
                    done = {r.id for r in cls.list() if r.state == "complete"}
                    return set(stopped.values()) <= done and all(
                        SessionStore(tmp_path / n).get(stopped[n]).state == "complete" for n in names)

                while time.monotonic() < deadline and not complete():
                    time.sleep(0.2)
                rows = {r.id: r for r in cls.list()}
                for i, name in enumerate(names):
                    seen, mine = rows[stopped[name]], SessionStore(tmp_path / name).get(stopped[name])
                    assert seen.compressions == mine.compressions > 5 and seen.trainee == mine.trainee == f"t-{i}"
                for name in names:
                    ws.send_text(json.dumps({"cmd": "start", "station": name}))
                    assert _reply(ws)["ok"]
                # a station disappears: its tile says "lost" within 3 s; the others keep updating
                before = dt.eval(_DOM_TILES)
                procs[3].send_signal(signal.SIGKILL)
                t0 = time.monotonic()
                dt.wait("document.querySelector('.tile[data-station=\"st-3\"]').dataset.status", "lost", timeout_s=3.0)
                lost_s = time.monotonic() - t0
                time.sleep(1.0)
                after = dt.eval(_DOM_TILES)
                assert all(after[n]["status"] != "lost" and after[n]["n"] > before[n]["n"] for n in names if n != "st-3"), after
                print(f"8 stations: st-3 lost after {lost_s:.2f} s")
        finally:
            inst.close()
            own.close()
    finally:
        _stop_all(procs)
