"""Soak runs (not CI tests): ``python -m tests.soak station|fuzz|trace``.

station  A serving command (``simulate`` at full speed by default; later ``run`` on a
         looping video) with N subscribers, one of them stalled part of the time, and M
         idle WebSockets on a HUD bridging it. Prints each process's RSS growth (goal
         < 20 MB), the station's rate with and without the stalled subscriber (goal:
         < 5 % drop) and the messages each subscriber lost (sequence gaps).
fuzz     The boundary fuzzers with 10 000 examples each (CPR_FUZZ_EXAMPLES).
trace    analyze-trace on a generated CSV of N rows; prints the time and peak RSS.

Why a script: these run for minutes and measure a loaded machine; the figures are
ratios taken within one run (see docs/reliability.md for the last ones measured).

The serving command is a template: ``{publish}`` and ``{remote}`` are replaced by
free endpoints (``{duration_s}``: simulated seconds that outlast the soak), e.g.::

    python -m tests.soak station --minutes 30 \\
        --cmd "python -m coach.cli run --video clip.mp4 --loop --publish {publish} --remote {remote}"
"""
from __future__ import annotations

import argparse
import os
import re
import shlex
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# full speed: the simulator's clock runs as fast as the station can go (~20x real time on 2 loaded cores)
DEFAULT_CMD = (f"{sys.executable} -m coach.cli simulate --publish {{publish}} --remote {{remote}} --speed 10000 "
               "--duration {duration_s} --quiet --frame-hz 5")
SEQ = re.compile(rb'"seq":(\d+)')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc (Linux)."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


class _Sub:
    """One subscriber: counts messages and sequence gaps per topic (the drops it suffered)."""

    def __init__(self, ctx, endpoint: str, name: str) -> None:
        import zmq

        self.name = name
        self.sock = ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RCVHWM, 256)
        self.sock.setsockopt(zmq.SUBSCRIBE, b"")
        self.sock.connect(endpoint)
        self.received = 0
        self.lost = 0
        self.last_seq: dict[bytes, int] = {}
        self.state_seq = -1

    def take(self, frames: list[bytes]) -> None:
        self.received += 1
        m = SEQ.search(frames[1][:200])
        if m is None:
            return
        seq, topic = int(m.group(1)), frames[0]
        prev = self.last_seq.get(topic)
        if prev is not None and seq > prev + 1:
            self.lost += seq - prev - 1
        self.last_seq[topic] = seq
        if topic == b"cpr.state":
            self.state_seq = seq


def _idle_websocket(port: int) -> socket.socket:
    """A WebSocket that completes the handshake and then never reads or answers (an idle headset)."""
    from overlays.hud.websocket import WebSocketClient

    return WebSocketClient(f"ws://127.0.0.1:{port}/ws", timeout_s=5.0).sock


def _hud_status(port: int) -> dict:
    import json
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/status.json", timeout=5) as r:
        return json.load(r)


