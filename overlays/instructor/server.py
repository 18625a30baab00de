"""``cpr-coach instructor``: the class page, served by the HUD's own HTTP + WebSocket server.

Why the HUD server and not a second one: the same SUB -> WebSocket bridge,
Host/Origin checks and per-page bounded queues serve both; the instructor
only plugs in (``HudServer`` keyword arguments): more PUB endpoints on the one
SUB socket, a hook that feeds each message to the ``ClassRoom`` model instead
of forwarding it raw (16 stations x 30 Hz would swamp a tablet), the class
page's static files, and an answer to what the page sends (control, detail).

The page gets one ``instructor.class`` payload (all tiles) ``push_hz`` times a
second, latest-only per page, so a slow browser only skips snapshots. Control
goes to each station's remote (REQ/REP, ``overlays.remote.RemoteClient``) in a
worker thread with a timeout, so a dead station never stalls the loop.
Finished sessions go to the class record through the ``record_session`` hook (the CLI passes
``coach.records.seen.record_seen_session`` on the instructor's session store; this layer does not
import the records), in a worker thread so a slow disk never stalls the page.

    server = InstructorServer(InstructorOptions(stations=(StationAddress("tcp://127.0.0.1:5556"),)),
                              record_session=lambda done: ..., trainee_page=lambda tid, data_dir: html)
"""
from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..endpoints import EndpointError, check
from ..protocol import ProtocolError, loads_bounded
from ..hud.server import HudError, HudOptions, HudServer
from .model import ClassOptions, ClassRoom

TOPIC_CLASS = "instructor.class"  # the page's payload (not a station topic)
STATIC = {
    "/": ("overlays.instructor", "index.html", "text/html; charset=utf-8"),
    "/index.html": ("overlays.instructor", "index.html", "text/html; charset=utf-8"),
    "/instructor.js": ("overlays.instructor", "instructor.js", "text/javascript; charset=utf-8"),
    "/instructor.css": ("overlays.instructor", "instructor.css", "text/css; charset=utf-8"),
}
CONTROL = ("start", "stop", "set-profile")


@dataclass(frozen=True)
class StationAddress:
    publish: str  # the station's PUB endpoint
    remote: str | None = None  # its remote-control REP (None: PUB port - 1, as the defaults 5556/5555)

    @classmethod
    def parse(cls, text: str) -> "StationAddress":
        """``tcp://HOST:PUB`` or ``tcp://HOST:PUB,tcp://HOST:REMOTE``."""
        pub, _, rem = text.partition(",")
        try:
            pub = check(pub.strip(), bind=False)
            if rem:
                return cls(pub, check(rem.strip(), bind=False))
        except EndpointError as exc:
            raise HudError(str(exc)) from None
        head, _, port = pub.rpartition(":")
        if not pub.startswith("tcp://") or not port.isdigit():
            raise HudError(f"station {text!r}: give its remote as PUB,REMOTE (no default for {pub})")
        return cls(pub, f"{head}:{int(port) - 1}")


@dataclass(frozen=True)
class InstructorOptions:
    stations: tuple[StationAddress, ...] = ()
    host: str = "127.0.0.1"
    port: int = 8770
    data_dir: Path = Path("class-data")  # the class record's session store (passed to the hooks)
    push_hz: float = 10.0  # tile snapshots per second to each page
    status_poll_s: float = 3.0  # ask each station's remote who it is (station id <-> remote endpoint)
    remote_timeout_s: float = 1.0
    classroom: ClassOptions = field(default_factory=ClassOptions)


