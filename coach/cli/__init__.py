"""The one console script, ``cpr-coach``.

Why a list of modules: each subcommand lives in its own small module (owned by
the layer it drives) and registers itself. Registration must stay cheap: heavy
imports (mediapipe, cv2, zmq) happen inside the command functions, so
``cpr-coach analyze-trace`` never pays MediaPipe's import time.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# Each module defines ``register(subparsers)`` and sets ``func`` on its parser(s).
COMMAND_MODULES: tuple[str, ...] = (
    "coach.cli.trace",  # analyze-trace
    "coach.cli.demo",  # demo (the live path on a built-in virtual camera)
    "coach.cli.run",  # run (the live station)
    "coach.cli.serve",  # serve (several live stations in one process)
    "coach.cli.bench",  # bench core|tracker|overlays
    "coach.cli.models",  # models fetch|list|path
    "coach.cli.simulate",  # simulate (simulated station over ZeroMQ)
    "coach.cli.view",  # view (monitor viewer)
    "coach.cli.hud",  # hud (headset HUD + WebSocket bridge)
    "coach.cli.keys",  # keys generate (CURVE)
    "coach.cli.remote",  # remote status|start|stop|set-profile|snapshot
    "coach.cli.calibrate",  # calibrate print-marker|camera|manikin
    "coach.cli.analyze",  # analyze VIDEO --calibration station.json
    "coach.cli.trainee",  # trainee ID (learning page)
    "coach.cli.instructor",  # instructor --station ... (class page)
    "coach.cli.sessions",  # sessions list|show|export|delete (session records)
    "coach.cli.replay",  # replay ID (a recorded session back on the protocol)
    "coach.cli.report",  # report ID -o report.html (debrief)
)


class CliError(Exception):
    """A user-facing failure: printed as one line, exit status 2, no traceback."""


# The layers' own errors that are the user's to mend (a file, a flag, a device, a model), which a command lets
# through to :func:`main` to print as one line, exit status 2, like a CliError: one place, not a try/except around
# every call. Named, not imported: registering the commands must stay cheap (no cv2, mediapipe or zmq), and a
# subclass counts too. Broad built-ins (ValueError, OSError) are not here: a command that expects them from a user's
# input catches them where it knows that is what they mean.
USER_ERRORS: frozenset[str] = frozenset({
    "calibration.camera.CameraCalibrationError",
    "calibration.manikin.CalibrationError",
    "calibration.markers.MarkerError",
    "calibration.store.CalibrationFileError",
    "coach.core.profiles.ProfileError",
    "coach.demo.run.DemoError",
    "coach.live.app.StationSetupError",
    "coach.live.serve.ServeSpecError",
    "coach.pipeline.PipelineSetupError",
    "coach.records.store.StoreError",
    "coach.trainee.data.SessionDataError",
    "models.errors.ModelError",
    "overlays.endpoints.EndpointError",
    "overlays.hud.server.HudError",
    "overlays.publisher.PublisherError",
    "overlays.remote.RemoteError",
    "overlays.security.KeyFileError",
    "overlays.subscriber.SubscriberError",
    "overlays.viewer.ViewerError",
    "vision.source_base.SourceError",
})


def is_user_error(exc: BaseException) -> bool:
    """A CliError, or one of :data:`USER_ERRORS` (or a subclass of one)."""
    return isinstance(exc, CliError) or any(f"{c.__module__}.{c.__qualname__}" in USER_ERRORS
                                             for c in type(exc).__mro__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cpr-coach",
        description="Camera-based CPR coach: measures compressions, coaches, publishes overlays.",
    )
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show the native libraries' own logging (OpenCV, MediaPipe); hidden by default")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from coach.cli.quiet import native_logging

    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = "--verbose" in argv  # a global flag, accepted before or after the command's name
    argv = [a for a in argv if a != "--verbose"]
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "keep_heap", True):
        from coach.core.heap import keep_freed_heap

        keep_freed_heap()  # long traces' NumPy temporaries stay in the heap (coach/core/heap.py says why)
    try:
        with native_logging(verbose=verbose or bool(getattr(args, "verbose", False))):
            rc = args.func(args)
    except Exception as exc:
        if not is_user_error(exc):
            raise
        print(f"cpr-coach: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cpr-coach: interrupted", file=sys.stderr)
        return 130
    return int(rc or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
