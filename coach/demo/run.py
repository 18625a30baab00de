"""``cpr-coach demo``: the live station end to end on the built-in virtual camera.

1. render a short clip of the printed marker on the chest and calibrate from it with
   ``cpr-coach calibrate manikin`` (the real calibration, as a user runs it);
2. render the camera clip: the simulated trainee's hand resting, then compressing;
3. run the same station as ``cpr-coach run`` on it (real MediaPipe, a real ZeroMQ publisher on
   127.0.0.1), with the monitor viewer subscribed, writing the annotated video;
4. record the session, write the debrief report, and compare with the simulator's truth.

Why every frame rather than a camera's newest-only: a virtual camera can wait for the tracker, so
the figures are the same on any machine (a slow one plays in slow motion, ``--fast`` not at all).
``cpr-coach run --source camera.mp4`` plays the same clip as a webcam would deliver it.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from coach.demo.scenario import DemoScript, demo_script
from coach.demo.scene import MARKER_MM, CameraSpec, VirtualStation


class DemoError(RuntimeError):
    """The demo cannot go on (output folder, calibration): one line."""


@dataclass(frozen=True)
class DemoOptions:
    out_dir: Path = Path("out/demo")  # clips, station.json, annotated video, report, session records
    cpr_s: float = 30.0  # seconds of simulated CPR (plus ~4 s of hands coming down and resting)
    seed: int = 7  # simulator seed
    camera: CameraSpec = CameraSpec()  # virtual camera (640x360 at 30 fps by default)
    profile: str = "adult"
    publish: str = "tcp://127.0.0.1:0"  # PUB endpoint (port 0: a free one)
    paced: bool = True  # frames no earlier than their time (False: as fast as the tracker goes)
    window: bool = False  # the monitor viewer in a window (needs a display)
    viewer_fps: float = 15.0  # annotated video frame rate
    data_dir: Path | None = None  # session records (None: out_dir: its sessions/ and sessions.sqlite)
    calibration_s: float = 1.0  # length of the marker clip


@dataclass
class DemoResult:
    clip: Path
    calibration_clip: Path
    station_json: Path
    video: Path
    station: object  # coach.live.app.StationResult
    truth: dict[str, float]
    viewer_frames: int
    viewer_video_frames_in: int
    wall_s: float
    timings: dict[str, float] = field(default_factory=dict)


def write_clip(path: Path, frames, fps: float, size_wh: tuple[int, int]) -> int:
    import cv2

    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size_wh)
    if not w.isOpened():
        raise DemoError(f"cannot write {path}")
    n = 0
    try:
        for f in frames:
            w.write(f)
            n += 1
    finally:
        w.release()
    return n


def render_camera_clip(path: Path, script: DemoScript, camera: CameraSpec = CameraSpec(), *,
                       decorate: Callable | None = None) -> int:
    """The virtual camera's clip of ``script`` (mp4v); returns the number of frames.
    ``decorate(frame) -> frame``: drawn over each frame (the posture benchmark adds a person's photo)."""
    vs = VirtualStation(camera)
    frames = (vs.frame(hand_z_mm=None if not math.isfinite(z) else float(z), hand_x_mm=float(x))
              for z, x in zip(script.hand_z_mm, script.hand_x_mm))
    if decorate is not None:
        frames = (decorate(f) for f in frames)
    return write_clip(path, frames, camera.fps, (camera.width_px, camera.height_px))


def render_marker_clip(path: Path, camera: CameraSpec = CameraSpec(), seconds: float = 1.0) -> int:
    vs = VirtualStation(camera)
    n = max(1, int(round(seconds * camera.fps)))
    return write_clip(path, (vs.frame(marker=True) for _ in range(n)), camera.fps, (camera.width_px, camera.height_px))


# Why the demo runs without posture: there is nobody to measure, and the pose model would only cost CPU.
DEMO_POSTURE_OFF = "the virtual camera renders a hand, not a rescuer's body: there are no arms to measure"


def run_demo(options: DemoOptions, *, say: Callable[[str], None] = print,
             status: Callable[[str], None] | None = None) -> DemoResult:
    from coach.cli import main as cli_main
    from coach.live.app import StationSettings, run_station
    from coach.live.loop import LiveOptions
    from overlays.viewer import MonitorViewer, ViewerOptions

    t_start = time.monotonic()
    o = options
    out = Path(o.out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DemoError(f"{out}: cannot create the output folder: {exc.strerror or exc}") from None
    cam = o.camera
    timings: dict[str, float] = {}
    # 1. the marker, and the real calibration from it
    cal_clip, station_json = out / "calibration.mp4", out / "station.json"
    render_marker_clip(cal_clip, cam, o.calibration_s)
    argv = ["calibrate", "manikin", "--source", str(cal_clip), "--hfov", f"{cam.hfov_deg:g}",
            "--marker-mm", f"{MARKER_MM:g}", "--min-frames", "5", "-o", str(station_json)]
    say("$ cpr-coach " + " ".join(argv))
    if cli_main(argv) != 0:
        raise DemoError(f"calibration from the rendered marker failed ({cal_clip})")
    timings["calibration_s"] = time.monotonic() - t_start
    # 2. the camera clip
    t0 = time.monotonic()
    script = demo_script(o.cpr_s, seed=o.seed, fps=cam.fps, profile=o.profile)
    clip = out / "camera.mp4"
    n = render_camera_clip(clip, script, cam)
    timings["render_s"] = time.monotonic() - t0
    say(f"virtual camera: {n} frames ({script.duration_s:.1f} s, {cam.width_px}x{cam.height_px} at {cam.fps:g} fps) "
        f"-> {clip}")
    # 3. the station, with the monitor viewer subscribed
    video = out / "annotated.mp4"
    stop_viewer = threading.Event()
    viewer_box: dict[str, object] = {}

    def on_ready(station) -> None:
        ep = station.publisher.endpoint
        say(f"station publishing on {ep}; monitor viewer subscribed, writing {video}"
            + (" (and in a window)" if o.window else ""))
        viewer = MonitorViewer(ViewerOptions(connect=ep, size=(cam.width_px, cam.height_px), fps=o.viewer_fps,
                                             window=o.window, video_path=video))
        viewer_box["viewer"] = viewer
        th = threading.Thread(target=lambda: viewer_box.__setitem__("stats", viewer.run(should_stop=stop_viewer.is_set)),
                              name="cpr-coach-demo-viewer", daemon=True)
        viewer_box["thread"] = th
        th.start()
        time.sleep(0.3)  # the subscription reaches the publisher before the first frame (ZeroMQ slow joiner)

    settings = StationSettings(
        source=str(clip), calibration=str(station_json), station_id="demo", trainee_id="simulated-trainee",
        profile=o.profile, publish=o.publish, remote=None, realtime=False,
        live=LiveOptions(frame_hz=10.0, frame_width_px=cam.width_px, pace_files=o.paced),
        data_dir=str(o.data_dir or out), report_path=str(out / "report.html"),
        posture=False, posture_off_reason=DEMO_POSTURE_OFF)
    say(f"posture: off in the demo ({DEMO_POSTURE_OFF})")
    t0 = time.monotonic()
    try:
        res = run_station(settings, on_ready=on_ready, status=status)
    finally:
        th = viewer_box.get("thread")
        if th is not None:
            time.sleep(1.0)  # the summary card reaches the video
            stop_viewer.set()
            th.join(timeout=10.0)
        viewer = viewer_box.get("viewer")
        if viewer is not None:
            viewer.close()
    timings["station_s"] = time.monotonic() - t0
    vstats = viewer_box.get("stats")
    return DemoResult(clip, cal_clip, station_json, video, res, script.truth_figures(),
                      0 if vstats is None else vstats.frames, 0 if vstats is None else vstats.video_frames_in,
                      time.monotonic() - t_start, timings)


def comparison_lines(result: DemoResult) -> list[str]:
    """Measured against the simulator's truth: count, mean depth, mean rate."""
    s = result.station.summary
    t = result.truth

    def f(v, spec):
        return "--" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, spec)

    got = {"compressions": None if s is None else s.compressions,
           "mean_depth_mm": None if s is None else s.mean_depth_mm,
           "mean_rate_cpm": None if s is None else s.mean_rate_cpm}
    dd = (got["mean_depth_mm"] - t["mean_depth_mm"]) if s is not None and np.isfinite(s.mean_depth_mm) else math.nan
    return [
        "measured by the camera path vs the simulator's truth:",
        f"  compressions  {f(got['compressions'], 'd')} vs {t['compressions']}",
        f"  mean depth    {f(got['mean_depth_mm'], '.1f')} vs {t['mean_depth_mm']:.1f} mm  ({f(dd, '+.1f')} mm)",
        f"  mean rate     {f(got['mean_rate_cpm'], '.1f')} vs {t['mean_rate_cpm']:.1f} cpm",
    ]
