"""``cpr-coach trainee ID``: the trainee's page (learning curve, fatigue, patterns, mastery, next practice)."""
from __future__ import annotations

import argparse
from pathlib import Path

from coach.cli import CliError


def _trainee(args: argparse.Namespace) -> int:
    from coach.trainee.data import SessionDataError, load_trainee_sessions
    from coach.trainee.page import trainee_page

    try:
        history = load_trainee_sessions(args.id, args.data_dir)
    except SessionDataError as exc:
        raise CliError(str(exc)) from None
    out = Path(args.out)
    try:
        out.write_text(trainee_page(history), encoding="utf-8")
    except OSError as exc:
        raise CliError(f"{out}: cannot write: {exc.strerror or exc}") from None
    print(f"trainee {args.id}: {len(history)} session(s) -> {out}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser(
        "trainee",
        help="a trainee's page: learning curve, fatigue, error patterns, mastery, next practice date",
        description="Build a self-contained HTML page for one trainee from their sessions. Sessions are read from "
        "--data-dir: analyze-trace --json files whose 'trainee' key is ID, or that lie in DIR/ID/ "
        "(optional keys: started_at, feedback_level, station, placement_mm).",
    )
    t.add_argument("id", help="trainee id")
    t.add_argument("-o", "--out", default="trainee.html", help="output HTML (default: trainee.html)")
    t.add_argument("--data-dir", default="sessions", help="folder of session JSON files (default: ./sessions)")
    t.set_defaults(func=_trainee)
