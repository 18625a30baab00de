"""A session seen on the protocol (``cpr.session`` + ``cpr.compression``) recorded into a store.

Why: the instructor keeps the class record, every station's sessions in one store, even when the
stations are other machines with stores of their own. It sees only the protocol, so the record is
built from what the messages carry: each compression's metrics and hand offset, and the summary of
``cpr.session stop`` (re-derived from the compressions when the stop was missed). The session keeps
the station's id, so the same session recorded by the station into the same folder is not doubled.

    sid = record_seen_session(store, {"station": "st-1", "trainee": "ana", "session": "ab12..",
                                      "profile": "adult", "started_at": "2026-..", "summary": {...},
                                      "compressions": [cpr.compression bodies], "feedback_level": "errors"})
"""
from __future__ import annotations

import math
from typing import Any, Mapping

from coach.core.types import Compression, SessionResult, SessionSummary
from coach.records.derive import derive_result
from coach.records.meta import session_meta
from coach.records.recorder import record_result
from coach.records.store import SessionStore

SOURCE_KIND = "instructor"  # the store's ``source`` column of a class-record session: "instructor: <station>"


def record_seen_session(store: SessionStore, done: Mapping[str, Any]) -> str | None:
    """Record one finished session seen on the protocol; returns its id (None: already in this store).

    Raises KeyError/TypeError/ValueError on a malformed compression body, StoreError on a bad id or disk.
    """
    sid = str(done.get("session") or "")
    if sid and store.path_for(sid).exists():
        return None  # the station recorded it here itself (same data folder): its record has the samples too
    bodies = sorted(done.get("compressions") or (), key=lambda b: float(b["t_start_s"]))
    comps = [Compression.from_dict(b) for b in bodies]
    place = [b.get("placement_mm") for b in bodies]
    profile = done.get("profile") or None
    derived = derive_result(comps, math.nan, math.nan, profile)
    summary = done.get("summary")
    result = derived if not summary else SessionResult(SessionSummary.from_dict(summary), derived.compressions,
                                                       derived.pauses, derived.sets)
    extra = {"feedback_level": done["feedback_level"]} if done.get("feedback_level") else {}
    meta = session_meta(station_id=str(done.get("station") or ""), profile=result.summary.profile,
                        source_kind=SOURCE_KIND, source_name=str(done.get("station") or ""),
                        trainee_id=done.get("trainee") or None, started_at=done.get("started_at"), extra=extra)
    return record_result(store, result, meta=meta, session_id=sid or None, placement_mm=place,
                         reason="seen by the instructor")
