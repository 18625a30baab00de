"""The session store: one folder of session files and one SQLite index of them.

Why both: the JSONL files are the record (append-only, crash-safe, readable anywhere); the index
makes ``sessions list --trainee ID`` a query instead of a scan. The index can always be rebuilt
from the files: opening the store indexes files it does not know, and marks sessions whose writer
died (no ``flock`` held on the file any more) as ``interrupted``, with figures re-derived from the
compressions the file holds.

    store = SessionStore("~/.local/share/cpr-coach")     # see coach.records.paths.resolve_data_dir
    for row in store.list(trainee="t-042"): print(row.id, row.state, row.compressions)
    rec = store.load(row.id)                             # SessionRecord: the log + derived result

Layout::

    DATA_DIR/sessions.sqlite
    DATA_DIR/sessions/<session id>.jsonl
"""
from __future__ import annotations

import math
import os
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from coach.core.types import SessionResult, SessionSummary, from_json_num
from coach.records.derive import derive_result
from coach.records.reader import RecordError, SessionLog, read_session

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

SCHEMA_VERSION = 1
DB_NAME = "sessions.sqlite"
SESSIONS_DIR = "sessions"
STATES = ("running", "complete", "interrupted")
STALE_AFTER_S = 120.0  # without flock (Windows): a running session whose file is this old is taken as dead

_COLUMNS = (
    ("id", "TEXT PRIMARY KEY"), ("trainee", "TEXT"), ("station", "TEXT"), ("source", "TEXT"), ("profile", "TEXT"),
    ("started_at", "TEXT"), ("duration_s", "REAL"), ("compressions", "INTEGER"), ("mean_depth_mm", "REAL"),
    ("mean_rate_cpm", "REAL"), ("pct_depth_ok", "REAL"), ("pct_rate_ok", "REAL"), ("pct_recoil_ok", "REAL"),
    ("ccf", "REAL"), ("state", "TEXT NOT NULL"), ("path", "TEXT NOT NULL"),
)
_NAMES = tuple(c for c, _ in _COLUMNS)


class StoreError(Exception):
    """The store cannot be used (a newer schema, an unreadable database, an unknown session): one line."""


@dataclass(frozen=True)
class SessionRow:
    """One session in the index (summary figures NaN when unknown)."""

    id: str
    trainee: str | None
    station: str | None
    source: str | None
    profile: str | None
    started_at: str | None  # ISO 8601 UTC wall-clock start
    duration_s: float
    compressions: int
    mean_depth_mm: float
    mean_rate_cpm: float
    pct_depth_ok: float
    pct_rate_ok: float
    pct_recoil_ok: float
    ccf: float
    state: str  # running | complete | interrupted
    path: str

    def to_dict(self) -> dict[str, Any]:
        from coach.core.types import json_safe

        return json_safe({n: getattr(self, n) for n in _NAMES})


@dataclass
class SessionRecord:
    """A loaded session: the file's content, its index row, and the result (recorded or re-derived)."""

    row: SessionRow
    log: SessionLog
    result: SessionResult  # compressions as recorded; pauses and sets derived; summary recorded if it ended cleanly

    @property
    def id(self) -> str:
        return self.row.id

    @property
    def meta(self) -> dict[str, Any]:
        return self.log.meta

    @property
    def summary(self) -> SessionSummary:
        return self.result.summary


def _sql_num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def utc_now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")  # sessions a second apart keep their order


def writer_alive(path: Path) -> bool:
    """Does a live writer hold this session file? (flock; without it, a recently written file counts as live.)"""
    if fcntl is None:  # pragma: no cover - Windows
        try:
            return time.time() - path.stat().st_mtime < STALE_AFTER_S
        except OSError:
            return False
    try:
        fh = open(path, "rb")
    except OSError:
        return False
    with fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        return False