def soak_station(args: argparse.Namespace) -> int:
    import zmq

    pub_ep = f"tcp://127.0.0.1:{_free_port()}"
    rem_ep = f"tcp://127.0.0.1:{_free_port()}"
    duration_s = int(args.minutes * 60 * 60 + 600)  # simulated seconds that outlast the soak at full speed
    cmd = shlex.split(args.cmd.format(publish=pub_ep, remote=rem_ep, duration_s=duration_s))
    hud_port = _free_port()
    station = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    hud = subprocess.Popen([sys.executable, "-m", "coach.cli", "hud", "--connect", pub_ep, "--port", str(hud_port)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ctx = zmq.Context()
    subs: list[_Sub] = []
    stalled: _Sub | None = None
    idle: list[socket.socket] = []
    reconnects = 0
    try:
        time.sleep(3.0)
        for proc, what in ((station, "station"), (hud, "hud")):
            if proc.poll() is not None:
                print(f"soak: the {what} exited: {proc.stderr.read().decode()[-400:]}")
                return 1
        subs = [_Sub(ctx, pub_ep, f"sub{i:02d}") for i in range(args.subscribers - 1)]
        poller = zmq.Poller()
        for s in subs:
            poller.register(s.sock, zmq.POLLIN)
        for _ in range(args.websockets):
            idle.append(_idle_websocket(hud_port))
        total_s = args.minutes * 60.0
        phase_s = max(10.0, total_s / 6)  # free / stalled, three times each
        t0 = time.monotonic()
        warm = {"station": None, "hud": None, "soak": None}
        rates: dict[str, list[float]] = {"free": [], "stalled": []}
        phase_start, phase = t0, "free"
        seq_at_phase = None
        next_check = t0 + 10.0
        while time.monotonic() - t0 < total_s:
            for sock, _ in poller.poll(50):
                s = next(x for x in subs if x.sock is sock)
                for _ in range(1000):
                    try:
                        s.take(sock.recv_multipart(zmq.NOBLOCK))
                    except zmq.Again:
                        break
            now = time.monotonic()
            if warm["station"] is None and now - t0 > min(20.0, total_s / 4):
                warm = {"station": rss_mb(station.pid), "hud": rss_mb(hud.pid), "soak": rss_mb(os.getpid())}
            seq = max(s.state_seq for s in subs)
            if seq_at_phase is None and seq >= 0:
                seq_at_phase = (now, seq)
            if now - phase_start >= phase_s and seq_at_phase is not None:
                rates[phase].append((seq - seq_at_phase[1]) / (now - seq_at_phase[0]))
                phase = "stalled" if phase == "free" else "free"
                if phase == "stalled":  # a subscriber that connects and never reads again
                    stalled = _Sub(ctx, pub_ep, "stalled")
                elif stalled is not None:
                    stalled.sock.close(0)
                    stalled = None
                phase_start, seq_at_phase = now, (now, seq)
            if now >= next_check:  # the HUD closes idle sockets after its idle timeout: open them again
                next_check = now + 10.0
                if _hud_status(hud_port)["clients"] < args.websockets:
                    for ws in idle:
                        ws.close()
                    idle = [_idle_websocket(hud_port) for _ in range(args.websockets)]
                    reconnects += 1
        end = {"station": rss_mb(station.pid), "hud": rss_mb(hud.pid), "soak": rss_mb(os.getpid())}
        hud_status = _hud_status(hud_port)
        alive = station.poll() is None and hud.poll() is None
    finally:
        for s in subs + ([stalled] if stalled else []):
            s.sock.close(0)
        for ws in idle:
            ws.close()
        ctx.term()
        for proc in (station, hud):
            if proc.poll() is None:
                proc.terminate()
        for proc in (station, hud):
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
    free = sum(rates["free"]) / max(1, len(rates["free"]))
    stal = sum(rates["stalled"]) / max(1, len(rates["stalled"]))
    print(f"soak station: {args.minutes:g} min, {args.subscribers} subscribers (one stalled half the time), "
          f"{args.websockets} idle WebSockets on the HUD; command: {' '.join(cmd[:6])} ...")
    print(f"  processes alive at the end: {alive}")
    for k in ("station", "hud", "soak"):
        w = warm[k] if warm[k] is not None else float("nan")
        print(f"  RSS {k:<8} {w:7.1f} -> {end[k]:7.1f} MB   growth {end[k] - w:+6.1f} MB   (goal < 20 MB)")
    drop = 100.0 * (1.0 - stal / free) if free > 0 else float("nan")
    print(f"  station rate (cpr.state/s) free {free:8.1f}   with a stalled subscriber {stal:8.1f}   "
          f"drop {drop:+.1f} %   (goal < 5 %)")
    print("  per phase: free " + " ".join(f"{r:.0f}" for r in rates["free"])
          + " | stalled " + " ".join(f"{r:.0f}" for r in rates["stalled"]))
    lost = [s.lost for s in subs]
    recv = [s.received for s in subs]
    print(f"  messages received per subscriber: min {min(recv)} max {max(recv)}; lost (seq gaps) per subscriber: "
          + " ".join(str(x) for x in lost))
    print(f"  HUD at the end: {hud_status['clients']} WebSocket clients, refused {hud_status['refused']}; "
          f"the {args.websockets} idle ones were reopened {reconnects} time(s) after its idle timeout closed them")
    return 0 if alive else 1


def soak_fuzz(args: argparse.Namespace) -> int:
    env = dict(os.environ, CPR_FUZZ_EXAMPLES=str(args.examples))
    return subprocess.call([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            "tests/test_fuzz_boundaries.py"], env=env)


def soak_trace(args: argparse.Namespace) -> int:
    import numpy as np

    from coach.core.simulator import SimOptions, simulate

    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "big.csv"
        sim = simulate(SimOptions(seed=3, duration_s=600, fps=30))
        t, h = np.asarray(sim.t_s), np.asarray(sim.height_mm)
        period = t[-1] - t[0] + 1 / 30
        with open(csv, "w") as fh:
            fh.write("t_s,height_mm\n")
            n, k = 0, 0
            while n < args.rows:
                m = min(len(t), args.rows - n)
                fh.write("\n".join(f"{a:.5f},{b:.4f}" if b == b else f"{a:.5f}," for a, b in
                                   zip((t[:m] + k * period).tolist(), h[:m].tolist())) + "\n")
                n, k = n + m, k + 1
        size_mb = csv.stat().st_size / 1e6
        t0 = time.monotonic()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", sys.executable, "-m", "coach.cli", "analyze-trace",
                               str(csv), "--json", str(Path(tmp) / "out.json")], capture_output=True, text=True)
        wall = time.monotonic() - t0
    peak_mb = int(proc.stderr.strip().splitlines()[-1]) / 1024.0
    print(f"soak trace: {args.rows} rows, {size_mb:.0f} MB CSV -> analyze-trace {wall:.1f} s, peak RSS {peak_mb:.0f} MB "
          f"({peak_mb / size_mb:.2f}x the file; goal < 500 MB)")
    print("  " + "\n  ".join(proc.stdout.strip().splitlines()[-2:]))
    return proc.returncode


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.soak", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="what", required=True)
    s = sub.add_parser("station", help="a serving command under subscribers, a stalled one and idle WebSockets")
    s.add_argument("--minutes", type=float, default=2.0)
    s.add_argument("--subscribers", type=int, default=20, help="including the stalled one")
    s.add_argument("--websockets", type=int, default=50)
    s.add_argument("--cmd", default=DEFAULT_CMD, help="serving command template with {publish} and {remote}")
    s.set_defaults(func=soak_station)
    f = sub.add_parser("fuzz", help="the boundary fuzzers with many examples")
    f.add_argument("--examples", type=int, default=10_000)
    f.set_defaults(func=soak_fuzz)
    t = sub.add_parser("trace", help="analyze-trace on a large generated CSV")
    t.add_argument("--rows", type=int, default=8_800_000, help="rows (8.8 M ~ 190 MB)")
    t.set_defaults(func=soak_trace)
    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
