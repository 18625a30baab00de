"""One live station from its settings: what ``cpr-coach run`` and ``cpr-coach demo`` both start.

Why one builder: the demo must run exactly the code a skills lab runs; the command line and the
demo differ only in where the settings come from. The builder opens the source (a camera that
cannot be opened is one line within seconds), wires ``Pipeline.from_calibration``, the recorder,
the Station (publisher, remote) and the loop, and always closes them in order: the session's stop
is published and its summary written however the loop ends (source end, Ctrl-C, SIGTERM).

    result = run_station(StationSettings(source="0", calibration="station.json"), status=print)
    print(result.summary, result.session_id, result.report_path)
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from coach.live.loop import LiveLoop, LiveOptions, LiveResult


class StationSetupError(ValueError):
    """The station cannot start (a bad file, a camera that will not open, a port in use): one line."""


@dataclass(frozen=True)
class StationSettings:
    """What a live station is asked to do."""

    source: str  # camera index, video file, image folder or stream URL
    calibration: str | None = None  # station.json from `calibrate manikin` (None: hfov_deg, hand-size mode)
    hfov_deg: float | None = None  # no calibration: the camera's horizontal field of view
    station_id: str = "station-1"  # in every message and record
    trainee_id: str | None = None  # who trains (records, cpr.session)
    profile: str = "adult"  # guideline profile
    publish: str = "tcp://127.0.0.1:5556"  # PUB endpoint (port 0 or * picks a free one)
    remote: str | None = "tcp://127.0.0.1:5555"  # remote-control REP endpoint (None: none)
    curve: Any = None  # overlays.security.CurveServerOptions beyond localhost
    model_path: Any = None  # hand_landmarker.task (None: the cached model)
    backend: str = "mediapipe"  # hand tracker: "mediapipe" or "onnx" (vision.tracker.create_tracker)
    onnx_options: Any = None  # vision.onnx_tracker.OnnxBackendOptions (None: defaults)
    realtime: bool = True  # a file plays at its own frame rate, like a camera (False: every frame, at once)
    source_timeout_s: float = 3.0  # a live source with no first frame by then is an error
    live: LiveOptions = LiveOptions()
    data_dir: str | None = None  # session records (None: $CPR_COACH_DATA or the user data folder)
    record: bool = True  # False: nothing is written
    report_path: str | None = None  # the debrief HTML (None: <data dir>/reports/<session>.html)
    posture: bool = True  # the rescuer's posture (pose model, own thread) where the profile has posture bands
    posture_hz: float = 10.0  # pose inferences per second (at most; the newest frame each time)
    posture_off_reason: str | None = None  # why posture is off (for the record and the report), when posture=False
    posture_source: str | None = None  # a second camera for posture (same forms as source; None: the source's frames)
    posture_calibration: str | None = None  # that camera's station.json (None: its own vertical, frame "camera")


@dataclass
class StationResult:
    live: LiveResult
    summary: Any  # SessionSummary of the last session (None: none ran)
    session_id: str | None
    session_path: Path | None  # the session's JSONL record
    report_path: Path | None
    publish_endpoint: str
    mode: str  # geometry mode (marker, anchor, hand-size)
    warnings: list[str] = field(default_factory=list)
    plan: Any = None  # the trainee's coaching plan of the last session (coach.learning.plan.CoachingPlan; None: no trainee)


def camera_projector(intrinsics, cam_from_manikin):
    """Manikin-frame points (m) -> normalised image coordinates of this calibrated camera, so the
    overlay's world-anchored parts (placement ring, panels) sit on the manikin in the picture."""
    import numpy as np

    from calibration.geometry import project_points

    w, h = float(intrinsics.width_px), float(intrinsics.height_px)

    def project(p):
        pc = cam_from_manikin.apply(np.asarray(p, dtype=np.float64).reshape(1, 3) * 1000.0)
        if not pc[0, 2] > 0:
            return None
        uv = project_points(pc, intrinsics.matrix, intrinsics.dist_coeffs)[0]
        return (float(uv[0]) / w, float(uv[1]) / h)

    return project


