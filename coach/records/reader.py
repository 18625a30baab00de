"""Reading a session file back, line by line, skipping what cannot be read.

Why skip and warn: a file cut by a crash ends mid-line, and a disk or an editor can garble one line.
Either costs that line only: the reader warns (``RecordWarning``, naming the file and the line
number) and keeps every other line.
"""
from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from coach.core.types import Compression, SessionSummary
from coach.records import format as fmt


class RecordWarning(UserWarning):
    """A line of a session file was skipped (the message names the file and the line)."""


class RecordError(ValueError):
    """A session file cannot be read at all (missing, not a session file, a newer format)."""


@dataclass
class SessionLog:
    """Everything one session file holds, in time order."""

    path: Path
    session_id: str
    meta: dict[str, Any]
    t_s: np.ndarray  # sample times (s), shape (n,)
    height_mm: np.ndarray  # sample heights (mm, NaN = not measured), shape (n,)
    hands_visible: np.ndarray  # bool, shape (n,)
    compressions: list[Compression]
    placement_mm: list[float]  # per compression (NaN when unknown)
    feedback: list[dict[str, Any]]  # {"t_s", "prompt": dict | None}
    events: list[dict[str, Any]]  # {"t_s", "event", "data"}
    summary: SessionSummary | None  # the final summary (None: the session did not end cleanly)
    stop_reason: str | None
    t_stop_s: float
    skipped: list[str] = field(default_factory=list)  # one message per skipped line
    posture: list[dict[str, Any] | None] = field(default_factory=list)  # per compression (None: not measured)

    @property
    def complete(self) -> bool:
        return self.summary is not None

    @property
    def t_first_s(self) -> float:
        """First sample (or compression start) time; NaN when the file has neither."""
        cands = [float(self.t_s[0])] if self.t_s.size else []
        if self.compressions:
            cands.append(self.compressions[0].t_start_s)
        return min(cands) if cands else math.nan

    @property
    def t_last_s(self) -> float:
        """Last time the file knows of: the stop, the last sample or the last compression's release."""
        cands = [self.t_stop_s] if math.isfinite(self.t_stop_s) else []
        if self.t_s.size:
            cands.append(float(self.t_s[-1]))
        if self.compressions:
            cands.append(self.compressions[-1].t_release_s)
        return max(cands) if cands else math.nan


def read_session(path: str | Path, *, warn: bool = True) -> SessionLog:
    """Parse one session file. Bad lines are skipped with a RecordWarning; RecordError if there is no header."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise RecordError(f"{p}: cannot read: {exc.strerror or exc}") from None
    header: dict[str, Any] | None = None
    t: list[float] = []
    h: list[float] = []
    vis: list[bool] = []
    comps: list[Compression] = []
    place: list[float] = []
    posture: list[dict[str, Any] | None] = []
    feedback: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    summary = None
    reason = None
    t_stop = math.nan
    skipped: list[str] = []

    def skip(lineno: int, why: str) -> None:
        msg = f"{p}: line {lineno}: {why}; line skipped"
        skipped.append(msg)
        if warn:
            warnings.warn(msg, RecordWarning, stacklevel=3)

    lines = raw.split(b"\n")
    for lineno, bline in enumerate(lines, start=1):
        if not bline.strip():
            continue
        try:
            d = json.loads(bline.decode("utf-8"))
            if not isinstance(d, dict):
                raise ValueError("not a JSON object")
        except (UnicodeDecodeError, ValueError) as exc:
            last = lineno == len(lines) or (lineno == len(lines) - 1 and not lines[-1])
            skip(lineno, "truncated (the writer stopped mid-line)" if last and not bline.endswith(b"}")
                 else f"not valid JSON ({exc.__class__.__name__})")
            continue
        kind = d.get("kind")
        try:
            if header is None:
                if kind != "header" or d.get("format") != fmt.FORMAT:
                    raise RecordError(f"{p}: not a cpr-coach session file (line {lineno} is no session header)")
                if int(d.get("version", 0)) > fmt.VERSION:
                    raise RecordError(f"{p}: session file version {d.get('version')} is newer than this cpr-coach "
                                      f"reads ({fmt.VERSION}): use a matching cpr-coach")
                header = d
            elif kind == "sample":
                tt = float(d["t_s"])
                hh = d.get("height_mm")
                hh = math.nan if hh is None else float(hh)
                v = d.get("hands_visible")
                t.append(tt)
                h.append(hh)
                vis.append(bool(v) if v is not None else math.isfinite(hh))
            elif kind == "compression":
                comps.append(Compression.from_dict(d))
                pm = d.get("placement_mm")
                place.append(math.nan if pm is None else float(pm))
                pd = d.get("posture")
                posture.append(pd if isinstance(pd, dict) else None)
            elif kind == "feedback":
                feedback.append({"t_s": float(d["t_s"]), "prompt": d.get("prompt")})
            elif kind == "event":
                ev = d.get("t_s")
                events.append({"t_s": math.nan if ev is None else float(ev), "event": str(d["event"]),
                               "data": d.get("data") or {}})
            elif kind == "summary":
                summary = SessionSummary.from_dict(d["summary"])
                reason = d.get("reason")
                ts = d.get("t_s")
                t_stop = math.nan if ts is None else float(ts)
            else:
                raise ValueError(f"unknown kind {kind!r}")
        except RecordError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            skip(lineno, f"bad {kind or 'record'} line ({exc.__class__.__name__}: {exc})")
    if header is None:
        raise RecordError(f"{p}: empty or not a cpr-coach session file (no header line)")
    return SessionLog(
        path=p, session_id=str(header.get("session") or p.stem), meta=dict(header.get("meta") or {}),
        t_s=np.asarray(t, float), height_mm=np.asarray(h, float), hands_visible=np.asarray(vis, bool),
        compressions=comps, placement_mm=place, feedback=feedback, events=events, summary=summary,
        stop_reason=reason, t_stop_s=t_stop, skipped=skipped, posture=posture,
    )
