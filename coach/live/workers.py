"""Side jobs off the tracking thread, newest-only: JPEG frames for ``cpr.frame`` and the preview.

Why newest-only: a viewer wants the picture of *now*; if encoding or drawing falls behind, the
frames it never got to are dropped, never queued, so tracking never waits and memory stays flat.

    enc = JpegEncoder(width_px=640, quality=75)
    enc.submit(image)             # tracking thread: returns at once
    jpeg = enc.take()             # later: (bytes, (w, h)) of the newest encoded frame, or None
    enc.close()
"""
from __future__ import annotations

import math
import threading
import time
from typing import Any, Callable, Generic, TypeVar

import numpy as np

In = TypeVar("In")
Out = TypeVar("Out")


class NewestWorker(Generic[In, Out]):
    """Runs ``fn`` on the newest submitted item in its own thread; older pending items are replaced."""

    def __init__(self, fn: Callable[[In], Out], name: str) -> None:
        self._fn = fn
        self._cond = threading.Condition()
        self._pending: In | None = None
        self._has_pending = False
        self._result: Out | None = None
        self._has_result = False
        self._stop = False
        self.submitted = 0
        self.done = 0
        self.replaced = 0  # items dropped because a newer one came first
        self.errors = 0
        self.first_error: str | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, item: In) -> None:
        with self._cond:
            if self._has_pending:
                self.replaced += 1
            self._pending, self._has_pending = item, True
            self.submitted += 1
            self._cond.notify()

    def take(self) -> Out | None:
        """The newest result not yet taken (None if none)."""
        with self._cond:
            if not self._has_result:
                return None
            out, self._result, self._has_result = self._result, None, False
            return out

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._has_pending and not self._stop:
                    self._cond.wait()
                if self._stop:
                    return
                item, self._pending, self._has_pending = self._pending, None, False
            try:
                out = self._fn(item)  # type: ignore[arg-type]
            except Exception as exc:  # noqa: BLE001 - a side job never stops the station
                self.errors += 1
                if self.first_error is None:
                    self.first_error = f"{type(exc).__name__}: {exc}"
                continue
            with self._cond:
                self._result, self._has_result = out, True
                self.done += 1

    def close(self, timeout_s: float = 2.0) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join(timeout=timeout_s)


def encode_jpeg(image: np.ndarray, width_px: int, quality: int) -> tuple[bytes, tuple[int, int]] | None:
    """The image scaled to ``width_px`` (aspect kept; never enlarged) as JPEG bytes and its size."""
    import cv2

    h, w = image.shape[:2]
    if width_px and w > width_px:
        nh = max(1, int(round(h * width_px / w)))
        image = cv2.resize(image, (width_px, nh), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        return None
    return buf.tobytes(), (int(image.shape[1]), int(image.shape[0]))


class JpegEncoder(NewestWorker[np.ndarray, "tuple[bytes, tuple[int, int]] | None"]):
    """``cpr.frame`` pictures, encoded in their own thread at most as often as they are submitted."""

    def __init__(self, width_px: int = 640, quality: int = 75) -> None:
        super().__init__(lambda img: encode_jpeg(img, width_px, quality), name="cpr-coach-jpeg")


class Preview(NewestWorker[tuple[np.ndarray, Any, float], bool]):
    """A window with the overlay drawn over the camera picture (needs a display).

    The window lives in this worker's thread only (HighGUI wants one thread). ``q`` or Esc in the
    window, or closing it, sets ``closed``; the station goes on (the window is only a view).
    """

    TITLE = "cpr-coach run"

    def __init__(self) -> None:
        self.closed = False
        super().__init__(self._show, name="cpr-coach-preview")

    def _show(self, item: tuple[np.ndarray, Any, float]) -> bool:
        import cv2

        from overlays.render import draw_overlay

        if item is None:  # closing: the window goes with the thread that made it
            cv2.destroyAllWindows()
            return False
        if self.closed:
            return False
        image, overlay, t_s = item
        img = image.copy()
        if overlay is not None:
            draw_overlay(img, overlay, t_s=None if not math.isfinite(t_s) else t_s)
        cv2.imshow(self.TITLE, img)
        key = cv2.waitKey(1) & 0xFF
        if key in (27, ord("q")) or cv2.getWindowProperty(self.TITLE, cv2.WND_PROP_VISIBLE) < 1:
            self.closed = True
            cv2.destroyWindow(self.TITLE)
        return True

    def close(self, timeout_s: float = 2.0) -> None:
        self.submit(None)  # type: ignore[arg-type]
        end = time.monotonic() + timeout_s / 2
        while self.done + self.errors < self.submitted - self.replaced and time.monotonic() < end:
            time.sleep(0.01)
        super().close(timeout_s)
