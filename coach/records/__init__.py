"""Session records: every session on disk (append-only JSONL) and in one SQLite index.

API for the station and the CLI (everything below is importable from ``coach.records``)::

    from coach.records import (SessionStore, SessionRecorder, resolve_data_dir, calibration_info,
                               record_result, read_session, StoreError, RecordWarning)

    store = SessionStore(resolve_data_dir(args.data_dir))       # --data-dir > $CPR_COACH_DATA > user data dir;
                                                                # recovers killed sessions as "interrupted"
    rec = SessionRecorder(store, calibration=calibration_info(  # calibration: optional, what the report cites
        geometry.mode, file="station.json", station=station_calibration))
    station = Station(StationOptions(..., trainee_id="t-042"), recorder=rec)
    station.record_event("source_lost", t_s)                    # any kind; data as keywords:
    station.record_event("rest_hold_waiting", t_s, waited_s=3.0)
    ...
    station.close()                                             # stop + summary line; waits for the writer
    session_id = rec.last_session_id
    from coach.report import write_report
    write_report(session_id, "out/report.html", store=store)

    store.list(trainee="t-042") -> [SessionRow]; store.load(id) -> SessionRecord (.log, .result, .meta)
    record_result(store, session_result, meta=session_meta(...), t_s=..., height_mm=...)  # offline analyses

Files: ``DATA_DIR/sessions/<id>.jsonl`` (format in ``coach.records.format``) and
``DATA_DIR/sessions.sqlite`` (schema version table; a newer version is refused with one line).
"""
from coach.records.meta import DEPTH_UNCERTAINTY, calibration_info, session_meta
from coach.records.paths import ENV_VAR, platform_data_dir, resolve_data_dir
from coach.records.reader import RecordError, RecordWarning, SessionLog, read_session
from coach.records.recorder import RecorderOptions, SessionRecorder, record_result
from coach.records.store import SCHEMA_VERSION, SessionRecord, SessionRow, SessionStore, StoreError
from coach.records.writer import SessionWriter, WriterOptions

__all__ = [
    "DEPTH_UNCERTAINTY", "ENV_VAR", "SCHEMA_VERSION", "RecordError", "RecordWarning", "RecorderOptions",
    "SessionLog", "SessionRecord", "SessionRecorder", "SessionRow", "SessionStore", "SessionWriter", "StoreError",
    "WriterOptions", "calibration_info", "platform_data_dir", "read_session", "record_result", "resolve_data_dir",
    "session_meta",
]
