"""The class record: every station's finished sessions in one JSON-lines file.

Why JSON lines in the analysis format: appending one line per session never
rewrites the file, and each line is what ``cpr-coach analyze-trace --json``
writes plus ``trainee``/``station``/``session``/``started_at``, so
``cpr-coach trainee ID --data-dir DIR`` reads the class record directly.
``append_session`` is the one function to switch to the records store.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RECORD_NAME = "class-record.jsonl"


def session_doc(done: dict[str, Any]) -> dict[str, Any]:
    """A finished session (ClassRoom.update's return) as an analysis document."""
    return {
        "trainee": done.get("trainee") or "",
        "station": done.get("station"),
        "session": done.get("session"),
        "started_at": done.get("started_at"),
        "profile": done.get("profile"),
        "feedback_level": "full",
        "summary": done.get("summary") or {},
        "compressions": [{k: v for k, v in c.items() if k not in ("topic", "v", "station", "seq", "session")}
                         for c in done.get("compressions", [])],
        "placement_mm": [c.get("placement_mm") for c in done.get("compressions", [])]
        if all(c.get("placement_mm") is not None for c in done.get("compressions", [])) else [],
    }


def append_session(data_dir: str | Path, done: dict[str, Any]) -> Path:
    """Append one finished session to ``DATA_DIR/class-record.jsonl``; returns the file."""
    d = Path(data_dir)
    d.mkdir(parents=True, exist_ok=True)
    path = d / RECORD_NAME
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(session_doc(done), separators=(",", ":"), allow_nan=False) + "\n")
    return path


def read_record(data_dir: str | Path) -> list[dict[str, Any]]:
    path = Path(data_dir) / RECORD_NAME
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
