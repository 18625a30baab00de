"""``cpr-coach instructor``: one page for the whole class (tiles, detail, control, class record)."""
from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("instructor", help="serve the instructor's class page for several stations",
                       description="One tile per station (trainee, live depth and rate, prompt, compressions, CCF, alerts, "
                       "health), a detail view, start/stop/profile through each station's remote, and the class record: every "
                       "station's sessions in the session store of --data-dir ('cpr-coach sessions list|export --data-dir "
                       "DIR', 'cpr-coach trainee ID --data-dir DIR').")
    p.add_argument("--station", action="append", required=True, metavar="PUB[,REMOTE]",
                   help="a station's PUB endpoint, optionally with its remote (default remote: PUB port - 1); repeat per station")
    p.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8770, help="HTTP port (default 8770)")
    p.add_argument("--data-dir", type=Path, default=Path("class-data"), help="the class record's session store (default ./class-data)")
    p.set_defaults(func=_run)


def trainee_page_from_record(trainee_id: str, data_dir) -> str:
    """The trainee page (coach.trainee) from the class record's store: what the class page's detail view opens."""
    from coach.trainee.data import load_trainee_sessions
    from coach.trainee.page import trainee_page

    return trainee_page(load_trainee_sessions(trainee_id, data_dir))


def class_recorder(data_dir):
    """The instructor's ``record_session`` hook: each finished session seen on the protocol into the store."""
    from functools import partial

    from coach.records import SessionStore
    from coach.records.seen import record_seen_session

    return partial(record_seen_session, SessionStore(data_dir))


def _run(args: argparse.Namespace) -> int:
    from overlays.instructor.server import InstructorOptions, StationAddress, run_instructor

    opts = InstructorOptions(stations=tuple(StationAddress.parse(s) for s in args.station), host=args.host,
                             port=args.port, data_dir=args.data_dir)

    def ready(server) -> None:
        print(f"class page at {server.url}  ({len(opts.stations)} station(s); record in {args.data_dir}; Ctrl-C to stop)",
              flush=True)

    run_instructor(opts, ready, trainee_page=trainee_page_from_record, record_session=class_recorder(args.data_dir))
    return 0
