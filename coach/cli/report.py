"""``cpr-coach report ID -o report.html``: the debrief of one recorded session as one HTML file."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from coach.cli.sessions import add_data_dir_argument

    p = sub.add_parser("report", help="debrief report of a recorded session: one self-contained HTML file",
                       description="Plots (depth, rate, timeline, CCF), a score, the three most important coaching "
                                   "points and what the numbers rest on. Formula: docs/report.md.")
    p.add_argument("id", help="session id (or an unambiguous prefix; see `cpr-coach sessions list`)")
    p.add_argument("-o", "--output", metavar="HTML", default="report.html", help="where to write (default report.html)")
    add_data_dir_argument(p)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from coach.cli import CliError
    from coach.cli.sessions import load_record, open_store
    from coach.report import build_report, save_html

    store = open_store(args)
    rec = load_record(store, args.id)
    rep = build_report(rec)
    try:
        path = save_html(rep.html, args.output)
    except OSError as exc:
        raise CliError(f"{args.output}: cannot write: {exc.strerror or exc}") from None
    print(f"session {rec.id}: score {rep.score.overall_pct:.0f} % -> {path}")
    return 0
