"""The wire protocol: topics, the message envelope, encoding and decoding.

Why one module: viewers and headsets see only the protocol, so any client in any
language can join. Everything a client must know (topic names, the envelope, the
JSON rules) is here and in ``overlays/schemas/*.json``, documented in
docs/protocol.md.

Message = multipart ``[topic, payload]`` (``cpr.frame`` adds a third part, the
JPEG bytes). The payload is UTF-8 JSON, compact, with the envelope keys first:
``{"topic": ..., "v": 1, "station": ..., "t_s": ..., "seq": ..., ...body}``.
NaN and infinities are not JSON: they travel as ``null``.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Mapping, Sequence

from coach.core.types import json_safe as clean_json  # the one JSON cleaner (NaN -> null, NumPy -> Python)

PROTOCOL_VERSION = 1

TOPIC_STATE = "cpr.state"
TOPIC_COMPRESSION = "cpr.compression"
TOPIC_FEEDBACK = "cpr.feedback"
TOPIC_OVERLAY = "cpr.overlay"
TOPIC_FRAME = "cpr.frame"
TOPIC_SESSION = "cpr.session"
TOPIC_HEARTBEAT = "cpr.heartbeat"
TOPICS: tuple[str, ...] = (
    TOPIC_STATE,
    TOPIC_COMPRESSION,
    TOPIC_FEEDBACK,
    TOPIC_OVERLAY,
    TOPIC_FRAME,
    TOPIC_SESSION,
    TOPIC_HEARTBEAT,
)
# The remote control's request and reply are validated too (not published topics).
SCHEMA_NAMES: tuple[str, ...] = TOPICS + ("remote.request", "remote.reply")

DEFAULT_PUB_ENDPOINT = "tcp://127.0.0.1:5556"
DEFAULT_REMOTE_ENDPOINT = "tcp://127.0.0.1:5555"
REMOTE_COMMANDS: tuple[str, ...] = ("status", "start", "stop", "set-profile", "snapshot")  # remote-control commands

ENVELOPE_KEYS = ("topic", "v", "station", "t_s", "seq")


class ProtocolError(ValueError):
    """A message that does not follow the protocol (one-line reason)."""


def json_num(x: float | None) -> float | None:
    """A number as JSON carries it: float, or None for None, NaN and infinities."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def dumps(obj: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON; refuses NaN (callers pass through clean_json first)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def encode(topic: str, body: Mapping[str, Any], *, station: str, t_s: float, seq: int) -> bytes:
    """The payload frame: envelope first, then the topic's body keys."""
    if topic not in TOPICS:
        raise ProtocolError(f"unknown topic {topic!r}")
    env: dict[str, Any] = {"topic": topic, "v": PROTOCOL_VERSION, "station": station, "t_s": float(t_s), "seq": int(seq)}
    for k, v in body.items():
        if k in env:
            raise ProtocolError(f"body key {k!r} of {topic} collides with the envelope")
        env[k] = v
    return dumps(clean_json(env))


@dataclass(frozen=True)
class Message:
    """One received message, decoded."""

    topic: str
    payload: dict[str, Any]
    extra: tuple[bytes, ...] = field(default=())  # cpr.frame: (jpeg bytes,)

    @property
    def t_s(self) -> float:
        return float(self.payload["t_s"])

    @property
    def station(self) -> str:
        return str(self.payload["station"])


def decode(frames: Sequence[bytes]) -> Message:
    """Parse ``[topic, payload, *extra]``; raises ProtocolError with the reason."""
    if len(frames) < 2:
        raise ProtocolError(f"expected [topic, payload], got {len(frames)} frame(s)")
    try:
        topic = bytes(frames[0]).decode("ascii")
    except UnicodeDecodeError:
        raise ProtocolError("topic frame is not ASCII") from None
    try:
        payload = json.loads(bytes(frames[1]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"{topic}: payload is not UTF-8 JSON ({exc})") from None
    if not isinstance(payload, dict):
        raise ProtocolError(f"{topic}: payload is not a JSON object")
    if payload.get("v") != PROTOCOL_VERSION:
        raise ProtocolError(f"{topic}: unsupported protocol version {payload.get('v')!r}")
    if payload.get("topic") != topic:
        raise ProtocolError(f"{topic}: payload names topic {payload.get('topic')!r}")
    return Message(topic, payload, tuple(bytes(f) for f in frames[2:]))


def load_schema(name: str) -> dict[str, Any]:
    """The JSON Schema shipped for a topic (or remote.request / remote.reply)."""
    if name not in SCHEMA_NAMES:
        raise ProtocolError(f"no schema for {name!r}")
    text = resources.files("overlays").joinpath("schemas", f"{name}.schema.json").read_text(encoding="utf-8")
    return json.loads(text)
