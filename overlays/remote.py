"""Remote control: a small REQ/REP server beside the PUB, in the spirit of Pupil Remote.

Why REP and one-line commands: an instructor's script, a dashboard or a shell
(``cpr-coach remote status``) can drive a station with one request and read
one JSON reply. Requests are either JSON objects ``{"cmd": "set-profile",
"profile": "child"}`` or plain text ``set-profile child``. Every request gets a
reply — malformed ones an ``{"ok": false, "error": ...}`` — and the server keeps
serving whatever arrives: random bytes, huge JSON, a handler that raises.

The server does not own the station: it calls a handler (``RemoteHandler``).
``serve_pending()`` lets a loop answer requests between frames in its own
thread (no locks needed); ``start_thread()`` serves in the background for a
thread-safe handler.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any, Mapping, Protocol

import zmq

from .endpoints import EndpointError, check
from .protocol import (
    DEFAULT_REMOTE_ENDPOINT,
    PROTOCOL_VERSION,
    REMOTE_COMMANDS,
    BadMessages,
    ProtocolError,
    clean_json,
    dumps,
    loads_bounded,
)
from .security import ROLE_CONTROLLER, CurveClientOptions, CurveServerOptions, connect_secure, serve_secure, term_context

COMMANDS = REMOTE_COMMANDS
MAX_REQUEST_BYTES = 64 * 1024  # a request larger than this gets an error reply
# Frames beyond this never reach us (libzmq drops the peer): the memory bound. Between the two
# limits a request is read and answered with an error, as docs/protocol.md promises.
MAX_FRAME_BYTES = 16 * 1024 * 1024


class RemoteError(RuntimeError):
    """The remote server or client cannot start, or a request failed at the transport."""


class CommandError(Exception):
    """Raised by a handler: the request was understood but cannot be done (one-line reason)."""

    def __init__(self, message: str, kind: str = "command") -> None:
        super().__init__(message)
        self.kind = kind


class RemoteHandler(Protocol):
    """What a station implements; each returns the reply's body (a JSON-able mapping)."""

    def remote_status(self) -> Mapping[str, Any]: ...
    def remote_start(self, args: Mapping[str, Any]) -> Mapping[str, Any]: ...
    def remote_stop(self, args: Mapping[str, Any]) -> Mapping[str, Any]: ...
    def remote_set_profile(self, args: Mapping[str, Any]) -> Mapping[str, Any]: ...
    def remote_snapshot(self, args: Mapping[str, Any]) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class RemoteOptions:
    endpoint: str = DEFAULT_REMOTE_ENDPOINT
    curve: CurveServerOptions | None = None


def parse_request(frames: list[bytes]) -> tuple[str, dict[str, Any]]:
    """(command, args) from a request, or raise CommandError with the reason."""
    if len(frames) != 1:
        raise CommandError(f"a request is one frame, got {len(frames)}", "frames")
    raw = frames[0]
    if len(raw) > MAX_REQUEST_BYTES:
        raise CommandError(f"request of {len(raw)} bytes exceeds {MAX_REQUEST_BYTES}", "size")
    try:
        text = bytes(raw).decode("utf-8").strip()
    except UnicodeDecodeError:
        raise CommandError("request is not UTF-8 text", "utf8") from None
    if not text:
        raise CommandError("empty request", "empty")
    if text[0] in "{[":  # JSON (only an object is a valid request)
        try:
            obj = loads_bounded(text, what="request", max_bytes=MAX_REQUEST_BYTES)
        except ProtocolError as exc:
            msg = str(exc).replace("request is not JSON", "request is not valid JSON")
            raise CommandError(msg, exc.kind) from None
        if not isinstance(obj, dict):
            raise CommandError("a JSON request must be an object")
        cmd = obj.get("cmd")
        if not isinstance(cmd, str):
            raise CommandError('a JSON request needs a string "cmd"')
        args = {str(k): v for k, v in obj.items() if k != "cmd"}
    else:
        parts = text.split()
        cmd, rest = parts[0], parts[1:]
        args = {}
        if cmd == "set-profile":
            if len(rest) != 1:
                raise CommandError("usage: set-profile NAME")
            args["profile"] = rest[0]
        elif rest:
            raise CommandError(f"{cmd[:40]!r} takes no arguments in text form")
    if cmd not in COMMANDS:
        raise CommandError(f"unknown command {cmd[:40]!r}; commands: {', '.join(COMMANDS)}")
    return cmd, args


def _reply(ok: bool, cmd: str | None, body: Mapping[str, Any] | None = None, error: str | None = None) -> bytes:
    out: dict[str, Any] = {"v": PROTOCOL_VERSION, "ok": ok, "cmd": cmd}
    if error is not None:
        out["error"] = error
    if body:
        for k, v in body.items():
            if k not in out:
                out[k] = v
    try:
        return dumps(clean_json(out))
    except (TypeError, ValueError) as exc:  # a handler returned something not JSON-able
        return dumps({"v": PROTOCOL_VERSION, "ok": False, "cmd": cmd, "error": f"internal error: reply not JSON ({exc})"})


