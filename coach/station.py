"""The station loop: samples in, analysis + coaching + every protocol topic out.

Why one loop for the simulator and the live camera: the same ``Station``
drives ``cpr-coach simulate`` (samples from the core's simulator) and, later,
the live pipeline (samples from vision + calibration). It owns the streaming
analyzer, the Coach and the Publisher, answers the remote control between
frames (in its own thread, so no locks), and never blocks on a subscriber.

    station = Station(StationOptions(station_id="bench-1", source_kind="camera"))
    for sample in samples:            # live: call process() per frame yourself (it answers the remote too;
        station.process(sample)       # call idle(t) while no frame comes)
    station.stop_session()
    station.close()

or, paced in real time by a clock (tests pass a faster one)::

    station.run(samples, clock=time.monotonic, sleep=time.sleep, status=print)
"""
from __future__ import annotations

import math
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

import zmq

from coach.core import CoreOptions, StreamingAnalyzer
from coach.core.profiles import ProfileError, load_profile
from coach.core.types import Compression, CoreState, SessionSummary
from coach.feedback import Coach, CoachOptions, Prompt
from overlays import messages
from overlays.publisher import Publisher, PublisherOptions
from overlays.remote import CommandError, RemoteOptions, RemoteServer
from overlays.scene import Projector, SceneInputs, SceneLayout, build_overlay
from overlays.security import term_context

if TYPE_CHECKING:
    from coach.records import SessionRecorder

Clock = Callable[[], float]
Sleep = Callable[[float], None]
# The coach's options for a session: (trainee id or None, profile name) -> CoachOptions. ``run --trainee`` passes
# the learning plan's (coach.trainee.data.StorePlanner: feedback level and cues from the trainee's history).
CoachPlan = Callable[[str | None, str], CoachOptions]


@dataclass(frozen=True)
class Sample:
    """One processed frame's measurement (what the station consumes)."""

    t_s: float  # monotonic, strictly increasing
    height_mm: float  # chest height in the manikin frame; NaN when not measured
    placement_mm: float | None = None  # hand offset along the body axis from the target (+ head)
    hands_visible: bool | None = None  # None: "height is finite"
    tracker_fps: float | None = None
    latency_ms: float | None = None  # capture -> measurement
    frame_jpeg: bytes | None = None  # optional video frame for cpr.frame
    frame_size: tuple[int, int] | None = None  # (width_px, height_px) of frame_jpeg
    rest_move_mm: float = 0.0  # the chest's rest moved this much before this sample (the pipeline learnt it beside the
    # heights: Pipeline.rest_move_at); the core is told, and a recorded session notes it (event ``rest_moved``)

    @property
    def visible(self) -> bool:
        """``hands_visible``, or "height is finite" when the source did not say."""
        return self.hands_visible if self.hands_visible is not None else math.isfinite(self.height_mm)


@dataclass(frozen=True)
class StationOptions:
    station_id: str = "station"
    trainee_id: str | None = None  # who trains (session records and cpr.session); None: not recorded
    profile: str | None = None  # guideline profile (None: default)
    publisher: PublisherOptions = PublisherOptions()
    remote: RemoteOptions | None = RemoteOptions()  # None: no remote control socket
    overlay_hz: float = 30.0
    heartbeat_s: float = 1.0
    feedback_repeat_s: float = 1.0  # re-send the active prompt so late joiners get it
    source_kind: str = "camera"  # simulator | camera | video | replay
    source_name: str = ""
    autostart: bool = True  # start a session at the first sample
    rest_height_mm: float | None = None  # a known rest height for the core (a replay of a live session); None: tracked
    layout: SceneLayout = SceneLayout()


@dataclass
class StationStats:
    samples: int = 0
    compressions: int = 0
    prompts: Counter = field(default_factory=Counter)  # prompt id -> times raised
    sessions: int = 0
    dropped: int = 0  # samples with a bad or repeated timestamp


