"""``cpr-coach view --connect tcp://HOST:5556``: the monitor viewer."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from coach.cli.keys import add_client_curve_args, client_curve


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1280x720, not {text!r}") from None
    if not (160 <= w <= 7680 and 120 <= h <= 4320):
        raise argparse.ArgumentTypeError(f"size {text} is out of range")
    return w, h


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("view", help="monitor viewer: overlays over video (window, or video/PNG files headless)")
    p.add_argument("--connect", default="tcp://127.0.0.1:5556", help="station PUB endpoint (default tcp://127.0.0.1:5556)")
    p.add_argument("--camera", help="draw over this local camera (index or URL) instead of the station's cpr.frame")
    p.add_argument("--video", type=Path, help="write an annotated video (.mp4 or .avi)")
    p.add_argument("--snapshots", type=Path, metavar="DIR", help="write PNG snapshots into DIR")
    p.add_argument("--every", type=float, default=1.0, help="seconds between snapshots (default 1)")
    p.add_argument("--duration", type=float, help="stop after this many seconds")
    p.add_argument("--size", type=_size, default=(1280, 720), help="output size WxH (default 1280x720)")
    p.add_argument("--fps", type=float, default=30.0, help="output frames per second (default 30)")
    p.add_argument("--no-window", action="store_true", help="never open a window")
    add_client_curve_args(p)
    p.set_defaults(func=_run)


def has_display() -> bool:
    """A window can open (X11 or Wayland)."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _run(args: argparse.Namespace) -> int:
    import sys

    from coach.cli import CliError
    from overlays.viewer import MonitorViewer, ViewerOptions

    window = has_display() and not args.no_window
    if not window and args.video is None and args.snapshots is None:
        raise CliError("no display for a window: pass --video FILE.mp4 and/or --snapshots DIR")
    if args.every <= 0 or args.fps <= 0:
        raise CliError("--every and --fps must be > 0")
    opts = ViewerOptions(connect=args.connect, curve=client_curve(args), size=args.size, fps=args.fps,
                         camera=args.camera, window=window, video_path=args.video, snapshot_dir=args.snapshots,
                         snapshot_every_s=args.every, duration_s=args.duration)
    viewer = MonitorViewer(opts, log=lambda line: print(f"view: {line}", file=sys.stderr, flush=True))
    from coach.cli.signals import graceful_signals

    try:
        with graceful_signals():  # SIGTERM/SIGHUP: close the video file properly, as Ctrl-C does
            stats = viewer.run()
    except KeyboardInterrupt:
        stats = viewer.stats
    finally:
        viewer.close()
    out = []
    if args.video is not None:
        out.append(f"video {args.video}")
    if stats.snapshots:
        out.append(f"{len(stats.snapshots)} snapshots in {args.snapshots}")
    print(f"view: {stats.frames} frames, {stats.messages} messages" + (f"; {', '.join(out)}" if out else ""))
    return 0
