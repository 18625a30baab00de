"""Run the pose model at about 10 Hz in its own thread, on the newest frame, never delaying the hand path.

Why a worker: posture changes slowly and the pose model costs about as much as
the hand model per frame. The camera loop calls ``submit(frame, t_ms)`` on
every frame; that returns at once, and copies the frame only when a pose
inference is due (10 times a second), so the hand path pays a few
microseconds, not an inference. The worker always takes the newest frame and
drops older ones: it never builds a queue. MediaPipe releases the GIL while it
runs, so the hand tracker keeps running in the camera thread meanwhile. By
default (``isolate``) the model itself runs in a child process with its own
low-weight scheduling group (vision.pose_process): niceness and SCHED_IDLE
only rank threads inside one process's group, so a pose thread here would
still spend the station's CPU share on a busy machine.

Results are ``PostureResult``s (arms in pixels and metres, the posture
measurement in the manikin frame when the station is calibrated). The coach
takes them with ``drain()``, oldest first; viewers get them from the coach's
messages.

A second camera for posture (``run --posture-source``): its own worker, fed by
coach.live.posture_source with frames stamped at capture on the depth camera's
monotonic clock. See docs/posture.md.

One-call hookup for the live station::

    from calibration.posture import measurer
    worker = PostureWorker.start_new(measure=measurer(camera_matrix=K, cam_from_manikin_rotation=R))
    for frame: worker.submit(frame.image, frame.t_ms)          # camera loop, every frame
               for r in worker.drain(): coach.on_posture(r.measurement, r.t_ms / 1000)
    worker.close()
"""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from vision.pose import ArmLandmarks, PoseTracker, PoseTrackerOptions

# (image_px (2,3,2), world_m (2,3,3), visibility (2,3), t_ms) -> a posture measurement
Measure = Callable[[np.ndarray, np.ndarray, np.ndarray, int], object]


@dataclass(frozen=True)
class PostureWorkerOptions:
    """Options of ``PostureWorker``."""

    rate_hz: float = 10.0  # pose inferences per second (at most; the newest frame each time)
    tracker: PoseTrackerOptions = field(default_factory=PoseTrackerOptions)  # the pose model
    history: int = 64  # undrained results kept (the oldest are dropped when the coach falls this far behind)
    nice: int = 10  # the worker thread's (and its inference threads') niceness: the hand path wins the CPU (Linux; 0 = unchanged)
    sched_idle: bool = True  # also Linux's SCHED_IDLE policy: niceness only ranks threads inside one autogroup, idle wins less
    isolate: bool = True  # the pose model in a child process with its own low-weight scheduling group (vision.pose_process)
    copy_frames: bool = True  # submit copies the frame (False: the caller never reuses or draws on a submitted frame)
    start_timeout_s: float = 120.0  # start_new waits this long for the model to load in the thread


@dataclass(frozen=True)
class PostureResult:
    """One pose frame: what the model saw and what it means geometrically."""

    t_ms: int  # the submitted frame's timestamp
    arms: ArmLandmarks | None  # None: no person found
    measurement: object | None  # calibration.posture.PostureMeasurement, None when no person
    infer_ms: float  # pose model + geometry time of this frame

    def retimed(self, t_ms: int) -> "PostureResult":
        """The same pose frame stamped ``t_ms`` (onto another camera's clock: a second posture camera)."""
        from dataclasses import replace

        t = int(t_ms)
        return replace(self, t_ms=t, arms=None if self.arms is None else replace(self.arms, t_ms=t),
                       measurement=None if self.measurement is None else replace(self.measurement, t_ms=t))

    def to_dict(self) -> dict:
        d: dict = {"t_ms": self.t_ms, "found": self.arms is not None}
        if self.arms is not None:
            d.update(self.arms.to_dict())
        if self.measurement is not None:
            d.update(self.measurement.to_dict())
        return d


def tracker_factory(options: PostureWorkerOptions) -> Callable[[], object]:
    """What the worker's thread calls to build its pose model: in a child process (``isolate``) or in-process."""
    if options.isolate:
        from vision.pose_process import PoseProcess

        return lambda: PoseProcess.start(options.tracker)
    return lambda: PoseTracker.create_from_options(options.tracker)


