"""``cpr-coach sessions list|show|export|delete``: the recorded sessions.

Also the one place the CLI opens the store: ``add_record_arguments`` (``--data-dir``, ``--no-record``,
``--trainee``) and ``open_store`` are shared by simulate, analyze, analyze-trace, replay and report,
so every command resolves the data folder the same way (flag > $CPR_COACH_DATA > user data folder)
and turns store failures and skipped file lines into one-line messages.
"""
from __future__ import annotations

import argparse
import math
import sys


def add_data_dir_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", metavar="DIR",
                   help="session records folder (default: $CPR_COACH_DATA, else the user data folder, "
                        "e.g. ~/.local/share/cpr-coach)")


def add_record_arguments(p: argparse.ArgumentParser, *, default_on: bool = True) -> None:
    """--data-dir, --no-record (or, where recording is off by default, recording only with --data-dir), --trainee."""
    add_data_dir_argument(p)
    if default_on:
        p.add_argument("--no-record", action="store_true", help="do not record this session")
    p.add_argument("--trainee", metavar="ID", help="trainee id stored with the session (and sent in cpr.session)")


def open_store(args: argparse.Namespace):
    """The SessionStore of ``args.data_dir`` (recovering killed sessions); CliError on failure."""
    from coach.records import SessionStore, resolve_data_dir

    with _warnings_as_lines():
        store = SessionStore(resolve_data_dir(getattr(args, "data_dir", None)))
    if store.recovered:
        print(f"cpr-coach: {len(store.recovered)} interrupted session(s) recovered: {', '.join(store.recovered)}",
              file=sys.stderr)
    return store


def load_record(store, session_id: str):
    """``store.load`` with one-line errors; skipped lines are printed as warnings naming file and line."""

    with _warnings_as_lines():
        return store.load(session_id)


class _warnings_as_lines:
    """Print RecordWarnings as ``cpr-coach: warning: <file>: line N: ...`` (no source echo, none lost)."""

    def __enter__(self):
        import warnings

        from coach.records import RecordWarning

        self._cm = warnings.catch_warnings(record=True)
        self._log = self._cm.__enter__()
        warnings.simplefilter("always", RecordWarning)
        self._cls = RecordWarning
        return self

    def __exit__(self, *exc):
        self._cm.__exit__(*exc)
        for w in self._log:
            if issubclass(w.category, self._cls):
                print(f"cpr-coach: warning: {w.message}", file=sys.stderr)
            else:
                import warnings

                warnings.showwarning(w.message, w.category, w.filename, w.lineno)
        return False


def _f(x, spec: str) -> str:
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, spec)


