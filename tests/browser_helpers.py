"""Headless Chromium driven over the DevTools protocol with the project's own WebSocket client.

Needs Debian's ``chromium`` (``apt-get install -y chromium``); tests skip with ``CHROMIUM_SKIP`` when absent.
"""
from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request

import numpy as np
import pytest

from overlays.hud.websocket import WebSocketClient

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
CHROMIUM_SKIP = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium absent: apt-get install -y chromium")


class DevTools:
    """Minimal DevTools-protocol client over the project's WebSocket client."""

    def __init__(self, url: str) -> None:
        self.ws = WebSocketClient(url, timeout_s=15)
        self.id = 0

    def call(self, method: str, **params):
        self.id += 1
        self.ws.send_text(json.dumps({"id": self.id, "method": method, "params": params}))
        while True:
            reply = json.loads(self.ws.recv(timeout_s=15))
            if reply.get("id") == self.id:
                if "error" in reply:
                    raise AssertionError(f"{method}: {reply['error']}")
                return reply["result"]

    def eval(self, expr: str):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True)
        return r["result"].get("value")

    def wait(self, expr: str, want, timeout_s: float = 10.0):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            got = self.eval(expr)
            if got == want:
                return got
            time.sleep(0.05)
        raise AssertionError(f"{expr} stayed {got!r}, wanted {want!r}")

    def screenshot(self) -> np.ndarray:
        import cv2

        data = base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])
        return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


@contextlib.contextmanager
def chromium_page(url: str, width: int = 1280, height: int = 720):
    """Open ``url`` in a headless Chromium; yields its DevTools client; closes the browser after."""
    udd = tempfile.mkdtemp(prefix="cpr-chromium-")
    proc = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={udd}", "--remote-debugging-port=0", f"--window-size={width},{height}", url],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = os.path.join(udd, "DevToolsActivePort")
        deadline = time.monotonic() + 20
        while not os.path.exists(port_file) or not open(port_file).read().strip():
            assert proc.poll() is None, "chromium exited"
            assert time.monotonic() < deadline, "chromium did not open DevTools"
            time.sleep(0.05)
        port = open(port_file).read().split()[0]
        page = None
        while page is None:
            pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5))
            page = next((p for p in pages if p["type"] == "page" and p["url"].startswith(url)), None)
            assert time.monotonic() < deadline, f"no page {url} in chromium"
            time.sleep(0.05)
        dt = DevTools(page["webSocketDebuggerUrl"])
        dt.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
        try:
            yield dt
        finally:
            dt.ws.close()
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(udd, ignore_errors=True)