class InstructorServer:
    """Composition: a HudServer with the class hooks, a ClassRoom, the remotes and the record."""

    def __init__(self, options: InstructorOptions, *, trainee_page=None, record_session=None) -> None:
        """``trainee_page(trainee_id, data_dir) -> html``: the trainee's page from the class record (the CLI passes
        coach.trainee's; the overlays layer does not import the coach's learning rules).
        ``record_session(done)``: keep one finished session (ClassRoom.update's return) in the class record."""
        if not options.stations:
            raise HudError("give at least one --station tcp://HOST:PORT")
        self.options = options
        self.trainee_page = trainee_page
        self.record_session = record_session
        self.room = ClassRoom(options.classroom)
        self.remotes: dict[str, str] = {}  # station id -> remote endpoint (learned from status replies)
        self.recorded = 0  # sessions kept in the class record
        self.record_errors = 0
        first, *more = [s.publish for s in options.stations]
        self.hud = HudServer(HudOptions(connect=first, host=options.host, port=options.port),
                             connect_more=tuple(more), on_message=self._on_message, on_page_text=self._on_page_text,
                             static=STATIC, latest_only=(TOPIC_CLASS,))
        self._tasks: list[asyncio.Task] = []
        self._recording: set[asyncio.Task] = set()  # class-record writes in flight (close waits for them)

    # ----------------------------------------------------------- hooks
    def _on_message(self, msg, text: str) -> bool:
        done = self.room.update(msg, time.monotonic())
        if done is not None and self.record_session is not None:
            task = asyncio.get_running_loop().create_task(asyncio.to_thread(self._record, done))
            self._recording.add(task)
            task.add_done_callback(self._recording.discard)
        return False  # the pages get tiles, not raw station traffic

    def _record(self, done: dict) -> None:
        try:
            self.record_session(done)
            self.recorded += 1
        except Exception as exc:  # noqa: BLE001 - a full disk or a bad message must not stop the class page
            self.record_errors += 1
            print(f"instructor: cannot record session {done.get('session')}: {exc}", flush=True)

    async def _on_page_text(self, text: str) -> str | None:
        try:
            req = loads_bounded(text, what="page command")  # the page is a browser: untrusted like any peer
            cmd, station = str(req["cmd"]), str(req.get("station", ""))
        except (ProtocolError, KeyError, TypeError, AttributeError):
            return json.dumps({"topic": "instructor.reply", "ok": False, "error": "expected {\"cmd\": ..., \"station\": ...}"})
        if cmd == "detail":
            return json.dumps({"topic": "instructor.detail", **(self.room.detail(station, time.monotonic()) or {})})
        if cmd == "trainee-page":
            tid = str(req.get("trainee") or self.room.trainees.get(station, ""))
            if not tid or self.trainee_page is None:
                return json.dumps({"topic": "instructor.reply", "ok": False, "cmd": cmd, "error": "no trainee (or no page builder)"})
            try:
                html = await asyncio.to_thread(self.trainee_page, tid, self.options.data_dir)
            except Exception as exc:  # a bad record line must not break the class page
                return json.dumps({"topic": "instructor.reply", "ok": False, "cmd": cmd, "error": str(exc)[:200]})
            return json.dumps({"topic": "instructor.trainee_page", "trainee": tid, "html": html})
        if cmd == "trainee":
            self.room.set_trainee(station, str(req.get("trainee", ""))[:64])
            return json.dumps({"topic": "instructor.reply", "ok": True, "cmd": cmd, "station": station})
        if cmd not in CONTROL:
            return json.dumps({"topic": "instructor.reply", "ok": False, "error": f"unknown command {cmd!r}"})
        args = {}
        if cmd == "set-profile":
            args["profile"] = str(req.get("profile", ""))
        if cmd == "start" and req.get("trainee"):
            self.room.set_trainee(station, str(req["trainee"])[:64])
        if cmd == "start":
            args["trainee"] = self.room.trainees.get(station, "")
        reply = await self.control(station, cmd, **args)
        return json.dumps({"topic": "instructor.reply", "cmd": cmd, "station": station, **reply})

    # ----------------------------------------------------------- control
    async def control(self, station: str, cmd: str, **args) -> dict:
        """One remote command to a station (by its id), off the event loop."""
        endpoint = self.remotes.get(station)
        if endpoint is None:
            return {"ok": False, "error": f"no remote known for station {station!r}"}
        return await asyncio.to_thread(self._request, endpoint, cmd, args)

    def _request(self, endpoint: str, cmd: str, args: dict) -> dict:
        from ..remote import RemoteClient, RemoteError

        try:
            with RemoteClient(endpoint, timeout_s=self.options.remote_timeout_s) as rc:
                return rc.request(cmd, **args)
        except RemoteError as exc:
            return {"ok": False, "error": str(exc)}

    async def _poll_remotes(self) -> None:
        """Learn which station id answers at which remote (stations may come and go)."""
        while True:
            for addr in self.options.stations:
                reply = await asyncio.to_thread(self._request, addr.remote, "status", {})
                if reply.get("ok") and isinstance(reply.get("station"), str):
                    self.remotes[reply["station"]] = addr.remote
                    self.room.view(reply["station"])
                    self.room.station_trainee(reply["station"], reply.get("trainee"))
            await asyncio.sleep(self.options.status_poll_s)

    async def _push(self) -> None:
        period = 1.0 / self.options.push_hz
        while True:
            now = time.monotonic()
            text = json.dumps({"topic": TOPIC_CLASS, "tiles": self.room.tiles(now), "recorded": self.recorded,
                               "wall": time.time()}, allow_nan=False)
            self.hud.push(TOPIC_CLASS, text)
            await asyncio.sleep(period)

    # ----------------------------------------------------------- lifecycle
    async def start(self) -> None:
        await self.hud.start()
        self._tasks = [asyncio.create_task(self._push()), asyncio.create_task(self._poll_remotes())]

    @property
    def url(self) -> str | None:
        return self.hud.url

    async def close(self) -> None:
        if self._recording:
            await asyncio.wait(set(self._recording), timeout=10.0)
        for t in self._tasks:
            t.cancel()
        await self.hud.close()


async def run_instructor_async(options: InstructorOptions, ready=None, stop: asyncio.Event | None = None,
                               trainee_page=None, record_session=None) -> None:
    server = InstructorServer(options, trainee_page=trainee_page, record_session=record_session)
    await server.start()
    if ready is not None:
        ready(server)
    try:
        if stop is None:
            await server.hud.serve_forever()
        else:
            await stop.wait()
    finally:
        await server.close()


def run_instructor(options: InstructorOptions, ready=None, trainee_page=None, record_session=None) -> None:
    """Blocking: serve until Ctrl-C."""
    asyncio.run(run_instructor_async(options, ready, trainee_page=trainee_page, record_session=record_session))


__all__ = ["InstructorOptions", "InstructorServer", "StationAddress", "run_instructor", "run_instructor_async"]
