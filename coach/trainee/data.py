"""Where a trainee's sessions come from (one function, so the lead can switch it to the records store).

Until the session store lands, sessions are ``cpr-coach analyze-trace --json``
files in a folder, or lines of a JSON-lines file such as the instructor's
``class-record.jsonl``. A file belongs to trainee ID when its top-level ``trainee``
key is ID, or, without that key, when it lies in the subfolder ``DIR/ID/``.
Optional keys: ``started_at`` (ISO 8601; default: the file's modification
time), ``feedback_level`` (default ``full``), ``station``, ``session``,
``placement_mm``.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from coach.learning.history import SessionHistory, TraineeSession, session_from_analysis


class SessionDataError(ValueError):
    """A session file is unreadable or malformed (the message names the file and the key)."""


def load_trainee_sessions(trainee_id: str, data_dir: str | Path) -> SessionHistory:
    """All sessions of ``trainee_id`` under ``data_dir``, oldest first."""
    root = Path(data_dir)
    if not root.is_dir():
        raise SessionDataError(f"{root}: no such folder of session JSON files")
    out: list[TraineeSession] = []
    for path, line, doc in _documents(root):
        where = f"{path}:{line}" if line else str(path)
        if not isinstance(doc, dict) or "compressions" not in doc or "summary" not in doc:
            continue  # not a session (e.g. a truth file of the demo)
        owner = doc.get("trainee")
        if owner is None:
            owner = path.parent.name if path.parent != root else None
        if owner != trainee_id:
            continue
        mtime = datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc)
        try:
            out.append(session_from_analysis(doc, trainee_id=trainee_id, started_at=mtime,
                                             session_id=f"{path.stem}-{line}" if line else path.stem))
        except KeyError as exc:
            raise SessionDataError(f"{where}: missing key {exc}") from None
        except (TypeError, ValueError) as exc:
            raise SessionDataError(f"{where}: bad value: {exc}") from None
    return SessionHistory.of(trainee_id, out)


def _documents(root: Path):
    """(path, line or 0, document) for every *.json file and every line of every *.jsonl file (the class record)."""
    for path in sorted(root.rglob("*.json*")):
        if path.suffix not in (".json", ".jsonl"):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SessionDataError(f"{path}: cannot read: {exc}") from None
        rows = [(i + 1, t) for i, t in enumerate(text.splitlines()) if t.strip()] if path.suffix == ".jsonl" else [(0, text)]
        for line, t in rows:
            try:
                yield path, line, json.loads(t)
            except json.JSONDecodeError as exc:
                raise SessionDataError(f"{path}{f':{line}' if line else ''}: not a session JSON file: {exc}") from None
