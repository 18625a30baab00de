"""``cpr-coach bench overlays``: publish -> subscriber receipt latency and sustained throughput.

Why a separate subscriber process: latency measured inside one process would
share the GIL with the publisher and flatter (or smear) the numbers. Both sides
read CLOCK_MONOTONIC, which is system-wide on Linux, so receipt - publish time
is a true one-way latency on this machine.

Reports p50/p95/p99 latency at the protocol's 60 Hz state rate and at 1 kHz,
messages/s sustained (sent and received) with realistic cpr.state payloads, and
the publisher's send rate with a stalled subscriber attached, as a ratio to the
rate with none (the "never stalls the camera loop" promise).
"""
from __future__ import annotations

import math
import multiprocessing as mp
import tempfile
import time
from pathlib import Path

import numpy as np


def _state_body(i: int) -> dict:
    from coach.core.types import CoreState
    from overlays.messages import state_body

    st = CoreState(i / 60.0, 250.0 - 30.0 * math.sin(i / 5.0), 250.0, 30.0 * math.sin(i / 5.0), "down", 111.0, 52.3, i // 20, i % 30, 0.2)
    return state_body(st, hands_visible=True, tracker_fps=30.0, latency_ms=12.5, placement_mm=3.0, session="bench")


def _subscriber(endpoint: str, n_expected: int, window_s: float, conn, ready) -> None:
    """Child process: receive, stamp, report latencies (or counts)."""
    import json

    import zmq

    ctx = zmq.Context()
    s = ctx.socket(zmq.SUB)
    s.setsockopt(zmq.RCVHWM, 100_000)
    s.setsockopt(zmq.SUBSCRIBE, b"")
    s.connect(endpoint)
    ready.set()
    lat = []
    count = 0
    first = None
    deadline = time.monotonic() + window_s
    while time.monotonic() < deadline and count < n_expected:
        if not s.poll(100):
            continue
        frames = s.recv_multipart()
        now = time.monotonic()
        if frames[0] == b"bench.sync":
            continue
        count += 1
        if first is None:
            first = now
        t_s = json.loads(frames[1])["t_s"]
        lat.append(now - t_s)
    conn.send((lat, count, (time.monotonic() if first is None else now) - (first or 0)))
    s.close(0)
    ctx.term()


def _start_sub(endpoint: str, n: int, window_s: float):
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    ready = ctx.Event()
    p = ctx.Process(target=_subscriber, args=(endpoint, n, window_s, child, ready), daemon=True)
    p.start()
    ready.wait(20)
    return p, parent


def _connect_wait(seconds: float = 0.5) -> None:
    """Give the subscriber time to connect (slow joiner) before counting."""
    time.sleep(seconds)


def latency(endpoint: str, rate_hz: float, n: int) -> np.ndarray:
    from overlays.protocol import TOPIC_STATE
    from overlays.publisher import Publisher, PublisherOptions

    pub = Publisher(PublisherOptions(endpoint=endpoint, station_id="bench", max_state_hz=1e9))
    proc, conn = _start_sub(pub.endpoint, n, window_s=n / rate_hz + 10)
    _connect_wait()
    body = _state_body(0)
    period = 1.0 / rate_hz
    t_next = time.monotonic()
    for i in range(n):
        while (now := time.monotonic()) < t_next:
            if t_next - now > 0.002:
                time.sleep(t_next - now - 0.001)
        pub.publish(TOPIC_STATE, body, t_s=time.monotonic())
        t_next += period
    lat, count, _ = conn.recv()
    proc.join(5)
    pub.close()
    return np.asarray(lat) * 1000.0


def throughput(endpoint: str, seconds: float) -> tuple[float, float, float]:
    """(sent/s, received/s, publish call µs) with a healthy subscriber draining as fast as it can."""
    from overlays.protocol import TOPIC_STATE
    from overlays.publisher import Publisher, PublisherOptions

    pub = Publisher(PublisherOptions(endpoint=endpoint, station_id="bench", max_state_hz=1e9, sndhwm=1000))
    proc, conn = _start_sub(pub.endpoint, 10**9, window_s=seconds + 1.0)
    _connect_wait()
    body = _state_body(0)
    sent = 0
    t0 = time.monotonic()
    while (now := time.monotonic()) - t0 < seconds:
        if pub.publish(TOPIC_STATE, body, t_s=now):
            sent += 1
    elapsed = time.monotonic() - t0
    _, count, _ = conn.recv()
    proc.join(5)
    pub.close()
    return sent / elapsed, count / elapsed, elapsed / max(sent, 1) * 1e6


def send_rate(endpoint: str, seconds: float, stalled: bool) -> float:
    """Publisher calls/s with (or without) a connected subscriber that never reads."""
    import zmq

    from overlays.protocol import TOPIC_STATE
    from overlays.publisher import Publisher, PublisherOptions

    pub = Publisher(PublisherOptions(endpoint=endpoint, station_id="bench", max_state_hz=1e9))
    ctx = zmq.Context()
    sub = None
    if stalled:
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.setsockopt(zmq.RCVHWM, 10)
        sub.setsockopt(zmq.RCVBUF, 4096)
        sub.connect(pub.endpoint)
        time.sleep(0.3)
    body = _state_body(0)
    n = 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        pub.publish(TOPIC_STATE, body, t_s=time.monotonic())
        n += 1
    rate = n / (time.monotonic() - t0)
    if sub is not None:
        sub.close(0)
    ctx.term()
    pub.close()
    return rate


def _pct(a: np.ndarray, q: float) -> str:
    return f"{np.percentile(a, q):7.3f}" if a.size else "     --"


def main(args) -> int:
    quick = bool(getattr(args, "quick", False))
    n60 = 120 if quick else 360
    n1k = 1000 if quick else 5000
    secs = 1.0 if quick else 3.0
    with tempfile.TemporaryDirectory() as d:
        endpoints = {"tcp": "tcp://127.0.0.1:0", "ipc": f"ipc://{Path(d) / 'bench.ipc'}"}
        print("cpr-coach bench overlays  (publisher -> subscriber in another process, cpr.state payloads)")
        try:
            size = len(__import__("overlays.protocol", fromlist=["encode"]).encode("cpr.state", _state_body(0), station="bench", t_s=0.0, seq=0))
            print(f"payload: {size} bytes JSON")
        except Exception:  # pragma: no cover - reporting only
            pass
        print()
        print(f"{'latency (ms)':<28}{'p50':>8}{'p95':>8}{'p99':>8}{'n':>7}")
        results = {}
        for name, ep in endpoints.items():
            for label, rate, n in ((f"{name} @ 60 Hz", 60.0, n60), (f"{name} @ 1 kHz", 1000.0, n1k)):
                lat = latency(ep, rate, n)
                results[label] = lat
                print(f"{label:<28}{_pct(lat, 50):>8}{_pct(lat, 95):>8}{_pct(lat, 99):>8}{lat.size:>7}")
        print()
        print(f"{'sustained (msg/s)':<28}{'sent':>10}{'received':>10}{'µs/call':>9}{'x 60 Hz':>9}")
        for name, ep in endpoints.items():
            s, r, us = throughput(ep, secs)
            print(f"{name:<28}{s:>10.0f}{r:>10.0f}{us:>9.2f}{r / 60.0:>9.0f}")
        print()
        # interleaved repeats: this machine is shared, so compare medians of neighbours
        free, stall = [], []
        for _ in range(1 if quick else 3):
            free.append(send_rate(endpoints["tcp"], secs / 2, stalled=False))
            stall.append(send_rate(endpoints["tcp"], secs / 2, stalled=True))
        f, st = float(np.median(free)), float(np.median(stall))
        print(f"publisher calls/s, no subscriber      {f:>10.0f}")
        print(f"publisher calls/s, stalled subscriber {st:>10.0f}   ratio {st / f:.2f} (1.0 = unaffected)")
    return 0
