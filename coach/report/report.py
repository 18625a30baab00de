"""Assemble and write the debrief: a session record -> score, points, figures -> one HTML file."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coach.core.profiles import Profile, ProfileError, load_profile
from coach.report.points import CoachingPoint, coaching_points
from coach.report.posture import posture_rows
from coach.report.score import Score, score_session
from models.paths import write_atomic

NOT_RECORDED = "not recorded"


@dataclass
class Report:
    score: Score
    points: list[CoachingPoint]
    figures: dict[str, Any]  # name -> matplotlib Figure (depth, rate, timeline, ccf)
    html: str
    profile: Profile


def _f(x: Any, spec: str, unit: str = "") -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:{spec}}{unit}"


def _profile(record) -> Profile:
    name = record.meta.get("profile") or record.summary.profile or None
    try:
        return load_profile(name)
    except ProfileError:
        return load_profile(None)  # a profile renamed since: judge against the default, and say which below


def _basis_rows(meta: dict[str, Any], profile: Profile) -> list[tuple[str, str]]:
    cal = meta.get("calibration") or {}
    mode = cal.get("mode")
    src = meta.get("source_kind") or ""
    rows = [("calibration mode", {"marker": "printed marker on the chest", "anchor": "static anchor marker",
                                  "hand-size": "no marker: the hand's own size"}.get(mode, mode) if mode else NOT_RECORDED)]
    if cal.get("file"):
        rows.append(("calibration file", str(cal["file"])))
    el, az = cal.get("elevation_deg"), cal.get("azimuth_from_side_deg")
    if el is not None or az is not None:
        view = []
        if el is not None:
            view.append(f"{el:.0f}° above the chest")
        if az is not None:
            view.append(f"{az:+.0f}° from the side view")
        if cal.get("distance_mm") is not None:
            view.append(f"{cal['distance_mm'] / 1000:.2f} m away")
        rows.append(("viewing angle", ", ".join(view)))
    else:
        rows.append(("viewing angle", NOT_RECORDED))
    unc = cal.get("stated_depth_uncertainty_mm", cal.get("depth_uncertainty_mm"))  # the session's own, else the mode's
    text = cal.get("uncertainty_text")
    if text:
        rows.append(("depth uncertainty", text))
    elif unc is not None and math.isfinite(unc):
        rows.append(("depth uncertainty", f"about ±{unc:g} mm"))
    else:
        rows.append(("depth uncertainty", NOT_RECORDED))
    if cal.get("hand_length_mm") is not None:
        rows.append(("hand size assumed", f"{cal['hand_length_mm']:.0f} mm wrist to middle fingertip"))
    rows.append(("source", f"{src}: {meta.get('source_name')}" if meta.get("source_name") else (src or NOT_RECORDED)))
    rows.append(("guideline profile", f"{profile.title}: depth {profile.depth_mm.min:g}-{profile.depth_mm.max:g} mm, "
                 f"rate {profile.rate_cpm.min:g}-{profile.rate_cpm.max:g} /min, recoil within "
                 f"{profile.recoil_residual_max_mm:g} mm, pauses up to {profile.pause_max_s:g} s, CCF min "
                 f"{100 * profile.ccf_min:.0f} % / goal {100 * profile.ccf_goal:.0f} %"))
    return rows


def build_report(record) -> Report:
    """Score, coaching points, figures and the HTML of one ``SessionRecord`` (``SessionStore.load``)."""
    from coach.report.html import render_html
    from coach.report.plots import build_figures, png_bytes

    log, res, meta = record.log, record.result, record.meta
    profile = _profile(record)
    score = score_session(res, profile)
    points = coaching_points(res, score, profile)
    t0 = log.t_first_s if math.isfinite(log.t_first_s) else 0.0
    t_end = log.t_last_s if math.isfinite(log.t_last_s) else t0
    figs = build_figures(res, profile, t0_s=t0, t_end_s=t_end, events=log.events)
    captions = {
        "depth": f"Every compression's depth; the green band is the target ({profile.depth_mm.min:g}-"
                 f"{profile.depth_mm.max:g} mm). Red rings: leaning (the chest did not come back up).",
        "rate": f"Rate from one compression to the next; green band {profile.rate_cpm.min:g}-"
                f"{profile.rate_cpm.max:g} per minute. Gaps are pauses between sets.",
        "timeline": "Green: compressing (sets). Grey: pauses (breaths, hands-off). Red: pauses longer than "
                    f"{profile.pause_max_s:g} s. Orange dashes: camera lost.",
        "ccf": "How much of the time from the first to the last compression was spent compressing.",
    }
    images = {name: (png_bytes(fig), captions[name]) for name, fig in figs.items()}
    s = res.summary
    trainee = meta.get("trainee_id") or "trainee not recorded"
    station = meta.get("station_id") or "?"
    started = (meta.get("started_at") or "").replace("T", " ").replace("+00:00", " UTC")
    subtitle = f"{trainee} - station {station} - {started} - {_f(s.duration_s, '.0f', ' s')} - session {record.id}"
    banners: list[tuple[str, str]] = []
    if record.row.state == "interrupted":
        banners.append(("warn", f"This session was interrupted: the recording stopped without a summary. The figures "
                                f"are re-derived from the {len(res.compressions)} compressions recorded before it stopped."))
    elif record.row.state == "running":
        banners.append(("warn", "This session is still being recorded: the figures are those so far."))
    if meta.get("source_kind") == "simulator" or meta.get("simulated"):
        banners.append(("note", "The trainee in this session is simulated (cpr-coach's built-in simulator)."))
    if log.skipped:
        banners.append(("warn", f"{len(log.skipped)} unreadable line(s) of the session file were skipped."))
    thinned = [e for e in log.events if e["event"] == "samples_thinned"]
    long = sum(1 for p in res.pauses if p.too_long)
    lost = sum(1 for e in log.events if e["event"] == "source_lost")
    figures_rows = [
        ("compressions", f"{s.compressions} in {s.sets} set(s)"),
        ("depth", f"mean {_f(s.mean_depth_mm, '.0f', ' mm')}, median {_f(s.median_depth_mm, '.0f', ' mm')}"),
        ("rate", f"mean {_f(s.mean_rate_cpm, '.0f', ' /min')}, median {_f(s.median_rate_cpm, '.0f', ' /min')}"),
        ("recoil", f"complete on {_f(s.pct_recoil_ok, '.0f', ' %')}, mean residual {_f(s.mean_recoil_residual_mm, '.1f', ' mm')}"),
        ("compression fraction", f"{_f(100 * s.ccf if math.isfinite(s.ccf) else math.nan, '.0f', ' %')}"
                                 f" ({ {'goal': 'goal reached', 'ok': 'above the minimum', 'below_min': 'below the minimum'}.get(s.ccf_rating, 'n/a') })"),
        ("hands-off in pauses", f"{_f(s.hands_off_s, '.1f', ' s')}; {long} pause(s) too long"),
        ("first compression after", _f(s.time_to_first_s, ".1f", " s")),
        ("prompts shown", str(sum(1 for f in log.feedback if f.get("prompt")))),
        ("camera lost", f"{lost} time(s)" if lost else "never"),
    ]
    if thinned:
        figures_rows.append(("samples thinned", f"{thinned[-1]['data'].get('dropped_total')} (the writer fell behind)"))
    footer = ("Score: depth, rate and recoil are the shares of compressions inside the profile's targets; flow is "
              "CCF against its goal (capped at 100 %); overall is their mean. Points are ranked by the score they "
              "cost. See docs/report.md. Generated by cpr-coach.")
    html = render_html(title="CPR debrief", subtitle=subtitle, banners=banners, score=score, points=points,
                       images=images, figures_rows=figures_rows, basis_rows=_basis_rows(meta, profile), footer=footer,
                       posture_rows=posture_rows(log, meta))
    return Report(score, points, figs, html, profile)


def write_report(session, path: str | os.PathLike, *, store=None) -> Path:
    """Write the debrief of ``session`` (an id, or a SessionRecord) to ``path`` atomically. Returns the path.

    With an id and no ``store``, the store in the default data folder is used.
    """
    if isinstance(session, str):
        if store is None:
            from coach.records import SessionStore, resolve_data_dir

            store = SessionStore(resolve_data_dir())
        record = store.load(session)
    else:
        record = session
    return save_html(build_report(record).html, path)


def save_html(html: str, path: str | os.PathLike) -> Path:
    """Write atomically (temp file + rename): a failed write never leaves half a report."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, html.encode("utf-8"))
    return out
