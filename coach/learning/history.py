"""What the learning rules read: a trainee's sessions, oldest first.

Why a small input type of its own: the rules must not care where sessions come
from (the records store, a folder of ``analyze-trace --json`` files, a
simulated trainee). Each source needs one adapter to ``TraineeSession``;
``session_from_analysis`` is the one for the analysis JSON (the core's
``SessionResult.to_dict()`` plus optional ``trainee``/``started_at``/...).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from coach.core.types import Compression, Pause, SessionSummary, from_json_num

from .rules import FULL, LEVELS


@dataclass(frozen=True)
class TraineeSession:
    """One practice session of one trainee."""

    trainee_id: str
    started_at: datetime  # wall-clock start (timezone-aware, UTC); days between sessions come from it
    profile: str  # guideline profile name
    feedback_level: str  # the level the session was run at (coach.learning.rules.LEVELS)
    compressions: tuple[Compression, ...]
    summary: SessionSummary
    pauses: tuple[Pause, ...] = ()
    placement_mm: tuple[float, ...] = ()  # hand offset at each compression (+ toward the head), empty when unknown
    station_id: str = ""
    session_id: str = ""

    def __post_init__(self) -> None:
        if self.feedback_level not in LEVELS:
            raise ValueError(f"session {self.session_id or self.started_at}: feedback_level {self.feedback_level!r} "
                             f"is not one of {', '.join(LEVELS)}")
        if self.placement_mm and len(self.placement_mm) != len(self.compressions):
            raise ValueError("placement_mm must have one value per compression (or be empty)")


@dataclass(frozen=True)
class SessionHistory:
    """A trainee's sessions, sorted oldest first."""

    trainee_id: str
    sessions: tuple[TraineeSession, ...] = field(default_factory=tuple)

    @classmethod
    def of(cls, trainee_id: str, sessions: Iterable[TraineeSession]) -> "SessionHistory":
        return cls(trainee_id, tuple(sorted(sessions, key=lambda s: s.started_at)))

    def __len__(self) -> int:
        return len(self.sessions)

    def upto(self, n: int) -> "SessionHistory":
        """The first ``n`` sessions (what was known before session ``n``)."""
        return SessionHistory(self.trainee_id, self.sessions[:n])


# ------------------------------------------------------------ adapter: analysis JSON
def parse_time(text: str) -> datetime:
    """ISO 8601 -> aware UTC datetime (naive times are taken as UTC)."""
    t = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def session_from_analysis(doc: Mapping[str, Any], *, trainee_id: str, started_at: datetime,
                          feedback_level: str = FULL, session_id: str = "") -> TraineeSession:
    """A ``cpr-coach analyze-trace --json`` document as a TraineeSession.

    Optional keys of the document override the arguments: ``trainee``,
    ``started_at`` (ISO 8601), ``feedback_level``, ``station``, ``session``,
    ``placement_mm`` (one per compression). Missing required keys raise KeyError
    naming the key; the caller names the file.
    """
    comps = tuple(Compression.from_dict(c) for c in doc["compressions"])
    summary = SessionSummary.from_dict(doc["summary"])
    placement = tuple(from_json_num(x) for x in doc.get("placement_mm") or ())
    return TraineeSession(
        trainee_id=str(doc.get("trainee", trainee_id)),
        started_at=parse_time(doc["started_at"]) if doc.get("started_at") else started_at,
        profile=str(doc.get("profile") or summary.profile),
        feedback_level=str(doc.get("feedback_level", feedback_level)),
        compressions=comps,
        summary=summary,
        pauses=tuple(Pause.from_dict(p) for p in doc.get("pauses", ())),
        placement_mm=placement,
        station_id=str(doc.get("station", "")),
        session_id=str(doc.get("session", session_id)),
    )


def session_to_analysis(s: TraineeSession) -> dict[str, Any]:
    """The inverse adapter: the analysis JSON with the trainee keys (what ``session_from_analysis`` reads)."""
    from coach.core.types import json_safe

    return json_safe({
        "trainee": s.trainee_id,
        "started_at": s.started_at.isoformat(),
        "profile": s.profile,
        "feedback_level": s.feedback_level,
        "station": s.station_id,
        "session": s.session_id,
        "summary": s.summary.to_dict(),
        "compressions": [c.to_dict() for c in s.compressions],
        "pauses": [p.to_dict() for p in s.pauses],
        "placement_mm": list(s.placement_mm),
    })
