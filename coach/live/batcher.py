"""One hand tracker shared by several stations, their frames batched into one ``detect_many`` call.

Why: an ONNX model runs several frames at once for little more than one (and on a GPU for about
the same), so a server with one camera per manikin batches the stations' frames instead of running
one tracker per station. Each station's tracking thread calls its member's ``detect`` as it calls
any tracker's; the batch thread gathers the frames that are waiting, until every open member has
one or ``window_s`` has passed since the first, and runs them together (each member is its own
stream, so tracking state never mixes between cameras).

    batch = TrackerBatcher(onnx_tracker)
    t1 = batch.member("bay1")      # a tracker for bay1's pipeline (detect / close)
    t2 = batch.member("bay2")
    ...
    batch.close()                  # after the members
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Hashable


@dataclass
class _Request:
    image: Any
    t_ms: int | None
    roi_px: Any
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None


class BatchMember:
    """One station's view of the shared tracker: the ``HandTracker`` contract (``detect``, ``close``)."""

    def __init__(self, batcher: "TrackerBatcher", key: Hashable, roi_px=None) -> None:
        self._b = batcher
        self.key = key
        self.roi_px = roi_px  # this station's search area when the caller gives none (its calibration's)

    def detect(self, image, t_ms: int | None = None, roi_px=None):
        return self._b._detect(self.key, image, t_ms, roi_px if roi_px is not None else self.roi_px)

    def close(self) -> None:
        self._b._leave(self.key)

    def __getattr__(self, name):  # stats and the like: the shared tracker's
        return getattr(self._b.tracker, name)


class TrackerBatcher:
    """Batches the members' frames through ``tracker.detect_many(images, t_ms, roi_px, streams=...)``."""

    def __init__(self, tracker, window_s: float = 0.005) -> None:
        self.tracker = tracker
        self.window_s = window_s  # longest a frame waits for the other stations' frames
        self.batches = 0  # detect_many calls
        self.frames = 0  # frames through them
        self._cond = threading.Condition()
        self._members: set[Hashable] = set()
        self._pending: dict[Hashable, _Request] = {}
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="cpr-coach-batch", daemon=True)
        self._thread.start()

    def member(self, key: Hashable, roi_px=None) -> BatchMember:
        with self._cond:
            if key in self._members:
                raise ValueError(f"tracker batch: {key!r} is already a member")
            self._members.add(key)
        return BatchMember(self, key, roi_px)

    @property
    def mean_batch(self) -> float:
        return self.frames / self.batches if self.batches else 0.0

    def _detect(self, key, image, t_ms, roi_px):
        req = _Request(image, t_ms, roi_px)
        with self._cond:
            if self._closed:
                raise RuntimeError("tracker batch is closed")
            self._pending[key] = req
            self._cond.notify_all()
        req.done.wait()
        if req.error is not None:
            raise req.error
        return req.result

    def _leave(self, key) -> None:
        with self._cond:
            self._members.discard(key)
            if hasattr(self.tracker, "reset"):
                self.tracker.reset(key)
            self._cond.notify_all()

    def _run(self) -> None:
        import time

        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if self._closed and not self._pending:
                    return
                end = time.monotonic() + self.window_s
                while not self._members <= self._pending.keys() and not self._closed:
                    left = end - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                batch, self._pending = self._pending, {}
            keys = list(batch)
            reqs = [batch[k] for k in keys]
            try:
                out = self.tracker.detect_many([r.image for r in reqs], [r.t_ms for r in reqs],
                                               [r.roi_px for r in reqs], streams=keys)
                for r, res in zip(reqs, out):
                    r.result = res
            except Exception as exc:  # noqa: BLE001 - each station's loop handles its own bad frame
                for r in reqs:
                    r.error = exc
            self.batches += 1
            self.frames += len(reqs)
            for r in reqs:
                r.done.set()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=5)
        self.tracker.close()
