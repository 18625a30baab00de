"""``cpr-coach bench instructor``: the class page's CPU and station -> page delay.

Why processes: the stations (``cpr-coach simulate`` at real time, 30 Hz) and the
instructor each run as their own process, as in a lab; this process subscribes
to every station directly (timestamping each ``cpr.state`` on arrival) and reads
the class page's WebSocket, matching each tile's ``t_s`` to its arrival time.
CPU is the instructor process's user+system time over the window (/proc).
Default 16 stations for 10 s; ``--quick`` 4 stations for 5 s.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np


def _free_port(pair: bool = False) -> int:
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            p = s.getsockname()[1]
        if not pair:
            return p
        try:
            with socket.socket() as a:
                a.bind(("127.0.0.1", p - 1))
            return p
        except OSError:
            continue
    raise RuntimeError("no free port")


def _cpu_s(pid: int) -> float:
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def main(args) -> int:
    from overlays.hud.websocket import WebSocketClient
    from overlays.subscriber import Subscriber, SubscriberOptions

    n, window_s = (4, 5.0) if getattr(args, "quick", False) else (16, 10.0)
    ports = [_free_port(pair=True) for _ in range(n)]
    http = _free_port()
    py = [sys.executable, "-m", "coach.cli"]
    procs = [subprocess.Popen(py + ["simulate", "--speed", "1", "--duration", "600", "--quiet", "--frame-hz", "0",
                                    "--seed", str(i), "--station-id", f"bench-{i + 1}", "--publish", f"tcp://127.0.0.1:{p}",
                                    "--remote", f"tcp://127.0.0.1:{p - 1}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for i, p in enumerate(ports)]
    inst = subprocess.Popen(py + ["instructor", "--port", str(http), "--data-dir", os.devnull + ".d"]
                            + sum((["--station", f"tcp://127.0.0.1:{p}"] for p in ports), []), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    arrive: dict = {}
    stop = threading.Event()

    def listen(port: int) -> None:
        with Subscriber(SubscriberOptions(connect=f"tcp://127.0.0.1:{port}", topics=("cpr.state",))) as s:
            while not stop.is_set():
                m = s.recv(0.2)
                if m is not None:
                    arrive[(m.station, m.payload["t_s"])] = time.monotonic()

    threads = [threading.Thread(target=listen, args=(p,), daemon=True) for p in ports]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60.0  # stations and the page start up (slow on a loaded machine)
        while True:
            try:
                ws = WebSocketClient(f"ws://127.0.0.1:{http}/ws")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        delays, tiles = [], 0
        with ws:
            while tiles < n and time.monotonic() < deadline:  # every station heard
                m = json.loads(ws.recv(3.0))
                if m.get("topic") == "instructor.class":
                    tiles = sum(t["status"] != "lost" for t in m["tiles"])
            c0, w0 = _cpu_s(inst.pid), time.monotonic()
            while time.monotonic() - w0 < window_s:
                m = json.loads(ws.recv(3.0))
                now = time.monotonic()
                if m.get("topic") != "instructor.class":
                    continue
                tiles = len(m["tiles"])
                delays += [now - arrive[k] for k in ((t["station"], t["t_s"]) for t in m["tiles"]) if k in arrive]
        c1, w1 = _cpu_s(inst.pid), time.monotonic()
    finally:
        stop.set()
        for p in procs + [inst]:
            p.send_signal(signal.SIGINT)
        for p in procs + [inst]:
            try:
                p.wait(5.0)
            except subprocess.TimeoutExpired:
                p.kill()
    d = np.array(delays) * 1000.0
    cpu = (c1 - c0) / (w1 - w0)
    print(f"instructor with {n} simulated stations at 30 Hz, {w1 - w0:.0f} s window ({tiles} tiles on the page)")
    print(f"  CPU of the instructor process   {100 * cpu:.1f} % of one core (goal < 50 %)")
    if d.size:
        print(f"  station cpr.state -> page tile  median {np.median(d):.0f} ms, p95 {np.percentile(d, 95):.0f} ms,"
              f" max {d.max():.0f} ms over {d.size} tile updates (goal p95 < 200 ms)")
    print(f"  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (shared machine: figures are noisy)")
    return 0
