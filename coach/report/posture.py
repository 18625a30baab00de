"""The debrief's posture section: locked elbows and shoulders over the hands, per set, from the record.

Why from the compression lines and not the coach's own summary: the report is made from the session
file alone (any time later, on any machine), and each compression line carries the posture the coach
judged for it. Posture is advisory: it is shown, not scored (docs/report.md).
"""
from __future__ import annotations

import math
from typing import Any

NO_POSTURE = "no posture measured"


def posture_stats(compressions: list[Any], posture: list[dict | None]) -> dict:
    """{"sets": {set_index: figures}, "session": figures} where figures are
    ``compressions``, ``judged`` (elbows locked or not), ``locked_share``, ``mean_shoulder_offset_mm``,
    ``not_visible_share`` (compressions without an elbow verdict: no person, arms end-on or unsure)."""
    per_set: dict[int, list[dict | None]] = {}
    for i, c in enumerate(compressions):
        per_set.setdefault(int(c.set_index), []).append(posture[i] if i < len(posture) else None)
    every = [p for ps in per_set.values() for p in ps]
    return {"sets": {k: _figures(v) for k, v in sorted(per_set.items())}, "session": _figures(every)}


def _figures(ps: list[dict | None]) -> dict:
    judged = [p["elbows_locked"] for p in ps if p and p.get("elbows_locked") is not None]
    offs = [float(p["shoulder_offset_mm"]) for p in ps if p and p.get("shoulder_offset_mm") is not None
            and math.isfinite(float(p["shoulder_offset_mm"]))]
    n = len(ps)
    return {
        "compressions": n,
        "judged": len(judged),
        "locked_share": sum(bool(j) for j in judged) / len(judged) if judged else None,
        "mean_shoulder_offset_mm": sum(offs) / len(offs) if offs else None,
        "not_visible_share": (n - len(judged)) / n if n else None,
    }


def _line(f: dict) -> str:
    locked = ("elbows locked on -" if f["locked_share"] is None
              else f"elbows locked on {100 * f['locked_share']:.0f} % of {f['judged']} judged")
    off = f["mean_shoulder_offset_mm"]
    off_txt = "shoulders: -" if off is None else f"shoulders {off:.0f} mm from over the hands (mean)"
    nv = f["not_visible_share"]
    nv_txt = "" if nv is None else f"; not visible on {100 * nv:.0f} %"
    return f"{locked}; {off_txt}{nv_txt}"


def posture_rows(log, meta: dict | None = None) -> list[tuple[str, str]]:
    """The section's rows; one row saying "no posture measured" when the record has no posture."""
    if not any(p for p in getattr(log, "posture", [])):
        why = (meta or {}).get("posture") or {}
        note = why.get("off_reason") if isinstance(why, dict) else None
        seen = " (posture was on, but no rescuer was seen)" if isinstance(why, dict) and why.get("on") else ""
        return [("posture", NO_POSTURE + (f": {note}" if note else seen))]
    st = posture_stats(log.compressions, log.posture)
    rows = [(f"set {k + 1}", _line(f)) for k, f in st["sets"].items()]
    rows.append(("session", _line(st["session"])))
    return rows
