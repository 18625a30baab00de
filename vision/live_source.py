"""Live sources (cameras, RTSP/HTTP streams): newest frame only, never raise.

Why a background reader thread that keeps only the newest frame: when
processing is slower than the camera, a queue would make latency grow
without bound; the coach must react to what the hands do *now*. Frames are
stamped with the clock right after the driver hands them over (capture
time), not when the consumer gets round to them.

Why a lost state instead of exceptions: a camera that is unplugged, or a
stream that drops, must not end a training session. The reader reconnects
with exponential backoff; meanwhile the consumer receives ``Frame.lost``
markers every ``lost_poll_s`` so its loop (overlays, heartbeat) keeps running.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Protocol

import numpy as np

from vision.source_base import Frame, FrameSource, SourceOptions, SourceState


class Capture(Protocol):
    """The part of ``cv2.VideoCapture`` a live source uses (tests wrap real captures to inject faults)."""

    def isOpened(self) -> bool: ...
    def read(self) -> tuple[bool, Any]: ...
    def release(self) -> None: ...


CaptureFactory = Callable[[], Capture]
Clock = Callable[[], float]


class LiveSource(FrameSource):
    """Read ``factory()``'s capture in a thread; reopen it with backoff when it fails."""

    is_live = True

    def __init__(
        self,
        factory: CaptureFactory,
        *,
        name: str = "live",
        kind: str = "live",
        options: SourceOptions | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self.options = options or SourceOptions()
        self.name = name
        self.kind = kind
        self._factory = factory
        self._clock = clock
        self._t0 = clock()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._state = SourceState.CONNECTING
        self._latest: Frame | None = None
        self._delivered_index = -1
        self._last_t_ms = -1
        self._last_frame_at = self._t0
        self._index = 0
        self._size: tuple[int, int] | None = None
        self._last_lost_emit = -1e9
        # counters a status line or heartbeat can show
        self.frames_captured = 0
        self.frames_dropped = 0
        self.reconnects = 0
        self.open_failures = 0  # attempts to open the capture that failed
        self.last_error: str | None = None
        self._thread = threading.Thread(target=self._run, name=f"cpr-coach-source:{name}", daemon=True)
        self._thread.start()

    # ---- reader thread -------------------------------------------------
    def _set_state(self, state: SourceState, error: str | None = None) -> None:
        with self._cond:
            self._state = state
            if error:
                self.last_error = error
            self._cond.notify_all()

    def _publish(self, image: np.ndarray, t_s: float) -> None:
        with self._cond:
            t_ms = int(round((t_s - self._t0) * 1000.0))
            if t_ms <= self._last_t_ms:
                t_ms = self._last_t_ms + 1
            self._last_t_ms = t_ms
            if self._latest is not None and self._latest.index > self._delivered_index:
                self.frames_dropped += 1  # the consumer never saw it: newest-only by design
            self._latest = Frame(image, t_ms, self._index, t_capture_s=t_s)
            self._index += 1
            self.frames_captured += 1
            self._last_frame_at = t_s
            self._size = (int(image.shape[1]), int(image.shape[0]))
            self._state = SourceState.LIVE
            self._cond.notify_all()

    def _open(self) -> Capture | None:
        try:
            cap = self._factory()
        except Exception as exc:  # a driver error must not kill the reader
            self.last_error = f"open failed: {exc}"
            return None
        if cap is None or not cap.isOpened():
            if cap is not None:
                cap.release()
            self.last_error = "open failed"
            return None
        return cap

    def _run(self) -> None:
        delay = self.options.reconnect_initial_s
        attempts = 0
        while not self._stop.is_set():
            cap = self._open()
            if cap is None:
                with self._cond:
                    self.open_failures += 1
                self._set_state(SourceState.LOST)
                attempts += 1
                if self.options.max_reconnects is not None and attempts > self.options.max_reconnects:
                    self._set_state(SourceState.ENDED, f"gave up after {attempts} attempts")
                    return
                self._stop.wait(delay)
                delay = min(delay * 2.0, self.options.reconnect_max_s)
                continue
            if attempts:
                self.reconnects += 1
            failures = 0
            try:
                while not self._stop.is_set():
                    try:
                        ok, image = cap.read()
                    except Exception as exc:
                        ok, image = False, None
                        self.last_error = f"read failed: {exc}"
                    t_s = self._clock()
                    if ok and image is not None and getattr(image, "size", 0):
                        failures = 0
                        attempts = 0
                        delay = self.options.reconnect_initial_s
                        self._publish(image, t_s)
                        continue
                    if getattr(cap, "eof", False):  # a realtime file reached its end
                        if self.options.loop:
                            break
                        self._set_state(SourceState.ENDED)
                        return
                    failures += 1
                    if failures >= self.options.max_read_failures:
                        break
                    self._stop.wait(0.01)
            finally:
                try:
                    cap.release()
                except Exception:
                    pass
            if not self._stop.is_set() and not getattr(cap, "eof", False):
                attempts += 1
                self._set_state(SourceState.LOST, self.last_error or "read failed")
                self._stop.wait(delay)
                delay = min(delay * 2.0, self.options.reconnect_max_s)

    # ---- consumer side -------------------------------------------------
    @property
    def origin_s(self) -> float:
        """The clock's reading at ``t_ms == 0``: source times map to the clock as ``origin_s + t_ms / 1000``."""
        return self._t0

    @property
    def state(self) -> SourceState:
        with self._cond:
            if self._state is SourceState.LIVE and self._clock() - self._last_frame_at > self.options.stall_timeout_s:
                return SourceState.LOST  # the driver hangs without failing: still lost to the consumer
            return self._state

    def wait_ready(self, timeout_s: float) -> bool:
        """True once the first frame has arrived; False when the first open failed or ``timeout_s`` passed.

        Why: a camera that cannot be opened at all is a setup mistake to report in one line at
        start, not a lost camera to wait for (that is for a camera that goes away mid-session).
        """
        deadline = self._clock() + timeout_s
        with self._cond:
            while self._latest is None:
                now = self._clock()
                if self.open_failures or self._state is SourceState.ENDED or now >= deadline:
                    return False
                self._cond.wait(min(0.05, deadline - now))
            return True

    def _lost_marker(self, now: float) -> Frame:
        t_ms = max(int(round((now - self._t0) * 1000.0)), self._last_t_ms + 1)
        self._last_t_ms = t_ms
        self._last_lost_emit = now
        return Frame.lost_marker(t_ms, self._delivered_index, t_capture_s=now)

    def read(self, timeout_s: float | None = None) -> Frame | None:
        """The next newer frame, a lost marker, or None when ``timeout_s`` passes while connecting/live.

        Raises ``StopIteration`` once the source has ended or was closed.
        """
        deadline = None if timeout_s is None else self._clock() + timeout_s
        poll = self.options.lost_poll_s
        with self._cond:
            while True:
                latest = self._latest
                if latest is not None and latest.index > self._delivered_index:
                    self._delivered_index = latest.index
                    return latest
                if self._state is SourceState.ENDED or self._stop.is_set():
                    raise StopIteration
                now = self._clock()
                stalled = self._state is SourceState.LIVE and now - self._last_frame_at > self.options.stall_timeout_s
                lost = self._state is SourceState.LOST or stalled or (
                    self._state is SourceState.CONNECTING and now - self._t0 > self.options.stall_timeout_s
                )
                if lost and now - self._last_lost_emit >= poll:
                    return self._lost_marker(now)
                if deadline is not None and now >= deadline:
                    return None
                wait = poll if deadline is None else min(poll, max(deadline - now, 0.0))
                if lost:
                    wait = min(wait, max(poll - (now - self._last_lost_emit), 0.001))
                self._cond.wait(wait)

    def __next__(self) -> Frame:
        while True:
            frame = self.read(timeout_s=None)
            if frame is not None:
                return frame

    def close(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout=2.0)
        with self._cond:
            self._state = SourceState.ENDED
