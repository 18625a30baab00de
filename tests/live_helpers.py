"""Helpers for the live-station tests: a free port, a real subscriber collecting one station's
messages in a thread, and the CLI run as a separate process (as a user or a service manager runs it)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_tcp_endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


class Collector:
    """A real ZeroMQ subscriber (overlays.subscriber) in a thread, keeping every message of ``topics``
    until a ``cpr.session`` stop arrives or ``close()``."""

    def __init__(self, endpoint: str, topics=("cpr.compression", "cpr.session", "cpr.heartbeat")) -> None:
        from overlays.subscriber import Subscriber, SubscriberOptions

        self.sub = Subscriber(SubscriberOptions(connect=endpoint, topics=tuple(topics), rcvhwm=100_000))
        self.messages: list = []
        self.stopped = threading.Event()
        self.first_compression = threading.Event()
        self._quit = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._quit.is_set():
            m = self.sub.recv(timeout_s=0.1)
            if m is None:
                continue
            self.messages.append(m)
            if m.topic == "cpr.compression":
                self.first_compression.set()
            if m.topic == "cpr.session" and m.payload.get("event") == "stop":
                self.stopped.set()

    def of(self, topic: str) -> list[dict]:
        return [m.payload for m in self.messages if m.topic == topic]

    def close(self) -> None:
        self._quit.set()
        self._thread.join(timeout=5)
        self.sub.close()


def cli_process(args: list[str], **kw) -> subprocess.Popen:
    """``python -m coach.cli ARGS`` in its own process (stdout/stderr piped, text)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "coach.cli", *map(str, args)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def wait_for(cond, timeout_s: float, poll_s: float = 0.05) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(poll_s)
    return cond()
