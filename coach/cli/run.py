"""``cpr-coach run --source 0 --calibration station.json``: the live station.

Camera (or stream, or a video file played at its own rate) -> hands -> depth in mm -> the core ->
feedback -> ZeroMQ, with the remote control answered between frames, a status line each second,
the session recorded and its debrief report written at the end. Ctrl-C, SIGTERM and SIGHUP end
the session cleanly (stop published, summary written).
"""
from __future__ import annotations

import argparse
import sys

from coach.cli import CliError
from coach.cli.keys import add_server_curve_args, serving_check


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="the live station: camera -> hands -> depth -> coaching over ZeroMQ",
                       description="Run a calibrated station live. Rest the hands on the chest for about 2 s "
                       "before the first compression: that is the depth baseline.")
    p.add_argument("--source", required=True, metavar="SRC",
                   help="camera index (0), video file (played at its own frame rate; the session ends with it) "
                   "or stream URL")
    p.add_argument("--calibration", metavar="JSON", help="station calibration from `cpr-coach calibrate manikin`")
    p.add_argument("--hfov", type=float, metavar="DEG", help="no calibration: the camera's horizontal FOV "
                   "(depth from the hand's size; larger error)")
    p.add_argument("--trainee", metavar="ID", help="who trains: kept in the session record, and the coaching adapts "
                   "to their recorded history (feedback level, targeted cues; docs/learning.md)")
    p.add_argument("--station", default="station-1", metavar="ID", help="station id in every message (default station-1)")
    p.add_argument("--profile", default="adult", help="guideline profile (default adult)")
    p.add_argument("--publish", default="tcp://127.0.0.1:5556", help="PUB endpoint (default tcp://127.0.0.1:5556)")
    p.add_argument("--remote", default="tcp://127.0.0.1:5555", help="remote-control endpoint (default tcp://127.0.0.1:5555)")
    p.add_argument("--no-remote", action="store_true", help="no remote-control socket")
    p.add_argument("--every-frame", action="store_true",
                   help="a video file: process every frame, no faster than its frame rate (a slow machine plays it "
                   "in slow motion instead of dropping frames as a camera would)")
    p.add_argument("--preview", action="store_true", help="a window with the overlay over the camera (needs a display)")
    p.add_argument("--report", metavar="HTML", help="write the debrief report here (default <data dir>/reports/<id>.html)")
    p.add_argument("--posture-source", metavar="SRC",
                   help="a second camera for posture (camera index, video file played as a camera, or stream URL): "
                   "its frames feed the pose model, matched to the hand camera's by capture time (docs/posture.md)")
    p.add_argument("--posture-calibration", metavar="JSON",
                   help="that camera's station.json (`calibrate manikin` with it): vertical = the chest normal")
    add_live_arguments(p)
    p.set_defaults(func=_run)


def add_live_arguments(p: argparse.ArgumentParser) -> None:
    """``--frame-hz``, ``--frame-width``, ``--data-dir`` / ``--no-record``, posture, ``--quiet``, the model, backend and
    CURVE options: what run and serve share."""
    from coach.cli.models import add_backend_arguments, add_model_arguments

    p.add_argument("--frame-hz", type=float, default=5.0, help="camera pictures per second on cpr.frame (default 5; 0: none)")
    p.add_argument("--frame-width", type=int, default=640, metavar="PX", help="cpr.frame picture width (default 640)")
    rec = p.add_mutually_exclusive_group()
    rec.add_argument("--data-dir", metavar="DIR", help="session records here (default $CPR_COACH_DATA or the user data folder)")
    rec.add_argument("--no-record", action="store_true", help="record nothing (no session file, no report)")
    p.add_argument("--no-posture", action="store_true",
                   help="no posture coaching (default: on where the profile has posture bands; the pose model "
                   "runs in its own thread at a lower priority, never delaying the hands)")
    p.add_argument("--posture-hz", type=float, default=10.0, metavar="HZ",
                   help="pose inferences per second (default 10)")
    p.add_argument("--quiet", action="store_true", help="no status line")
    add_model_arguments(p)
    add_backend_arguments(p)
    add_server_curve_args(p)


def check_live_arguments(args: argparse.Namespace) -> None:
    """The ranges of ``add_live_arguments``'s numbers (CliError)."""
    if args.frame_hz < 0 or args.frame_width < 16:
        raise CliError("--frame-hz must be >= 0 and --frame-width at least 16")
    if not (args.posture_hz > 0 and args.posture_hz <= 60):
        raise CliError(f"--posture-hz must be in (0, 60], got {args.posture_hz:g}")


def _run(args: argparse.Namespace) -> int:
    from coach.cli.models import onnx_options_from_args, resolve_model_path
    from coach.cli.signals import graceful_signals
    from coach.cli.view import has_display
    from coach.live.app import StationSettings, run_station
    from coach.live.loop import LiveOptions

    check_live_arguments(args)
    if args.posture_calibration and not args.posture_source:
        raise CliError("--posture-calibration needs --posture-source (the hand camera's posture uses --calibration)")
    if args.calibration and args.hfov is not None:
        print("note: --hfov is ignored, the calibration file has the camera", file=sys.stderr)
    preview = bool(args.preview)
    if preview and not has_display():
        print("note: no display, so no preview window; watch with `cpr-coach view --video out.mp4` or the HUD",
              file=sys.stderr)
        preview = False
    remote = None if args.no_remote else args.remote
    curve = serving_check(args, {"--publish": args.publish, "--remote": remote})
    settings = StationSettings(
        source=args.source, calibration=args.calibration, hfov_deg=args.hfov, station_id=args.station,
        trainee_id=args.trainee, profile=args.profile, publish=args.publish, remote=remote, curve=curve,
        model_path=resolve_model_path(args), backend=args.backend, onnx_options=onnx_options_from_args(args),
        realtime=not args.every_frame,
        live=LiveOptions(frame_hz=args.frame_hz, frame_width_px=args.frame_width, preview=preview,
                         pace_files=args.every_frame),
        data_dir=args.data_dir, record=not args.no_record, report_path=args.report,
        posture=not args.no_posture, posture_hz=args.posture_hz, posture_source=args.posture_source,
        posture_calibration=args.posture_calibration)
    tty = sys.stdout.isatty()

    def status(line: str) -> None:
        print(("\r" + line[:200] + "\x1b[K") if tty else line, end="" if tty else "\n", flush=True)

    def ready(station) -> None:
        remote_txt = f", remote {station.remote.endpoint}" if station.remote is not None else ""
        print(f"run: {args.source} -> publishing on {station.publisher.endpoint}{remote_txt}; profile {args.profile}. "
              "Rest the hands on the chest for 2 s, then compress. Ctrl-C ends the session.", flush=True)

    with graceful_signals():
        res = run_station(settings, status=None if args.quiet else status, on_ready=ready)
    if tty and not args.quiet:
        print()
    return print_result(res)


def print_result(res) -> int:
    """The end of a live session on the console: why it ended, the figures, where the files are."""
    from coach.live.app import summary_text

    print(f"session ended ({res.live.reason}); geometry {res.mode}")
    for line in summary_text(res.summary):
        print("  " + line)
    if res.plan is not None:
        print(f"  feedback level {res.plan.feedback_level} for trainee {res.plan.trainee_id} ({res.plan.reason})")
    if res.session_path is not None:
        print(f"  session  {res.session_id}  ({res.session_path})")
    if res.report_path is not None:
        print(f"  report   {res.report_path}")
    for w in res.warnings:
        print(f"warning: {w}", file=sys.stderr)
    return 0
