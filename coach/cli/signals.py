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
    with _handled(("SIGTERM", "SIGHUP"), _raise):
        yield


@contextlib.contextmanager
def deferred_signals(request_stop) -> Iterator[list[str]]:
    """Within the block, SIGINT, SIGTERM and SIGHUP call ``request_stop(signal_name)`` instead of raising.

    Why: a live loop asked to stop between frames never leaves a frame half done (a compression
    published but not counted would be published again by the session stop). Yields the list of
    the names of the signals caught. Outside the main thread it changes nothing.
    """
    caught: list[str] = []

    def _stop(signum, _frame) -> None:
        caught.append(signal.Signals(signum).name)
        request_stop(caught[-1])

    with _handled(("SIGINT", "SIGTERM", "SIGHUP"), _stop):
        yield caught


@contextlib.contextmanager
def _handled(names: tuple[str, ...], handler) -> Iterator[None]:
    """Within the block, the named signals (those this platform has) go to ``handler``; outside the
    main thread nothing changes (Python allows handlers only there). The old handlers come back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    wanted = [s for s in (getattr(signal, n, None) for n in names) if s is not None]
    old = {s: signal.signal(s, handler) for s in wanted}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
