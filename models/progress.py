"""A dependency-free progress bar for downloads.

Why our own: the only allowed dependencies are mediapipe, numpy, pyzmq and
onnxruntime; a 40-line bar beats adding tqdm. On a terminal it redraws one
line; elsewhere (CI logs) it prints a start and an end line, never a flood.
"""
from __future__ import annotations

import sys
import time
from typing import Callable, Optional, TextIO

# (label, done_bytes, total_bytes or None); called with done == total (or finished=True via close) at the end.
ProgressCallback = Callable[[str, int, Optional[int]], None]


def _fmt_mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


class ProgressBar:
    """Callable progress reporter: ``bar(label, done_bytes, total_bytes)``."""

    def __init__(self, stream: TextIO | None = None, width: int = 30, min_interval_s: float = 0.1) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.min_interval_s = min_interval_s
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._label: str | None = None
        self._last_draw = 0.0
        self._t0 = 0.0

    def __call__(self, label: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        if label != self._label:
            self._finish_line()
            self._label = label
            self._t0 = now
            if not self._tty:
                size = f" ({_fmt_mb(total)})" if total else ""
                print(f"{label}{size} ...", file=self.stream, flush=True)
        finished = total is not None and done >= total
        if self._tty and (finished or now - self._last_draw >= self.min_interval_s):
            self._last_draw = now
            rate = done / max(now - self._t0, 1e-6)
            if total:
                frac = min(done / total, 1.0)
                fill = int(round(frac * self.width))
                bar = "#" * fill + "-" * (self.width - fill)
                text = f"\r{label} [{bar}] {frac * 100:5.1f}% {_fmt_mb(done)}/{_fmt_mb(total)} {rate / 1e6:.1f} MB/s"
            else:
                text = f"\r{label} {_fmt_mb(done)} {rate / 1e6:.1f} MB/s"
            self.stream.write(text)
            self.stream.flush()
        if finished:
            self._finish_line(done)

    def _finish_line(self, done: int | None = None) -> None:
        if self._label is None:
            return
        if self._tty:
            self.stream.write("\n")
        elif done is not None:
            print(f"{self._label}: done, {_fmt_mb(done)}", file=self.stream, flush=True)
        self.stream.flush()
        self._label = None

    def note(self, text: str) -> None:
        """A status line between bars (e.g. "official download unreachable, building from the wheel")."""
        self._finish_line()
        print(text, file=self.stream, flush=True)

    def close(self) -> None:
        self._finish_line()


def note(progress: object, text: str) -> None:
    """Print a status line through a reporter that supports it (``ProgressBar.note``)."""
    fn = getattr(progress, "note", None)
    if callable(fn):
        fn(text)
