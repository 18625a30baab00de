"""A second camera for posture (``cpr-coach run --posture-source SRC``), synchronised by timestamps.

Why a second camera: the camera that measures depth wants the chest from the side, low and close;
where it cannot also see the rescuer's arms across (a headset, a camera mounted at the manikin),
a second camera watches the rescuer. Nothing links the two cameras' frames but time, so both are
stamped with the same monotonic clock when the driver hands a frame over (``Frame.t_capture_s``).

``PostureFeed`` reads the second source in its own thread (newest frame only, as any live source)
and offers each frame to its ``PostureWorker`` stamped with its capture time in monotonic ms. The
live loop (``LiveLoop(posture_source=feed)``) moves each finished pose frame onto the hand camera's
clock with the hand frame's own capture offset, and gives it to the station with the first hand
frame captured at or after it: so a compression takes the posture seen during its own time span,
and ``cpr.state`` never carries a pose from after its own frame.

    feed = PostureFeed.start(open_source("1", SourceOptions(realtime=True)), worker)
    LiveLoop(hand_source, pipeline, station, posture=worker, posture_source=feed).run()
    feed.close()
"""
from __future__ import annotations

import threading
from typing import Any


class PostureFeed:
    """The second camera's frames into a pose worker, stamped on the monotonic clock (ms)."""

    def __init__(self, source, worker) -> None:
        self.source = source
        self.worker = worker
        self.frames = 0  # frames read from the posture camera
        self.lost = 0  # lost markers (camera unplugged or stream down)
        self.ended = False  # the source ended (a file played as a camera)
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpr-coach-posture-source", daemon=True)

    @classmethod
    def start(cls, source, worker) -> "PostureFeed":
        feed = cls(source, worker)
        feed._thread.start()
        return feed

    @staticmethod
    def clock_ms(frame: Any) -> int:
        """A frame's capture time on the monotonic clock, in ms: the one time base both cameras share."""
        return int(round(frame.t_capture_s * 1000.0))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                frame = self.source.read(timeout_s=0.1)
            except StopIteration:
                self.ended = True
                return
            except Exception as exc:  # noqa: BLE001 - a failing posture camera costs posture, never the station
                self.error = f"posture source {self.source.name}: {type(exc).__name__}: {exc}"
                return
            if frame is None:
                continue
            if frame.lost or frame.t_capture_s is None:
                self.lost += int(frame.lost)
                continue
            self.frames += 1
            try:
                self.worker.submit(frame.image, self.clock_ms(frame))
            except Exception as exc:  # noqa: BLE001
                self.error = f"posture source {self.source.name}: {type(exc).__name__}: {exc}"
                return

    def problem(self) -> str | None:
        """One line for the run's warnings when the posture camera let posture down; None when it delivered.
        Why: a second camera that never delivers costs the session its posture without stopping anything, so
        the trainee and instructor must be told at the end, not left to wonder why posture stayed empty."""
        if self.error:
            return self.error
        name = getattr(self.source, "name", "?")
        if self.frames == 0:
            if self.lost:
                why = f"{self.lost} lost" + (", then it ended" if self.ended else "")
            else:
                why = "it ended at once" if self.ended else "none arrived"
            return f"posture source {name}: no frames ({why}): no posture this session"
        if self.lost:
            return (f"posture source {name}: lost {self.lost} time(s) (camera unplugged or stream down): "
                    "posture has gaps")
        return None

    def close(self, timeout_s: float = 2.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)
        self.source.close()
