"""A subscriber for the station's topics: what viewers, the HUD bridge and tests use.

Why a class and not raw sockets in every client: decoding, topic filters,
CURVE and latest-only reading are easy to get subtly wrong (CONFLATE and
multipart do not mix in libzmq). Other languages follow docs/protocol.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import zmq

from .endpoints import EndpointError, check
from .protocol import DEFAULT_PUB_ENDPOINT, TOPICS, BadMessages, Message, ProtocolError, decode, parse_payload
from .security import CurveClientOptions, connect_secure


class SubscriberError(RuntimeError):
    """The subscriber cannot start (bad endpoint, bad keys)."""


@dataclass(frozen=True)
class SubscriberOptions:
    connect: str = DEFAULT_PUB_ENDPOINT
    topics: tuple[str, ...] = ()  # () = every topic
    rcvhwm: int = 256  # messages buffered here before ZeroMQ drops (bounded memory when we fall behind)
    conflate: bool = False  # connect to a publisher's conflate_endpoint: keep only the newest cpr.state
    curve: CurveClientOptions | None = None


class Subscriber:
    """Receives and decodes messages; malformed ones are counted in ``bad`` (per kind in ``bad_kinds``) and skipped."""

    def __init__(self, options: SubscriberOptions = SubscriberOptions(), *, context: zmq.Context | None = None) -> None:
        self.options = options
        unknown = [t for t in options.topics if t not in TOPICS]
        if unknown:
            raise SubscriberError(f"unknown topic(s) {', '.join(unknown)}; topics are {', '.join(TOPICS)}")
        try:
            ep = check(options.connect, bind=False)
        except EndpointError as exc:
            raise SubscriberError(str(exc)) from None
        self._own_context = context is None
        self._ctx = context or zmq.Context()
        self.bad_messages = BadMessages(f"subscriber {ep}")
        self.received = 0
        s = self._ctx.socket(zmq.SUB)
        try:
            s.setsockopt(zmq.LINGER, 0)
            if options.conflate:
                s.setsockopt(zmq.CONFLATE, 1)  # single-frame stream: safe to conflate
            else:
                s.setsockopt(zmq.RCVHWM, options.rcvhwm)
            connect_secure(s, options.curve, SubscriberError)
            if options.conflate or not options.topics:
                s.setsockopt(zmq.SUBSCRIBE, b"")
            else:
                for t in options.topics:
                    # ZeroMQ filters by prefix; _decode drops longer topic names that share one
                    s.setsockopt(zmq.SUBSCRIBE, t.encode("ascii"))
            s.connect(ep)
        except (SubscriberError, zmq.ZMQError) as exc:  # bad keys, an unresolvable host: release, then report
            s.close(0)
            if self._own_context:
                self._ctx.term()
            if isinstance(exc, SubscriberError):
                raise
            raise SubscriberError(f"cannot connect to {ep}: {exc}") from None
        self._sock = s
        self._poller = zmq.Poller()
        self._poller.register(s, zmq.POLLIN)

    @property
    def bad(self) -> int:
        return self.bad_messages.total

    @property
    def bad_kinds(self) -> dict[str, int]:
        return dict(self.bad_messages.by_kind)

    @property
    def socket(self) -> zmq.Socket:
        return self._sock

    def _decode(self, frames: list[bytes]) -> Message | None:
        try:
            if self.options.conflate:
                payload = parse_payload(None, frames[-1])
                msg = Message(str(payload["topic"]), payload)
            else:
                msg = decode(frames)
        except ProtocolError as exc:
            self.bad_messages.count(exc)
            return None
        if self.options.topics and msg.topic not in self.options.topics:
            return None  # prefix matched a longer topic name
        self.received += 1
        return msg

    def recv(self, timeout_s: float | None = None) -> Message | None:
        """The next message, or None after ``timeout_s`` (None: wait forever)."""
        deadline_ms = None if timeout_s is None else max(0, int(timeout_s * 1000))
        while True:
            if not self._poller.poll(deadline_ms):
                return None
            msg = self._decode(self._sock.recv_multipart(zmq.NOBLOCK))
            if msg is not None:
                return msg
            deadline_ms = 0 if deadline_ms is not None else None

    def drain(self, max_n: int = 100_000) -> list[Message]:
        """Everything already queued, without waiting."""
        out: list[Message] = []
        for _ in range(max_n):
            try:
                frames = self._sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            msg = self._decode(frames)
            if msg is not None:
                out.append(msg)
        return out

    def latest(self, timeout_s: float = 0.0) -> dict[str, Message]:
        """Newest message per topic among those queued (waits up to ``timeout_s`` for the first)."""
        out: dict[str, Message] = {}
        first = self.recv(timeout_s)
        if first is not None:
            out[first.topic] = first
            for m in self.drain():
                out[m.topic] = m
        return out

    def iter(self, timeout_s: float) -> Iterable[Message]:
        """Yield messages until none arrives for ``timeout_s``."""
        while (m := self.recv(timeout_s)) is not None:
            yield m

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close(0)
            self._sock = None  # type: ignore[assignment]
        if self._own_context:
            self._ctx.term()
            self._own_context = False

    def __enter__(self) -> "Subscriber":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


SILENCE_HINT_S = 5.0  # a client that hears nothing this long says why (docs/reliability.md)


def silence_hint(endpoint: str, curve: CurveClientOptions | None) -> str:
    """One line with the likely reasons a client hears nothing from ``endpoint``.

    Why a probe: "NO SIGNAL" alone leaves an operator guessing; a plain TCP
    connect (or the ipc file) tells "nobody there" from "someone there who will
    not talk to us" (encrypted station without our keys, or a key not allowed).
    """
    import os
    import socket

    listening: bool | None = None
    if endpoint.startswith("tcp://"):
        host, _, port = endpoint[len("tcp://"):].rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=0.5):
                listening = True
        except (OSError, ValueError):
            listening = False
    elif endpoint.startswith("ipc://"):
        listening = os.path.exists(endpoint[len("ipc://"):])
    if listening is False:
        return (f"no message from {endpoint} for {SILENCE_HINT_S:g} s: nothing listens there; "
                "is the station running, and is the endpoint (host, port) right?")
    keys = ("the station may not allow this client's key (viewers/ or controllers/ of its allow-list)"
            if curve is not None else
            "the station may be encrypted (CURVE): pass --curve-secret and --curve-server")
    there = "something listens there" if listening else "the endpoint exists"
    return (f"no message from {endpoint} for {SILENCE_HINT_S:g} s: {there}, but nothing arrives; "
            f"{keys}; or it is another program, or a station that is not publishing")