def start_posture(settings: StationSettings, profile, geo, warnings: list[str], *, wait: bool = True,
                  isolate: bool = True):
    """The pose worker for this station, or None (posture off, the profile has no posture bands, or no
    pose model: then a warning, and the station runs without posture). Also: the record's posture note.

    ``wait=False`` (``run``): the model is checked here but loaded in the worker's thread while the
    hand path already runs (a file played as a camera would otherwise skip its first seconds).
    ``isolate=False``: the pose model in a thread of this process (``bench live --posture-thread`` compares)."""
    if not settings.posture:
        return None, {"on": False, "off_reason": settings.posture_off_reason or "turned off (--no-posture)"}
    if profile.posture is None:
        return None, {"on": False, "off_reason": f"the {profile.name} profile has no posture bands"}
    from calibration.posture import measurer
    from models import ModelError, ensure_model
    from vision.posture_worker import PostureWorker, PostureWorkerOptions, tracker_factory

    rot = None if geo.manikin is None else geo.manikin.cam_from_manikin.rotation
    # sources hand out a fresh array per frame and nothing draws on it: no copy on the hand thread
    opts = PostureWorkerOptions(rate_hz=settings.posture_hz, copy_frames=False, isolate=isolate)
    measure = measurer(camera_matrix=None if geo.intr is None else geo.intr.matrix, cam_from_manikin_rotation=rot)
    try:
        if wait:
            worker = PostureWorker.start_new(opts, measure=measure)
        else:
            ensure_model("pose_landmarker")  # verified and cached: a missing model is a warning now, not later
            worker = PostureWorker(opts, tracker_factory(opts), measure=measure)
    except (ModelError, TimeoutError, OSError, RuntimeError) as exc:
        warnings.append(f"posture off: {exc}")
        return None, {"on": False, "off_reason": f"no pose model ({exc})"}
    meta = {"on": True, "rate_hz": settings.posture_hz, "frame": "camera" if rot is None else "manikin"}
    if settings.posture_source is not None:
        meta["source"] = str(settings.posture_source)
    return worker, meta


def open_posture_camera(settings: StationSettings, clock, warnings: list[str]):
    """The second posture camera, opened and delivering (``run --posture-source``), and its geometry
    (``intr`` and ``manikin`` from ``--posture-calibration``; both None without). Raises StationSetupError."""
    from types import SimpleNamespace

    from calibration.camera import CameraCalibrationError
    from calibration.store import CalibrationFileError, load_calibration
    from vision.sources import SourceError, SourceOptions, open_source, require_frames

    s = settings
    try:
        cal = load_calibration(s.posture_calibration) if s.posture_calibration else None
    except CalibrationFileError as exc:
        raise StationSetupError(f"--posture-calibration: {exc}") from None
    try:  # a file plays as a camera: both cameras' frames are stamped by the same monotonic clock
        src = open_source(s.posture_source, SourceOptions(realtime=True, on_truncated="warn"), clock=clock)
        require_frames(src, s.source_timeout_s)
    except SourceError as exc:
        raise StationSetupError(f"--posture-source: {exc}") from None
    if cal is None:
        warnings.append("posture camera without --posture-calibration: its figures use the image's vertical "
                        "(frame \"camera\"), not the chest normal")
        return src, SimpleNamespace(intr=None, manikin=None)
    try:
        intr = cal.camera.scaled_to(*src.size_wh)
    except CameraCalibrationError as exc:
        src.close()
        raise StationSetupError(f"--posture-calibration: {exc}") from None
    return src, SimpleNamespace(intr=intr, manikin=cal.manikin)


def _source_kind(src) -> str:
    """The heartbeat's source kind (protocol enum): a file played as a camera is a "video"."""
    return "video" if src.kind in ("file", "images") else "camera"


