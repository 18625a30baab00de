"""``cpr-coach demo`` end to end: the virtual camera through the real live station, watched by a real
subscriber on 127.0.0.1; what it receives matches the simulator's truth."""
from __future__ import annotations

import json

import numpy as np
import pytest

from live_helpers import Collector, cli_process, free_tcp_endpoint

pytestmark = pytest.mark.slow

CPR_S = 12.0
SEED = 7


def test_demo_publishes_the_simulated_sessions_compressions(tmp_path, hand_model_path):
    from coach.demo.scenario import demo_script

    ep = free_tcp_endpoint()
    col = Collector(ep)  # connects before the station binds: ZeroMQ keeps trying
    out = tmp_path / "demo"
    try:
        proc = cli_process(["demo", "--duration", CPR_S, "--seed", SEED, "--fast", "--no-window", "-o", out,
                            "--publish", ep])
        stdout, stderr = proc.communicate(timeout=240)
        assert proc.returncode == 0, stderr
        assert col.stopped.wait(5), "no cpr.session stop received"
    finally:
        col.close()
    truth = demo_script(CPR_S, seed=SEED).truth_figures()
    got = col.of("cpr.compression")
    depths = [c["depth_mm"] for c in got]
    assert len(got) == truth["compressions"]
    assert abs(float(np.mean(depths)) - truth["mean_depth_mm"]) <= 2.0
    stop = [m for m in col.of("cpr.session") if m["event"] == "stop"][-1]
    assert stop["summary"]["compressions"] == truth["compressions"]
    assert abs(stop["summary"]["mean_rate_cpm"] - truth["mean_rate_cpm"]) <= 3.0
    # what it leaves behind, and says
    assert "SIMULATED" in stdout
    for name in ("camera.mp4", "station.json", "annotated.mp4", "report.html"):
        assert (out / name).stat().st_size > 1000, name
    assert f"cpr-coach analyze {out / 'camera.mp4'} --calibration {out / 'station.json'}" in stdout
    assert json.loads((out / "station.json").read_text())["manikin"]["marker"]["id"] == 0
    sessions = list((out / "sessions").glob("*.jsonl"))
    assert len(sessions) == 1
    lines = [json.loads(x) for x in sessions[0].read_text().splitlines()]
    assert sum(1 for x in lines if x.get("kind") == "compression") == truth["compressions"]
    import cv2

    cap = cv2.VideoCapture(str(out / "annotated.mp4"))
    assert cap.get(cv2.CAP_PROP_FRAME_COUNT) > 30  # the monitor viewer wrote what it received
    cap.release()
