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


@dataclass(frozen=True)
class ReturnOptions:
    """When the hands count as back from a pause, and how their first rest is found."""

    away_s: float = 1.0  # hands away this long (no tracked point, or higher than away_mm above the rest): a pause
    away_mm: float = 60.0  # ... above the rest level: lifted off (a stack put back on one hand rests up to ~45 higher)
    wait_s: float = 3.0  # from their return, how long a rest is looked for at most (the live feed waits as long) ...
    rise_mm: float = 15.0  # ... but only until the first stroke has gone down and come back up this much
    # the rest between landing and the first downstroke: the simulator's hands rest 0.2-0.5 s (rendered, within the
    # 4 mm and the 5-frame median: 0.23-0.5 s), so a short hold counts; only one the signal then leaves downward by
    # rise_mm (a downstroke, not a stroke's bottom coming back up), and of those the last (not a hover above the chest)
    # (no valid range: a stroke's bottom out of it would be a gap the hold spans, and its two sides a "rest")
    rest: RestOptions = RestOptions(hold_s=0.5, min_hold_s=0.2, max_s=2.0)


class ReturnWatcher:
    """Notices the hands coming back after a pause and finds their rest before the first compression.

    Why: a rescuer who gives breaths puts the hands back, often otherwise (one hand instead of a stack, turned,
    another rescuer's hands). The tracked surface then rests at another height, which neither the first rest hold
    nor the recoil tops can tell from a lean; the short rest between landing and the first downstroke can.

    ``push`` one sample per frame (heights in mm; NaN: no tracked point) once the rest ``level`` is known. It
    returns ``"start"`` when the hands come back (from then on the caller holds samples), then ``("end", rest)`` once
    the first stroke has come back up (or ``wait_s`` passed), with the last still hold before that stroke (None if
    there was none: the held samples go on as they are).
    """

    START = "start"
    END = "end"

    def __init__(self, level: float, options: ReturnOptions | None = None) -> None:
        self.level = float(level)
        self.opt = options or ReturnOptions()
        self._last_present: float | None = None
        self._away_from: float | None = None
        self._t0: float | None = None
        self._det: RestDetector | None = None
        self._rest: RestEstimate | None = None  # the last rest found since the return
        self._pending: RestEstimate | None = None  # the last still hold, until a downstroke leaves it
        self._recent: deque[float] = deque()  # since the return: the last samples (their median: frame noise)
        self._peak = self._trough = math.nan  # ... the highest of those medians, and the lowest since it
        self.returns = 0  # pauses the hands came back from

    @property
    def holding(self) -> bool:
        return self._t0 is not None

    def push(self, t_s: float, height: float):
        o = self.opt
        if self._t0 is None:
            if not math.isfinite(height) or height > self.level + o.away_mm:
                if self._away_from is None:
                    self._away_from = self._last_present if self._last_present is not None else t_s
                return None
            back = self._away_from is not None and t_s - self._away_from >= o.away_s
            self._away_from, self._last_present = None, t_s
            if not back:
                return None
            self.returns += 1
            self._t0, self._det = t_s, RestDetector(o.rest)
            self._det.push(t_s, height)
            self._recent = deque([height], maxlen=max(1, o.rest.smooth_samples))
            self._peak = self._trough = height
            return self.START
        assert self._det is not None
        est = self._det.push(t_s, height)
        if est is not None:  # a candidate: a rest if a downstroke leaves it (a stroke's bottom is left going up)
            self._pending = est
            self._det = RestDetector(o.rest)  # look on: the last rest before the first stroke counts
            self._det.push(t_s, height)
        compressing = False
        if math.isfinite(height):
            self._last_present = t_s
            self._recent.append(height)
            v = float(np.median(self._recent))
            if self._pending is not None and v < self._pending.value - o.rise_mm:
                self._rest, self._pending = self._pending, None
            if v > self._peak:  # still coming (hands seen on their way up come back down): a stroke starts lower
                self._peak = self._trough = v
            self._trough = min(self._trough, v)
            # down and back up by a stroke: compressing already (a rest before it has ended at its downstroke)
            compressing = self._peak - self._trough >= o.rise_mm and v - self._trough >= o.rise_mm
        if t_s - self._t0 < o.wait_s and not compressing:
            return None
        return self.END, self.finish(open_hold=not compressing)

    def finish(self, open_hold: bool = True) -> RestEstimate | None:
        """The rest found since the return (end of input: a still hold still open counts, if long enough)."""
        est = self._det.finish() if (open_hold and self._det is not None) else None
        rest = est if est is not None else self._rest
        self._t0, self._det, self._rest, self._pending = None, None, None, None
        return rest
