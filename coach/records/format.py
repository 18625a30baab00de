"""The session file: one JSON object per line, append-only.

Why JSONL: a process killed mid-line loses at most that line; every earlier line stays readable
with any tool (``jq``, a spreadsheet import, another language). The first line is the header
(format, version, metadata); then, in time order::

    {"kind": "header", "format": "cpr-coach/session", "version": 1, "session": "ab12..", "meta": {...}}
    {"kind": "sample", "t_s": 12.033, "height_mm": 101.2, "hands_visible": true}
    {"kind": "compression", "index": 0, "set_index": 0, "t_start_s": .., "depth_mm": .., ..., "placement_mm": null,
     "posture": {"elbow_deg": 162.0, "elbows_locked": true, "shoulder_offset_mm": 40.1, ...}}  (posture: only when on)
    {"kind": "feedback", "t_s": 14.2, "prompt": {"id": "push_harder", "text": "Push harder", ...} | null}
    {"kind": "event", "t_s": 20.5, "event": "source_lost", "data": {...}}
    {"kind": "summary", "t_s": 80.1, "reason": "source ended", "summary": {...SessionSummary...}}

NaN is written as ``null`` (JSON has no NaN) and read back as NaN.
"""
from __future__ import annotations

import json
from typing import Any, Mapping

from coach.core.types import Compression, json_safe

FORMAT = "cpr-coach/session"
VERSION = 1
KINDS = ("header", "sample", "compression", "feedback", "event", "summary")


def dumps(obj: Mapping[str, Any]) -> str:
    """One line (no NaN, compact)."""
    return json.dumps(json_safe(obj), separators=(",", ":"), allow_nan=False)


def header_line(session_id: str, meta: Mapping[str, Any]) -> dict[str, Any]:
    return {"kind": "header", "format": FORMAT, "version": VERSION, "session": session_id, "meta": dict(meta)}


def sample_line(t_s: float, height_mm: float, hands_visible: bool | None) -> dict[str, Any]:
    return {"kind": "sample", "t_s": t_s, "height_mm": height_mm, "hands_visible": hands_visible}


def event_line(t_s: float, kind: str, **data: Any) -> dict[str, Any]:
    """A line on the debrief's timeline (source_lost, rest_moved, ...)."""
    return {"kind": "event", "t_s": t_s, "event": str(kind), "data": data}


def compression_line(c: Compression, placement_mm: float | None = None,
                     posture: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``posture``: the coach's ``CompressionPosture.to_dict()``; the key is left out when posture is off."""
    d = c.to_dict()
    d.pop("t_s", None)
    line = {"kind": "compression", **d, "placement_mm": placement_mm}
    if posture is not None:
        line["posture"] = dict(posture)
    return line