class SessionStore:
    """Open (and create) the store in ``data_dir``; recovers dead sessions on open (``recover=True``)."""

    def __init__(self, data_dir: str | os.PathLike, *, recover: bool = True) -> None:
        self.data_dir = Path(data_dir).expanduser()
        self.sessions_dir = self.data_dir / SESSIONS_DIR
        self.db_path = self.data_dir / DB_NAME
        try:
            self.sessions_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{self.data_dir}: cannot create the data folder: {exc.strerror or exc}") from None
        self._init_db()
        self.recovered: list[str] = []  # ids marked interrupted by the last recover()
        if recover:
            self.recover()

    # ------------------------------------------------------------ database
    def _connect(self) -> sqlite3.Connection:
        try:
            con = sqlite3.connect(self.db_path, timeout=10.0)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.db_path}: cannot open the session index: {exc}") from None
        con.row_factory = sqlite3.Row
        return con

    def _init_db(self) -> None:
        try:
            with closing(self._connect()) as con, con:
                con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
                row = con.execute("SELECT MAX(version) FROM schema_version").fetchone()
                version = row[0]
                if version is None:
                    con.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
                elif int(version) > SCHEMA_VERSION:
                    raise StoreError(f"{self.db_path}: session index schema version {version} is newer than this "
                                     f"cpr-coach reads ({SCHEMA_VERSION}): use a matching cpr-coach or another --data-dir")
                cols = ", ".join(f"{n} {t}" for n, t in _COLUMNS)
                con.execute(f"CREATE TABLE IF NOT EXISTS sessions ({cols})")
                con.execute("CREATE INDEX IF NOT EXISTS sessions_trainee ON sessions (trainee)")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.db_path}: not a readable session index ({exc})") from None

    def _upsert(self, values: dict[str, Any]) -> None:
        names = [n for n in _NAMES if n in values]
        sql = (f"INSERT INTO sessions ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)}) "
               f"ON CONFLICT(id) DO UPDATE SET {', '.join(f'{n}=excluded.{n}' for n in names if n != 'id')}")
        with closing(self._connect()) as con, con:
            con.execute(sql, [values[n] for n in names])

    @staticmethod
    def _row(r: sqlite3.Row) -> SessionRow:
        return SessionRow(
            id=r["id"], trainee=r["trainee"], station=r["station"], source=r["source"], profile=r["profile"],
            started_at=r["started_at"], duration_s=from_json_num(r["duration_s"]), compressions=int(r["compressions"] or 0),
            mean_depth_mm=from_json_num(r["mean_depth_mm"]), mean_rate_cpm=from_json_num(r["mean_rate_cpm"]),
            pct_depth_ok=from_json_num(r["pct_depth_ok"]), pct_rate_ok=from_json_num(r["pct_rate_ok"]),
            pct_recoil_ok=from_json_num(r["pct_recoil_ok"]), ccf=from_json_num(r["ccf"]), state=r["state"], path=r["path"],
        )

    # ------------------------------------------------------------ writing (used by the recorder)
    def path_for(self, session_id: str) -> Path:
        safe = "".join(ch for ch in session_id if ch.isalnum() or ch in "-_")
        if not safe or safe != session_id:
            raise StoreError(f"bad session id {session_id!r}: letters, digits, '-' and '_' only")
        return self.sessions_dir / f"{session_id}.jsonl"

    def index_start(self, session_id: str, meta: dict[str, Any]) -> None:
        """A running session enters the index (before its first sample)."""
        self._upsert({
            "id": session_id, "trainee": meta.get("trainee_id"), "station": meta.get("station_id"),
            "source": _source_text(meta), "profile": meta.get("profile"), "started_at": meta.get("started_at"),
            "compressions": 0, "state": "running", "path": str(self.path_for(session_id)),
        })

    def index_summary(self, session_id: str, summary: SessionSummary, state: str, meta: dict[str, Any] | None = None) -> None:
        vals: dict[str, Any] = {
            "id": session_id, "state": state, "path": str(self.path_for(session_id)),
            "duration_s": _sql_num(summary.duration_s), "compressions": int(summary.compressions),
            "mean_depth_mm": _sql_num(summary.mean_depth_mm), "mean_rate_cpm": _sql_num(summary.mean_rate_cpm),
            "pct_depth_ok": _sql_num(summary.pct_depth_ok), "pct_rate_ok": _sql_num(summary.pct_rate_ok),
            "pct_recoil_ok": _sql_num(summary.pct_recoil_ok), "ccf": _sql_num(summary.ccf),
        }
        if meta is not None:
            vals.update({"trainee": meta.get("trainee_id"), "station": meta.get("station_id"),
                         "source": _source_text(meta), "profile": meta.get("profile") or summary.profile,
                         "started_at": meta.get("started_at")})
        self._upsert(vals)

    # ------------------------------------------------------------ recovery
    def recover(self) -> list[str]:
        """Index unknown session files; mark sessions whose writer died as interrupted. Returns those ids."""
        with closing(self._connect()) as con:
            known = {r["id"]: r["state"] for r in con.execute("SELECT id, state FROM sessions")}
        out: list[str] = []
        for path in sorted(self.sessions_dir.glob("*.jsonl")):
            sid = path.stem
            state = known.get(sid)
            if state in ("complete", "interrupted"):
                continue
            if writer_alive(path):
                continue
            try:
                log = read_session(path)
            except RecordError:
                continue  # not a session file (or a newer one): left alone, never indexed
            final = "complete" if log.complete else "interrupted"
            self.index_summary(log.session_id if log.session_id == sid else sid, self.summary_of(log), final, log.meta)
            if final == "interrupted":
                out.append(sid)
        self.recovered = out
        return out

    # ------------------------------------------------------------ reading
    def list(self, trainee: str | None = None) -> list[SessionRow]:
        sql = "SELECT * FROM sessions"
        args: tuple = ()
        if trainee is not None:
            sql += " WHERE trainee = ?"
            args = (trainee,)
        with closing(self._connect()) as con:
            rows = con.execute(sql + " ORDER BY started_at, id", args).fetchall()
        return [self._row(r) for r in rows]

    def get(self, session_id: str) -> SessionRow:
        """The index row; an unambiguous id prefix is enough (as with git)."""
        with closing(self._connect()) as con:
            rows = con.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchall()
            if not rows:
                pat = session_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                rows = con.execute("SELECT * FROM sessions WHERE id LIKE ? ESCAPE '\\'", (pat,)).fetchall()
        if not rows:
            raise StoreError(f"no session {session_id!r} in {self.data_dir} (see `cpr-coach sessions list`)")
        if len(rows) > 1:
            raise StoreError(f"session id {session_id!r} is ambiguous in {self.data_dir}: "
                             + ", ".join(r["id"] for r in rows[:5]))
        return self._row(rows[0])

    @staticmethod
    def result_of(log: SessionLog) -> SessionResult:
        prof = log.meta.get("profile") or (log.summary.profile if log.summary else None)
        derived = derive_result(log.compressions, log.t_first_s, log.t_last_s, prof)
        if log.summary is not None:
            return SessionResult(log.summary, derived.compressions, derived.pauses, derived.sets)
        return derived

    @classmethod
    def summary_of(cls, log: SessionLog) -> SessionSummary:
        """The recorded summary, derived only when the file has none (an interrupted session): what the index needs."""
        return log.summary if log.summary is not None else cls.result_of(log).summary

    def load(self, session_id: str) -> SessionRecord:
        row = self.get(session_id)
        try:
            log = read_session(row.path)
        except RecordError as exc:
            raise StoreError(str(exc)) from None
        return SessionRecord(row, log, self.result_of(log))

    def delete(self, session_id: str) -> SessionRow:
        row = self.get(session_id)
        if row.state == "running" and writer_alive(Path(row.path)):
            raise StoreError(f"session {row.id} is still being recorded; stop it first")
        try:
            Path(row.path).unlink(missing_ok=True)
        except OSError as exc:
            raise StoreError(f"{row.path}: cannot delete: {exc.strerror or exc}") from None
        with closing(self._connect()) as con, con:
            con.execute("DELETE FROM sessions WHERE id = ?", (row.id,))
        return row

    def __iter__(self) -> Iterator[SessionRow]:
        return iter(self.list())


def _source_text(meta: dict[str, Any]) -> str | None:
    kind, name = meta.get("source_kind"), meta.get("source_name")
    if not kind and not name:
        return None
    return f"{kind}: {name}" if kind and name else str(kind or name)
