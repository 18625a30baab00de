"""``cpr-coach simulate``: a simulated station publishing every topic in real time.

Headset and dashboard developers use it to build clients without a manikin or
camera; the demo and the tests use it too. It drives the core's simulator
through the real feedback rules and the real publisher.
"""
from __future__ import annotations

import argparse
import math

from coach.cli.keys import add_server_curve_args, serving_check
from coach.cli.sessions import add_record_arguments


def register(sub: argparse._SubParsersAction) -> None:
    from coach.simsource import SCENARIOS  # light: numpy + dataclasses

    p = sub.add_parser("simulate", help="a simulated station: simulator -> coach -> ZeroMQ, in real time")
    p.add_argument("--publish", default="tcp://127.0.0.1:5556", help="PUB endpoint (tcp:// or ipc://; default tcp://127.0.0.1:5556)")
    p.add_argument("--remote", default="tcp://127.0.0.1:5555", help="remote-control REP endpoint (default tcp://127.0.0.1:5555)")
    p.add_argument("--no-remote", action="store_true", help="no remote-control socket")
    p.add_argument("--conflate-endpoint", help="extra PUB carrying single-frame cpr.state for CONFLATE subscribers")
    p.add_argument("--duration", type=float, default=120.0, help="simulated seconds (default 120)")
    p.add_argument("--seed", type=int, default=0, help="simulator seed (default 0)")
    p.add_argument("--profile", help="guideline profile (adult, adult-compression-only, child, child-2-rescuer, ...)")
    p.add_argument("--scenario", choices=SCENARIOS, default="realistic", help="what the simulated trainee does wrong")
    p.add_argument("--speed", type=float, default=1.0, help="clock speed: 1 = real time, 10 = ten times faster")
    p.add_argument("--station-id", default="sim-1", help="station id in every message (default sim-1)")
    p.add_argument("--frame-hz", type=float, default=5.0, help="synthetic cpr.frame JPEGs per second (0: none)")
    p.add_argument("--quiet", action="store_true", help="no status line each second")
    add_record_arguments(p, default_on=False)
    p.add_argument("--no-record", action="store_true", help="do not record, even with --data-dir")
    add_server_curve_args(p)
    p.set_defaults(func=_run)


def _fmt(v, spec: str) -> str:
    return "--" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, spec)


def summary_lines(result) -> list[str]:
    s = result.summary
    lines = ["", "session summary"]
    if s is None:
        return lines + ["  no session ran"]
    lines += [
        f"  compressions     {s.compressions}  (simulator truth {result.truth_compressions})",
        f"  depth            mean {_fmt(s.mean_depth_mm, '.1f')} mm   in band {_fmt(s.pct_depth_ok, '.0f')} %",
        f"  rate             mean {_fmt(s.mean_rate_cpm, '.0f')} cpm   in band {_fmt(s.pct_rate_ok, '.0f')} %",
        f"  recoil           complete {_fmt(s.pct_recoil_ok, '.0f')} %",
        f"  CCF              {_fmt(s.ccf, '.2f')}   hands-off {_fmt(s.hands_off_s, '.1f')} s   pauses too long {s.pauses_too_long}",
        f"  sets             {s.sets}   profile {s.profile}",
        "  prompts raised   " + (", ".join(f"{k} x{v}" for k, v in sorted(result.prompts.items())) or "none"),
        "  messages sent    " + ", ".join(f"{k.split('.', 1)[1]} {v}" for k, v in result.sent.items()),
    ]
    return lines


def _run(args: argparse.Namespace) -> int:
    from coach.cli import CliError
    from coach.core.profiles import load_profile
    from coach.simsource import SimSourceOptions, SimulationOptions, run_simulation
    from coach.cli.signals import graceful_signals
    from coach.station import StationOptions, scaled_clock
    from overlays.publisher import PublisherError, PublisherOptions
    from overlays.remote import RemoteError, RemoteOptions

    if not args.duration > 0:
        raise CliError("--duration must be > 0")
    if not args.speed > 0:
        raise CliError("--speed must be > 0")
    profile = load_profile(args.profile).name
    curve = serving_check(args, {"--publish": args.publish, "--remote": None if args.no_remote else args.remote,
                                 "--conflate-endpoint": args.conflate_endpoint})
    station = StationOptions(
        station_id=args.station_id,
        trainee_id=args.trainee,
        profile=profile,
        publisher=PublisherOptions(endpoint=args.publish, station_id=args.station_id,
                                   conflate_endpoint=args.conflate_endpoint, curve=curve),
        remote=None if args.no_remote else RemoteOptions(endpoint=args.remote, curve=curve),
        source_kind="simulator",
        source_name=f"seed {args.seed} scenario {args.scenario}",
    )
    opts = SimulationOptions(seed=args.seed, duration_s=args.duration, scenario=args.scenario, station=station,
                             source=SimSourceOptions(frame_hz=args.frame_hz))
    clock, sleep = scaled_clock(args.speed)
    status = None if args.quiet else (lambda line: print(line, flush=True))

    def ready(st) -> None:
        remote = f", remote {st.remote.endpoint}" if st.remote is not None else ""
        extra = f", conflate {st.publisher.conflate_endpoint}" if st.publisher.conflate_endpoint else ""
        print(f"simulate: publishing on {st.publisher.endpoint}{extra}{remote}; profile {profile}, "
              f"{args.duration:g} s at {args.speed:g}x", flush=True)

    recorder = planner = None
    if args.data_dir and not args.no_record:  # simulate records only when asked to (--data-dir)
        from coach.cli.sessions import recorder_for
        from coach.records import calibration_info

        recorder = recorder_for(args, calibration=calibration_info("simulator"))
    if args.data_dir:  # the trainee's adaptive coaching comes from the same store
        from coach.cli.sessions import planner_for

        planner = planner_for(args, None if recorder is None else recorder.store)
    try:
        with graceful_signals():  # SIGTERM/SIGHUP: the same clean stop as Ctrl-C (session stop + summary)
            result = run_simulation(opts, clock=clock, sleep=sleep, status=status, on_ready=ready, recorder=recorder,
                                    coach_plan=planner)
    except (PublisherError, RemoteError, ValueError) as exc:
        raise CliError(str(exc)) from None
    print("\n".join(summary_lines(result)))
    if planner is not None and planner.last is not None:
        print(f"  feedback level   {planner.last.feedback_level} ({planner.last.reason})")
    if result.session_id:
        print(f"  session          {result.session_id} recorded in {recorder.store.data_dir}")
    return 130 if result.interrupted else 0
