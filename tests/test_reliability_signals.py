"""SIGTERM and SIGHUP end `simulate` exactly as Ctrl-C does: the session stop is published, the summary printed."""
from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import pytest

from coach.cli.signals import Terminated, graceful_signals
from overlays.subscriber import Subscriber, SubscriberOptions


def test_graceful_signals_turns_sigterm_into_keyboardinterrupt_and_restores():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt) as info:
        with graceful_signals():
            signal.raise_signal(signal.SIGTERM)
            time.sleep(1)
    assert isinstance(info.value, Terminated) and "SIGTERM" in str(info.value)
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_signal_ends_simulate_cleanly(sig, tmp_path):
    ep = f"ipc://{tmp_path / 'pub.ipc'}"
    proc = subprocess.Popen([sys.executable, "-m", "coach.cli", "simulate", "--publish", ep, "--no-remote",
                             "--duration", "600", "--speed", "4", "--quiet", "--frame-hz", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    sub = None
    try:
        sub = Subscriber(SubscriberOptions(connect=ep, topics=("cpr.session", "cpr.state")))
        deadline = time.monotonic() + 20
        states = 0
        while states < 20 and time.monotonic() < deadline:  # the session is running and heard
            m = sub.recv(0.5)
            states += m is not None and m.topic == "cpr.state"
        assert states >= 20, "station never published"
        reader.start()
        proc.send_signal(sig)
        stop = None
        deadline = time.monotonic() + 10
        while stop is None and time.monotonic() < deadline:
            m = sub.recv(0.5)
            if m is not None and m.topic == "cpr.session" and m.payload["event"] == "stop":
                stop = m
        rc = proc.wait(timeout=15)
        reader.join(5)
        err = proc.stderr.read()
    finally:  # (a failure must not leave the process or the subscriber's ZeroMQ context behind for the GC)
        if sub is not None:
            sub.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert stop is not None, "no cpr.session stop after the signal"
    assert stop.payload["summary"] is not None and stop.payload["reason"] == "interrupted"
    out = "".join(lines)
    assert "session summary" in out and "compressions" in out
    assert rc == 130 and "Traceback" not in err
