"""Fuzzing every boundary where bytes arrive: nothing raises past it but its own one-line error.

CI runs a few hundred examples per target; the soak run sets CPR_FUZZ_EXAMPLES=10000
(``python -m tests.soak fuzz`` does it for you).
"""
from __future__ import annotations

import asyncio
import copy
import json
import math
import os
import socket

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from calibration.camera import CameraIntrinsics
from calibration.geometry import camera_from_angles, view_angles
from calibration.manikin import ManikinCalibration, MarkerSpec
from calibration.store import CalibrationFileError, StationCalibration, load_calibration, save_calibration
from overlays.hud.websocket import OP_CLOSE, OP_PING, OP_TEXT, AsyncWebSocket, WebSocketError, encode_frame
from overlays.protocol import TOPICS, Message, ProtocolError, decode
from overlays.remote import RemoteServer, RemoteOptions

EXAMPLES = int(os.environ.get("CPR_FUZZ_EXAMPLES", "200"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    max_leaves=20,
)


# ----------------------------------------------------------------------------- protocol.decode
ENVELOPE = st.fixed_dictionaries({"topic": st.sampled_from(TOPICS), "v": st.sampled_from([1, 1, 2, "1"]),
                                  "station": st.text(max_size=5), "t_s": st.floats() | st.integers(),
                                  "seq": st.integers()}, optional={"x": JSON, "session": JSON, "height_mm": JSON})
PAYLOADS = st.one_of(
    st.binary(max_size=400),
    JSON.map(lambda v: json.dumps(v).encode()),
    ENVELOPE.map(lambda d: json.dumps(d).encode()),
    st.tuples(st.sampled_from(["[", "{\"a\":"]), st.integers(1, 3000)).map(lambda p: (p[0] * p[1]).encode()),
    st.integers(1, 9000).map(lambda n: b'{"topic":"cpr.state","v":1,"x":' + b"7" * n + b"}"),
)


@FUZZ
@given(st.one_of(st.sampled_from(TOPICS).map(str.encode), st.binary(max_size=80)), PAYLOADS,
       st.lists(st.binary(max_size=30), max_size=2))
def test_fuzz_protocol_decode(topic, payload, extra):
    try:
        m = decode([topic, payload, *extra])
    except ProtocolError as exc:
        assert exc.kind and "\n" not in str(exc)
        return
    assert isinstance(m, Message) and m.topic in TOPICS and isinstance(m.payload, dict)


# ----------------------------------------------------------------------------- remote
class _FaultyHandler:
    """A station whose handlers fail in every way (fault injection: the server must still reply)."""

    def __init__(self, behaviour):
        self.behaviour = behaviour

    def _do(self, args):
        b = self.behaviour
        if isinstance(b, type) and issubclass(b, BaseException):
            raise b("injected")
        return b

    remote_status = lambda self: self._do({})  # noqa: E731
    remote_start = remote_stop = remote_set_profile = remote_snapshot = lambda self, args: self._do(args)  # noqa: E731


REQUESTS = st.one_of(
    st.lists(st.binary(max_size=300), min_size=0, max_size=3),
    JSON.map(lambda v: [json.dumps(v).encode()]),
    st.fixed_dictionaries({"cmd": st.sampled_from(["status", "start", "stop", "set-profile", "snapshot", "x"])},
                          optional={"profile": JSON}).map(lambda d: [json.dumps(d).encode()]),
    st.integers(1, 5000).map(lambda n: [b'{"cmd":"status","a":' + b"[" * n + b"]" * n + b"}"]),
)
BEHAVIOURS = st.one_of(st.sampled_from([ValueError, KeyError, RuntimeError, TypeError, RecursionError]),
                       st.dictionaries(st.text(max_size=5), JSON, max_size=3), st.just({"x": object()}))


@pytest.fixture(scope="module")
def remote_server():
    server = RemoteServer(_FaultyHandler({}), RemoteOptions(endpoint="tcp://127.0.0.1:0"))
    yield server
    server.close()


@FUZZ
@given(REQUESTS, BEHAVIOURS)
def test_fuzz_remote_requests(remote_server, frames, behaviour):
    remote_server.handler = _FaultyHandler(behaviour)
    reply = json.loads(remote_server.handle(frames))
    assert isinstance(reply["ok"], bool) and reply["v"] == 1
    if not reply["ok"]:
        assert isinstance(reply["error"], str) and "\n" not in reply["error"]


# ----------------------------------------------------------------------------- WebSocket frames
def _frames_strategy():
    masked = st.builds(lambda op, data, fin: encode_frame(op, data, mask=True, fin=fin),
                       st.sampled_from([0, OP_TEXT, 2, OP_CLOSE, OP_PING, 0xA, 3, 0xF]), st.binary(max_size=200),
                       st.booleans())
    return st.lists(st.one_of(masked, st.binary(max_size=40)), max_size=6).map(b"".join)


async def _feed(data: bytes) -> list:
    a, b = socket.socketpair()
    reader, writer = await asyncio.open_connection(sock=a)
    ws = AsyncWebSocket(reader, writer, max_message=1 << 12)
    b.setblocking(False)
    b.sendall(data)
    b.shutdown(socket.SHUT_WR)
    got = []
    try:
        for _ in range(20):
            m = await asyncio.wait_for(ws.recv(), 2.0)
            if m is None:
                break
            got.append(m)
    except WebSocketError as exc:
        got.append(exc)
    finally:
        await ws.close()
        b.close()
    return got


@FUZZ
@given(_frames_strategy())
def test_fuzz_websocket_frame_parser(data):
    got = asyncio.run(_feed(data))
    for m in got:
        assert isinstance(m, (str, bytes, WebSocketError))


def test_websocket_parser_refuses_a_huge_declared_length():
    huge = bytes([0x81, 0x80 | 127]) + (1 << 62).to_bytes(8, "big") + b"\0\0\0\0"
    (err,) = asyncio.run(_feed(huge))
    assert isinstance(err, WebSocketError) and "exceeds" in str(err)


# ----------------------------------------------------------------------------- calibration loader
def _good() -> dict:
    pose = camera_from_angles(30.0, 10.0, 900.0)
    man = ManikinCalibration(MarkerSpec(), pose, 0.05, view_angles(pose), 0.85, 0.9, 74.0, 58, 2, None, ())
    cam = CameraIntrinsics(1280, 720, 1100.0, 1101.0, 641.0, 359.0, (-0.1, 0.02, 0.0, 0.0, 0.0), "chessboard", 0.2, 12)
    return StationCalibration(cam, man).to_dict()


GOOD = _good()


def _paths(d, prefix=()):
    for k, v in d.items():
        yield prefix + (k,)
        if isinstance(v, dict):
            yield from _paths(v, prefix + (k,))


PATHS = sorted(_paths(GOOD))
VALUES = st.one_of(JSON, st.sampled_from([math.inf, -math.inf, math.nan, 10 ** 50, -1, 0, 1e308, [], {}, "x"]))


_SHARED = {}  # (what sampled_from hands every example: one object)


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(PATHS), VALUES), max_size=3), st.binary(max_size=60), st.booleans())
@example([(("camera",), _SHARED), (("camera", "source"), _SHARED)], b"", False)  # (found by CI, session 24)
def test_fuzz_calibration_loader(tmp_path_factory, edits, junk, use_junk):
    d = json.loads(json.dumps(GOOD))
    for path, value in edits:
        node = d
        for k in path[:-1]:
            node = node.get(k) if isinstance(node, dict) else None
        if isinstance(node, dict):  # a copy: sampled_from gives the same [] and {} to every example, and an edit
            # inside one put there earlier would mutate it for all of them (once it held itself: a circular reference)
            node[path[-1]] = copy.deepcopy(value)
    p = tmp_path_factory.mktemp("fuzz") / "cal.json"
    if use_junk:
        p.write_bytes(json.dumps(d).encode()[: len(junk) * 20] + junk)
    else:
        p.write_text(json.dumps(d))
    try:
        cal = load_calibration(p)
    except CalibrationFileError as exc:
        assert "\n" not in str(exc) and str(p) in str(exc)
        return
    assert 0 < cal.camera.width_px <= 100_000 and math.isfinite(cal.camera.fx_px)
    if cal.manikin is not None:
        assert 0 < cal.manikin.marker.size_mm <= 1000


def test_saved_calibration_still_loads(tmp_path):
    cal = load_calibration(save_calibration(StationCalibration(CameraIntrinsics.from_hfov(60.0, 640, 480)), tmp_path / "ok.json"))
    assert cal.camera.width_px == 640
    p = tmp_path / "good.json"
    p.write_text(json.dumps(GOOD))  # the fuzzer's starting point is itself valid
    assert load_calibration(p).manikin is not None
