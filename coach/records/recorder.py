"""The station's recorder: one session file per session, written off the tracking thread.

Why a recorder object rather than files in the Station: the Station calls a handful of cheap
methods (each only queues a line); the recorder owns the store, the metadata the station does not
know (calibration, extra notes) and the writer threads. A Station without a recorder is unchanged.

    store = SessionStore(resolve_data_dir(args.data_dir))
    rec = SessionRecorder(store, calibration=calibration_info("marker", file="station.json", station=cal))
    station = Station(StationOptions(station_id="lab-1", trainee_id="t-042"), recorder=rec)
    ...                                   # station.record_event("source_lost", t) etc.
    station.close()                       # stops the session, closes the file, waits for the writer
    write_report(rec.last_session_id, "report.html", store=store)
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from coach.core.types import Compression, SessionSummary
from coach.records import format as fmt
from coach.records.meta import session_meta
from coach.records.store import SessionStore
from coach.records.writer import SessionWriter, WriterOptions


@dataclass(frozen=True)
class RecorderOptions:
    writer: WriterOptions = WriterOptions()  # flush / fsync cadence and the sample queue bound
    record_samples: bool = True  # False: compressions, feedback, events and summary only


class SessionRecorder:
    """Records the sessions of one station into ``store``. Methods never raise into the caller's loop
    once a session is open (write errors are kept in ``error``)."""

    def __init__(self, store: SessionStore, options: RecorderOptions = RecorderOptions(), *,
                 calibration: Mapping[str, Any] | None = None, extra_meta: Mapping[str, Any] | None = None) -> None:
        self.store = store
        self.options = options
        self.calibration = None if calibration is None else dict(calibration)
        self.extra_meta = dict(extra_meta or {})
        self.session_id: str | None = None  # the session being recorded (None between sessions)
        self.last_session_id: str | None = None  # the latest session started (kept after it stops)
        self.error: str | None = None
        self._writer: SessionWriter | None = None
        self._writers: list[SessionWriter] = []

    @property
    def recording(self) -> bool:
        return self._writer is not None

    def start(self, session_id: str, *, t_s: float, station_id: str, profile: str, source_kind: str = "",
              source_name: str = "", trainee_id: str | None = None, core: Mapping[str, Any] | None = None,
              feedback_level: str | None = None) -> str:
        """Open the session's file (header line) and index it as running. Returns its path.

        ``core``: the analyzer's settings a replay needs to measure the same (``rest_height_mm``).
        ``feedback_level``: the coach's adaptive level (the trainee's history reads it back: mastery
        counts only sessions run without feedback).
        """
        if self._writer is not None:
            self.stop(None, t_s=t_s, reason="a new session started")
        meta = session_meta(station_id=station_id, profile=profile, source_kind=source_kind, source_name=source_name,
                            trainee_id=trainee_id, calibration=self.calibration, t0_s=t_s,
                            extra={**self.extra_meta, **({"core": dict(core)} if core else {}),
                                   **({"feedback_level": feedback_level} if feedback_level else {})})
        path = self.store.path_for(session_id)
        self._writer = SessionWriter(path, fmt.header_line(session_id, meta), self.options.writer,
                                     on_closed=self._on_closed,
                                     on_opened=lambda w: self.store.index_start(session_id, meta))
        self._writers.append(self._writer)
        self.session_id = self.last_session_id = session_id
        return str(path)

    def sample(self, t_s: float, height_mm: float, hands_visible: bool | None = None) -> None:
        if self._writer is not None and self.options.record_samples:
            self._writer.put(fmt.sample_line(t_s, height_mm, hands_visible), sample=True)

    def compression(self, c: Compression, placement_mm: float | None = None, posture: Any | None = None) -> None:
        """``posture``: the compression's posture dict (``CompressionPosture.to_dict()``), None when posture is off."""
        if self._writer is not None:
            self._writer.put(fmt.compression_line(c, placement_mm, posture))

    def feedback(self, prompt: Any | None, t_s: float) -> None:
        """A prompt change (``prompt`` has ``to_dict()`` or is a mapping; None = cleared)."""
        if self._writer is not None:
            body = None if prompt is None else (prompt.to_dict() if hasattr(prompt, "to_dict") else dict(prompt))
            self._writer.put({"kind": "feedback", "t_s": t_s, "prompt": body})

    def event(self, kind: str, t_s: float, **data: Any) -> None:
        """Anything worth a line on the debrief's timeline: source_lost, source_back, rest_hold_waiting, ..."""
        if self._writer is not None:
            self._writer.put(fmt.event_line(t_s, kind, **data))

    def stop(self, summary: SessionSummary | None, *, t_s: float, reason: str | None = None) -> None:
        """Write the final summary and close the file (in the writer thread; ``wait()`` to block)."""
        w = self._writer
        if w is None:
            return
        if summary is not None:
            w.put({"kind": "summary", "t_s": t_s if math.isfinite(t_s) else None, "reason": reason,
                   "summary": summary.to_dict()})
        w.close()
        self._writer = None
        self.session_id = None

    def wait(self, timeout_s: float | None = 10.0) -> bool:
        """Block until every session file this recorder opened is closed and indexed."""
        return all(w.wait(timeout_s) for w in self._writers)

    def close(self, timeout_s: float | None = 10.0) -> None:
        """Stop an open session without a summary (it is indexed as interrupted) and wait for the writers."""
        if self._writer is not None:
            self.stop(None, t_s=math.nan, reason="closed")
        self.wait(timeout_s)

    # ------------------------------------------------------------ writer thread
    def _on_closed(self, w: SessionWriter) -> None:
        """Index the finished file: complete with its summary, else interrupted with derived figures."""
        if (w.error or w.index_error) and self.error is None:
            self.error = w.error or w.index_error
        try:
            from coach.records.reader import read_session

            log = read_session(w.path, warn=False)
            self.store.index_summary(log.session_id, self.store.summary_of(log), "complete" if log.complete else "interrupted",
                                     log.meta)
        except Exception as exc:  # never let indexing kill the writer thread; the next open recovers it
            if self.error is None:
                self.error = f"{w.path}: cannot index: {exc}"


