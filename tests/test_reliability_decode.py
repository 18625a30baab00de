"""No message breaks a client: hostile payloads are refused with a kind, counted, logged once, and skipped."""
from __future__ import annotations

import json
import logging
import subprocess
import sys
import time

import pytest
import zmq

from coach.core.types import json_safe
from overlays.hud.server import HudOptions, HudThread
from overlays.messages import state_body
from overlays.protocol import MAX_PAYLOAD_BYTES, ProtocolError, decode
from overlays.subscriber import Subscriber, SubscriberOptions

from overlay_helpers import core_state
from overlay_helpers import until as _until

ENV = b'{"topic":"cpr.state","v":1,"station":"s","t_s":1.0,"seq":0,'


def _good_state(seq: int = 0) -> list[bytes]:
    env = {"topic": "cpr.state", "v": 1, "station": "rogue", "t_s": 1.0 + seq, "seq": seq,
           **state_body(core_state(displacement_mm=40.0, last_depth_mm=52.0), hands_visible=True)}
    return [b"cpr.state", json.dumps(json_safe(env)).encode()]


HOSTILE = {
    "depth": [b"cpr.state", ENV + b'"x":' + b"[" * 200_000 + b"]" * 200_000 + b"}"],
    "depth_small": [b"cpr.state", ENV + b'"x":' + b"[" * 40 + b"]" * 40 + b"}"],
    "number": [b"cpr.state", ENV + b'"x":' + b"9" * 5000 + b"}"],
    "number_inf": [b"cpr.state", ENV + b'"x":Infinity}'],
    "number_overflow": [b"cpr.state", ENV + b'"x":1e999}'],
    "size": [b"cpr.state", ENV + b'"x":"' + b"a" * (MAX_PAYLOAD_BYTES + 10) + b'"}'],
    "utf8": [b"cpr.state", ENV + b'"x":"\xff\xfe"}'],
    "json": [b"cpr.state", b"{nope"],
    "schema": [b"cpr.state", ENV[:-1] + b"}"],  # envelope only: the state fields are missing
    "topic": [b"cpr.nope", b"{}"],
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_decode_refuses_hostile_payloads_with_a_kind(name):
    with pytest.raises(ProtocolError) as info:
        decode(HOSTILE[name])
    assert info.value.kind == name.split("_")[0]


def _rogue() -> tuple[zmq.Context, zmq.Socket, str]:
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    pub.bind("tcp://127.0.0.1:*")
    return ctx, pub, pub.getsockopt_string(zmq.LAST_ENDPOINT)


def test_subscriber_and_hud_bridge_survive_and_log_once_per_kind(caplog):
    ctx, pub, ep = _rogue()
    sub = Subscriber(SubscriberOptions(connect=ep))
    hud = HudThread(HudOptions(connect=ep, port=0))
    try:
        server = hud.start()
        assert _until(lambda: server.forwarded > 0 and sub.recv(0.01) is not None,
                      step=lambda: pub.send_multipart(_good_state()))
        sub.drain()
        before = server.forwarded
        with caplog.at_level(logging.WARNING):
            for _ in range(3):
                for frames in HOSTILE.values():
                    pub.send_multipart(frames)
            pub.send_multipart(_good_state(99))
            got: list = []
            assert _until(lambda: bool(got.extend(sub.drain()) or (got and got[-1].payload["seq"] == 99)), timeout_s=10.0)
            # the bridge forwards the good one after the bad (its cache holds seq 99: late warm-up messages don't count)
            assert _until(lambda: server.forwarded > before
                          and json.loads(server.cache.get("cpr.state", "{}")).get("seq") == 99)
        seqs = [m.payload["seq"] for m in got]
        assert seqs[-1] == 99 and set(seqs[:-1]) <= {0}  # (a late warm-up message may precede it)
        # the bridge subscribes to the protocol's topics only, so it never sees cpr.nope
        assert sub.bad == 3 * len(HOSTILE) and server.bad == 3 * (len(HOSTILE) - 1)
        kinds = {name.split("_")[0] for name in HOSTILE}
        assert set(sub.bad_kinds) == kinds
        for who, n_kinds in (("subscriber", len(kinds)), ("HUD bridge", len(kinds) - 1)):  # one line per kind
            lines = [r for r in caplog.records if r.getMessage().startswith(who)]
            assert len(lines) == n_kinds, [r.getMessage() for r in lines]
    finally:
        hud.stop()
        sub.close()
        pub.close(0)
        ctx.term()


def test_view_command_keeps_running_through_hostile_payloads(tmp_path):
    ctx, pub, ep = _rogue()
    proc = subprocess.Popen([sys.executable, "-m", "coach.cli", "view", "--connect", ep, "--no-window",
                             "--snapshots", str(tmp_path), "--duration", "4", "--every", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        end = time.monotonic() + 3.5
        i = 0
        while time.monotonic() < end:
            for frames in HOSTILE.values():
                pub.send_multipart(frames)
            pub.send_multipart(_good_state(i))
            i += 1
            time.sleep(0.1)
        out, err = proc.communicate(timeout=30)
    finally:
        pub.close(0)
        ctx.term()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "messages" in out and int(out.split(" frames, ")[1].split(" messages")[0]) > 0
    assert len(list(tmp_path.glob("*.png"))) >= 2
