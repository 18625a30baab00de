"""The resting-hand baseline: hands on the chest, not pushing, for about 2 s.

Why: depth is measured from the chest's rest position. The camera sees the top
of the hands, not the chest, so the rest position is "where the hands are when
they rest on the chest". Recording it before the first compression lets the
core measure a trainee who leans on every compression against the true rest,
instead of against a baseline that sinks with the leaning.

Streaming, so the live app and offline analysis share it: push one sample per
frame; the estimate is final when the hold ends (the hands start moving) or
reaches ``max_s``.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RestOptions:
    hold_s: float = 2.0  # the hands must stay still this long
    min_hold_s: float = 1.5  # ...but a slightly short rest (trainees count fast) still counts
    tolerance: float = 4.0  # peak-to-peak spread allowed while resting (mm, or px in the fallback)
    max_gap_s: float = 0.3  # a longer run of missing samples restarts the hold
    max_s: float = 4.0  # stop extending the hold after this long (the estimate is final)
    valid_range: tuple[float, float] = (-math.inf, math.inf)  # plausible rest values (e.g. mm above the chest)
    smooth_samples: int = 5  # running median over this many samples before judging stillness (frame noise)


@dataclass(frozen=True)
class RestEstimate:
    value: float  # median of the held samples (mm, or px)
    t_start_s: float
    t_end_s: float
    samples: int
    spread: float  # peak-to-peak of the held samples

    @property
    def duration_s(self) -> float:
        return self.t_end_s - self.t_start_s


class RestDetector:
    """Finds the first still hold of at least ``min_hold_s``; ``push`` returns it once final."""

    def __init__(self, options: RestOptions | None = None) -> None:
        self.opt = options or RestOptions()
        self._win: deque[tuple[float, float]] = deque()
        self._raw: deque[float] = deque(maxlen=max(1, self.opt.smooth_samples))
        self._last_t: float | None = None
        self.result: RestEstimate | None = None

    @property
    def done(self) -> bool:
        return self.result is not None

    def _candidate(self) -> RestEstimate | None:
        if not self._win:
            return None
        t0, t1 = self._win[0][0], self._win[-1][0]
        if t1 - t0 < self.opt.min_hold_s:
            return None
        v = np.array([s[1] for s in self._win])
        return RestEstimate(float(np.median(v)), t0, t1, len(v), float(v.max() - v.min()))

    def push(self, t_s: float, value: float) -> RestEstimate | None:
        """Feed one sample (NaN = no measurement). Returns the estimate when it becomes final."""
        if self.result is not None:
            return None
        opt = self.opt
        if not math.isfinite(value) or not (opt.valid_range[0] <= value <= opt.valid_range[1]):
            if self._last_t is not None and t_s - self._last_t > opt.max_gap_s:
                cand = self._candidate()
                if cand is not None:
                    self.result = cand
                    return cand
                self._win.clear()
                self._raw.clear()
            return None
        self._last_t = t_s
        self._raw.append(value)
        value = float(np.median(self._raw))
        self._win.append((t_s, value))
        vals = [s[1] for s in self._win]
        if max(vals) - min(vals) > opt.tolerance:
            # The hold is broken by this sample: a long enough hold before it is the rest.
            self._win.pop()
            cand = self._candidate()
            if cand is not None:
                self.result = cand
                return cand
            self._win.append((t_s, value))
            while len(self._win) > 1:
                vals = [s[1] for s in self._win]
                if max(vals) - min(vals) <= opt.tolerance:
                    break
                self._win.popleft()
            return None
        if self._win[-1][0] - self._win[0][0] >= opt.max_s:
            self.result = self._candidate()
            return self.result
        return None

    def finish(self) -> RestEstimate | None:
        """End of input: a long enough hold still open becomes the result."""
        if self.result is None:
            self.result = self._candidate()
        return self.result
