"""Message bodies: the core's result types turned into protocol JSON.

Why apart from the publisher: the publisher is about sockets; these functions
are about what a topic says. Tests and the schema docs read them directly.
Bodies never repeat the envelope (topic, v, station, t_s, seq).
"""
from __future__ import annotations

from dataclasses import asdict, is_dataclass
from typing import Any, Mapping

from coach.core.types import Compression, CoreState, SessionSummary

from .protocol import clean_json, json_num

SESSION_EVENTS = ("start", "stop")
TRACKER_STATUSES = ("ok", "searching", "lost", "none")


def state_body(
    state: CoreState,
    *,
    hands_visible: bool,
    tracker_fps: float | None = None,
    latency_ms: float | None = None,
    placement_mm: float | None = None,
    session: str | None = None,
    extras: Mapping[str, Any] | None = None,
    posture: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``cpr.state``: the live signal after one processed frame.

    ``posture``: the newest pose frame (arm lines in pixels, smoothed elbow angle,
    shoulder offsets; see the schema); omitted when posture is off.
    """
    body: dict[str, Any] = {
        "session": session,
        "height_mm": json_num(state.height_mm),
        "baseline_mm": json_num(state.baseline_mm),
        "displacement_mm": json_num(state.displacement_mm),
        "phase": state.phase,
        "rate_cpm": json_num(state.rate_cpm),
        "last_depth_mm": json_num(state.last_depth_mm),
        "compressions": int(state.compressions),
        "set_compressions": int(state.set_compressions),
        "since_last_compression_s": json_num(state.since_last_compression_s),
        "hands_visible": bool(hands_visible),
        "tracker_fps": json_num(tracker_fps),
        "latency_ms": json_num(latency_ms),
        "placement_mm": json_num(placement_mm),
    }
    if posture is not None:
        body["posture"] = clean_json(dict(posture))
    if extras:
        body["extra"] = clean_json(dict(extras))
    return body


def compression_body(
    c: Compression,
    *,
    placement_mm: float | None = None,
    session: str | None = None,
    posture: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``cpr.compression``: every metric and flag of one compression.

    Fields are listed explicitly (not ``asdict``): the protocol changes only
    with its version, not whenever the core's dataclass grows a field.
    ``posture`` (the compression's posture, ``CompressionPosture.to_dict()``) is
    an optional v1 field, omitted when posture is off.
    """
    body = {
        "session": session,
        "index": int(c.index),
        "set_index": int(c.set_index),
        "t_start_s": json_num(c.t_start_s),
        "t_bottom_s": json_num(c.t_bottom_s),
        "t_release_s": json_num(c.t_release_s),
        "depth_mm": json_num(c.depth_mm),
        "rate_cpm": json_num(c.rate_cpm),
        "duty_cycle": json_num(c.duty_cycle),
        "recoil_residual_mm": json_num(c.recoil_residual_mm),
        "flags": list(c.flags),
        "gap_s": json_num(getattr(c, "gap_s", 0.0)),
        "placement_mm": json_num(placement_mm),
    }
    if posture is not None:
        body["posture"] = clean_json(dict(posture))
    return body


def feedback_body(prompt: Any | None, *, session: str | None = None) -> dict[str, Any]:
    """``cpr.feedback``: the active prompt and its priority; ``prompt: null`` when cleared.

    ``prompt`` is anything with ``to_dict()`` (the coach's Prompt) or a mapping,
    so this layer needs no import of the feedback rules.
    """
    if prompt is None:
        return {"session": session, "prompt": None, "priority": None}
    d = prompt.to_dict() if hasattr(prompt, "to_dict") else dict(prompt)
    d = clean_json(d)
    return {"session": session, "prompt": d, "priority": d.get("priority")}


def session_body(
    event: str,
    *,
    session: str,
    profile: str,
    summary: SessionSummary | Mapping[str, Any] | None = None,
    reason: str | None = None,
    trainee: str | None = None,
    feedback_level: str | None = None,
) -> dict[str, Any]:
    """``cpr.session``: a session started or stopped; ``stop`` carries the summary.

    ``trainee`` (optional in the schema) is sent only when the station knows who trains;
    ``feedback_level`` (optional) only when the coach follows that trainee's plan, so a class
    record kept from the protocol knows which sessions ran without feedback (the mastery test).
    """
    if event not in SESSION_EVENTS:
        raise ValueError(f"session event must be one of {SESSION_EVENTS}, not {event!r}")
    if summary is not None and not isinstance(summary, Mapping):
        summary = summary.to_dict() if hasattr(summary, "to_dict") else asdict(summary) if is_dataclass(summary) else summary
    body = {"event": event, "session": session, "profile": profile, "summary": clean_json(summary), "reason": reason}
    if trainee is not None:
        body["trainee"] = str(trainee)
    if feedback_level is not None:
        body["feedback_level"] = str(feedback_level)
    return body


def heartbeat_body(
    *,
    source_kind: str,
    source_name: str,
    tracker_status: str,
    tracker_fps: float | None,
    running: bool,
    session: str | None,
    profile: str,
    uptime_s: float,
    dropped: int,
) -> dict[str, Any]:
    """``cpr.heartbeat``: once a second, so clients can tell a quiet station from a dead one."""
    if tracker_status not in TRACKER_STATUSES:
        raise ValueError(f"tracker status must be one of {TRACKER_STATUSES}, not {tracker_status!r}")
    return {
        "source": {"kind": source_kind, "name": source_name},
        "tracker": {"status": tracker_status, "fps": json_num(tracker_fps)},
        "session": {"running": bool(running), "id": session, "profile": profile},
        "uptime_s": float(uptime_s),
        "dropped": int(dropped),
    }


def frame_body(*, width_px: int, height_px: int, nbytes: int, session: str | None = None) -> dict[str, Any]:
    """``cpr.frame``: describes the JPEG that travels as the third frame."""
    return {"session": session, "encoding": "jpeg", "width_px": int(width_px), "height_px": int(height_px), "bytes": int(nbytes)}
