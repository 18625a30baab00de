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
import logging
import math
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Callable, Mapping, Sequence

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

# Limits on what a received byte string may hold (docs/protocol.md, "Limits"). Why: a client must
# survive any bytes a peer sends; these bound its memory and CPU before and while parsing.
MAX_PAYLOAD_BYTES = 1 << 20  # a JSON payload; the largest real one (cpr.overlay) is ~10 KiB
MAX_DEPTH = 32  # nesting of arrays/objects; real payloads nest <= 6 deep
MAX_NUMBER_CHARS = 40  # characters of one JSON integer (a double needs <= 24; longer floats overflow to inf: refused)
MAX_TOPIC_BYTES = 64

_log = logging.getLogger("cpr.protocol")


class ProtocolError(ValueError):
    """A message that does not follow the protocol (one-line reason).

    ``kind`` groups reasons for counting and for logging once per kind
    (``size``, ``depth``, ``number``, ``utf8``, ``json``, ``schema``, ...).
    """

    def __init__(self, message: str, kind: str = "protocol") -> None:
        super().__init__(message)
        self.kind = kind


class BadMessages:
    """Counts malformed messages per kind and logs the first of each kind only.

    Why once: a hostile or broken peer can send thousands a second; one line per
    kind says what is wrong without flooding the log or slowing the loop.
    """

    def __init__(self, where: str, log: Callable[[str], None] | None = None) -> None:
        self.where = where
        self.by_kind: dict[str, int] = {}
        self._log = log or (lambda line: _log.warning("%s", line))

    @property
    def total(self) -> int:
        return sum(self.by_kind.values())

    def count(self, exc: BaseException) -> None:
        kind = getattr(exc, "kind", type(exc).__name__)
        n = self.by_kind.get(kind, 0)
        self.by_kind[kind] = n + 1
        if n == 0:
            self._log(f"{self.where}: skipped a malformed message ({kind}): {str(exc)[:200]} "
                      "(further ones of this kind are counted, not logged)")


def _bad_number(text: str) -> Any:
    raise ProtocolError(f"a number of {len(text)} characters exceeds {MAX_NUMBER_CHARS}", "number")


def _parse_int(text: str) -> int:
    return int(text) if len(text) <= MAX_NUMBER_CHARS else _bad_number(text)


def _parse_constant(name: str) -> Any:
    raise ProtocolError(f"{name} is not JSON (non-finite numbers travel as null)", "number")


def _check_tree(obj: Any, max_depth: int) -> None:
    """Nesting depth and finite floats (``1e999`` parses to inf). Iterative: a recursive walk is
    what an attacker's nesting would overflow. Floats are parsed by the C decoder (fast, linear in
    their length), so only their value needs checking here."""
    stack = [(obj, 1)]
    isfinite = math.isfinite
    while stack:
        node, d = stack.pop()
        if d > max_depth:
            raise ProtocolError(f"nesting deeper than {max_depth}", "depth")
        for v in node.values() if isinstance(node, dict) else node:
            if isinstance(v, float):
                if not isfinite(v):
                    raise ProtocolError("a number overflows a double", "number")
            elif isinstance(v, (dict, list)):
                stack.append((v, d + 1))


def loads_bounded(raw: bytes | bytearray | memoryview | str, *, what: str = "payload",
                  max_bytes: int = MAX_PAYLOAD_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """Parse untrusted UTF-8 JSON within the limits; every failure is a ``ProtocolError`` with a kind.

    Checked, in order: size, UTF-8, JSON syntax, integer length (Python's int
    conversion is quadratic), no NaN or Infinity, nesting depth, no overflowing
    doubles. Never raises anything else.
    """
    n = len(raw)
    if n > max_bytes:
        raise ProtocolError(f"{what} of {n} bytes exceeds {max_bytes}", "size")
    try:
        text = raw if isinstance(raw, str) else bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError(f"{what} is not UTF-8", "utf8") from None
    try:
        obj = json.loads(text, parse_int=_parse_int, parse_constant=_parse_constant)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"{what} is not JSON: {exc.msg} at column {exc.colno}", "json") from None
    except RecursionError:
        raise ProtocolError(f"{what}: nesting deeper than {max_depth}", "depth") from None
    except ProtocolError as exc:
        raise ProtocolError(f"{what}: {exc}", exc.kind) from None
    except ValueError as exc:  # e.g. an integer the interpreter refuses to convert
        raise ProtocolError(f"{what}: {exc}", "number") from None
    if isinstance(obj, float) and not math.isfinite(obj):
        raise ProtocolError(f"{what}: a number overflows a double", "number")
    if isinstance(obj, (dict, list)):
        _check_tree(obj, max_depth)
    return obj


_JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda x: isinstance(x, str),
    "number": lambda x: isinstance(x, (int, float)) and not isinstance(x, bool),
    "integer": lambda x: isinstance(x, int) and not isinstance(x, bool),
    "boolean": lambda x: isinstance(x, bool),
    "null": lambda x: x is None,
    "array": lambda x: isinstance(x, list),
    "object": lambda x: isinstance(x, dict),
}


@lru_cache(maxsize=None)
def _top_level_rules(topic: str) -> tuple[tuple[str, ...], dict[str, dict[str, Any]]]:
    """(required keys, {key: its type/const/enum}) from the shipped schema: what every client may rely on."""
    schema = load_schema(topic)
    rules = {k: {r: v[r] for r in ("type", "const", "enum") if r in v} for k, v in schema.get("properties", {}).items()}
    return tuple(schema.get("required", ())), rules


def check_payload(topic: str, payload: Mapping[str, Any]) -> None:
    """Required keys present and top-level values of the schema's type (nested shapes: the consumer checks)."""
    required, rules = _top_level_rules(topic)
    missing = [k for k in required if k not in payload]
    if missing:
        raise ProtocolError(f"{topic}: missing field(s) {', '.join(missing[:5])}", "schema")
    for key, rule in rules.items():
        if key not in payload:
            continue
        value = payload[key]
        if "const" in rule and value != rule["const"]:
            raise ProtocolError(f"{topic}: field {key!r} must be {rule['const']!r}", "schema")
        if "enum" in rule and value not in rule["enum"]:
            raise ProtocolError(f"{topic}: field {key!r} is not one of {', '.join(map(str, rule['enum']))}", "schema")
        types = rule.get("type")
        if types is not None:
            types = [types] if isinstance(types, str) else types
            if not any(_JSON_TYPES[t](value) for t in types):
                raise ProtocolError(f"{topic}: field {key!r} must be {' or '.join(types)}", "schema")


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
    """Parse ``[topic, payload, *extra]`` defensively; raises only ProtocolError (with a ``kind``).

    Why so strict: every viewer, bridge and instructor calls this on bytes from
    the network; whatever arrives, it must get a reason to count, never a crash.
    """
    if len(frames) < 2:
        raise ProtocolError(f"expected [topic, payload], got {len(frames)} frame(s)", "frames")
    if len(frames[0]) > MAX_TOPIC_BYTES:
        raise ProtocolError(f"topic frame of {len(frames[0])} bytes", "topic")
    try:
        topic = bytes(frames[0]).decode("ascii")
    except UnicodeDecodeError:
        raise ProtocolError("topic frame is not ASCII", "topic") from None
    if topic not in TOPICS:
        raise ProtocolError(f"unknown topic {topic!r}", "topic")
    payload = parse_payload(topic, frames[1])
    return Message(topic, payload, tuple(bytes(f) for f in frames[2:]))


def parse_payload(topic: str | None, raw: bytes) -> dict[str, Any]:
    """A payload frame -> checked dict (``topic`` None: read it from the payload, as CONFLATE clients do)."""
    payload = loads_bounded(raw, what=f"{topic or 'message'} payload")
    if not isinstance(payload, dict):
        raise ProtocolError(f"{topic}: payload is not a JSON object", "schema")
    if payload.get("v") != PROTOCOL_VERSION:
        raise ProtocolError(f"{topic}: unsupported protocol version {str(payload.get('v'))[:20]}", "version")
    named = payload.get("topic")
    if topic is None:
        if named not in TOPICS:
            raise ProtocolError(f"payload names no known topic ({str(named)[:40]})", "topic")
        topic = named
    elif named != topic:
        raise ProtocolError(f"{topic}: payload names topic {str(named)[:40]!r}", "topic")
    check_payload(topic, payload)  # the schemas require a numeric t_s on every topic
    return payload


def load_schema(name: str) -> dict[str, Any]:
    """The JSON Schema shipped for a topic (or remote.request / remote.reply)."""
    if name not in SCHEMA_NAMES:
        raise ProtocolError(f"no schema for {name!r}")
    text = resources.files("overlays").joinpath("schemas", f"{name}.schema.json").read_text(encoding="utf-8")
    return json.loads(text)