class PostureWorker:
    """A daemon thread that runs the pose model on the newest submitted frame, at most ``rate_hz``."""

    def __init__(
        self,
        options: PostureWorkerOptions,
        make_tracker: Callable[[], object],  # a PoseTracker, or a PoseProcess (same process/close)
        *,
        measure: Measure | None = None,
    ) -> None:
        """Start the thread; it lowers its priority, then builds the tracker with ``make_tracker``.

        Why the tracker is built in the thread: MediaPipe's inference threads are
        created with the graph and inherit the creating thread's niceness, so the
        whole pose model runs below the hand path's priority.
        """
        self.options = options
        self._make_tracker = make_tracker
        self._tracker = None  # PoseTracker | PoseProcess, built in the thread
        self._measure = measure
        self._cond = threading.Condition()
        self._frame: tuple[np.ndarray, int] | None = None
        self._next_due_ms: float = -1e18
        self._undrained: deque[PostureResult] = deque(maxlen=options.history)
        self._stop = False
        self._ready = threading.Event()
        self.start_error: BaseException | None = None
        self.stats = {"submitted": 0, "taken": 0, "processed": 0, "errors": 0, "busy_s": 0.0, "first_error": None}
        self._thread = threading.Thread(target=self._run, name="posture-worker", daemon=True)
        self._thread.start()

    @classmethod
    def start_new(cls, options: PostureWorkerOptions | None = None, measure: Measure | None = None) -> "PostureWorker":
        """Start the worker and wait until its pose model is loaded (fetched and verified on first use).

        ``measure(image_px, world_m, visibility, t_ms)`` turns arms into a posture
        measurement (``calibration.posture.measurer(...)``; vision does not know
        the manikin frame). Raises ``models.ModelError`` (one line) when no pose model is available.
        """
        options = options or PostureWorkerOptions()
        worker = cls(options, tracker_factory(options), measure=measure)
        if not worker._ready.wait(options.start_timeout_s):
            worker.close()
            raise TimeoutError(f"the pose model did not load within {options.start_timeout_s:.0f} s")
        if worker.start_error is not None:
            worker.close()
            raise worker.start_error
        return worker

    # ------------------------------------------------------------ camera thread
    def submit(self, image_bgr: np.ndarray, t_ms: int) -> bool:
        """Offer a frame; returns True when it was taken for a pose inference (copied), else at once."""
        self.stats["submitted"] += 1
        if t_ms < self._next_due_ms:
            return False
        frame = np.array(image_bgr, copy=True) if self.options.copy_frames else image_bgr  # a camera may reuse its buffer
        with self._cond:
            self._frame = (frame, int(t_ms))
            period = 1000.0 / self.options.rate_hz
            # keep the nominal 10 Hz grid (30 fps frames land on it every 3.3 frames), restart it after a gap
            due = self._next_due_ms + period
            self._next_due_ms = due if t_ms - due < period else t_ms + period
            self._cond.notify()
        self.stats["taken"] += 1
        return True

    def drain(self) -> list[PostureResult]:
        """Results not yet drained, oldest first (for the coach)."""
        with self._cond:
            out = list(self._undrained)
            self._undrained.clear()
        return out

    # ------------------------------------------------------------ worker thread
    def _lower_priority(self) -> None:
        """SCHED_IDLE: this thread runs only on CPU time the hand path (same process) leaves."""
        from vision.pose_process import lower_thread

        lower_thread(threading.get_native_id(), self.options.nice, self.options.sched_idle)

    def _run(self) -> None:
        self._lower_priority()
        try:
            self._tracker = self._make_tracker()
        except BaseException as exc:  # reported by start_new, in the caller's thread
            self.start_error = exc
            self._ready.set()
            return
        self._ready.set()
        while True:
            with self._cond:
                while self._frame is None and not self._stop:
                    self._cond.wait()
                if self._stop:
                    return
                frame, t_ms = self._frame
                self._frame = None
            t0 = time.perf_counter()
            try:
                result = self.process(frame, t_ms)
            except Exception as exc:  # a bad frame never kills the worker: counted, first cause kept
                self.stats["errors"] += 1
                if self.stats["first_error"] is None:
                    self.stats["first_error"] = f"{type(exc).__name__}: {exc}"
                continue
            self.stats["busy_s"] += time.perf_counter() - t0
            self.stats["processed"] += 1
            with self._cond:
                self._undrained.append(result)

    def process(self, image_bgr: np.ndarray, t_ms: int) -> PostureResult:
        """One pose frame, synchronously (the thread's body; also for offline analysis)."""
        t0 = time.perf_counter()
        arms = self._tracker.process(image_bgr, t_ms)
        m = None
        if arms is not None and self._measure is not None and np.isfinite(arms.world_m).all():
            m = self._measure(arms.image_px, arms.world_m, arms.visibility, int(t_ms))
        return PostureResult(int(t_ms), arms, m, (time.perf_counter() - t0) * 1000.0)

    def close(self, timeout_s: float = 5.0) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join(timeout_s)
        if self._tracker is not None:
            self._tracker.close()

    def __enter__(self) -> "PostureWorker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
