"""``cpr-coach demo``: the whole live path on a built-in virtual camera (see coach.demo.run).

No camera, no calibration file, no network beyond 127.0.0.1: a simulated trainee's (real,
photographed) hand on a rendered manikin, calibrated from a rendered marker, tracked by MediaPipe,
coached, published over ZeroMQ, watched by the monitor viewer, recorded and reported.
"""
from __future__ import annotations

import argparse
import sys

from coach.cli import CliError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="the live coach end to end on a built-in virtual camera (simulated trainee)",
                       description="Renders a manikin, a printed marker and a real photographed hand moved by the "
                       "core's simulator (the trainee is simulated), calibrates from the marker, then runs the same "
                       "station as `cpr-coach run`: MediaPipe, feedback, ZeroMQ on 127.0.0.1, the monitor viewer "
                       "writing the annotated video, the session record and the debrief report.")
    p.add_argument("-o", "--out", default="out/demo", help="output folder (default out/demo)")
    p.add_argument("--duration", type=float, default=30.0, metavar="S", help="seconds of CPR (default 30)")
    p.add_argument("--seed", type=int, default=7, help="simulator seed (default 7)")
    p.add_argument("--size", default="640x360", metavar="WxH", help="virtual camera size (default 640x360)")
    p.add_argument("--profile", default="adult", help="guideline profile (default adult)")
    p.add_argument("--publish", default="tcp://127.0.0.1:0", help="PUB endpoint (default: a free port on 127.0.0.1)")
    p.add_argument("--fast", action="store_true", help="do not pace the clip in real time (as fast as the tracker goes)")
    p.add_argument("--no-window", action="store_true", help="never open the viewer window")
    p.add_argument("--data-dir", metavar="DIR", help="session records (default: OUT, as OUT/sessions/ and OUT/sessions.sqlite)")
    p.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from dataclasses import replace
    from pathlib import Path

    from coach.cli.view import _size, has_display
    from coach.demo.run import DemoOptions, comparison_lines, run_demo
    from coach.demo.scene import CameraSpec
    from coach.live.app import summary_text

    if not 1.0 <= args.duration <= 3600:
        raise CliError(f"--duration must be between 1 and 3600 s, got {args.duration:g}")
    try:
        w, h = _size(args.size)
    except argparse.ArgumentTypeError as exc:
        raise CliError(f"--size: {exc}") from None
    window = has_display() and not args.no_window
    opts = DemoOptions(out_dir=Path(args.out), cpr_s=args.duration, seed=args.seed,
                       camera=replace(CameraSpec(), width_px=w, height_px=h), profile=args.profile,
                       publish=args.publish, paced=not args.fast, window=window,
                       data_dir=Path(args.data_dir) if args.data_dir else None)
    print("cpr-coach demo: the TRAINEE IS SIMULATED (the core's simulator moves a photographed hand on a rendered "
          "manikin);\n  the camera path, calibration, tracking, coaching, publishing and recording are the real ones.")
    print("  " + ("viewer window open" if window else "no display: the viewer writes its video headless"))
    tty = sys.stdout.isatty()

    def status(line: str) -> None:
        print(("\r" + line[:160] + "\x1b[K") if tty else "  " + line, end="" if tty else "\n", flush=True)

    from coach.cli.signals import graceful_signals

    with graceful_signals():  # SIGTERM ends the demo's session as cleanly as Ctrl-C
        res = run_demo(opts, status=status)
    if tty:
        print()
    st = res.station
    print(f"session ended ({st.live.reason}) after {res.wall_s:.0f} s; {st.live.stats.frames} frames tracked")
    for line in summary_text(st.summary):
        print("  " + line)
    for line in comparison_lines(res):
        print(line)
    print("files:")
    print(f"  annotated video  {res.video}  (the monitor viewer's, from the ZeroMQ messages; {res.viewer_frames} frames)")
    if st.session_path is not None:
        print(f"  session record   {st.session_path}  (id {st.session_id})")
    if st.report_path is not None:
        print(f"  debrief report   {st.report_path}")
    print(f"  camera clip      {res.clip}   calibration {res.station_json}")
    print("try the offline path on the same clip:")
    print(f"  cpr-coach analyze {res.clip} --calibration {res.station_json}")
    print("or play it as a live camera:")
    print(f"  cpr-coach run --source {res.clip} --calibration {res.station_json} --no-record")
    for w_ in st.warnings:
        print(f"warning: {w_}", file=sys.stderr)
    return 0