class RemoteServer:
    """REP socket answering COMMANDS through a RemoteHandler."""

    def __init__(self, handler: RemoteHandler, options: RemoteOptions = RemoteOptions(), *, context: zmq.Context | None = None) -> None:
        self.handler = handler
        self.options = options
        self._own_context = context is None
        self._ctx = context or zmq.Context()
        self.served = 0
        self.errors = 0
        self.bad_requests = BadMessages("remote control")
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        try:
            ep = check(options.endpoint, bind=True)
        except EndpointError as exc:
            raise RemoteError(str(exc)) from None
        s = self._ctx.socket(zmq.REP)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME_BYTES)  # far larger frames: libzmq drops the peer
        serve_secure(self._ctx, s, ep, options.curve, RemoteError, "remote control", role=ROLE_CONTROLLER)
        self._sock = s
        self.endpoint = s.getsockopt_string(zmq.LAST_ENDPOINT)

    def handle(self, frames: list[bytes]) -> bytes:
        """One request -> one reply (never raises)."""
        cmd: str | None = None
        try:
            cmd, args = parse_request(frames)
            h = self.handler
            if cmd == "status":
                body = h.remote_status()
            elif cmd == "start":
                body = h.remote_start(args)
            elif cmd == "stop":
                body = h.remote_stop(args)
            elif cmd == "set-profile":
                body = h.remote_set_profile(args)
            else:
                body = h.remote_snapshot(args)
            return _reply(True, cmd, body)
        except CommandError as exc:
            self.errors += 1
            if cmd is None:  # not a request at all (a handler's refusal is not a bad message)
                self.bad_requests.count(exc)
            return _reply(False, cmd, error=str(exc))
        except Exception as exc:  # a handler bug must not kill the server
            self.errors += 1
            return _reply(False, cmd, error=f"internal error: {type(exc).__name__}: {exc}")

    def serve_pending(self, max_requests: int = 16, timeout_s: float = 0.0) -> int:
        """Answer requests already waiting (waits up to ``timeout_s`` for the first)."""
        n = 0
        timeout_ms = int(timeout_s * 1000)
        while n < max_requests:
            if not self._sock.poll(timeout_ms if n == 0 else 0, zmq.POLLIN):
                break
            try:
                frames = self._sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            reply = self.handle(frames)
            self.served += 1  # counted before the reply goes out, so a client that has its reply sees the count
            try:
                self._sock.send(reply, zmq.NOBLOCK)
            except zmq.ZMQError:
                pass  # the requester vanished; REP resets for the next request
            n += 1
        return n

    def start_thread(self, poll_s: float = 0.05) -> threading.Thread:
        """Serve in a background thread until ``close()`` (the handler must be thread-safe)."""

        def loop() -> None:
            while not self._stop.is_set():
                self.serve_pending(timeout_s=poll_s)

        self._thread = threading.Thread(target=loop, name="cpr-remote", daemon=True)
        self._thread.start()
        return self._thread

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        if self._sock is not None:
            self._sock.close(0)
            self._sock = None  # type: ignore[assignment]
        if self._own_context:
            term_context(self._ctx)
            self._own_context = False


class RemoteClient:
    """REQ client with a timeout; after a timeout it reconnects (REQ is lockstep)."""

    def __init__(self, connect: str = DEFAULT_REMOTE_ENDPOINT, *, curve: CurveClientOptions | None = None,
                 timeout_s: float = 2.0, context: zmq.Context | None = None) -> None:
        try:
            self.endpoint = check(connect, bind=False)
        except EndpointError as exc:
            raise RemoteError(str(exc)) from None
        self.curve = curve
        self.timeout_s = timeout_s
        self._own_context = context is None
        self._ctx = context or zmq.Context()
        self._sock: zmq.Socket | None = None

    def _socket(self) -> zmq.Socket:
        if self._sock is None:
            s = self._ctx.socket(zmq.REQ)
            s.setsockopt(zmq.LINGER, 0)
            connect_secure(s, self.curve, RemoteError)
            s.connect(self.endpoint)
            self._sock = s
        return self._sock

    def send_raw(self, data: bytes | list[bytes]) -> bytes:
        """Send raw frames and return the raw reply (tests and fuzzing use it)."""
        s = self._socket()
        s.send_multipart(data if isinstance(data, list) else [data])
        if not s.poll(int(self.timeout_s * 1000), zmq.POLLIN):
            s.close(0)
            self._sock = None
            raise RemoteError(f"no reply from {self.endpoint} within {self.timeout_s:g} s")
        return s.recv()

    def request(self, cmd: str, **args: Any) -> dict[str, Any]:
        """Send a JSON command; return the decoded reply (check ``reply['ok']``)."""
        raw = self.send_raw(dumps({"cmd": cmd, **args}))
        try:
            reply = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            reply = None
        if not isinstance(reply, dict):
            raise RemoteError(f"{self.endpoint} answered {raw[:40]!r}: not a cpr-coach remote control")
        return reply

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close(0)
            self._sock = None
        if self._own_context:
            self._ctx.term()
            self._own_context = False

    def __enter__(self) -> "RemoteClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
