"""SIGTERM and SIGHUP end a command exactly as Ctrl-C does.

Why: a station stopped by a service manager (SIGTERM) or a closed terminal
(SIGHUP) must still publish the session stop and write its summary; turning
them into KeyboardInterrupt sends them down the one clean-shutdown path.
"""
from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator


class Terminated(KeyboardInterrupt):
    """Raised in the main thread on SIGTERM or SIGHUP."""


def _raise(signum, _frame) -> None:
    raise Terminated(signal.Signals(signum).name)


@contextlib.contextmanager
def graceful_signals() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise ``Terminated`` (a KeyboardInterrupt)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    wanted = [s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s is not None]
    old = {s: signal.signal(s, _raise) for s in wanted}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
