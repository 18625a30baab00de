"""The HUD beyond loopback: token, Host check, client cap, idle timeout, malformed requests answered 400."""
from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request

import pytest

from overlays.hud.server import HudOptions, HudThread
from overlays.hud.websocket import WebSocketClient, WebSocketError
from overlays.publisher import Publisher, PublisherOptions

from overlay_helpers import ANY_PORT

TOKEN = "t0ken-for-the-tests-0123456789"


@pytest.fixture()
def lan_hud():
    pub = Publisher(PublisherOptions(endpoint=ANY_PORT, station_id="hud-sec"))
    hud = HudThread(HudOptions(connect=pub.endpoint, host="0.0.0.0", port=0, token=TOKEN,
                               allow_hosts=("headset.lab",), max_clients=3, idle_timeout_s=1.0))
    server = hud.start()
    yield server
    hud.stop()
    pub.close()


def _raw(port: int, request: bytes, timeout_s: float = 3.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as s:
        s.sendall(request)
        out = b""
        while chunk := s.recv(4096):
            out += chunk
            if b"\r\n\r\n" in out and b" 101 " in out.split(b"\r\n", 1)[0]:
                break
        return out


def _get(port: int, target: str, host: str = "127.0.0.1") -> int:
    head = _raw(port, f"GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    return int(head.split(b" ", 2)[1])


def _upgrade(port: int, target: str, host: str, origin: str | None = None) -> int:
    lines = [f"GET {target} HTTP/1.1", f"Host: {host}", "Upgrade: websocket", "Connection: Upgrade",
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"]
    if origin:
        lines.append(f"Origin: {origin}")
    return int(_raw(port, ("\r\n".join(lines) + "\r\n\r\n").encode()).split(b" ", 2)[1])


def test_token_guards_the_page_and_the_websocket(lan_hud):
    port = lan_hud.port
    assert lan_hud.url.endswith(f"?token={TOKEN}")
    assert _get(port, "/") == 401
    assert _get(port, "/?token=wrong") == 401
    assert _get(port, "/status.json") == 401
    assert _get(port, f"/?token={TOKEN}") == 200
    assert _get(port, "/hud.js") == 200  # the script holds no data
    assert _upgrade(port, "/ws", "127.0.0.1") == 401
    assert _upgrade(port, f"/ws?token={TOKEN}", "127.0.0.1") == 101
    assert lan_hud.refused["token"] >= 4


def test_host_check_stays_on_beyond_loopback(lan_hud):
    port = lan_hud.port
    # the reproduction: Host and Origin both a rebinding name -> refused now
    assert _upgrade(port, f"/ws?token={TOKEN}", "evil.example.com", origin="http://evil.example.com") == 403
    assert _get(port, f"/?token={TOKEN}", host="evil.example.com") == 403
    assert _get(port, f"/?token={TOKEN}", host="headset.lab:8765") == 200  # --allow-host
    assert _get(port, f"/?token={TOKEN}", host="192.168.1.20:8765") == 200  # an IP literal: no rebinding
    assert lan_hud.refused["host"] >= 2


@pytest.mark.parametrize("host", ["[::1", "[nonsense]:80", "a:b:c"])
def test_a_malformed_host_gets_400_and_the_server_keeps_serving(lan_hud, host, caplog):
    head = _raw(lan_hud.port, f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    assert head.startswith(b"HTTP/1.1 400") or head.startswith(b"HTTP/1.1 403")
    assert "Traceback" not in caplog.text
    assert _get(lan_hud.port, f"/?token={TOKEN}") == 200


def test_websocket_clients_are_capped_and_idle_ones_closed(lan_hud):
    url = f"ws://127.0.0.1:{lan_hud.port}/ws?token={TOKEN}"
    clients = [WebSocketClient(url) for _ in range(3)]
    try:
        with pytest.raises(WebSocketError, match="503"):
            WebSocketClient(url)
        assert lan_hud.refused["full"] == 1
        # none of the three reads (so none answers the pings): closed after the 1 s idle timeout
        deadline = time.monotonic() + 6.0
        while lan_hud.clients and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not lan_hud.clients and lan_hud.refused["idle"] == 3
        with WebSocketClient(url) as again:  # room again
            assert again.recv(timeout_s=3.0)
    finally:
        for c in clients:
            c.sock.close()


def test_a_client_that_answers_pings_is_not_idle(lan_hud):
    with WebSocketClient(f"ws://127.0.0.1:{lan_hud.port}/ws?token={TOKEN}") as ws:
        end = time.monotonic() + 2.5  # 2.5 idle timeouts
        while time.monotonic() < end:
            try:
                ws.recv(timeout_s=0.2)  # reading answers the server's pings
            except (TimeoutError, socket.timeout):
                pass
        assert len(lan_hud.clients) == 1


def test_loopback_hud_needs_no_token():
    pub = Publisher(PublisherOptions(endpoint=ANY_PORT))
    hud = HudThread(HudOptions(connect=pub.endpoint, port=0))
    try:
        server = hud.start()
        assert server.token is None and "token" not in server.url
        with urllib.request.urlopen(server.url, timeout=3) as r:
            assert r.status == 200
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(urllib.request.Request(server.url, headers={"Host": "evil.example.com"}), timeout=3)
    finally:
        hud.stop()
        pub.close()


def test_hud_beyond_loopback_makes_a_random_token():
    pub = Publisher(PublisherOptions(endpoint=ANY_PORT))
    a = HudThread(HudOptions(connect=pub.endpoint, host="0.0.0.0", port=0))
    b = HudThread(HudOptions(connect=pub.endpoint, host="0.0.0.0", port=0))
    try:
        ta, tb = a.start().token, b.start().token
        assert ta and tb and ta != tb and len(ta) >= 20
    finally:
        a.stop()
        b.stop()
        pub.close()
