"""The HUD server: static page + a ZeroMQ -> WebSocket bridge, on one asyncio loop.

Why a bridge: browsers (and so headsets) speak WebSocket, not ZeroMQ. The
bridge subscribes to the station like any viewer and forwards each JSON payload
unchanged as a text frame (the payload names its topic), so the page reads the
same protocol as every other client.

Why per-client latest-only queues: a headset on a weak Wi-Fi link must never
make the bridge buffer without bound, and it should draw the newest state, not
a backlog. ``cpr.state`` and ``cpr.overlay`` keep only their newest message per
client; events (compression, feedback, session, heartbeat) queue up to a bound.

Safety: it binds 127.0.0.1 unless told otherwise, and refuses WebSocket
upgrades whose Origin is not this server (a random web page in the trainee's
browser must not read their performance data).
"""
from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections import deque
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

import zmq
import zmq.asyncio

from ..endpoints import EndpointError, check, is_loopback
from ..protocol import DEFAULT_PUB_ENDPOINT, TOPIC_FRAME, TOPIC_OVERLAY, TOPIC_STATE, TOPICS, ProtocolError, decode
from ..security import CurveClientOptions, connect_secure
from .websocket import AsyncWebSocket, WebSocketError, accept_key

STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/hud.js": ("hud.js", "text/javascript; charset=utf-8"),
    "/hud.css": ("hud.css", "text/css; charset=utf-8"),
}
LATEST_ONLY = (TOPIC_STATE, TOPIC_OVERLAY)


class HudError(RuntimeError):
    """The HUD server cannot start (port in use, bad TLS files, bad endpoint)."""


@dataclass(frozen=True)
class HudOptions:
    connect: str = DEFAULT_PUB_ENDPOINT  # the station's PUB endpoint
    host: str = "127.0.0.1"
    port: int = 8765  # 0: any free port
    curve: CurveClientOptions | None = None
    tls_cert: Path | None = None  # serve https/wss (WebXR needs a secure context off localhost)
    tls_key: Path | None = None
    max_events_per_client: int = 256
    no_signal_s: float = 3.0


@dataclass(eq=False)
class _Client:
    ws: AsyncWebSocket
    latest: dict[str, str] = field(default_factory=dict)
    events: deque = field(default_factory=lambda: deque(maxlen=256))
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    sent: int = 0


