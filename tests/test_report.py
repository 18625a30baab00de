"""Debrief report: the score against a hand-computed example, plots that carry the session's data, one HTML file."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest

from coach.core.metrics import compression_flags
from coach.core.profiles import load_profile
from coach.records import SessionStore, calibration_info, record_result, session_meta
from coach.records.derive import derive_result
from coach.report import build_report, write_report
from records_helpers import NAN, comp

ADULT = load_profile("adult")
# (t_start_s, set, depth_mm, rate_cpm, recoil residual mm): a short, deliberately mixed session
ROWS = [
    (0.00, 0, 55.0, NAN, 0.0),
    (0.55, 0, 45.0, 110.0, 0.0),  # shallow
    (1.10, 0, 52.0, 130.0, 6.0),  # fast, leaning
    (1.65, 0, 65.0, 105.0, 1.0),  # deep
    (8.00, 1, 58.0, NAN, 7.0),  # after a 5.85 s pause; leaning
    (8.55, 1, 50.0, 95.0, 2.0),  # slow
]


def _hand_built(tmp_path, calibration=None):
    comps = [comp(i, s, t, d, r, res, compression_flags(d, r, res, ADULT)) for i, (t, s, d, r, res) in enumerate(ROWS)]
    result = derive_result(comps, 0.0, comps[-1].t_release_s, ADULT)
    store = SessionStore(tmp_path / "data")
    t = np.arange(0.0, 9.1, 0.05)
    sid = record_result(store, result, meta=session_meta(station_id="lab-3", profile="adult", source_kind="camera",
                                                         source_name="0", trainee_id="t-5", calibration=calibration),
                        t_s=t, height_mm=np.full(t.shape, 100.0))
    return store, store.load(sid)


def test_score_equals_the_hand_computed_example(tmp_path):
    store, rec = _hand_built(tmp_path)
    rep = build_report(rec)
    depth = 100 * 4 / 6  # 55, 52, 58, 50 inside 50-60 mm
    rate = 100 * 2 / 4  # 110, 105 inside 100-120 of the 4 compressions that have a rate
    recoil = 100 * 4 / 6  # residuals 6 and 7 mm exceed 5 mm
    ccf = 1 - (8.00 - 2.15) / (9.05 - 0.00)  # one internal pause over the first start .. last release
    flow = 100 * ccf / 0.80
    assert rep.score.depth_pct == pytest.approx(depth)
    assert rep.score.rate_pct == pytest.approx(rate)
    assert rep.score.recoil_pct == pytest.approx(recoil)
    assert rep.score.flow_pct == pytest.approx(flow)
    assert rep.score.overall_pct == pytest.approx((depth + rate + recoil + flow) / 4)
    assert rep.score.overall_pct == pytest.approx(56.883, abs=1e-3)
    # coaching points: by points lost (flow 13.9, rate 12.5, depth 8.3 = recoil 8.3 -> depth by the tie order)
    assert [p.metric for p in rep.points] == ["flow", "rate", "depth"]
    assert "35 %" in rep.points[0].text and "minimum 60 %" in rep.points[0].text and "goal 80 %" in rep.points[0].text
    assert rep.points[1].text.startswith("Speed up: 1 of 4 compressions")
    assert rep.points[2].text.startswith("Push deeper: 1 of 6 compressions were shallower than 50 mm")


def test_plots_carry_the_sessions_data_and_the_profiles_bands(tmp_path):
    store, rec = _hand_built(tmp_path)
    figs = build_report(rec).figures
    ax = figs["depth"].axes[0]
    line = next(ln for ln in ax.lines if ln.get_gid() == "depth")
    assert list(line.get_ydata()) == [r[2] for r in ROWS]
    lean = next(c for c in ax.collections if c.get_gid() == "leaning")
    assert lean.get_offsets().tolist() == [[3.0, 52.0], [5.0, 58.0]]  # the two leaning compressions
    spans = [p for p in ax.patches if p.get_label().startswith("target")]
    ys = spans[0].get_patch_transform().transform(spans[0].get_path().vertices)[:, 1]  # Rectangle or Polygon
    assert (min(ys), max(ys)) == (ADULT.depth_mm.min, ADULT.depth_mm.max)
    rate_ax = figs["rate"].axes[0]
    ys = [y for ln in rate_ax.lines if (ln.get_gid() or "").startswith("rate-set") for y in ln.get_ydata()]
    assert ys == [110.0, 130.0, 105.0, 95.0]
    tl = figs["timeline"].axes[0]
    sets = next(c for c in tl.collections if c.get_gid() == "sets")
    assert len(sets.get_paths()) == 2
    pauses = next(c for c in tl.collections if c.get_gid() == "pauses")
    x = sorted(round(float(p.vertices[:, 0].min()), 2) for p in pauses.get_paths())
    assert 2.15 in x  # the pause between the sets starts at the release of compression 4
    ccf_ax = figs["ccf"].axes[0]
    bar = next(p for p in ccf_ax.patches if p.get_gid() == "ccf")
    assert bar.get_width() == pytest.approx(100 * rec.summary.ccf)
    vlines = {ln.get_gid(): ln.get_xdata()[0] for ln in ccf_ax.lines}
    assert vlines == {"ccf-min": 100 * ADULT.ccf_min, "ccf-goal": 100 * ADULT.ccf_goal}


def test_html_is_one_self_contained_file_readable_on_a_phone(tmp_path):
    store, rec = _hand_built(tmp_path)
    path = write_report(rec.id, tmp_path / "r" / "report.html", store=store)
    html = path.read_text()
    assert html.count("src='data:image/png;base64,") == 4
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", html) and "<link" not in html and "<script" not in html
    assert "width=device-width" in html and "@media" in html
    assert "t-5" in html and "lab-3" in html
    basis = html[html.index("What the numbers rest on"):]
    assert basis.count("not recorded") == 3  # mode, viewing angle, uncertainty: the header had no calibration


def test_report_states_the_calibration_it_rests_on(tmp_path):
    class View:
        elevation_deg, azimuth_from_side_deg, distance_mm = 31.6, -12.0, 900.0

    class Manikin:
        view, marker = View(), None

    class Station:
        manikin = Manikin()

    store, rec = _hand_built(tmp_path, calibration_info("marker", file="station.json", station=Station()))
    html = build_report(rec).html
    basis = html[html.index("What the numbers rest on"):]
    assert "printed marker on the chest" in basis and "32° above the chest" in basis and "-12° from the side" in basis
    assert "about ±2.5-4 mm" in basis and "not recorded" not in basis.split("source")[0]


def test_report_command_writes_the_file(tmp_path, capsys):
    from coach.cli import main as cli_main

    store, rec = _hand_built(tmp_path)
    out = tmp_path / "debrief.html"
    assert cli_main(["report", rec.id, "-o", str(out), "--data-dir", str(store.data_dir)]) == 0
    assert out.stat().st_size > 20_000 and f"score 57 %" in capsys.readouterr().out


def test_a_session_without_compressions_still_reports(tmp_path):
    store = SessionStore(tmp_path / "data")
    res = derive_result([], 0.0, 30.0, ADULT)
    sid = record_result(store, res, meta=session_meta(station_id="s", profile="adult"), t_s=[0.0, 30.0],
                        height_mm=[math.nan, math.nan])
    rep = build_report(store.load(sid))
    assert rep.score.overall_pct == 0.0 and "No compressions were measured" in rep.points[0].text