def run_station(settings: StationSettings, *, status: Callable[[str], None] | None = None,
                on_ready: Callable[[Any], None] | None = None, clock=time.monotonic,
                adapt_tracker: Callable[[Any], Any] | None = None,
                on_loop: Callable[[LiveLoop], None] | None = None) -> StationResult:
    """Run one live station until its source ends or it is stopped (Ctrl-C, SIGTERM via
    ``coach.cli.signals``, ``request_stop`` from ``on_ready``'s loop). Raises StationSetupError.

    ``adapt_tracker`` replaces the pipeline's tracker (``serve`` batches several stations through one);
    ``on_loop`` is given the loop before it runs (``serve`` stops every station's loop from its main thread)."""
    from calibration.camera import CameraCalibrationError
    from calibration.store import CalibrationFileError, load_calibration
    from coach.core.profiles import ProfileError, load_profile
    from coach.live.station import LiveStation
    from coach.pipeline import Pipeline, PipelineOptions, PipelineSetupError
    from coach.station import StationOptions
    from models import ModelError, ensure_model
    from overlays.publisher import PublisherError, PublisherOptions
    from overlays.remote import RemoteError, RemoteOptions
    from vision.sources import SourceError, SourceOptions, open_source, require_frames

    s = settings
    try:
        profile = load_profile(s.profile)
        cal = load_calibration(s.calibration) if s.calibration else None
    except (ProfileError, CalibrationFileError) as exc:
        raise StationSetupError(str(exc)) from None
    if cal is None and s.hfov_deg is None:
        raise StationSetupError("give --calibration station.json (from `cpr-coach calibrate manikin`), or --hfov DEG "
                                "to measure from the hand's own size (larger error)")
    try:
        src = open_source(s.source, SourceOptions(realtime=s.realtime, on_truncated="warn"), clock=clock)
        require_frames(src, s.source_timeout_s)
    except SourceError as exc:
        raise StationSetupError(str(exc)) from None
    closers: list[Callable[[], None]] = [src.close]
    setup_warnings: list[str] = []
    try:
        size = src.size_wh
        if size is None:
            raise StationSetupError(f"{s.source}: cannot tell the frame size")
        try:
            model = s.model_path or ensure_model("hand_landmarker")
            pipe = Pipeline.from_calibration(cal, size, model_path=model, options=PipelineOptions(profile=s.profile),
                                             hfov_deg=s.hfov_deg, source_name=str(s.source),
                                             calibration_name=s.calibration or "the calibration",
                                             backend=s.backend, onnx_options=s.onnx_options)
        except (CameraCalibrationError, PipelineSetupError, ModelError) as exc:
            raise StationSetupError(str(exc)) from None
        if adapt_tracker is not None:
            pipe.tracker = adapt_tracker(pipe.tracker)
        closers.append(pipe.tracker.close)
        feed = posture_src = None
        posture_geo = pipe.geo
        wants_posture = s.posture and profile.posture is not None
        if s.posture_source is not None and wants_posture:
            posture_src, posture_geo = open_posture_camera(s, clock, setup_warnings)
            closers.append(posture_src.close)
        elif s.posture_source is not None:
            setup_warnings.append("--posture-source ignored: posture is off")
        worker, posture_meta = start_posture(s, profile, posture_geo, setup_warnings, wait=False)
        if worker is not None:
            closers.append(worker.close)
            if posture_src is not None:
                from coach.live.posture_source import PostureFeed

                feed = PostureFeed.start(posture_src, worker)
                closers.append(feed.close)  # closed first: no frame offered to a closed worker
        store = rec = None
        if s.record:
            from coach.records import SessionRecorder, SessionStore, StoreError, calibration_info, resolve_data_dir

            try:
                store = SessionStore(resolve_data_dir(s.data_dir))
            except (StoreError, OSError) as exc:
                raise StationSetupError(f"session records: {exc}") from None
            rec = SessionRecorder(store, calibration=calibration_info(pipe.mode, file=s.calibration, station=cal),
                                  extra_meta={"posture": posture_meta})
        planner = _planner(store, s)
        man = None if cal is None else cal.manikin
        project = None if man is None else camera_projector(pipe.geo.intr, man.cam_from_manikin)
        opts = StationOptions(station_id=s.station_id, profile=s.profile, trainee_id=s.trainee_id,
                              publisher=PublisherOptions(endpoint=s.publish, station_id=s.station_id, curve=s.curve),
                              remote=None if s.remote is None else RemoteOptions(endpoint=s.remote, curve=s.curve),
                              source_kind=_source_kind(src), source_name=src.name)
        try:
            station = LiveStation(opts, project=project, recorder=rec, coach_plan=planner)
        except (PublisherError, RemoteError) as exc:
            raise StationSetupError(str(exc)) from None
        closers.append(station.close)
        if on_ready is not None:
            on_ready(station)
        loop = LiveLoop(src, pipe, station, s.live, clock=clock, status=status, posture=worker, posture_source=feed)
        if on_loop is not None:
            on_loop(loop)
        live = loop.run()
        endpoint = station.publisher.endpoint
    finally:
        for close in reversed(closers):  # the station first: stop published, record closed and indexed
            try:
                close()
            except Exception:  # noqa: BLE001 - closing must close everything else too
                pass
    sid = None if rec is None else rec.last_session_id
    session_path = report_path = None
    warnings = setup_warnings + list(live.warnings)
    if worker is not None and worker.start_error is not None:
        warnings.append(f"posture off: the pose model did not load ({worker.start_error})")
    feed_problem = None if feed is None else feed.problem()
    if feed_problem:
        warnings.append(feed_problem)
    if rec is not None and rec.error:
        warnings.append(f"session record: {rec.error}")
    if store is not None and sid is not None:
        session_path = store.path_for(sid)
        from coach.report import write_report

        target = Path(s.report_path) if s.report_path else store.data_dir / "reports" / f"{sid}.html"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            report_path = write_report(sid, target, store=store)
        except Exception as exc:  # noqa: BLE001 - the session is safe on disk; the report can be made later
            warnings.append(f"debrief report not written ({type(exc).__name__}: {exc}); "
                            f"`cpr-coach report {sid} -o report.html` makes it")
    if station.record_error:
        warnings.append(station.record_error)
    return StationResult(live, live.summary, sid, session_path, report_path, endpoint, pipe.mode, warnings,
                         None if planner is None else planner.last)


