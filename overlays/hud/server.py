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
browser must not read their performance data). Served beyond loopback it also
wants an access token (``?token=...`` in the URL printed at start, compared in
constant time) for the page, the status and the WebSocket; the Host header must
name this machine (an IP literal, a loopback name or an ``allow_hosts`` name: a
DNS-rebinding page carries its own name); WebSocket clients are capped and one
that sends nothing (not even a pong to our pings) for ``idle_timeout_s`` is closed.
"""
from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import secrets
import ssl
import time
from collections import deque
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import zmq
import zmq.asyncio

from ..endpoints import EndpointError, check, is_loopback
from ..protocol import DEFAULT_PUB_ENDPOINT, TOPIC_FRAME, TOPIC_OVERLAY, TOPIC_STATE, TOPICS, BadMessages, ProtocolError, decode
from ..security import CurveClientOptions, connect_secure
from ..subscriber import SILENCE_HINT_S, silence_hint
from .websocket import AsyncWebSocket, WebSocketError, accept_key

_log = logging.getLogger("cpr.hud")

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
    token: str | None = None  # access token; None: a random one when served beyond loopback, none on loopback
    allow_hosts: tuple[str, ...] = ()  # extra Host names accepted (the name the headset uses for this machine)
    max_clients: int = 64  # WebSocket clients at once; more get 503
    idle_timeout_s: float = 60.0  # a WebSocket that sends nothing (pongs count) this long is closed
    silence_hint_s: float = SILENCE_HINT_S  # no message this long: say the likely causes once


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
        self.bad_messages = BadMessages("HUD bridge")
        self.refused = {"host": 0, "token": 0, "origin": 0, "full": 0, "bad_request": 0, "idle": 0}
        self.hint: str | None = None
        self._last_msg = -float("inf")
        self._quiet_since = time.monotonic()
        self.exposed = not is_loopback(f"tcp://{options.host}:0")
        self.token = options.token if options.token else (secrets.token_urlsafe(18) if self.exposed else None)
        self._server: asyncio.AbstractServer | None = None
        self._tasks: list[asyncio.Task] = []
        self._ctx: zmq.asyncio.Context | None = None
        self.port: int | None = None
        self.url: str | None = None

    @property
    def bad(self) -> int:
        return self.bad_messages.total

    # --------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        o = self.options
        try:
            check(o.connect, bind=False)  # a typo fails here, in the words every client uses
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
        if self.token:
            self.url += f"?token={self.token}"
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
            except ProtocolError as exc:  # counted, logged once per kind; the bridge goes on
                self.bad_messages.count(exc)
                continue
            text = frames[1].decode("utf-8")  # decode() checked it is UTF-8
            self._last_msg = self._quiet_since = time.monotonic()
            self.hint = None
            if self.on_message is not None and not self.on_message(msg, text):
                continue
            self.forwarded += 1
            self.push(msg.topic, text)

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
            now = time.monotonic()
            alive = now - self._last_msg <= self.options.no_signal_s
            if self.hint is None and now - self._quiet_since >= self.options.silence_hint_s:
                self.hint = await asyncio.to_thread(silence_hint, self.options.connect, self.options.curve)
                _log.warning("%s", self.hint)
            status = {"topic": "hud.status", "v": 1, "connected": alive, "endpoint": self.options.connect}
            if self.hint is not None:
                status["hint"] = self.hint
            text = json.dumps(status)
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
            url = urlsplit(target)
            path, query = url.path, parse_qs(url.query)
            host_ok = self._host_ok(headers)
        except ValueError:  # a malformed request line, target or Host (e.g. "[::1"): 400, no traceback
            self.refused["bad_request"] += 1
            await self._respond(writer, 400, "text/plain", b"bad request\n")
            return
        if not host_ok:
            self.refused["host"] += 1
            await self._respond(writer, 403, "text/plain",
                                b"unexpected Host: use this machine's address, or start the HUD with --allow-host NAME\n")
            return
        if method != "GET":
            await self._respond(writer, 405, "text/plain", b"only GET\n")
            return
        if path not in ("/hud.js", "/hud.css") and not self._token_ok(query):  # scripts and styles hold no data
            self.refused["token"] += 1
            await self._respond(writer, 401, "text/plain", b"this HUD needs its access token: open the URL it printed\n")
            return
        if path == "/ws":
            await self._upgrade(reader, writer, headers)
            return
        if path == "/status.json":
            body = json.dumps({"clients": len(self.clients), "forwarded": self.forwarded, "bad": self.bad,
                               "bad_kinds": self.bad_messages.by_kind, "refused": self.refused,
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
        reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
                  405: "Method Not Allowed", 503: "Service Unavailable"}[code]
        head = (f"HTTP/1.1 {code} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n")
        try:
            writer.write(head.encode("ascii") + body)
            await writer.drain()
        except ConnectionError:
            pass
        writer.close()

    def _host_ok(self, headers: dict[str, str]) -> bool:
        """Host names this machine. Why: the Origin check compares Origin with Host, and a page whose
        own name re-resolves to this machine (DNS rebinding) would pass it; its Host carries that name.

        On loopback: loopback names only. Beyond: also IP literals (rebinding needs a name) and the
        ``allow_hosts`` names. Raises ValueError on a malformed Host (the caller answers 400).
        """
        name = urlsplit("//" + headers.get("host", "")).hostname or ""
        if name in ("localhost", self.options.host) or is_loopback(f"tcp://{name}:0"):
            return True
        if not self.exposed:
            return False
        if name.lower() in (h.lower() for h in self.options.allow_hosts):
            return True
        try:
            ipaddress.ip_address(name)
            return True
        except ValueError:
            return False

    def _token_ok(self, query: dict[str, list[str]]) -> bool:
        if self.token is None:
            return True
        given = (query.get("token") or [""])[0]
        return hmac.compare_digest(given.encode("utf-8", "replace"), self.token.encode("utf-8"))

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
            self.refused["origin"] += 1
            await self._respond(writer, 403, "text/plain", b"cross-origin WebSocket refused\n")
            return
        if len(self.clients) >= self.options.max_clients:
            self.refused["full"] += 1
            await self._respond(writer, 503, "text/plain", b"too many HUD clients\n")
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
        pinger = asyncio.create_task(self._ping(c))
        idle = self.options.idle_timeout_s
        try:
            while True:  # reading answers pings and sees pongs; the page's own texts go to on_page_text
                try:
                    text = await asyncio.wait_for(ws.recv(any_frame=True), idle)
                except asyncio.TimeoutError:
                    self.refused["idle"] += 1
                    break
                if text is None:
                    break
                if self.on_page_text is not None and isinstance(text, str):
                    reply = await self.on_page_text(text)
                    if reply is not None:
                        c.events.append(reply)
                        c.wake.set()
        except (WebSocketError, ConnectionError):
            pass
        finally:
            self.clients.discard(c)
            pump.cancel()
            pinger.cancel()
            await self._close_client(c)

    async def _ping(self, c: _Client) -> None:
        """Ping a third of the idle timeout apart: a live page's browser answers, a dead one is timed out."""
        period = max(0.05, self.options.idle_timeout_s / 3)
        try:
            while not c.ws.closed:
                await asyncio.sleep(period)
                await asyncio.wait_for(c.ws.ping(), period)
        except (asyncio.TimeoutError, WebSocketError, ConnectionError, RuntimeError):
            return


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
