"""Several live stations in one process: what ``cpr-coach serve`` starts.

Why one process: a skills lab with a cheap IP camera at each manikin should not need a PC per
manikin. Each station is exactly ``run``'s (``run_station``: its own source and capture thread, its
own pipeline, recorder, publisher and station id), run in its own tracking thread; with the ONNX
backend the stations share one tracker and their frames are batched (``coach.live.batcher``), with
MediaPipe each station has its own. Viewers, the HUD and the instructor page see ordinary stations.

    specs = [parse_station_spec("bay1=0:bay1.json"), parse_station_spec("bay2=rtsp://cam2/s:bay2.json")]
    eps = endpoint_series("tcp://127.0.0.1:5560", 2)       # 5560, 5561
    results = serve_stations([replace(base, station_id=s.name, source=s.source, calibration=s.calibration,
                                      publish=ep) for s, ep in zip(specs, eps)])
"""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, replace
from typing import Any, Callable

from coach.live.app import StationResult, StationSettings, StationSetupError, run_station

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class ServeSpecError(ValueError):
    """A --station or endpoint argument that cannot be read: one line naming it."""


@dataclass(frozen=True)
class StationSpec:
    name: str  # the station id in every message and record
    source: str  # camera index, video file or stream URL (as run --source)
    calibration: str  # station.json from `calibrate manikin`


def parse_station_spec(text: str) -> StationSpec:
    """``NAME=SOURCE:CALIBRATION``; the calibration is after the last ``:`` (a stream URL keeps its own)."""
    name, eq, rest = text.partition("=")
    src, colon, cal = rest.rpartition(":")
    if not eq or not colon or not src or not cal:
        raise ServeSpecError(f"--station {text!r}: expected NAME=SOURCE:CALIBRATION (e.g. bay1=0:bay1.json)")
    if not _NAME.match(name):
        raise ServeSpecError(f"--station {text!r}: the name {name!r} must be letters, digits, '.', '_' or '-'")
    return StationSpec(name, src, cal)


def endpoint_series(base: str, n: int) -> list[str]:
    """``n`` endpoints from ``base`` on consecutive ports (``tcp://HOST:PORT``); port 0 gives each a free one."""
    m = re.match(r"^(tcp://.+):(\d+)$", base)
    if m is None:
        raise ServeSpecError(f"{base!r}: a base endpoint is tcp://HOST:PORT")
    host, port = m.group(1), int(m.group(2))
    if port == 0:
        return [base] * n
    if port + n - 1 > 65535:
        raise ServeSpecError(f"{base!r}: {n} consecutive ports do not fit below 65536")
    return [f"{host}:{port + i}" for i in range(n)]


def parse_overrides(items: list[str] | None, names: set[str], flag: str) -> dict[str, str]:
    """``NAME=ENDPOINT`` items (explicit per-station endpoints) naming known stations."""
    out: dict[str, str] = {}
    for it in items or []:
        name, eq, ep = it.partition("=")
        if not eq or not ep:
            raise ServeSpecError(f"{flag} {it!r}: expected NAME=ENDPOINT")
        if name not in names:
            raise ServeSpecError(f"{flag} {it!r}: no --station named {name!r}")
        out[name] = ep
    return out


@dataclass
class ServeResult:
    results: dict[str, StationResult]  # by station id, the stations that ran
    errors: dict[str, str]  # by station id: why it did not start or ended in error
    reason: str  # "sources ended" | "stopped by ..." | "a station failed"
    batches: int = 0  # ONNX: detect_many calls (0 with MediaPipe)
    mean_batch: float = 0.0  # ONNX: frames per call


def serve_stations(settings: list[StationSettings], *, status: Callable[[str, str], None] | None = None,
                   on_ready: Callable[[str, Any], None] | None = None, batch_window_s: float = 0.005,
                   poll_s: float = 0.2) -> ServeResult:
    """Run every station until all sources end or Ctrl-C/SIGTERM (``coach.cli.signals``) in this thread.

    A station that cannot start stops the others (a server half up is worse than a clear error); the
    stations already running end their sessions cleanly (stop published, records closed)."""
    ids = [s.station_id for s in settings]
    if len(set(ids)) != len(ids):
        raise StationSetupError("each station needs its own name")
    batcher = None
    if settings and settings[0].backend == "onnx":
        from models import ModelError, ensure_model
        from vision.tracker import HandTrackerOptions, create_tracker

        try:
            s0 = settings[0]
            shared = create_tracker(HandTrackerOptions(model_path=s0.model_path or ensure_model("hand_landmarker"),
                                                       running_mode="video", num_hands=2),
                                    backend="onnx", onnx_options=s0.onnx_options)
        except (ModelError, ValueError) as exc:
            raise StationSetupError(str(exc)) from None
        from coach.live.batcher import TrackerBatcher

        batcher = TrackerBatcher(shared, window_s=batch_window_s)

    loops: dict[str, Any] = {}
    results: dict[str, StationResult] = {}
    errors: dict[str, str] = {}
    stop = threading.Event()
    lock = threading.Lock()

    def on_loop(name):
        def take(loop) -> None:
            with lock:
                loops[name] = loop
                if stop.is_set():
                    loop.request_stop()
        return take

    def adapt(name):
        def swap(own):
            roi = getattr(getattr(own, "options", None), "roi_px", None)
            own.close()  # this station's own tracker gives way to the shared, batched one
            return batcher.member(name, roi)
        return None if batcher is None else swap

    def stop_all() -> None:
        stop.set()
        with lock:
            for lp in loops.values():
                lp.request_stop()

    def work(s: StationSettings) -> None:
        try:
            res = run_station(s, status=None if status is None else (lambda line, n=s.station_id: status(n, line)),
                              on_ready=None if on_ready is None else (lambda st, n=s.station_id: on_ready(n, st)),
                              adapt_tracker=adapt(s.station_id), on_loop=on_loop(s.station_id))
            with lock:
                results[s.station_id] = res
        except Exception as exc:  # noqa: BLE001 - StationSetupError, or any failure: the others stop too
            with lock:
                errors[s.station_id] = str(exc) if isinstance(exc, StationSetupError) else f"{type(exc).__name__}: {exc}"
            stop_all()

    threads = [threading.Thread(target=work, args=(s,), name=f"cpr-coach-{s.station_id}", daemon=True)
               for s in settings]
    reason = "sources ended"
    try:
        for t in threads:
            t.start()
        try:
            while any(t.is_alive() for t in threads):
                time.sleep(poll_s)
        except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM/SIGHUP: every session ends cleanly
            reason = f"stopped by {exc}" if str(exc) else "interrupted"
            stop_all()
        for t in threads:
            while t.is_alive():
                try:
                    t.join(timeout=poll_s)
                except KeyboardInterrupt:  # a second signal while closing: keep closing
                    stop_all()
    finally:
        if batcher is not None:
            batcher.close()
    if errors and reason == "sources ended":
        reason = "a station failed"
    return ServeResult(results, errors, reason, batcher.batches if batcher is not None else 0,
                       batcher.mean_batch if batcher is not None else 0.0)


def station_settings(base: StationSettings, spec: StationSpec, publish: str, remote: str | None) -> StationSettings:
    """``base`` (the options shared by every station) for one ``--station``."""
    return replace(base, station_id=spec.name, source=spec.source, calibration=spec.calibration,
                   publish=publish, remote=remote)