def scaled_clock(speed: float) -> tuple[Clock, Sleep]:
    """A clock running ``speed`` times faster than real time, and its sleep."""
    if not speed > 0:
        raise ValueError("clock speed must be > 0")
    t0 = time.monotonic()

    def clock() -> float:
        return t0 + (time.monotonic() - t0) * speed

    def sleep(dt_s: float) -> None:
        if dt_s > 0:
            time.sleep(dt_s / speed)

    return clock, sleep


class Station:
    def __init__(
        self,
        options: StationOptions = StationOptions(),
        *,
        project: Projector | None = None,
        context=None,
        recorder: "SessionRecorder | None" = None,
        coach_plan: CoachPlan | None = None,
    ) -> None:
        self.options = options
        self.coach_plan = coach_plan  # each session's coach options from its trainee (None: CoachOptions())
        self.project = project
        self.recorder = recorder  # coach.records.SessionRecorder: every session to disk (None: not recorded)
        self.record_error: str | None = None  # first recording failure (recording never stops the station)
        self.profile = load_profile(options.profile)
        pub_opts = replace(options.publisher, station_id=options.station_id)
        self._ctx = context or zmq.Context()
        self._own_ctx = context is None
        self.publisher: Publisher | None = None
        self.remote: RemoteServer | None = None
        try:
            self.publisher = Publisher(pub_opts, context=self._ctx)
            if options.remote is not None:
                self.remote = RemoteServer(self, options.remote, context=self._ctx)
        except Exception:  # e.g. the port is taken: release what was opened, then report
            if self.publisher is not None:
                self.publisher.close()
            if self._own_ctx:
                term_context(self._ctx)
            raise
        self.stats = StationStats()
        self._new_analyzer()
        self.coach = Coach(CoachOptions(), profile=self.profile)
        self.adaptive = False  # the coach follows a trainee's plan: its feedback level is shown on the overlay
        self.running = False
        self.session_id: str | None = None
        self.last_summary: SessionSummary | None = None
        self._t_last = math.nan
        self._t_first = math.nan
        self._t_session = math.nan
        self._last_state: CoreState | None = None
        self._last_sample: Sample | None = None
        self._last_overlay: dict[str, Any] | None = None
        self._last_overlay_t = -math.inf
        self._last_hb_t = -math.inf
        self._last_fb_t = -math.inf
        self._published_prompt_id: str | None = None
        self._stop_requested = threading.Event()
        self._posture: dict[str, Any] | None = None  # newest pose frame for cpr.state; None: posture off

    @property
    def t_last_s(self) -> float:
        """Time of the last processed sample (NaN before any)."""
        return self._t_last

    # ------------------------------------------------------------ sessions
    def _new_analyzer(self) -> None:
        self.analyzer = StreamingAnalyzer(CoreOptions(profile=self.profile.name,
                                                      rest_height_mm=self.options.rest_height_mm))

    def start_session(self, t_s: float | None = None) -> str:
        """Fresh analyzer and coach; publishes cpr.session start."""
        t = self._t_last if t_s is None else t_s
        t = 0.0 if not math.isfinite(t) else t
        self._new_analyzer()
        self.coach = self._new_coach()
        self.coach.start(t)
        self.running = True
        self._session_compressions = 0  # published in this session (stop_session publishes the rest)
        self._t_session = t
        self._published_prompt_id = None
        self.session_id = self.publisher.publish_session("start", profile=self.profile.name, t_s=t,
                                                         trainee=self.options.trainee_id,
                                                         feedback_level=self.coach.level if self.adaptive else None)
        if self.recorder is not None:
            try:
                self.recorder.start(self.session_id, t_s=t, station_id=self.options.station_id,
                                    profile=self.profile.name, source_kind=self.options.source_kind,
                                    source_name=self.options.source_name, trainee_id=self.options.trainee_id,
                                    core={"rest_height_mm": self.analyzer.options.rest_height_mm},
                                    feedback_level=self.coach.level)
            except Exception as exc:  # a full or read-only disk: coach on, say why nothing is recorded
                self.record_error = self.record_error or f"session not recorded: {exc}"
        self.publisher.publish_feedback(None, t_s=t)
        self.stats.sessions += 1
        return self.session_id

    def _new_coach(self) -> Coach:
        """The session's coach: the trainee's plan when there is one (a failing plan is full feedback, never fatal)."""
        opts = CoachOptions()
        self.adaptive = False
        if self.coach_plan is not None:
            try:
                opts = self.coach_plan(self.options.trainee_id, self.profile.name)
                self.adaptive = self.options.trainee_id is not None
            except Exception as exc:  # noqa: BLE001 - an unreadable history must not stop the station
                self.record_error = self.record_error or f"coaching plan not loaded: {exc}"
        return Coach(opts, profile=self.profile)

    def stop_session(self, t_s: float | None = None, reason: str | None = None) -> SessionSummary | None:
        """Publishes cpr.session stop with the summary; returns it (None if no session ran)."""
        if not self.running:
            return None
        t = self._t_last if t_s is None else t_s
        t = self._t_session if not math.isfinite(t) else t
        result = self.analyzer.result()
        summary = result.summary
        for c in result.compressions[self._session_compressions:]:  # the last one, completed by finishing the
            self.publisher.publish_compression(c)                   # analyzer: published and recorded like the
            if self.recorder is not None:                           # rest, so they add up to the summary
                self.recorder.compression(c)
            self.stats.compressions += 1
        self._new_analyzer()  # result() finishes an analyzer; the live state keeps flowing from a fresh one
        self.publisher.publish_feedback(None, t_s=t)
        self.publisher.publish_session("stop", profile=self.profile.name, summary=summary, reason=reason, t_s=t,
                                       trainee=self.options.trainee_id,
                                       feedback_level=self.coach.level if self.adaptive else None)
        if self.recorder is not None:
            self.recorder.stop(summary, t_s=t, reason=reason)
        self.running = False
        self.last_summary = summary
        self.session_id = None
        return summary

    def set_profile(self, name: str) -> None:
        if self.running:
            raise CommandError("stop the session before changing the profile")
        try:
            self.profile = load_profile(name)
        except ProfileError as exc:
            raise CommandError(str(exc)) from None
        self._new_analyzer()
        self.coach = Coach(CoachOptions(), profile=self.profile)

    # ------------------------------------------------------------ per frame
    def process(self, sample: Sample) -> list[Compression]:
        """One frame: analyze, coach, publish. Returns the compressions completed by it."""
        try:
            t = float(sample.t_s)
        except (TypeError, ValueError):
            t = math.nan
        if not math.isfinite(t) or (math.isfinite(self._t_last) and t <= self._t_last):
            self.stats.dropped += 1  # timestamps must be finite and increasing: skip, never die
            return []
        if not math.isfinite(self._t_first):
            self._t_first = t
            if self.options.autostart and not self.running:
                self.start_session(t)
        try:
            height = float(sample.height_mm)
        except (TypeError, ValueError):
            height = math.nan  # a bad measurement is a lost one: the loop goes on
        if height is not sample.height_mm:
            sample = replace(sample, height_mm=height)  # what the overlay, heartbeat and snapshot read too
        self._t_last = t
        self._last_sample = sample
        self.stats.samples += 1
        pub = self.publisher
        if sample.rest_move_mm:
            self._move_rest(t, float(sample.rest_move_mm))
        new = self.analyzer.push(t, height)
        state = self.analyzer.state
        self._last_state = state
        if self.running:
            rec = self.recorder
            if rec is not None:
                rec.sample(t, height, sample.hands_visible if sample.hands_visible is not None else sample.visible)
            for c in new:
                self.coach.on_compression(c, placement_mm=sample.placement_mm)
                cp = self.coach.last_posture  # None (field omitted) when posture is off or had no pose frame
                cpd = None if cp is None else cp.to_dict()
                pub.publish_compression(c, placement_mm=sample.placement_mm, posture=cpd)
                if rec is not None:
                    rec.compression(c, placement_mm=sample.placement_mm, posture=cpd)
                self.stats.compressions += 1
                self._session_compressions += 1
            prompt = self.coach.on_time(t)
            self._publish_feedback(prompt, t)
        pub.publish_state(
            state,
            hands_visible=sample.hands_visible,
            tracker_fps=sample.tracker_fps,
            latency_ms=sample.latency_ms,
            placement_mm=sample.placement_mm,
            t_s=t,
            posture=self._posture,
        )
        if t - self._last_overlay_t >= 0.9 / self.options.overlay_hz:  # tolerate sample-time jitter
            self._last_overlay_t = t
            self._last_overlay = build_overlay(self._scene(t, state, sample), self.options.layout, self.project)
            pub.publish_overlay(self._last_overlay, t_s=t)
        self._publish_picture(sample, t)
        out = list(new) if self.running else []
        self.idle(t)
        return out

    def _move_rest(self, t_s: float, mm: float) -> None:
        """The rest moved (``Sample.rest_move_mm``): this session's core is told, and the next session's starts there."""
        if not math.isfinite(mm):
            return
        self.analyzer.move_rest(mm)
        if self.options.rest_height_mm is not None:
            self.options = replace(self.options, rest_height_mm=self.options.rest_height_mm + mm)
        if self.running and self.recorder is not None:
            self.recorder.event("rest_moved", t_s, mm=mm)

    def _publish_picture(self, sample: Sample, t_s: float) -> None:
        """The frame's picture, if the sample carries one (monitors draw the overlays over it)."""
        if sample.frame_jpeg is not None and sample.frame_size is not None:
            self.publisher.publish_frame(sample.frame_jpeg, width_px=sample.frame_size[0],
                                         height_px=sample.frame_size[1], t_s=t_s)

    def on_posture(self, result: Any) -> None:
        """One pose frame (``vision.posture_worker.PostureResult``, timestamped on this station's clock in ms):
        the coach judges it, and the next ``cpr.state`` carries it. Call it for each ``worker.drain()`` result."""
        body = result.to_dict()
        if result.measurement is not None and self.running:
            judged = self.coach.on_posture(result.measurement, result.t_ms / 1000.0)
            if judged is not None:
                body.update(judged.to_dict())
        self._posture = body

    def idle(self, t_s: float) -> None:
        """Time passes without a frame (camera lost): heartbeat and prompt repeats still go out, and
        remote requests are answered (a live loop that calls ``process`` itself serves the remote here)."""
        if self.remote is not None:
            self.remote.serve_pending()
        if t_s - self._last_hb_t >= self.options.heartbeat_s:
            self._last_hb_t = t_s
            status, fps = self._tracker_status()
            self.publisher.heartbeat(
                source_kind=self.options.source_kind,
                source_name=self.options.source_name,
                tracker_status=status,
                tracker_fps=fps,
                profile=self.profile.name,
                uptime_s=max(0.0, t_s - self._t_first) if math.isfinite(self._t_first) else 0.0,
                t_s=t_s,
            )
        if self.running and t_s - self._last_fb_t >= self.options.feedback_repeat_s:
            self._publish_feedback(self.coach.active, t_s, force=True)

    def _tracker_status(self) -> tuple[str, float | None]:
        """(status, fps) for the heartbeat: "none" before any frame, "ok" with hands seen, else "searching".
        A station that knows more about its source (a lost camera) says so by overriding this."""
        s = self._last_sample
        return ("none", None) if s is None else ("ok" if s.visible else "searching", s.tracker_fps)

    def _publish_feedback(self, prompt: Prompt | None, t: float, force: bool = False) -> None:
        pid = None if prompt is None else prompt.id
        if pid != self._published_prompt_id:
            if pid is not None:
                self.stats.prompts[pid] += 1
            if self.recorder is not None and self.running:
                self.recorder.feedback(prompt, t)
        elif not force:
            return
        self._published_prompt_id = pid
        self._last_fb_t = t
        self.publisher.publish_feedback(prompt, t_s=t)

    def _scene(self, t: float, state: CoreState, sample: Sample) -> SceneInputs:
        proc = self.coach.procedure_state if self.running else None
        prompt = self.coach.active if self.running else None
        return SceneInputs(
            t_s=t,
            profile=self.profile,
            displacement_mm=state.displacement_mm,
            last_depth_mm=state.last_depth_mm,
            rate_cpm=state.rate_cpm,
            metronome=self.coach.metronome_cue(t).to_dict() if self.running else None,
            prompt=None if prompt is None else prompt.to_dict(),
            count_text=None if proc is None or proc.set_index < 0 else proc.count_text,
            procedure_phase=None if proc is None else proc.phase,
            hands_off_s=None if proc is None else proc.hands_off_s,
            placement_mm=sample.placement_mm,
            hands_visible=bool(sample.visible),
            feedback_level=self.coach.level if self.running and self.adaptive else None,
        )

    def record_event(self, kind: str, t_s: float | None = None, **data: Any) -> None:
        """A line on the session record's timeline (source_lost, source_back, rest_hold_waiting, ...).

        Only while a session runs and a recorder is attached; ``t_s`` defaults to the last sample's time.
        """
        if self.recorder is not None and self.running:
            t = self._t_last if t_s is None else float(t_s)
            self.recorder.event(kind, t if math.isfinite(t) else self._t_session, **data)

    # ------------------------------------------------------------ paced loop
    def request_stop(self) -> None:
        """Ask ``run()`` to finish (thread-safe): the session stops with its summary."""
        self._stop_requested.set()

    def run(
        self,
        samples: Iterable[Sample],
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        status: Callable[[str], None] | None = None,
        status_every_s: float = 1.0,
    ) -> SessionSummary | None:
        """Process samples paced by ``clock`` (sample times relative to the first), serving the remote.

        Returns the summary of the last session that ran (None if none did).
        """
        wall0 = clock()
        src0: float | None = None
        next_status = status_every_s
        reason = "source ended"
        try:
            for sample in samples:
                if src0 is None:
                    src0 = sample.t_s
                due = wall0 + (sample.t_s - src0)
                while not self._stop_requested.is_set():
                    if self.remote is not None:
                        self.remote.serve_pending()
                    wait = due - clock()
                    if wait <= 0:
                        break
                    sleep(min(wait, 0.02))
                if self._stop_requested.is_set():
                    reason = "stopped"
                    break
                self.process(sample)
                if status is not None and sample.t_s - src0 >= next_status:
                    next_status += status_every_s
                    status(self.status_line())
        except KeyboardInterrupt:
            reason = "interrupted"
            raise
        finally:
            if self.running:
                self.stop_session(reason=reason)
        return self.last_summary

    def status_line(self) -> str:
        """One line for the console, once a second."""
        st = self._last_state
        t = self._t_last - self._t_first if math.isfinite(self._t_first) else 0.0
        if st is None:
            return f"t {t:6.1f} s  waiting for samples"
        proc = self.coach.procedure_state
        prompt = self.coach.active
        depth = "  --" if not math.isfinite(st.last_depth_mm) else f"{st.last_depth_mm:4.0f}"
        rate = " --" if not math.isfinite(st.rate_cpm) else f"{st.rate_cpm:3.0f}"
        sent = sum(self.publisher.stats.sent.values())
        sess = "rec" if self.running else "---"
        return (
            f"t {t:6.1f} s  {sess}  n {st.compressions:4d}  set {proc.count_text:>7}  depth {depth} mm  "
            f"rate {rate} cpm  {proc.phase:<11}  prompt: {prompt.text if prompt else '-':<26}  sent {sent}"
        )

    # ------------------------------------------------------------ remote control
    def remote_status(self) -> Mapping[str, Any]:
        st = self._last_state
        return {
            "station": self.options.station_id,
            "running": self.running,
            "session": self.session_id,
            "profile": self.profile.name,
            "profile_title": self.profile.title,
            "trainee": self.options.trainee_id,
            "t_s": None if not math.isfinite(self._t_last) else self._t_last,
            "compressions": 0 if st is None else st.compressions,
            "prompt": None if not self.running or self.coach.active is None else self.coach.active.to_dict(),
            "publish": self.publisher.endpoint,
        }

    def remote_start(self, args: Mapping[str, Any]) -> Mapping[str, Any]:
        if self.running:
            raise CommandError(f"a session is already running ({self.session_id})")
        trainee = args.get("trainee")
        if trainee is not None and not isinstance(trainee, str):
            raise CommandError('start: "trainee" must be a string (a trainee id)')
        if trainee:  # the instructor names who trains now: this and later sessions (until another is named)
            self.options = replace(self.options, trainee_id=trainee.strip()[:64])
        sid = self.start_session()
        return {"session": sid, "profile": self.profile.name, "trainee": self.options.trainee_id,
                "feedback_level": self.coach.level}

    def remote_stop(self, args: Mapping[str, Any]) -> Mapping[str, Any]:
        if not self.running:
            raise CommandError("no session is running")
        sid = self.session_id
        summary = self.stop_session(reason="remote stop")
        return {"session": sid, "summary": None if summary is None else summary.to_dict()}

    def remote_set_profile(self, args: Mapping[str, Any]) -> Mapping[str, Any]:
        name = args.get("profile")
        if not isinstance(name, str) or not name:
            raise CommandError('set-profile needs "profile": a profile name')
        self.set_profile(name)
        return {"profile": self.profile.name, "profile_title": self.profile.title}

    def remote_snapshot(self, args: Mapping[str, Any]) -> Mapping[str, Any]:
        st = self._last_state
        s = self._last_sample
        return {
            "station": self.options.station_id,
            "running": self.running,
            "session": self.session_id,
            "profile": self.profile.name,
            "state": None if st is None or s is None else messages.state_body(
                st, hands_visible=bool(s.visible),
                tracker_fps=s.tracker_fps, latency_ms=s.latency_ms, placement_mm=s.placement_mm, session=self.session_id),
            "prompt": None if not self.running or self.coach.active is None else self.coach.active.to_dict(),
            "procedure": self.coach.procedure_state.to_dict() if self.running else None,
            "progress": self._progress() if self.running else None,
            "summary": None if self.last_summary is None else self.last_summary.to_dict(),
            "overlay": self._last_overlay,
        }

    def _progress(self) -> dict[str, Any]:
        """The running session so far: the analyzer's snapshot (non-destructive, unlike result())."""
        s = self.analyzer.snapshot().summary.to_dict()  # (NaN -> None)
        keys = ("compressions", "mean_depth_mm", "mean_rate_cpm", "pct_depth_ok", "pct_rate_ok", "pct_recoil_ok",
                "ccf", "hands_off_s", "sets", "pauses_too_long")
        out: dict[str, Any] = {k: s[k] for k in keys}
        out["duration_s"] = None if not math.isfinite(self._t_session) else self._t_last - self._t_session
        return out

    # ------------------------------------------------------------ lifecycle
    def close(self) -> None:
        if self.running:
            self.stop_session(reason="closed")
        if self.recorder is not None:
            self.recorder.close()  # waits for the session files to be closed and indexed
        if self.remote is not None:
            self.remote.close()
            self.remote = None
        self.publisher.close()
        if self._own_ctx:
            term_context(self._ctx)
            self._own_ctx = False

    def __enter__(self) -> "Station":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
