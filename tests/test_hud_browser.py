"""The HUD in headless Chromium: publish a known depth, read it back from the DOM and the pixels.

Needs Debian's ``chromium`` (``apt-get install -y chromium``); skips with that
reason when it is absent. Talks to Chromium over the DevTools protocol with the
project's own WebSocket client.
"""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from coach.core.profiles import load_profile
from coach.feedback import Coach
from overlays.hud.server import HudOptions, HudThread
from overlays.publisher import Publisher, PublisherOptions
from overlays.scene import SceneInputs, build_overlay, top_down_projector

from browser_helpers import CHROMIUM_SKIP, chromium_page
from overlay_helpers import ANY_PORT, core_state

pytestmark = CHROMIUM_SKIP
MARKER_BGR = (255, 230, 80)  # COLORS.marker "#50e6ff" in hud.js


@pytest.fixture()
def browser_on_hud(request):
    host = getattr(request, "param", "127.0.0.1")  # "0.0.0.0": served on the LAN, with an access token
    pub = Publisher(PublisherOptions(endpoint=ANY_PORT, station_id="hud-browser", max_state_hz=1e9))
    hud = HudThread(HudOptions(connect=pub.endpoint, host=host, port=0))
    server = hud.start()
    depth = {"mm": 53.0}
    stop = threading.Event()
    profile = load_profile()
    coach = Coach()

    def station() -> None:  # a steady 30 Hz stream with the depth the test chose
        t = 0.0
        while not stop.is_set():
            d = depth["mm"]
            pub.publish_state(core_state(t_s=t, displacement_mm=d, last_depth_mm=d), t_s=t)
            pub.publish_overlay(build_overlay(SceneInputs(
                t, profile, d, d, 112.0, metronome=coach.metronome_cue(t).to_dict(), count_text="7 / 30",
                procedure_phase="compressing", placement_mm=0.0), project=top_down_projector()), t_s=t)
            t += 1 / 30
            time.sleep(1 / 30)

    th = threading.Thread(target=station, daemon=True)
    th.start()
    try:
        with chromium_page(server.url) as dt:
            yield dt, depth
    finally:
        stop.set()
        hud.stop()
        pub.close()


def _marker_rows(img: np.ndarray, gauge: dict) -> np.ndarray:
    """Rows of the gauge bar where the live-marker colour fills the bar's width."""
    x0, x1 = int(gauge["x"]) + 3, int(gauge["x"] + gauge["w"]) - 3
    strip = img[:, x0:x1].astype(int)
    close = (np.abs(strip - np.array(MARKER_BGR)).sum(axis=2) < 60).mean(axis=1)
    return np.flatnonzero(close > 0.9)


def test_gauge_shows_the_published_depth(browser_on_hud):
    dt, depth = browser_on_hud
    dt.wait("document.getElementById('depth-value').textContent", "53")
    assert dt.eval("document.getElementById('live-depth').textContent") == "53"
    dt.wait("cprHud.gauge() !== null", True)  # the canvas has drawn a frame
    g = dt.eval("cprHud.gauge()")
    assert (g["lo"], g["hi"]) == (0, 80)
    time.sleep(0.1)
    img = dt.screenshot()
    assert img.shape[:2] == (720, 1280)
    rows = _marker_rows(img, g)
    expected = g["y"] + (53 - g["lo"]) / (g["hi"] - g["lo"]) * g["h"]
    assert rows.size and abs(rows.mean() - expected) < 4, (rows, expected)
    # the band is drawn where the profile says
    band = load_profile().depth_mm
    green_row = int(g["y"] + ((band.min + band.max) / 2 - g["lo"]) / (g["hi"] - g["lo"]) * g["h"])
    b, gr, r = img[green_row, int(g["x"] + g["w"] / 2)]
    assert gr > 150 and r < 150 and b < 150
    # move the depth: the marker follows
    depth["mm"] = 30.0
    dt.wait("document.getElementById('live-depth').textContent", "30")
    time.sleep(0.1)
    rows = _marker_rows(dt.screenshot(), g)
    expected = g["y"] + (30 - g["lo"]) / (g["hi"] - g["lo"]) * g["h"]
    assert rows.size and abs(rows.mean() - expected) < 4


def test_flat_hud_without_webxr_and_world_locked_math(browser_on_hud):
    dt, _ = browser_on_hud
    dt.wait("document.getElementById('depth-value').textContent", "53")
    # headless Chromium has no immersive-ar: the flat HUD shows and the AR button stays hidden
    assert dt.eval("cprHud.xr.supported") is False
    assert dt.eval("document.getElementById('enter-ar').hidden") is True
    assert dt.eval("document.body.innerText.includes('NO SIGNAL')") is False
    assert dt.eval("cprHud.errors") == []  # no uncaught script errors while drawing
    # the WebXR path places the gauge world-locked from the overlay's manikin-frame metres
    corners = np.array(dt.eval(
        "(() => { const a = cprHud.xrMath.anchorFromViewer([1,0,0,0, 0,1,0,0, 0,0,1,0, 0,1.6,0,1]);"
        " const g = cprHud.model.prims.depth; return cprHud.xrMath.quadCorners(g, a, g.world.right); })()"))
    g = dt.eval("cprHud.model.prims.depth.world")
    w, h = g["size_m"]
    bl, br, tr, tl = corners
    # viewer at (0, 1.6, 0) looking down -z, +y up: the manikin origin goes 0.45 m ahead and 0.45 m below
    origin = np.array([0.0, 1.6 - 0.45, -0.45])
    centre = corners.mean(axis=0)
    assert centre[2] == pytest.approx(origin[2] - 0.28, abs=1e-6)  # panels stand beyond the chest
    assert centre[1] == pytest.approx(origin[1] + 0.12, abs=1e-6)  # lifted above it
    assert centre[0] < origin[0]  # the gauge sits to the rescuer's left
    assert np.allclose(br - bl, [w, 0, 0], atol=1e-6)  # upright and unmirrored, facing the viewer
    assert np.allclose(tl - bl, [0, h, 0], atol=1e-6)
    assert np.allclose(tr - bl, [w, h, 0], atol=1e-6)
    # the placement ring lies flat on the chest, at the origin
    ring = np.array(dt.eval(
        "(() => { const a = cprHud.xrMath.anchorFromViewer([1,0,0,0, 0,1,0,0, 0,0,1,0, 0,1.6,0,1]);"
        " const p = cprHud.model.prims.placement; return cprHud.xrMath.quadCorners(p, a, cprHud.model.prims.depth.world.right); })()"))
    assert np.allclose(ring.mean(axis=0), origin, atol=1e-6) and np.allclose(ring[:, 1], origin[1], atol=1e-6)
    assert (ring[3] - ring[0])[0] < 0  # texture "up" = toward the head = the viewer's left (rescuer at the right)


@pytest.mark.parametrize("browser_on_hud", ["0.0.0.0"], indirect=True)
def test_the_page_passes_its_token_to_the_websocket_beyond_loopback(browser_on_hud):
    dt, _ = browser_on_hud
    dt.wait("document.getElementById('depth-value').textContent", "53")  # the WebSocket was let in
    assert "token=" in dt.eval("location.search")
    assert dt.eval("cprHud.errors") == []