class HudServer:
    """Run with ``await server.start()`` then ``await server.serve_forever()``, or ``run_hud(options)``."""

    def __init__(self, options: HudOptions = HudOptions(), *, connect_more: tuple[str, ...] = (), on_message=None,
                 on_page_text=None, static: dict[str, tuple[str, str, str]] | None = None,
                 latest_only: tuple[str, ...] = LATEST_ONLY) -> None:
        """The keyword arguments let another page reuse this server and bridge (the instructor's class page):
        ``connect_more`` more PUB endpoints for the same SUB; ``on_message(msg, text) -> bool`` sees each
        decoded message first and returns whether to forward it to the pages; ``async on_page_text(text) ->
        str | None`` answers what a page sends; ``static`` maps a path to (package, file under web/, type);
        ``latest_only`` the topics of which a slow page gets only the newest."""
        self.options = options
        self.connect_more = tuple(connect_more)
        self.on_message = on_message
        self.on_page_text = on_page_text
        self.latest_only = tuple(latest_only)
        self.static = static or {path: ("overlays.hud", name, ctype) for path, (name, ctype) in STATIC.items()}
        self.clients: set[_Client] = set()
        self.cache: dict[str, str] = {}  # newest payload per topic, for clients that join late
        self.forwarded = 0
        self.bad = 0
        self._last_msg = -float("inf")
        self._server: asyncio.AbstractServer | None = None
        self._tasks: list[asyncio.Task] = []
        self._ctx: zmq.asyncio.Context | None = None
        self.port: int | None = None
        self.url: str | None = None

    # --------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        o = self.options
        try:
            endpoint = check(o.connect, bind=False)  # a typo fails here, in the words every client uses
        except EndpointError as exc:
            raise HudError(str(exc)) from None
        sslctx = None
        if o.tls_cert or o.tls_key:
            if not (o.tls_cert and o.tls_key):
                raise HudError("TLS needs both --tls-cert and --tls-key")
            try:
                sslctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                sslctx.load_cert_chain(str(o.tls_cert), str(o.tls_key))
            except (OSError, ssl.SSLError) as exc:
                raise HudError(f"cannot load TLS certificate {o.tls_cert} / key {o.tls_key}: {exc}") from None
        self._ctx = zmq.asyncio.Context()
        sub = self._ctx.socket(zmq.SUB)
        self._sub = sub
        try:
            sub.setsockopt(zmq.LINGER, 0)
            sub.setsockopt(zmq.RCVHWM, 256)
            connect_secure(sub, o.curve, HudError)
            for t in TOPICS:
                if t != TOPIC_FRAME:  # the HUD draws on black: no video over Wi-Fi
                    sub.setsockopt(zmq.SUBSCRIBE, t.encode("ascii"))
            for ep in (o.connect, *self.connect_more):
                try:
                    sub.connect(check(ep, bind=False))
                except (zmq.ZMQError, EndpointError) as exc:
                    raise HudError(f"cannot connect to {ep}: {exc}") from None
            try:
                self._server = await asyncio.start_server(self._handle_http, o.host, o.port, ssl=sslctx, limit=1 << 16)
            except OSError as exc:
                raise HudError(f"cannot serve the HUD on {o.host}:{o.port}: {exc.strerror or exc}") from None
        except HudError:  # nothing half-open is left behind (the port, the ZeroMQ context)
            sub.close(0)
            self._ctx.term()
            self._ctx = None
            raise
        self.port = self._server.sockets[0].getsockname()[1]
        scheme = "https" if sslctx else "http"
        self.url = f"{scheme}://{'127.0.0.1' if o.host in ('0.0.0.0', '') else o.host}:{self.port}/"
        self._tasks = [asyncio.create_task(self._bridge()), asyncio.create_task(self._status_loop())]

    async def serve_forever(self) -> None:
        assert self._server is not None
        await self._server.serve_forever()

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        for c in list(self.clients):
            await self._close_client(c)
        if self._server is not None:
            self._server.close()
            try:
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
            except asyncio.TimeoutError:
                pass
        if self._ctx is not None:
            self._sub.close(0)
            self._ctx.term()
            self._ctx = None

    @staticmethod
    async def _close_client(c: _Client, timeout_s: float = 1.0) -> None:
        """Say goodbye, but a page that stopped reading (full socket buffer) cannot hold the shutdown."""
        try:
            await asyncio.wait_for(c.ws.close(), timeout_s)
        except (asyncio.TimeoutError, ConnectionError, RuntimeError):
            c.ws.closed = True
            c.ws.writer.transport.abort()

    # --------------------------------------------------------------- bridge
    async def _bridge(self) -> None:
        while True:
            frames = await self._sub.recv_multipart()
            try:
                msg = decode(frames)
            except ProtocolError:
                self.bad += 1
                continue
            text = frames[1].decode("utf-8")
            self._last_msg = time.monotonic()
            if self.on_message is not None and not self.on_message(msg, text):
                continue
            self.cache[msg.topic] = text
            self.forwarded += 1
            for c in self.clients:
                self._enqueue(c, msg.topic, text)

    def _enqueue(self, c: _Client, topic: str, text: str) -> None:
        if topic in self.latest_only:
            c.latest[topic] = text
        else:
            c.events.append(text)
        c.wake.set()

    def push(self, topic: str, text: str) -> None:
        """Send a payload of our own to every page (latest-only if ``topic`` is; kept for late joiners)."""
        self.cache[topic] = text
        for c in self.clients:
            self._enqueue(c, topic, text)

    async def _status_loop(self) -> None:
        """Once a second tell the pages whether the station is heard (drives 'NO SIGNAL')."""
        while True:
            alive = time.monotonic() - self._last_msg <= self.options.no_signal_s
            text = json.dumps({"topic": "hud.status", "v": 1, "connected": alive, "endpoint": self.options.connect})
            for c in self.clients:
                c.events.append(text)
                c.wake.set()
            await asyncio.sleep(1.0)

    async def _pump(self, c: _Client) -> None:
        while not c.ws.closed:
            await c.wake.wait()
            c.wake.clear()
            batch = list(c.events)
            c.events.clear()
            for topic in self.latest_only:
                if topic in c.latest:
                    batch.append(c.latest.pop(topic))
            try:
                for text in batch:
                    await c.ws.send_text(text)
                    c.sent += 1
            except (WebSocketError, ConnectionError, RuntimeError):
                return  # the page went away; the reader side cleans up

    # --------------------------------------------------------------- http
    async def _handle_http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10.0)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError, ConnectionError):
            writer.close()
            return
        try:
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
        except ValueError:
            await self._respond(writer, 400, "text/plain", b"bad request\n")
            return
        path = urlsplit(target).path
        if not self._host_ok(headers):
            await self._respond(writer, 403, "text/plain", b"unexpected Host (this HUD serves localhost only)\n")
            return
        if method != "GET":
            await self._respond(writer, 405, "text/plain", b"only GET\n")
            return
        if path == "/ws":
            await self._upgrade(reader, writer, headers)
            return
        if path == "/status.json":
            body = json.dumps({"clients": len(self.clients), "forwarded": self.forwarded, "bad": self.bad,
                               "connect": self.options.connect, "topics": sorted(self.cache)}).encode()
            await self._respond(writer, 200, "application/json", body)
            return
        if path not in self.static:
            await self._respond(writer, 404, "text/plain", b"not found\n")
            return
        package, name, ctype = self.static[path]
        body = resources.files(package).joinpath("web", name).read_bytes()
        await self._respond(writer, 200, ctype, body)

    async def _respond(self, writer: asyncio.StreamWriter, code: int, ctype: str, body: bytes) -> None:
        reason = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed"}[code]
        head = (f"HTTP/1.1 {code} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n")
        try:
            writer.write(head.encode("ascii") + body)
            await writer.drain()
        except ConnectionError:
            pass
        writer.close()

    def _host_ok(self, headers: dict[str, str]) -> bool:
        """Bound to loopback: only loopback names in Host. Why: the Origin check compares Origin with
        Host, and a page whose own name re-resolves to 127.0.0.1 (DNS rebinding) would pass it."""
        if not is_loopback(f"tcp://{self.options.host}:0"):
            return True  # served on the LAN: headsets use whatever name or address reaches it
        name = urlsplit("//" + headers.get("host", "")).hostname or ""
        return name in ("localhost", self.options.host) or is_loopback(f"tcp://{name}:0")

    def _origin_ok(self, headers: dict[str, str]) -> bool:
        origin = headers.get("origin")
        if origin is None:
            return True  # not a browser: a script or a test
        host = headers.get("host", "")
        return urlsplit(origin).netloc == host

    async def _upgrade(self, reader, writer, headers: dict[str, str]) -> None:
        key = headers.get("sec-websocket-key")
        if headers.get("upgrade", "").lower() != "websocket" or not key or headers.get("sec-websocket-version") != "13":
            await self._respond(writer, 400, "text/plain", b"expected a WebSocket upgrade (version 13)\n")
            return
        if not self._origin_ok(headers):
            await self._respond(writer, 403, "text/plain", b"cross-origin WebSocket refused\n")
            return
        writer.write((
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n").encode("ascii"))
        await writer.drain()
        ws = AsyncWebSocket(reader, writer, max_message=1 << 16)
        c = _Client(ws, events=deque(maxlen=self.options.max_events_per_client))
        for topic in list(self.cache):  # late joiner: the newest of everything known
            self._enqueue(c, topic, self.cache[topic])
        self.clients.add(c)
        pump = asyncio.create_task(self._pump(c))
        try:
            while (text := await ws.recv()) is not None:  # reading keeps pings answered
                if self.on_page_text is not None and isinstance(text, str):
                    reply = await self.on_page_text(text)
                    if reply is not None:
                        c.events.append(reply)
                        c.wake.set()
        except WebSocketError:
            pass
        finally:
            self.clients.discard(c)
            pump.cancel()
            await ws.close()


async def _run(options: HudOptions, ready=None, stop: asyncio.Event | None = None) -> None:
    server = HudServer(options)
    await server.start()
    if ready is not None:
        ready(server)
    try:
        if stop is None:
            await server.serve_forever()
        else:
            await stop.wait()
    finally:
        await server.close()


def run_hud(options: HudOptions, ready=None) -> None:
    """Blocking: serve until Ctrl-C. ``ready(server)`` is called once it listens."""
    asyncio.run(_run(options, ready))


class HudThread:
    """The HUD server on its own event loop in a background thread (tests, embedding)."""

    def __init__(self, options: HudOptions) -> None:
        import threading

        self.options = options
        self.server: HudServer | None = None
        self.error: BaseException | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="cpr-hud", daemon=True)

    def _main(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()

            def ready(server: HudServer) -> None:
                self.server = server
                self._ready.set()

            await _run(self.options, ready, self._stop)

        try:
            asyncio.run(main())
        except BaseException as exc:  # surfaced by start()
            self.error = exc
        finally:
            self._ready.set()

    def start(self, timeout_s: float = 10.0) -> HudServer:
        self._thread.start()
        self._ready.wait(timeout_s)
        if self.server is None:
            raise HudError(f"HUD server did not start: {self.error}")
        return self.server

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=5.0)


__all__ = ["HudError", "HudOptions", "HudServer", "HudThread", "run_hud"]
