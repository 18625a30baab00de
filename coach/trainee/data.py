"""Where a trainee's sessions come from: the session records store, one adapter to ``TraineeSession``.

Every session of a trainee is in the store of the data folder (``coach.records``): stations record
there (``run``, ``simulate --data-dir``), offline analyses too (``analyze-trace --trainee``), and the
instructor keeps the class record in a store of its own. This module turns a stored session into
the learning rules' ``TraineeSession`` (``session_from_record``), loads a trainee's history
(``load_trainee_sessions``) and gives a station its coach for a trainee (``StorePlanner``)::

    history = load_trainee_sessions("ana", data_dir)              # oldest first
    planner = StorePlanner(SessionStore(data_dir))
    station = Station(StationOptions(trainee_id="ana"), coach_plan=planner)   # plan at each session start

What counts: complete and interrupted sessions (a killed station's session keeps what it recorded);
sessions still running and sessions without a compression are not practice and are left out of a
history (``store_sessions(..., practice_only=False)`` keeps the empty ones, for the cohort export).
A session recorded before the feedback level was stored ran at ``full`` (the only level then).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from coach.learning.history import SessionHistory, TraineeSession, parse_time
from coach.learning.rules import FULL


class SessionDataError(ValueError):
    """The store or a session in it is unreadable (the message names the folder or the file)."""


def session_from_record(rec: Any) -> TraineeSession:
    """A stored session (``coach.records.SessionRecord``) as the learning rules' TraineeSession."""
    meta, log, res = rec.meta, rec.log, rec.result
    place = tuple(float(x) for x in log.placement_mm)
    started = meta.get("started_at") or rec.row.started_at
    if not started:
        raise SessionDataError(f"{rec.row.path}: the session has no start time")
    return TraineeSession(
        trainee_id=str(meta.get("trainee_id") or ""),
        started_at=parse_time(started),
        profile=str(meta.get("profile") or res.summary.profile),
        feedback_level=str(meta.get("feedback_level") or FULL),
        compressions=tuple(res.compressions),
        summary=res.summary,
        pauses=tuple(res.pauses),
        placement_mm=place if len(place) == len(res.compressions) and any(math.isfinite(x) for x in place) else (),
        station_id=str(meta.get("station_id") or ""),
        session_id=rec.id,
    )


def open_store(data_dir: str | Path, *, create: bool = False):
    """The SessionStore in ``data_dir`` (SessionDataError when it cannot be opened, or is absent and not ``create``)."""
    from coach.records import SessionStore, StoreError

    root = Path(data_dir).expanduser()
    if not create and not root.is_dir():
        raise SessionDataError(f"{root}: no such session records folder")
    try:
        return SessionStore(root)
    except StoreError as exc:
        raise SessionDataError(str(exc)) from None


def store_sessions(store: Any, *, trainee: str | None = None, practice_only: bool = True) -> list[TraineeSession]:
    """The finished sessions of ``store`` (of one trainee when given), oldest first."""
    import warnings

    from coach.records import RecordWarning, StoreError

    out: list[TraineeSession] = []
    for row in store.list(trainee=trainee):
        if row.state == "running" or (practice_only and row.compressions == 0):
            continue
        try:
            with warnings.catch_warnings():  # a skipped bad line is the report's business, not the plan's
                warnings.simplefilter("ignore", RecordWarning)
                rec = store.load(row.id)
            out.append(session_from_record(rec))
        except StoreError as exc:
            raise SessionDataError(str(exc)) from None
        except (TypeError, ValueError) as exc:
            raise SessionDataError(f"{row.path}: bad session metadata: {exc}") from None
    return out


def load_trainee_sessions(trainee_id: str, data_dir: str | Path | Any) -> SessionHistory:
    """All practice sessions of ``trainee_id`` in the store of ``data_dir`` (a folder or a SessionStore)."""
    store = data_dir if hasattr(data_dir, "list") else open_store(data_dir)
    return SessionHistory.of(trainee_id, store_sessions(store, trainee=trainee_id))


class StorePlanner:
    """The station's ``coach_plan`` hook: the trainee's history from the store -> ``coaching_plan`` -> CoachOptions.

    Called at each session start (a few stored sessions: milliseconds to tens of ms). No trainee, or
    none recorded yet, is full feedback. ``last`` keeps the latest plan for the console and the tests.
    """

    def __init__(self, store: Any) -> None:
        self.store = store
        self.last = None  # coach.learning.plan.CoachingPlan of the latest session start (None: no trainee)

    def __call__(self, trainee_id: str | None, profile: str):
        from coach.feedback import CoachOptions
        from coach.learning.plan import coaching_plan

        if not trainee_id:
            self.last = None
            return CoachOptions(profile=profile)
        plan = coaching_plan(load_trainee_sessions(trainee_id, self.store), profile)
        self.last = plan
        return CoachOptions(profile=profile, feedback_level=plan.feedback_level, cues=plan.cues)


def record_trainee_session(store: Any, s: TraineeSession) -> str:
    """Store a TraineeSession (a simulated trainee's, an imported one) as a complete session; returns its id.

    The inverse of ``session_from_record``: trainee, start time, station, profile and feedback level go
    into the metadata, compressions (with their hand offsets) and the summary into the file.
    """
    from coach.core.types import SessionResult
    from coach.records import record_result, session_meta

    meta = session_meta(station_id=s.station_id, profile=s.profile, source_kind="import",
                        source_name="trainee session", trainee_id=s.trainee_id,
                        started_at=s.started_at.isoformat(),
                        extra={"feedback_level": s.feedback_level})
    return record_result(store, SessionResult(s.summary, s.compressions, s.pauses, ()), meta=meta,
                         session_id=s.session_id or None, placement_mm=s.placement_mm or None, reason="imported")