def record_result(store: SessionStore, result: Any, *, meta: Mapping[str, Any], t_s: Any = (), height_mm: Any = (),
                  hands_visible: Any = None, session_id: str | None = None, reason: str = "analysed",
                  placement_mm: Any = None, rest_moves: Any = ()) -> str:
    """Record a finished offline analysis (``analyze``, ``analyze-trace``) as a complete session. Returns its id.

    ``result`` is the core's SessionResult; ``t_s``/``height_mm`` the analysed trace (samples of the file);
    ``placement_mm`` one hand offset per compression (None: unknown); ``rest_moves`` (t_s, mm): the rest moved that much
    before the sample at t_s (``rest_moved`` events, as a live station notes them, so a replay measures the same). The
    instructor records the sessions it saw on the protocol with it too (no samples).
    """
    import uuid

    sid = session_id or uuid.uuid4().hex[:12]
    meta = dict(meta)
    store.index_start(sid, meta)
    w = SessionWriter(store.path_for(sid), fmt.header_line(sid, meta),
                      WriterOptions(max_pending_samples=max(WriterOptions().max_pending_samples, len(t_s) + 1)))
    vis = [None] * len(t_s) if hands_visible is None else list(hands_visible)
    moves = sorted((float(a), float(b)) for a, b in rest_moves)
    k = 0
    for t, h, v in zip(t_s, height_mm, vis):
        while k < len(moves) and moves[k][0] <= float(t):
            w.put(fmt.event_line(moves[k][0], "rest_moved", mm=moves[k][1]))
            k += 1
        w.put(fmt.sample_line(float(t), math.nan if h is None else float(h), None if v is None else bool(v)), sample=True)
    places = list(placement_mm or ())
    places += [None] * (len(result.compressions) - len(places))
    for c, pm in zip(result.compressions, places):
        w.put(fmt.compression_line(c, None if pm is None or not math.isfinite(pm) else float(pm)))
    s = result.summary
    t_end = float(t_s[-1]) if len(t_s) else (result.compressions[-1].t_release_s if result.compressions else 0.0)
    w.put({"kind": "summary", "t_s": t_end, "reason": reason, "summary": s.to_dict()})
    w.close(wait=True)
    if w.error:
        from coach.records.store import StoreError

        raise StoreError(w.error)
    store.index_summary(sid, s, "complete", meta)
    return sid
