"""Cohort export rows: one per session and one per compression, with trainee and station.

Why plain rows: a lab runs its own statistics (R, a spreadsheet). The records
CLI (``sessions export --all --csv DIR``) writes these with ``csv.DictWriter``;
this module only builds them (no I/O), so the columns are tested in one place.
"""
from __future__ import annotations

import math
from typing import Any, Iterable

from coach.core.profiles import load_profile

from .curve import session_point
from .history import TraineeSession
from .mastery import qualifies
from .quality import correct_mask

SESSION_COLUMNS = ("trainee", "station", "session", "started_at", "profile", "feedback_level", "compressions",
                   "duration_s", "score", "pct_correct", "pct_depth_ok", "pct_rate_ok", "pct_recoil_ok", "ccf_pct",
                   "mean_depth_mm", "mean_rate_cpm", "pauses_too_long", "meets_mastery")
COMPRESSION_COLUMNS = ("trainee", "station", "session", "started_at", "index", "set_index", "t_bottom_s", "depth_mm",
                       "rate_cpm", "recoil_residual_mm", "duty_cycle", "placement_mm", "correct", "flags")


def _num(x: Any, nd: int = 3) -> Any:
    if x is None:
        return ""
    if isinstance(x, float):
        return "" if not math.isfinite(x) else round(x, nd)
    return x


def session_rows(sessions: Iterable[TraineeSession]) -> list[dict[str, Any]]:
    out = []
    for s in sessions:
        pt = session_point(s)
        out.append({
            "trainee": s.trainee_id, "station": s.station_id, "session": s.session_id,
            "started_at": s.started_at.isoformat(), "profile": s.profile, "feedback_level": s.feedback_level,
            "compressions": pt.compressions, "duration_s": _num(pt.duration_s, 2), "score": _num(pt.score, 1),
            "pct_correct": _num(pt.pct_correct, 1), "pct_depth_ok": _num(pt.pct_depth_ok, 1),
            "pct_rate_ok": _num(pt.pct_rate_ok, 1), "pct_recoil_ok": _num(pt.pct_recoil_ok, 1),
            "ccf_pct": _num(pt.ccf_pct, 1), "mean_depth_mm": _num(s.summary.mean_depth_mm, 2),
            "mean_rate_cpm": _num(s.summary.mean_rate_cpm, 2), "pauses_too_long": s.summary.pauses_too_long,
            "meets_mastery": int(qualifies(s)),
        })
    return out


def compression_rows(sessions: Iterable[TraineeSession]) -> list[dict[str, Any]]:
    out = []
    for s in sessions:
        ok = correct_mask(s.compressions, load_profile(s.profile))
        for i, c in enumerate(s.compressions):
            out.append({
                "trainee": s.trainee_id, "station": s.station_id, "session": s.session_id,
                "started_at": s.started_at.isoformat(), "index": c.index, "set_index": c.set_index,
                "t_bottom_s": _num(c.t_bottom_s), "depth_mm": _num(c.depth_mm, 2), "rate_cpm": _num(c.rate_cpm, 2),
                "recoil_residual_mm": _num(c.recoil_residual_mm, 2), "duty_cycle": _num(c.duty_cycle),
                "placement_mm": _num(s.placement_mm[i], 1) if s.placement_mm else "",
                "correct": int(ok[i]), "flags": ";".join(c.flags),
            })
    return out
