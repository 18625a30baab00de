"""The live loop: frames from a source, ``Pipeline.process`` per frame, samples into the Station.

Why it holds samples back at the start: depth is measured from the hands resting still on the chest
(the rest baseline). Until the pipeline has found that hold, the station shows "Rest your hands on
the chest" (and how long it has waited); then the session starts on that baseline and the frames
held so far are fed to it in order, so the session sees every frame, as ``analyze`` does.

Threads: the source's reader keeps only the newest frame; the tracking thread (this loop) never
waits on the network (the publisher drops for slow subscribers), the recorder (its own writer
thread), JPEG encoding or the preview (newest-only workers, :mod:`coach.live.workers`).

Posture (optional ``posture``: a ``vision.posture_worker.PostureWorker``): every frame is offered to
it after the hand path's ``Pipeline.process`` (``submit`` returns at once; it takes a frame only
when a pose inference is due, about 10 times a second), and its finished results go to
``station.on_posture`` just before the first sample at or after their time, so each compression takes
the posture of its span. The pose model runs in a child process with its own low-weight scheduling
group (vision.pose_process): the hand path never waits on it. A second posture camera
(``posture_source``, coach.live.posture_source) feeds the worker instead; its pose frames are moved
onto this source's clock by capture timestamps.

A lost camera (``Frame.lost`` markers) keeps the session open: the heartbeat says "lost", the
recorder notes the gap (``source_lost`` / ``source_back`` events), tracking resumes when frames do.

    loop = LiveLoop(source, pipeline, station, LiveOptions(frame_hz=5), status=print)
    result = loop.run()          # until the source ends, request_stop(), or Ctrl-C (a clean stop too)
"""
from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from coach.live.station import LiveStation
from coach.live.workers import JpegEncoder, Preview
from coach.pipeline import FrameRecord, Pipeline
from coach.station import Sample

ANCHOR_LOST_STATUS_S = 1.0  # the status line says the anchor is missing once it has been for this long (not a blink)

Clock = Callable[[], float]


@dataclass(frozen=True)
class LiveOptions:
    """How the live loop runs around the pipeline and the station."""

    frame_hz: float = 5.0  # cpr.frame pictures per second for viewers (0: none)
    frame_width_px: int = 640  # cpr.frame picture width (aspect kept, never enlarged)
    jpeg_quality: int = 75  # cpr.frame JPEG quality
    status_every_s: float = 1.0  # status line period (when a status callback is given)
    read_timeout_s: float = 0.1  # wait this long for a frame before serving heartbeat and remote
    preview: bool = False  # a window with the overlay over the camera (needs a display)
    fps_window_s: float = 2.0  # the tracker fps shown is measured over this many seconds
    pace_files: bool = False  # files read frame by frame (not as a camera): no frame before its time


@dataclass
class LiveStats:
    """What the loop measured; the benchmark reads the raw lists."""

    frames: int = 0  # frames processed
    lost_markers: int = 0
    gaps: int = 0  # times the source was lost
    wall_s: float = 0.0
    latency_s: list[float] = field(default_factory=list)  # capture -> this frame's messages published
    process_s: list[float] = field(default_factory=list)  # Pipeline.process per frame
    frame_s: list[float] = field(default_factory=list)  # all work for the frame (process + station + hand-offs)
    release_lag_s: list[float] = field(default_factory=list)  # a compression's release -> its message published
    compressions: int = 0
    posture_frames: int = 0  # pose results given to the station
    posture_submit_s: list[float] = field(default_factory=list)  # PostureWorker.submit + drain per frame


@dataclass
class LiveResult:
    summary: Any  # SessionSummary of the last session (None if none ran)
    stats: LiveStats
    reason: str  # "source ended" | "stopped" | "interrupted"
    pipeline_compressions: int  # the pipeline's own core over the same frames (equals the session's)
    warnings: list[str]


