"""The session file's writer thread: recording never blocks tracking.

Why a thread and a queue: the station loop only appends to a queue (microseconds); a writer
thread turns items into lines. Lines are flushed to the OS whenever the queue runs dry and at least
every ``flush_interval_s`` under load, so a compression is in the OS's hands (it survives SIGKILL of
this process) well within a second of being published; ``fsync`` (survives a power cut) runs at most
once per ``fsync_interval_s``. Memory is bounded: past ``max_pending_samples`` queued samples, new
samples are dropped (counted, and noted in the file as a ``samples_thinned`` event); compressions,
feedback, events and the summary are never dropped.

While the file is open the writer holds an exclusive ``flock`` on it, so another process can tell a
live session from one whose writer died (the OS releases the lock even on SIGKILL).
"""
from __future__ import annotations

import os
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from coach.records import format as fmt

try:  # POSIX: the liveness lock; elsewhere the store falls back to the file's age
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


@dataclass(frozen=True)
class WriterOptions:
    flush_interval_s: float = 0.25  # under sustained load, flush to the OS at least this often
    fsync_interval_s: float = 1.0  # fsync at most once per this many seconds (and at close)
    max_pending_samples: int = 20000  # queued samples beyond this are dropped (thinned); ~11 min at 30 fps


_CLOSE = object()


class SessionWriter:
    """Appends lines to one session file from a background thread.

    ``put(line_dict, sample=False)`` never blocks. ``on_opened(writer)`` runs first in the writer
    thread; ``close()`` drains, fsyncs, closes and calls ``on_closed(writer)`` from the writer thread
    (the store updates its index in both, so no SQLite call runs on the caller's loop).
    """

    def __init__(self, path: Path, header: Mapping[str, Any], options: WriterOptions = WriterOptions(),
                 on_closed: Callable[["SessionWriter"], None] | None = None,
                 on_opened: Callable[["SessionWriter"], None] | None = None) -> None:
        self.path = Path(path)
        self.options = options
        self.on_closed = on_closed
        self.on_opened = on_opened  # called first thing in the writer thread (the store indexes the session there)
        self.samples_written = 0
        self.samples_thinned = 0
        self.lines_written = 0
        self.lines_unencodable = 0  # lines skipped because JSON cannot encode them
        self.error: str | None = None  # first write error (the loop never sees it raised)
        self.index_error: str | None = None
        self._pending_samples = 0
        self._thin_noted = 0
        self._q: "queue.SimpleQueue[Any]" = queue.SimpleQueue()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "a", encoding="utf-8")  # errors here reach the caller: nothing recorded yet
        if fcntl is not None:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._fh.write(fmt.dumps(header) + "\n")
        self._fh.flush()
        self._closed = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._main, name=f"session-writer-{self.path.stem}", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ producer side (the station loop)
    def put(self, line: Mapping[str, Any], *, sample: bool = False) -> bool:
        """Queue one line; False when a sample was thinned or the writer is closed."""
        if self._closed:
            return False
        if sample:
            if self._pending_samples >= self.options.max_pending_samples:
                self.samples_thinned += 1
                return False
            self._pending_samples += 1  # (a racy counter is fine: it only bounds memory)
        self._q.put((line, sample))
        return True

    def close(self, wait: bool = False, timeout_s: float | None = 10.0) -> None:
        """No more lines; the thread drains, fsyncs and closes the file. ``wait``: block until done."""
        if not self._closed:
            self._closed = True
            self._q.put(_CLOSE)
        if wait:
            self.wait(timeout_s)

    def wait(self, timeout_s: float | None = 10.0) -> bool:
        """Block until the file is closed (True) or the timeout passes (False)."""
        return self._done.wait(timeout_s)

    # ------------------------------------------------------------ writer thread
    def _write(self, line: Mapping[str, Any]) -> None:
        if self.error is not None:
            return  # a failed disk: keep draining so memory stays bounded
        try:
            text = fmt.dumps(line)
        except (TypeError, ValueError):  # e.g. an event with an object JSON cannot hold: that line only
            self.lines_unencodable += 1
            return
        try:
            self._fh.write(text + "\n")
            self.lines_written += 1
        except (OSError, ValueError) as exc:
            self.error = f"{self.path}: cannot write: {exc}"

    def _flush(self, fsync: bool) -> None:
        if self.error is not None:
            return
        try:
            self._fh.flush()
            if fsync:
                os.fsync(self._fh.fileno())
        except OSError as exc:
            self.error = f"{self.path}: cannot write: {exc}"

    def _main(self) -> None:
        opts = self.options
        last_flush = last_fsync = time.monotonic()
        dirty = False
        try:
            if self.on_opened is not None:
                try:
                    self.on_opened(self)
                except Exception as exc:  # an index that cannot be written: the file still is; the next open indexes it
                    self.index_error = f"{self.path}: cannot index: {exc}"
            while True:
                try:
                    item = self._q.get(timeout=opts.flush_interval_s)
                except queue.Empty:
                    item = None
                if item is _CLOSE:
                    break
                if item is not None:
                    line, is_sample = item
                    if is_sample:
                        self._pending_samples -= 1
                        self.samples_written += 1
                    if self.samples_thinned > self._thin_noted:  # say so in the file, once per burst
                        self._write({"kind": "event", "t_s": line.get("t_s"), "event": "samples_thinned",
                                     "data": {"dropped_total": self.samples_thinned}})
                        self._thin_noted = self.samples_thinned
                    self._write(line)
                    dirty = True
                now = time.monotonic()
                if dirty and (self._q.empty() or now - last_flush >= opts.flush_interval_s):
                    fsync = now - last_fsync >= opts.fsync_interval_s
                    self._flush(fsync)
                    last_flush, dirty = now, False
                    if fsync:
                        last_fsync = now
            self._flush(True)
        finally:
            try:
                self._fh.close()  # releases the flock
            except OSError:
                pass
            try:
                if self.on_closed is not None:
                    self.on_closed(self)
            finally:
                self._done.set()
