"""A client that hears nothing for 5 s says the likely causes, once per silence."""
from __future__ import annotations

import json
import socket
import time

from overlays.hud.server import HudOptions, HudThread
from overlays.hud.websocket import WebSocketClient
from overlays.publisher import Publisher, PublisherOptions
from overlays.security import CurveClientOptions, CurveServerOptions, generate_keys
from overlays.subscriber import silence_hint
from overlays.viewer import MonitorViewer, ViewerOptions

from overlay_helpers import ANY_PORT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_hint_tells_nobody_there_from_encrypted_station(tmp_path):
    nobody = silence_hint(f"tcp://127.0.0.1:{_free_port()}", None)
    assert "nothing listens there" in nobody and "station running" in nobody
    assert "nothing listens" in silence_hint(f"ipc://{tmp_path / 'none.ipc'}", None)
    keys = generate_keys(tmp_path / "k", ("v",))
    with Publisher(PublisherOptions(endpoint=ANY_PORT, curve=CurveServerOptions(keys.server_secret, keys.allowed_dir))) as pub:
        plain = silence_hint(pub.endpoint, None)
        assert "something listens there" in plain and "encrypted (CURVE)" in plain and "--curve-secret" in plain
        keyed = silence_hint(pub.endpoint, CurveClientOptions(keys.client_secrets[0], keys.server_public))
        assert "allow-list" in keyed


def test_viewer_says_why_once_per_silence():
    now = [100.0]
    said: list[str] = []
    pub = Publisher(PublisherOptions(endpoint=ANY_PORT, station_id="quiet"))
    opts = ViewerOptions(connect=f"tcp://127.0.0.1:{_free_port()}", size=(320, 180), fps=10.0)
    try:
        with MonitorViewer(opts, clock=lambda: now[0], log=said.append) as viewer:
            viewer.poll()
            now[0] += 4.9
            viewer.poll()
            assert said == []
            now[0] += 0.2
            viewer.poll()
            viewer.compose()  # the hint is drawn too
            now[0] += 10
            viewer.poll()
            assert len(said) == 1 and "nothing listens there" in said[0]
            assert viewer.stats.hints == said
    finally:
        pub.close()


def test_hud_pages_get_the_hint_in_their_status():
    hud = HudThread(HudOptions(connect=f"tcp://127.0.0.1:{_free_port()}", port=0, silence_hint_s=0.3))
    try:
        server = hud.start()
        with WebSocketClient(f"ws://127.0.0.1:{server.port}/ws") as ws:
            deadline = time.monotonic() + 5
            hint = None
            while hint is None and time.monotonic() < deadline:
                m = json.loads(ws.recv(timeout_s=3))
                hint = m.get("hint") if m["topic"] == "hud.status" else None
        assert hint is not None and "nothing listens there" in hint
        assert server.hint == hint
    finally:
        hud.stop()