class LiveLoop:
    def __init__(self, source, pipeline: Pipeline, station: LiveStation, options: LiveOptions = LiveOptions(), *,
                 clock: Clock = time.monotonic, status: Callable[[str], None] | None = None,
                 posture: Any = None, posture_source: Any = None) -> None:
        self.source = source
        self.posture = posture  # a PostureWorker (None: posture off); the caller closes it
        # a second camera for posture (coach.live.posture_source.PostureFeed) feeding ``posture``; the caller closes it
        self.posture_source = posture_source
        self._posture_pending: deque = deque(maxlen=1000)  # pose frames not yet reached by the samples fed
        self.pipeline = pipeline
        self.station = station
        self.options = options
        self.clock = clock
        self.status = status
        self.stats = LiveStats()
        self._stop = threading.Event()
        self._stop_reason = "stopped"
        self._fed = 0  # pipeline records already given to the station
        self._encoder = JpegEncoder(options.frame_width_px, options.jpeg_quality) if options.frame_hz > 0 else None
        self._preview = Preview() if options.preview else None
        self._next_jpeg_t = -math.inf
        self._fps_times: deque[float] = deque()
        self._lost_since: float | None = None
        self._last_t_s = math.nan
        self._latency_ms = math.nan
        self._pace_origin: float | None = None  # wall time of source time 0 (pace_files)
        self._posture_error: str | None = None

    def request_stop(self, reason: str = "stopped") -> None:
        """Finish after the current frame (thread-safe); ``reason`` goes into the session stop."""
        self._stop_reason = reason
        self._stop.set()

    # ------------------------------------------------------------------ loop
    def run(self) -> LiveResult:
        """Run until the source ends or a stop is asked for. Ctrl-C, SIGTERM and SIGHUP stop it between
        frames (never inside one, where a compression could be published but not yet counted)."""
        from coach.cli.signals import deferred_signals

        with deferred_signals(lambda name: self.request_stop(f"stopped by {name}")):
            return self._run()

    def _run(self) -> LiveResult:
        t0 = self.clock()
        next_status = t0 + self.options.status_every_s
        reason = "source ended"
        try:
            while not self._stop.is_set():
                frame = self._next_frame()
                if frame is StopIteration:
                    break
                if frame is None:  # no new frame yet: heartbeat and remote go on
                    self._idle()
                elif frame.lost:
                    self._on_lost(frame)
                else:
                    self._on_frame(frame)
                now = self.clock()
                if self.status is not None and now >= next_status:
                    next_status = now + self.options.status_every_s
                    self.status(self.status_line())
            else:
                reason = self._stop_reason
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM/SIGHUP via coach.cli.signals: a clean stop
            reason = f"stopped by {exc}" if str(exc) else "interrupted"
        finally:
            self.stats.wall_s = self.clock() - t0
            self._finish(reason)
        return self._result(reason)

    def _next_frame(self):
        read = getattr(self.source, "read", None)
        try:
            if read is not None:  # live sources: newest frame, a lost marker, or None after the timeout
                return read(timeout_s=self.options.read_timeout_s)
            frame = next(self.source)  # files and folders: every frame, in order
        except StopIteration:
            return StopIteration
        if self.options.pace_files:  # in time, never dropped: a slower machine plays in slow motion
            now = self.clock()
            if self._pace_origin is None:
                self._pace_origin = now - frame.t_ms / 1000.0
            due = frame.t_ms / 1000.0 + self._pace_origin
            if due > now:
                time.sleep(due - now)
            elif now - due > 0.5:
                self._pace_origin += now - due  # behind: do not race to catch up
        return frame

    def _source_t_s(self) -> float:
        """Source time now (for heartbeats while no frame comes)."""
        t = self._last_t_s
        return (t if math.isfinite(t) else 0.0) + 1e-3

    def _idle(self) -> None:
        t = self._source_t_s()
        self._last_t_s = t
        self.station.idle(t)

    def _on_lost(self, frame) -> None:
        self.stats.lost_markers += 1
        t = frame.t_ms / 1000.0
        if self._lost_since is None:
            self._lost_since = t
            self.stats.gaps += 1
            self.station.source_lost = True
            self._event("source_lost", t, source=self.station.options.source_name)
        if not math.isfinite(self._last_t_s) or t > self._last_t_s:
            self._last_t_s = t
            self.station.idle(t)

    def _on_frame(self, frame) -> None:
        t_start = self.clock()
        t_capture = frame.t_capture_s if frame.t_capture_s is not None else t_start
        t_s = frame.t_ms / 1000.0
        if self._lost_since is not None:
            self._event("source_back", t_s, gap_s=round(t_s - self._lost_since, 3))
            self._lost_since = None
            self.station.source_lost = False
        step = self.pipeline.process(frame.image, frame.t_ms, frame.index)
        t_proc = self.clock()
        self.stats.process_s.append(t_proc - t_start)
        self.stats.frames += 1
        self._last_t_s = step.record.t_s
        self._fps_times.append(t_proc)
        while self._fps_times and t_proc - self._fps_times[0] > self.options.fps_window_s:
            self._fps_times.popleft()
        jpeg = self._jpeg(frame.image, step.record.t_s)
        if self.posture is not None:
            self._posture(frame, t_capture)
        # capture time of the source clock, in this frame's source-time terms: release -> wall time
        offset = t_capture - t_s
        if self.pipeline.core_started:
            new = self._feed(jpeg)
            now = self.clock()
            for c in new:
                self.stats.release_lag_s.append(now - (offset + c.t_release_s))
            self.stats.compressions += len(new)
        else:
            waited = self._rest_waited_s(step.record.t_s)
            self.station.rest_hold(self._sample(step.record, jpeg), waited)
        if self._preview is not None and not self._preview.closed:
            self._preview.submit((frame.image, self.station.last_overlay, step.record.t_s))
        done = self.clock()
        self._latency_ms = (done - t_capture) * 1000.0
        self.stats.latency_s.append(done - t_capture)
        self.stats.frame_s.append(done - t_start)

    def _posture(self, frame, t_capture: float) -> None:
        """Offer the frame to the pose worker (returns at once) and collect its finished results.

        With a second posture camera the frame is not offered (that camera feeds the worker): its pose
        frames, stamped on the monotonic clock, move onto this source's clock with this frame's capture
        offset. Either way a pose frame goes to the station just before the first sample at or after its
        time (``_feed``), so a state never shows a pose from its future, and the frames held during the
        rest hold get the poses of their own time when the session starts."""
        t0 = time.perf_counter()
        if self.posture_source is None:
            try:
                self.posture.submit(frame.image, frame.t_ms)
            except Exception as exc:  # noqa: BLE001 - posture is advisory: a failure costs posture, never the hand path
                self.posture = None
                self._posture_error = f"posture stopped ({type(exc).__name__}: {exc})"
            self._collect_posture()
        else:
            self._collect_posture(clock_offset_ms=(t_capture - frame.t_ms / 1000.0) * 1000.0)
        self.stats.posture_submit_s.append(time.perf_counter() - t0)

    def _collect_posture(self, clock_offset_ms: float = 0.0) -> None:
        """The worker's finished pose frames into the pending queue, on this source's clock
        (``clock_offset_ms``: their clock minus this source's, for a second camera)."""
        if self.posture is None:
            return
        try:
            new = self.posture.drain()
        except Exception as exc:  # noqa: BLE001 - posture is advisory
            self.posture = None
            self._posture_error = f"posture stopped ({type(exc).__name__}: {exc})"
            return
        if self.posture_source is not None:
            new = [r.retimed(round(r.t_ms - clock_offset_ms)) for r in new]
        self._posture_pending.extend(new)

    def _deliver_posture(self, until_s: float) -> None:
        """Pending pose frames up to source time ``until_s`` to the station, oldest first."""
        pending = self._posture_pending
        try:
            while pending and pending[0].t_ms <= until_s * 1000.0 + 0.5:
                self.station.on_posture(pending.popleft())
                self.stats.posture_frames += 1
        except Exception as exc:  # noqa: BLE001 - posture is advisory
            self.posture = None
            self._posture_error = f"posture stopped ({type(exc).__name__}: {exc})"
            pending.clear()

    def _rest_waited_s(self, t_s: float) -> float:
        t_hand = self.pipeline.first_hand_t_s
        return 0.0 if t_hand is None else max(0.0, t_s - t_hand)

    def _jpeg(self, image: np.ndarray, t_s: float):
        """Submit a picture when one is due; attach the newest finished one (possibly a frame older)."""
        if self._encoder is None:
            return None
        if t_s >= self._next_jpeg_t:
            self._next_jpeg_t = t_s + 1.0 / self.options.frame_hz
            self._encoder.submit(image)
        return self._encoder.take()

    def _feed(self, jpeg) -> list:
        """Give the station every settled record it has not had (after the rest hold: the held ones too; after a
        pause, the frames the pipeline holds until it has located the hands again, once it has re-measured them:
        fed as they come, they would be measured through the hands before the pause). The newest frame's picture
        goes out with it, or at once while it is held."""
        recs = self.pipeline.records
        if self._fed == 0 and not self.station.running:
            self.station.rest_height_mm = self.pipeline.core_rest_height_mm
        out: list = []
        last = len(recs) - 1
        end = self.pipeline.settled_records
        for i in range(self._fed, end):
            if self._posture_pending:
                self._deliver_posture(recs[i].t_s)
            out += self.station.process(self._sample(recs[i], jpeg if i == last else None, self.pipeline.rest_move_at(i)))
        self._fed = max(self._fed, end)
        if end <= last and recs:
            self.station.held(self._sample(recs[last], jpeg))
        return out

    def _sample(self, rec: FrameRecord, jpeg, rest_move_mm: float = 0.0) -> Sample:
        fps = self._tracker_fps()
        return Sample(
            rest_move_mm=rest_move_mm,
            t_s=rec.t_s,
            height_mm=rec.height_mm,
            placement_mm=None if not math.isfinite(rec.axial_mm) else rec.axial_mm,
            hands_visible=bool(math.isfinite(rec.xy_px[0])),
            tracker_fps=fps,
            latency_ms=None if not math.isfinite(self._latency_ms) else round(self._latency_ms, 1),
            frame_jpeg=None if jpeg is None else jpeg[0],
            frame_size=None if jpeg is None else jpeg[1],
        )

    def _tracker_fps(self) -> float | None:
        """Frames per second over the fps window (None: fewer than two frames in it)."""
        times = self._fps_times
        if len(times) < 2:
            return None
        return (len(times) - 1) / max(times[-1] - times[0], 1e-6)

    def _event(self, kind: str, t_s: float, **data: Any) -> None:
        """A line on the session record (only while a session runs; the station owns the recorder)."""
        self.station.record_event(kind, t_s, **data)

    # ------------------------------------------------------------------ end
    def _finish(self, reason: str) -> None:
        for w in (self._encoder, self._preview):
            if w is not None:
                w.close()
        if self.posture_source is None:
            self._collect_posture()  # pose frames finished since the last camera frame
        # (a second camera's pose frames after the last hand frame have no hand time to go with: left out)
        if self._lost_since is not None:
            self._event("source_back", self._last_t_s, gap_s=None, note="session ended while the source was lost")
        # the pipeline's own result; it also starts its core if the hands never rested (as analyze does)
        self._pipeline_result = self.pipeline.finish(wall_s=self.stats.wall_s)
        if (self.station.running or self._fed == 0) and self.pipeline.records:
            # a session that never got past the rest hold still gets its frames analysed; frames held at the end
            # (the hands being located again) go in as the pipeline measured them
            self.stats.compressions += len(self._feed(None))
        if self.station.running:
            if self._posture_pending and math.isfinite(self._last_t_s):
                self._deliver_posture(self._last_t_s)  # the last pose frames count for the last compressions
            self.station.stop_session(reason=reason)

    def _result(self, reason: str) -> LiveResult:
        res = self._pipeline_result
        warnings = list(res.warnings) + ([self._posture_error] if self._posture_error else [])
        return LiveResult(self.station.last_summary, self.stats, reason, len(res.session.compressions), warnings)

    # ------------------------------------------------------------------ console
    def status_line(self) -> str:
        """fps, latency, then the station's own line (compressions, rate, depth, prompt)."""
        fps = self._tracker_fps()
        fps = 0.0 if fps is None else fps
        lat = "  --" if not math.isfinite(self._latency_ms) else f"{self._latency_ms:4.0f}"
        head = f"{fps:5.1f} fps  latency {lat} ms  "
        if self._lost_since is not None:
            return head + f"SOURCE LOST for {self._last_t_s - self._lost_since:4.1f} s (waiting for it to come back)"
        lost = self.pipeline.anchor_lost_since_s  # (a moving camera whose anchor is out of view has no heights)
        if lost is not None and self._last_t_s - lost >= ANCHOR_LOST_STATUS_S:
            head += f"ANCHOR MARKER NOT SEEN for {self._last_t_s - lost:4.1f} s (no depth until it is back in view)  "
        if not self.station.running and self._fed == 0:
            t = self._last_t_s if math.isfinite(self._last_t_s) else 0.0
            return head + f"waiting for the hands to rest on the chest: {self._rest_waited_s(t):4.1f} s"
        return head + self.station.status_line()
