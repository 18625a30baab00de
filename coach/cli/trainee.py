"""``cpr-coach trainee ID``: the trainee's page (learning curve, fatigue, patterns, mastery, next practice)."""
from __future__ import annotations

import argparse
from pathlib import Path

from coach.cli import CliError
from coach.cli.sessions import add_data_dir_argument


def _trainee(args: argparse.Namespace) -> int:
    from coach.records import resolve_data_dir
    from coach.trainee.data import load_trainee_sessions
    from coach.trainee.page import trainee_page

    history = load_trainee_sessions(args.id, resolve_data_dir(args.data_dir))
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
        description="Build a self-contained HTML page for one trainee from their recorded sessions (the session "
        "store of --data-dir: what `run --trainee ID`, `simulate --data-dir DIR --trainee ID`, `analyze-trace "
        "--trainee ID` and the instructor's class record write).",
    )
    t.add_argument("id", help="trainee id")
    t.add_argument("-o", "--out", default="trainee.html", help="output HTML (default: trainee.html)")
    add_data_dir_argument(t)
    t.set_defaults(func=_trainee)