# ---------------------------------------------------------------- commands
def _list(args: argparse.Namespace) -> int:
    store = open_store(args)
    rows = store.list(trainee=args.trainee)
    if args.json:
        import json

        print(json.dumps([r.to_dict() for r in rows], indent=2))
        return 0
    if not rows:
        who = f" for trainee {args.trainee}" if args.trainee else ""
        print(f"no sessions{who} in {store.data_dir}")
        return 0
    print(f"{'id':<12}  {'started (UTC)':<19}  {'trainee':<10}  {'station':<10}  {'state':<11}  {'n':>4}  "
          f"{'depth':>5}  {'rate':>4}  {'CCF':>4}  {'dur s':>6}")
    for r in rows:
        print(f"{r.id:<12}  {(r.started_at or '-')[:19].replace('T', ' '):<19}  {(r.trainee or '-')[:10]:<10}  "
              f"{(r.station or '-')[:10]:<10}  {r.state:<11}  {r.compressions:>4}  {_f(r.mean_depth_mm, '5.1f'):>5}  "
              f"{_f(r.mean_rate_cpm, '4.0f'):>4}  {_f(r.ccf * 100 if math.isfinite(r.ccf) else r.ccf, '3.0f'):>3}%  "
              f"{_f(r.duration_s, '6.1f'):>6}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from coach.cli.trace import summary_lines

    store = open_store(args)
    rec = load_record(store, args.id)
    r, meta, log = rec.row, rec.meta, rec.log
    print(f"session {r.id}  ({r.state})")
    print(f"  trainee          {r.trainee or '-'}")
    print(f"  station          {r.station or '-'}    source {r.source or '-'}    profile {r.profile or '-'}")
    print(f"  started          {r.started_at or '-'}")
    cal = meta.get("calibration") or {}
    print(f"  calibration      {cal.get('mode') or 'not recorded'}"
          + (f" ({cal['file']})" if cal.get("file") else ""))
    print(f"  file             {r.path}  ({log.t_s.size} samples, {len(log.feedback)} prompt changes, "
          f"{len(log.events)} events" + (f", {len(log.skipped)} lines skipped" if log.skipped else "") + ")")
    for line in summary_lines(rec.result):
        print("  " + line)
    for e in log.events:
        print(f"  event t={_f(e['t_s'], '.1f')} s  {e['event']}  {e['data'] or ''}")
    return 0


COMPRESSION_COLUMNS = ("index", "set_index", "t_start_s", "t_bottom_s", "t_release_s", "depth_mm", "rate_cpm",
                       "duty_cycle", "recoil_residual_mm", "flags", "gap_s", "placement_mm", "t_mid_s")


def _export(args: argparse.Namespace) -> int:
    import csv
    import io
    import json
    from pathlib import Path

    from coach.cli import CliError
    from coach.core.types import json_safe

    store = open_store(args)
    if args.all:
        return _export_all(args, store)
    if not args.id:
        raise CliError("sessions export: give a session id, or --all --csv DIR for every session")
    if args.csv not in (None, ""):
        raise CliError("sessions export ID --csv writes one session (to -o PATH or standard output); "
                       "a folder goes with --all")
    rec = load_record(store, args.id)
    log, res = rec.log, rec.result
    buf = io.StringIO()
    if args.json:
        doc = {
            "format": "cpr-coach/session-export", "version": 1, "session": rec.row.to_dict(), "meta": rec.meta,
            **res.to_dict(),
            "placement_mm": log.placement_mm,
            "samples": {"t_s": log.t_s.tolist(), "height_mm": log.height_mm.tolist(),
                        "hands_visible": log.hands_visible.tolist()},
            "feedback": log.feedback, "events": log.events,
        }
        for c, pm in zip(doc["compressions"], log.placement_mm):
            c["placement_mm"] = pm
        buf.write(json.dumps(json_safe(doc), indent=1, allow_nan=False) + "\n")
    elif args.trace:
        buf.write("t_s,height_mm\n")  # the analyze-trace input format: re-analyse with cpr-coach analyze-trace
        for t, h in zip(log.t_s.tolist(), log.height_mm.tolist()):
            buf.write(f"{t!r},{'' if not math.isfinite(h) else repr(h)}\n")
    else:
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(COMPRESSION_COLUMNS)
        for c, pm in zip(res.compressions, log.placement_mm + [math.nan] * len(res.compressions)):
            d = c.to_dict()
            d["flags"] = ";".join(c.flags)
            d["placement_mm"] = json_safe(pm)
            w.writerow(["" if d[k] is None else d[k] for k in COMPRESSION_COLUMNS])
    if args.output:
        out = Path(args.output)
        try:
            out.write_text(buf.getvalue(), encoding="utf-8")
        except OSError as exc:
            raise CliError(f"{out}: cannot write: {exc.strerror or exc}") from None
        print(f"session {rec.id} -> {out}", file=sys.stderr)
    else:
        sys.stdout.write(buf.getvalue())
    return 0


def _export_all(args: argparse.Namespace, store) -> int:
    """The cohort export: DIR/sessions.csv (one row per session) and DIR/compressions.csv (one per compression),
    with trainee and station, built by coach.learning.export (the columns are documented in docs/learning.md)."""
    import csv
    from pathlib import Path

    from coach.cli import CliError
    from coach.learning.export import COMPRESSION_COLUMNS, SESSION_COLUMNS, compression_rows, session_rows
    from coach.trainee.data import store_sessions

    if not args.csv:
        raise CliError("sessions export --all needs --csv DIR (the folder for sessions.csv and compressions.csv)")
    out = Path(args.csv)
    with _warnings_as_lines():
        sessions = store_sessions(store, trainee=args.trainee, practice_only=False)
    files = ((out / "sessions.csv", SESSION_COLUMNS, session_rows(sessions)),
             (out / "compressions.csv", COMPRESSION_COLUMNS, compression_rows(sessions)))
    try:
        out.mkdir(parents=True, exist_ok=True)
        for path, cols, rows in files:
            with open(path, "w", encoding="utf-8", newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=cols, lineterminator="\n")
                w.writeheader()
                w.writerows(rows)
    except OSError as exc:
        raise CliError(f"{out}: cannot write: {exc.strerror or exc}") from None
    print(f"{len(files[0][2])} session(s), {len(files[1][2])} compression(s) -> {files[0][0]}, {files[1][0]}")
    return 0


def _delete(args: argparse.Namespace) -> int:

    store = open_store(args)
    row = store.delete(args.id)
    print(f"deleted session {row.id} ({row.path})")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sessions", help="recorded sessions: list, show, export, delete",
                       description="Sessions are recorded by run, demo, analyze and analyze-trace (and simulate "
                                   "with --data-dir). An id prefix is enough.")
    ss = p.add_subparsers(dest="sessions_cmd", metavar="CMD")
    ss.required = True

    def command(name: str, help_text: str, func, with_id: bool = True) -> argparse.ArgumentParser:
        c = ss.add_parser(name, help=help_text)
        if with_id:
            c.add_argument("id", help="session id (or an unambiguous prefix)")
        add_data_dir_argument(c)
        c.set_defaults(func=func)
        return c

    a = command("list", "the recorded sessions, oldest first", _list, with_id=False)
    a.add_argument("--trainee", metavar="ID", help="only this trainee's sessions")
    a.add_argument("--json", action="store_true", help="JSON instead of a table")
    command("show", "one session: metadata, summary, events", _show)
    e = command("export", "one session as CSV (compressions), JSON (everything) or a t_s,height_mm trace; "
                "--all --csv DIR: every session (the cohort export)", _export, with_id=False)
    e.add_argument("id", nargs="?", help="session id (or an unambiguous prefix); omit with --all")
    e.add_argument("--all", action="store_true", help="every finished session: DIR/sessions.csv (one row per session) "
                   "and DIR/compressions.csv (one per compression), with trainee and station (needs --csv DIR)")
    e.add_argument("--trainee", metavar="ID", help="with --all: only this trainee's sessions")
    fmt = e.add_mutually_exclusive_group(required=True)
    fmt.add_argument("--csv", nargs="?", const="", metavar="DIR",
                     help="one row per compression; with --all, the folder for the two CSV files")
    fmt.add_argument("--json", action="store_true", help="everything: metadata, summary, compressions, samples, events")
    fmt.add_argument("--trace", action="store_true", help="the height trace as t_s,height_mm (analyze-trace input)")
    e.add_argument("-o", "--output", metavar="PATH", help="write here (default: standard output)")
    command("delete", "delete one session (its file and its index row)", _delete)


