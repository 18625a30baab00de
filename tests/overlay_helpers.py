"""Shared helpers for the overlay tests: real sockets on 127.0.0.1, free ports, waits."""
from __future__ import annotations

import math
import time

from coach.core.types import Compression, CoreState, SessionSummary

ANY_PORT = "tcp://127.0.0.1:0"  # the publisher binds a free port; read it back from .endpoint


def core_state(t_s: float = 1.0, displacement_mm: float = 30.0, last_depth_mm: float = 52.0) -> CoreState:
    return CoreState(
        t_s=t_s, height_mm=200.0 - displacement_mm, baseline_mm=200.0, displacement_mm=displacement_mm,
        phase="down", rate_cpm=111.0, last_depth_mm=last_depth_mm, compressions=12, set_compressions=12,
        since_last_compression_s=0.2,
    )


def compression(i: int = 3, depth_mm: float = 53.0, rate_cpm: float = 110.0) -> Compression:
    t = 1.0 + i * 0.55
    return Compression(index=i, set_index=0, t_start_s=t - 0.2, t_bottom_s=t, t_release_s=t + 0.2,
                       depth_mm=depth_mm, rate_cpm=rate_cpm, duty_cycle=0.45, recoil_residual_mm=1.0,
                       flags=("too_deep",) if depth_mm > 60 else ())


def summary() -> SessionSummary:
    return SessionSummary(compressions=30, duration_s=20.0, mean_rate_cpm=110.0, median_rate_cpm=110.0,
                          mean_depth_mm=53.0, median_depth_mm=53.0, pct_depth_ok=90.0, pct_rate_ok=95.0,
                          pct_recoil_ok=100.0, ccf=0.8, hands_off_s=4.0, time_to_first_s=math.nan,
                          pauses_too_long=0, sets=1, profile="adult")


def wait_connected(pub, sub, timeout_s: float = 5.0) -> None:
    """Beat heartbeats until the subscriber hears one (ZeroMQ's slow-joiner window)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        pub.heartbeat(source_kind="simulator", source_name="test", tracker_status="ok", t_s=time.monotonic())
        if sub.recv(0.05) is not None:
            sub.drain()
            return
    raise AssertionError("subscriber never connected")


def until(pred, timeout_s: float = 5.0, step=None, poll_s: float = 0.02) -> bool:
    """Call ``step()`` then test ``pred()`` until it holds or ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if step:
            step()
        if pred():
            return True
        time.sleep(poll_s)
    return False