def _planner(store, s: StationSettings):
    """The trainee's adaptive coaching (``run --trainee ID``): history from the records store at each session
    start. Without recording, an existing store is still read; without any store, full feedback."""
    from coach.trainee.data import SessionDataError, StorePlanner, open_store

    if store is None:
        from coach.records import resolve_data_dir

        try:
            store = open_store(resolve_data_dir(s.data_dir))
        except (SessionDataError, OSError):
            return None
    return StorePlanner(store)


def summary_text(summary) -> list[str]:
    """The session's figures, a few lines for the console."""
    if summary is None:
        return ["no session ran (no frames with hands?)"]

    def f(v, spec):
        return "--" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, spec)

    return [
        f"compressions   {summary.compressions} in {summary.sets} set(s)",
        f"depth          mean {f(summary.mean_depth_mm, '.1f')} mm, in target {f(summary.pct_depth_ok, '.0f')} %",
        f"rate           mean {f(summary.mean_rate_cpm, '.0f')} cpm, in target {f(summary.pct_rate_ok, '.0f')} %",
        f"recoil         complete {f(summary.pct_recoil_ok, '.0f')} %",
        f"flow fraction  CCF {f(summary.ccf, '.2f')}, hands-off {f(summary.hands_off_s, '.1f')} s",
    ]
