"""The HUD server: static page, ZeroMQ -> WebSocket bridge, late joiners, origin check, bounded queues."""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest

from coach.feedback.prompts import PUSH_HARDER
from overlays.hud.server import HudOptions, HudThread
from overlays.hud.websocket import WebSocketClient, WebSocketError
from overlays.publisher import Publisher, PublisherOptions

from overlay_helpers import ANY_PORT, core_state
from overlay_helpers import until as _until


@pytest.fixture()
def station_and_hud():
    pub = Publisher(PublisherOptions(endpoint=ANY_PORT, station_id="hud-test", max_state_hz=1e9))
    hud = HudThread(HudOptions(connect=pub.endpoint, port=0))
    server = hud.start()
    yield pub, server
    hud.stop()
    pub.close()


def _recv_topic(ws: WebSocketClient, topic: str, timeout_s: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        m = json.loads(ws.recv(timeout_s=max(0.05, deadline - time.monotonic())))
        if m["topic"] == topic:
            return m
    raise AssertionError(f"no {topic} within {timeout_s} s")


def test_serves_the_page_and_refuses_unknown_paths(station_and_hud):
    _, server = station_and_hud
    html = urllib.request.urlopen(server.url, timeout=5).read().decode()
    assert "hud.js" in html and "depth-value" in html
    js = urllib.request.urlopen(server.url + "hud.js", timeout=5)
    assert js.headers["Content-Type"].startswith("text/javascript") and b"immersive-ar" in js.read()
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(server.url + "../etc/passwd", timeout=5)
    assert err.value.code == 404


def test_bridge_forwards_payloads_and_late_joiners_get_the_newest(station_and_hud):
    pub, server = station_and_hud
    # the bridge subscribes like any viewer: wait until it hears the station
    assert _until(lambda: server.forwarded > 0, step=lambda: pub.heartbeat(
        source_kind="simulator", source_name="t", tracker_status="ok"))
    pub.publish_feedback(PUSH_HARDER.at(1.0), t_s=1.0)
    assert _until(lambda: "cpr.feedback" in server.cache)
    ws = WebSocketClient(f"ws://127.0.0.1:{server.port}/ws")  # joins after the prompt was sent
    try:
        fb = _recv_topic(ws, "cpr.feedback")
        assert fb["prompt"]["text"] == "Push harder" and fb["station"] == "hud-test"
        pub.publish_state(core_state(t_s=2.0, displacement_mm=44.0), t_s=2.0)
        st = _recv_topic(ws, "cpr.state")
        while st["t_s"] != 2.0:  # skip the cached one if any
            st = _recv_topic(ws, "cpr.state")
        assert st["displacement_mm"] == 44.0
        status = _recv_topic(ws, "hud.status", timeout_s=3.0)
        assert status["connected"] is True
    finally:
        ws.close()


def test_cross_origin_websocket_is_refused(station_and_hud):
    _, server = station_and_hud
    with pytest.raises(WebSocketError, match="403"):
        WebSocketClient(f"ws://127.0.0.1:{server.port}/ws", origin="http://evil.example")
    ok = WebSocketClient(f"ws://127.0.0.1:{server.port}/ws", origin=f"http://127.0.0.1:{server.port}")
    ok.close()


def test_a_page_that_never_reads_has_bounded_queues(station_and_hud):
    pub, server = station_and_hud
    ws = WebSocketClient(f"ws://127.0.0.1:{server.port}/ws")
    try:
        assert _until(lambda: len(server.clients) == 1)
        assert _until(lambda: server.forwarded > 0, step=lambda: pub.heartbeat(
            source_kind="simulator", source_name="t", tracker_status="ok"))
        for i in range(5000):  # the client reads nothing meanwhile
            pub.publish_state(core_state(t_s=float(i)), t_s=float(i))
            pub.publish_feedback(None, t_s=float(i))
        time.sleep(0.5)
        (client,) = tuple(server.clients)
        assert len(client.latest) <= 2  # state/overlay: newest only
        assert len(client.events) <= server.options.max_events_per_client
    finally:
        ws.close()


def test_hud_command_serves_until_interrupted():
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "coach.cli", "hud", "--port", "0", "--connect", "tcp://127.0.0.1:9"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("HUD at http://127.0.0.1:"), line
        url = line.split()[2]
        assert b"cpr-coach HUD" in urllib.request.urlopen(url, timeout=5).read()
        status = json.loads(urllib.request.urlopen(url + "status.json", timeout=5).read())
        assert status["connect"] == "tcp://127.0.0.1:9" and status["forwarded"] == 0
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:  # (never left running for the rest of the suite)
            proc.kill()
            out, err = proc.communicate(timeout=5)
    assert proc.returncode == 130 and "interrupted" in err


def test_a_taken_port_is_a_one_line_error_and_a_bad_client_frame_drops_only_that_client(station_and_hud):
    import asyncio

    from overlays.hud.server import HudError, HudServer
    from overlays.hud.websocket import OP_TEXT, encode_frame

    pub, server = station_and_hud
    second = HudServer(HudOptions(connect=pub.endpoint, port=server.port))
    with pytest.raises(HudError, match=f"cannot serve the HUD on 127.0.0.1:{server.port}"):
        asyncio.run(second.start())
    assert second._ctx is None  # its ZeroMQ context was released, not leaked
    bad = WebSocketClient(f"ws://127.0.0.1:{server.port}/ws")
    good = WebSocketClient(f"ws://127.0.0.1:{server.port}/ws")
    try:
        assert _until(lambda: len(server.clients) == 2)
        assert _until(lambda: server.forwarded > 0, step=lambda: pub.heartbeat(  # the bridge hears the station
            source_kind="simulator", source_name="t", tracker_status="ok"))
        bad.sock.sendall(encode_frame(OP_TEXT, b"\xff\xfe not utf-8", mask=True))
        assert _until(lambda: len(server.clients) == 1)  # that page is dropped ...
        pub.publish_feedback(PUSH_HARDER.at(1.0), t_s=1.0)
        assert _recv_topic(good, "cpr.feedback")["prompt"]["id"] == "push_harder"  # ... the others are served
    finally:
        bad.close()
        good.close()


def test_a_page_that_stopped_reading_cannot_hold_the_shutdown():
    import socket

    pub = Publisher(PublisherOptions(endpoint=ANY_PORT, station_id="hud-test", max_state_hz=1e9, sndhwm=10_000))
    hud = HudThread(HudOptions(connect=pub.endpoint, port=0))
    server = hud.start()
    ws = WebSocketClient(f"ws://127.0.0.1:{server.port}/ws")
    ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a headset on a dead Wi-Fi link
    try:
        assert _until(lambda: len(server.clients) == 1)
        assert _until(lambda: server.forwarded > 0, step=lambda: pub.heartbeat(
            source_kind="simulator", source_name="t", tracker_status="ok"))
        (client,) = tuple(server.clients)
        from overlays.messages import compression_body

        from overlay_helpers import compression

        big = {**compression_body(compression(), session=None), "note": "x" * 60_000}  # valid, and large
        for i in range(1000):  # far more than the socket buffers hold: the page's pump blocks in a send
            pub.publish("cpr.compression", big, t_s=float(i))
            if len(client.events) == client.events.maxlen:
                break
            time.sleep(0.002)
        assert _until(lambda: len(client.events) == client.events.maxlen)  # the bridge queues, bounded
        hud.stop()  # joins for at most 5 s
        assert not hud._thread.is_alive()
    finally:
        ws.sock.close()
        pub.close()


def test_dns_rebinding_host_names_are_refused_on_localhost(station_and_hud):
    import socket

    _, server = station_and_hud

    def get(host: str) -> bytes:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
            s.sendall(f"GET /status.json HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            return s.recv(200).split(b"\r\n", 1)[0]

    # a page at evil.example whose name now resolves to 127.0.0.1 sends its own name as Host
    assert b" 403 " in get(f"evil.example:{server.port}")
    assert b" 200 " in get(f"127.0.0.1:{server.port}")
    assert b" 200 " in get(f"localhost:{server.port}")
