"""``cpr-coach serve --station bay1=0:bay1.json --station bay2=1:bay2.json``: several stations, one process.

Each station is ``run``'s own (its source, session records, debrief report, station id) publishing on
its own endpoint: ``--publish-base`` gives consecutive ports (``--publish NAME=ENDPOINT`` sets one).
With ``--backend onnx`` the stations' frames are batched through one tracker. Ctrl-C, SIGTERM and
SIGHUP end every session cleanly.
"""
from __future__ import annotations

import argparse

from coach.cli import CliError
from coach.cli.keys import serving_check


def register(sub: argparse._SubParsersAction) -> None:
    from coach.cli.run import add_live_arguments

    p = sub.add_parser("serve", help="several live stations in one process (one camera per manikin)",
                       description="Run several calibrated stations in one process, each publishing as its own "
                       "station id on its own endpoint, exactly as `cpr-coach run` does.")
    p.add_argument("--station", action="append", required=True, metavar="NAME=SOURCE:CALIBRATION",
                   help="a station: its id, its source (camera index, video file or stream URL) and its "
                   "station.json; repeat for each station")
    p.add_argument("--publish-base", default="tcp://127.0.0.1:5560", metavar="EP",
                   help="PUB endpoints on consecutive ports from this one, in --station order "
                   "(default tcp://127.0.0.1:5560; port 0: a free port each)")
    p.add_argument("--publish", action="append", metavar="NAME=EP", help="this station's PUB endpoint (repeatable)")
    p.add_argument("--remote-base", metavar="EP", help="remote-control endpoints on consecutive ports "
                   "(default: no remote control)")
    p.add_argument("--remote", action="append", metavar="NAME=EP", help="this station's remote endpoint (repeatable)")
    p.add_argument("--profile", default="adult", help="guideline profile (default adult)")
    p.add_argument("--every-frame", action="store_true", help="video files: process every frame (as run --every-frame)")
    add_live_arguments(p)
    p.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from coach.cli.models import onnx_options_from_args, resolve_model_path
    from coach.cli.run import check_live_arguments, print_result
    from coach.cli.signals import graceful_signals
    from coach.live.app import StationSettings
    from coach.live.loop import LiveOptions
    from coach.live.serve import (ServeSpecError, endpoint_series, parse_overrides, parse_station_spec,
                                  serve_stations, station_settings)

    check_live_arguments(args)
    specs = [parse_station_spec(t) for t in args.station]
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ServeSpecError(f"--station: each station needs its own name ({', '.join(names)})")
    pubs = dict(zip(names, endpoint_series(args.publish_base, len(specs))))
    pubs.update(parse_overrides(args.publish, set(names), "--publish"))
    rems: dict[str, str | None] = dict.fromkeys(names)
    if args.remote_base:
        rems.update(zip(names, endpoint_series(args.remote_base, len(specs))))
    rems.update(parse_overrides(args.remote, set(names), "--remote"))
    endpoints: dict[str, str | None] = {}
    for n in names:
        endpoints[f"--publish {n}"] = pubs[n]
        endpoints[f"--remote {n}"] = rems[n]
    curve = serving_check(args, endpoints)
    base = StationSettings(source="", profile=args.profile, curve=curve, model_path=resolve_model_path(args),
                           backend=args.backend, onnx_options=onnx_options_from_args(args),
                           realtime=not args.every_frame,
                           live=LiveOptions(frame_hz=args.frame_hz, frame_width_px=args.frame_width,
                                            pace_files=args.every_frame, status_every_s=5.0),
                           data_dir=args.data_dir, record=not args.no_record,
                           posture=not args.no_posture, posture_hz=args.posture_hz)
    settings = [station_settings(base, s, pubs[s.name], rems[s.name]) for s in specs]

    def status(name: str, line: str) -> None:
        print(f"[{name}] {line[:200]}", flush=True)

    def ready(name: str, station) -> None:
        remote_txt = f", remote {station.remote.endpoint}" if station.remote is not None else ""
        print(f"serve: {name} -> publishing on {station.publisher.endpoint}{remote_txt}", flush=True)

    print(f"serve: {len(specs)} station(s), backend {args.backend}; Ctrl-C ends every session.", flush=True)
    with graceful_signals():
        res = serve_stations(settings, status=None if args.quiet else status, on_ready=ready)
    print(f"serve ended ({res.reason})" + (f"; {res.batches} batches, {res.mean_batch:.2f} frames each"
                                         if res.batches else ""))
    for name in names:
        if name in res.results:
            print(f"[{name}] ", end="")
            print_result(res.results[name])
    if res.errors:
        first = next(iter(res.errors.items()))
        raise CliError(f"station {first[0]}: {first[1]}")
    return 0