def recorder_for(args: argparse.Namespace, *, calibration=None):
    """A SessionRecorder on ``args``' store, or None with --no-record (or, where recording is opt-in, no --data-dir)."""
    if getattr(args, "no_record", False):
        return None
    from coach.records import SessionRecorder

    return SessionRecorder(open_store(args), calibration=calibration)


def planner_for(args: argparse.Namespace, store=None):
    """The station's ``coach_plan`` hook on ``args``' store (``store`` when already open): the trainee's history
    -> feedback level and cues at each session start (coach.trainee.data.StorePlanner)."""
    from coach.trainee.data import StorePlanner

    return StorePlanner(store if store is not None else open_store(args))


def record_analysis(args: argparse.Namespace, result, *, source_kind: str, source_name: str, profile: str,
                    t_s, height_mm, hands_visible=None, calibration=None, station_id: str = "offline",
                    rest_height_mm: float | None = None, rest_moves=()) -> str | None:
    """Record an offline analysis (analyze, analyze-trace) as a complete session, unless --no-record.

    A failure to record is a warning, not an error: the analysis itself succeeded and was written.
    """
    if getattr(args, "no_record", False):
        return None
    from coach.cli import CliError
    from coach.records import StoreError, record_result, session_meta

    try:
        store = open_store(args)
        meta = session_meta(station_id=station_id, profile=profile, source_kind=source_kind, source_name=source_name,
                            trainee_id=getattr(args, "trainee", None), calibration=calibration,
                            extra={"core": {"rest_height_mm": rest_height_mm}})
        sid = record_result(store, result, meta=meta, t_s=t_s, height_mm=height_mm, hands_visible=hands_visible,
                            rest_moves=rest_moves)
    except (CliError, StoreError, OSError) as exc:
        print(f"cpr-coach: warning: session not recorded: {exc}", file=sys.stderr)
        return None
    print(f"  session {sid} recorded in {store.data_dir}  (cpr-coach report {sid} -o report.html)")
    return sid
