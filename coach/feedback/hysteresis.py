"""Runs, not single compressions, raise and clear a prompt.

Why: a prompt that flips with every compression is noise the trainee learns to
ignore. Like the CPRmeter (4 consecutive), a prompt appears after ``on_run``
consecutive off-target verdicts in the same direction and clears after
``off_run`` consecutive on-target ones. A verdict of None (no evidence) leaves
the counts as they are.
"""
from __future__ import annotations


class RunLatch:
    """Latches "low"/"high" after a run; releases after a run of "ok"."""

    def __init__(self, on_run: int, off_run: int) -> None:
        if on_run < 1 or off_run < 1:
            raise ValueError("on_run and off_run must be >= 1")
        self.on_run = on_run
        self.off_run = off_run
        self.latched: str | None = None
        self._run_value: str | None = None
        self._run = 0

    def reset(self) -> None:
        self.latched = None
        self._run_value = None
        self._run = 0

    def update(self, verdict: str | None) -> str | None:
        """Feed one verdict; return the latched direction (None = no prompt)."""
        if verdict is None:
            return self.latched
        if verdict == self._run_value:
            self._run += 1
        else:
            self._run_value, self._run = verdict, 1
        if verdict == "ok":
            if self.latched is not None and self._run >= self.off_run:
                self.latched = None
        elif verdict != self.latched and self._run >= self.on_run:
            self.latched = verdict
        return self.latched
