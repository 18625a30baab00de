"""End to end on rendered clips: `calibrate manikin` then `analyze`, through the real CLI.

Each view is rendered once per module (tests/render): a calibration clip with
the printed marker on the chest, then a compression clip where a real hand
photo follows the core simulator's waveform (two sets, a ventilation pause with
the hands out of view, rate drift, depth variation, leaning), on a manikin
seen by a known camera. Real MediaPipe, real OpenCV decoding, real CLI.
Limits are the issue's; the measured figures are printed (pytest -s) and listed
in docs/calibration.md (`python -m tests.render.accuracy` regenerates them).
"""
from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from coach.cli import main
from render.accuracy import VIEWS, analyze_case, calibrate_case, match, render_case, score

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("accuracy")


@pytest.fixture(scope="module")
def cases(work, hands_dir, hand_model_path):
    """Rendered clips, made on first use and shared by the tests of this module."""
    made: dict = {}

    def get(name: str):
        if name not in made:
            made[name] = render_case(VIEWS[name], work, hands_dir)
        return made[name]

    return get


@pytest.fixture(scope="module")
def analysed(cases, work):
    done: dict = {}

    def get(name: str, fallback: bool = False):
        key = (name, fallback)
        if key not in done:
            case = cases(name)
            station = None if fallback else calibrate_case(case, work)
            out = analyze_case(case, work, station, tag="_fallback" if fallback else "")
            done[key] = (case, out, score("fallback" if fallback else name, out, case.scenario))
        return done[key]

    return get


def _report(acc) -> None:
    print(f"\n{acc.name}: depth MAE {acc.depth_mae_mm:.2f} mm (bias {acc.depth_bias_mm:+.2f}, worst {acc.depth_max_mm:.2f}), "
          f"rate MAE {acc.rate_mae_cpm:.2f} cpm, count {acc.count}/{acc.truth_count}, mode {acc.mode}")


def test_side_view_30deg(analysed):
    case, out, acc = analysed("side30")
    _report(acc)
    assert acc.mode == "marker"
    assert acc.count == acc.truth_count == acc.matched  # count exact, every compression found where it is
    assert acc.depth_mae_mm <= 2.0
    assert acc.rate_mae_cpm <= 1.0
    assert abs(acc.mean_rate_err_cpm) <= 1.0
    assert out["summary"]["sets"] == 2
    # the resting hold before the first compression was found and used as the depth baseline
    rest = out["calibration"]["rest"]
    lo, hi = case.scenario.rest_span_s
    assert rest is not None and lo - 0.2 <= rest["t_start_s"] and rest["t_end_s"] <= hi + 0.4 and not rest["at_recoil_tops"]
    # leaning: the recoil residual is measured against that true rest
    pairs = match(out["compressions"], case.scenario.truth)
    res_err = [m["recoil_residual_mm"] - t.recoil_residual_mm for m, t in pairs]
    assert np.mean(np.abs(res_err)) < 2.0
    assert any(t.recoil_residual_mm > 4 for _, t in pairs)  # the clip does lean
    # hand placement along the body axis (the hand's heel was put on the marked point)
    assert abs(acc.placement_err_mm) < 15.0
    # live, each compression came out of the pipeline within the core's ~150 ms of its release (the frames held
    # before the rest hold was known precede the first compression); only the end of input may give one more. The
    # set's first after the pause waits until its recoil top has come back to the hold the hands rested in (is it
    # their rest? ReturnOptions.hold_top_*): 0.28 s (0.11 s before session 22)
    live = out["live"]
    assert len(live["feedback_delays_s"]) >= acc.count - 1
    assert 0.0 < live["feedback_delay_s"]["median"] < 0.2 and live["feedback_delay_s"]["max"] < 0.35


def test_oblique_45_off_side_45_elevation(analysed):
    _, _, acc = analysed("oblique45")
    _report(acc)
    assert acc.count == acc.truth_count
    assert acc.depth_mae_mm <= 3.0


def test_640x480(analysed):
    _, _, acc = analysed("vga")
    _report(acc)
    assert acc.count == acc.truth_count
    assert acc.depth_mae_mm <= 3.0


def test_moving_camera_with_anchor_marker(analysed):
    _, out, acc = analysed("anchor")
    _report(acc)
    assert acc.mode == "anchor"
    assert acc.count == acc.truth_count
    assert acc.depth_mae_mm <= 3.0
    assert out["source"]["frames_lost"] == 0


def test_hand_size_fallback_reports_its_error(analysed):
    """No marker: depth from the hand's own size. No limit (the issue asks for an honest
    figure; docs/calibration.md lists it with other hand sizes), only that it runs and is sane."""
    _, out, acc = analysed("side30", fallback=True)
    _report(acc)
    assert acc.mode == "hand-size"
    assert out["calibration"]["file"] is None
    assert acc.matched >= acc.truth_count - 2
    assert math.isfinite(acc.depth_mae_mm) and acc.depth_mae_mm < 15.0
    assert out["placement"]["median_axial_mm"] is None  # no body axis without the marker


def test_output_has_the_analyze_trace_schema_plus_the_trace(analysed, work):
    _, out, _ = analysed("side30")
    tr = out["trace"]
    n = out["samples"]
    assert {"t_s", "height_mm", "axial_mm", "x_px", "y_px", "confidence", "n_hands"} <= set(tr)
    assert all(len(v) == n for v in tr.values())
    t = [x for x in tr["t_s"]]
    assert all(b > a for a, b in zip(t, t[1:]))
    # analyze-trace on the same heights: same top-level and per-item keys
    csv_path = work / "trace.csv"
    with open(csv_path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["t_s", "height_mm"])
        for ti, hi in zip(tr["t_s"], tr["height_mm"]):
            w.writerow([ti, "" if hi is None else hi])
    ref_json = work / "trace_analysis.json"
    assert main(["analyze-trace", str(csv_path), "--json", str(ref_json)]) == 0
    ref = json.loads(ref_json.read_text())
    assert set(ref) <= set(out)
    assert set(ref["summary"]) | {"depth_uncertainty_mm"} == set(out["summary"])  # analyze states its uncertainty
    assert set(ref["compressions"][0]) == set(out["compressions"][0])
    assert set(ref["pauses"][0]) == set(out["pauses"][0])


def test_streaming_pipeline_equals_batch_core(analysed):
    """The pipeline streams into the core; the batch core on the same trace gives the same compressions."""
    from coach.core import CoreOptions, analyze

    _, out, _ = analysed("side30")
    tr = out["trace"]
    h = [math.nan if v is None else v for v in tr["height_mm"]]
    batch = analyze(tr["t_s"], h, CoreOptions(profile="adult", rest_height_mm=out["calibration"]["rest_height_mm"]))
    assert len(batch.compressions) == len(out["compressions"])
    for b, s in zip(batch.compressions, out["compressions"]):
        assert b.t_bottom_s == pytest.approx(s["t_bottom_s"], abs=1e-6)
        assert b.depth_mm == pytest.approx(s["depth_mm"], abs=1e-6)
