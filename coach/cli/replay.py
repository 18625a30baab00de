"""``cpr-coach replay ID``: republish a recorded session on the protocol, so any viewer can watch it again."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from coach.cli.keys import add_server_curve_args
    from coach.cli.sessions import add_data_dir_argument

    p = sub.add_parser("replay", help="republish a recorded session on ZeroMQ (watch it with view or the HUD)",
                       description="The recorded samples go through the real station (core, coach, publisher) "
                                   "at their own pace, so viewers see every topic as they did live.")
    p.add_argument("id", help="session id (or an unambiguous prefix; see `cpr-coach sessions list`)")
    p.add_argument("--speed", type=float, default=1.0, help="1 = as recorded, 10 = ten times faster")
    p.add_argument("--publish", default="tcp://127.0.0.1:5556", help="PUB endpoint (default tcp://127.0.0.1:5556)")
    p.add_argument("--remote", help="also serve the remote control here (default: none)")
    p.add_argument("--station-id", help="station id in the messages (default: the recorded station's)")
    p.add_argument("--wait", type=float, default=0.5, metavar="S",
                   help="seconds to wait after binding, so subscribers can connect (default 0.5)")
    p.add_argument("--quiet", action="store_true", help="no status line each second")
    add_data_dir_argument(p)
    add_server_curve_args(p)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import sys
    import time

    from coach.cli import CliError
    from coach.cli.keys import serving_check
    from coach.cli.sessions import load_record, open_store
    from coach.core.profiles import ProfileError, load_profile
    from coach.records.replay import replay_samples, thinned
    from coach.station import Station, StationOptions, scaled_clock
    from overlays.publisher import PublisherError, PublisherOptions
    from overlays.remote import RemoteError, RemoteOptions

    if not args.speed > 0:
        raise CliError("--speed must be > 0")
    curve = serving_check(args, {"--publish": args.publish, "--remote": args.remote})
    store = open_store(args)
    rec = load_record(store, args.id)
    log = rec.log
    if log.t_s.size == 0:
        raise CliError(f"session {rec.id} has no recorded samples to replay ({log.path})")
    try:
        profile = load_profile(rec.meta.get("profile") or None).name
    except ProfileError as exc:
        raise CliError(f"session {rec.id}: {exc}") from None
    station_id = args.station_id or rec.meta.get("station_id") or "replay"
    opts = StationOptions(
        station_id=station_id, trainee_id=rec.meta.get("trainee_id"), profile=profile,
        publisher=PublisherOptions(endpoint=args.publish, station_id=station_id, curve=curve),
        remote=RemoteOptions(endpoint=args.remote, curve=curve) if args.remote else None,
        source_kind="replay", source_name=f"session {rec.id}",
        rest_height_mm=(rec.meta.get("core") or {}).get("rest_height_mm"),  # measured as it was live
    )
    try:
        station = Station(opts)
    except (PublisherError, RemoteError, ValueError) as exc:
        raise CliError(str(exc)) from None
    with station:
        print(f"replay: session {rec.id} ({rec.row.state}, {len(log.compressions)} compressions recorded) on "
              f"{station.publisher.endpoint} at {args.speed:g}x", flush=True)
        if thinned(log):
            print(f"replay: note: {thinned(log)} samples were thinned while recording; compressions may differ",
                  file=sys.stderr)
        time.sleep(max(0.0, args.wait))
        clock, sleep = scaled_clock(args.speed)
        status = None if args.quiet else (lambda line: print(line, flush=True))
        summary = station.run(replay_samples(log), clock=clock, sleep=sleep, status=status)
        got = 0 if summary is None else summary.compressions
    print(f"replayed {got} compressions (recorded {len(log.compressions)})")
    return 0
