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
from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class RestOptions:
    hold_s: float = 2.0  # the hands must stay still this long
    min_hold_s: float = 1.5  # ...but a slightly short rest (trainees count fast) still counts
    tolerance: float = 4.0  # peak-to-peak spread allowed while resting (mm, or px in the fallback)
    max_gap_s: float = 0.3  # a longer run of missing samples restarts the hold
    max_s: float = 4.0  # stop extending the hold after this long (the estimate is final)
    valid_range: tuple[float, float] = (-math.inf, math.inf)  # plausible rest values (e.g. mm above the chest)
    smooth_samples: int = 5  # running median over this many samples before judging stillness (frame noise) ...
    smooth_s: float = 0.18  # ... spanning no longer than this (``RunningMedian``): 5 samples at 24-60 fps, 3 at 15


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

    def covers(self, t_s: float) -> bool:
        """Whether a frame at ``t_s`` belongs to the hold."""
        return self.t_start_s <= t_s <= self.t_end_s


@dataclass(frozen=True)
class RecoilTops:
    """The recoil tops of the first strokes after a pause, where the hands came back without resting still first.

    Why: filmed rescuers go from the breaths straight into the first compression (still for 0.00-0.07 s), so there
    is no rest to locate the hands from; at full recoil, between strokes, they are where a rest would have put them.
    """

    spans: tuple[tuple[float, float], ...]  # each top's frames: (first, last) time
    levels: tuple[float, ...]  # each top's highest sample (mm)

    tolerance: float = 3.0  # tops this far from the others' median are not used (leaning, still settling)

    @property
    def used(self) -> tuple[int, ...]:
        """The tops that say where the rest is: all but the first, which may still be settling after the landing
        (filmed: 14 mm above the set's rest), unless it is the only one; of those, the ones near their median (one
        top leaning, or still settling, moves neither the level nor where the hands are located)."""
        cand = range(1 if len(self.levels) > 1 else 0, len(self.levels))
        med = float(np.median([self.levels[i] for i in cand]))
        near = tuple(i for i in cand if abs(self.levels[i] - med) <= self.tolerance)
        return near or tuple(cand)  # (two that disagree: both, their mean)

    @property
    def value(self) -> float:
        """The rest level they give (mm): the median of the used tops."""
        return float(np.median([self.levels[i] for i in self.used]))

    @property
    def above_mm(self) -> float:
        """How far the highest top after the first stands above ``value`` (-inf with one top): a full recoil among
        leaning strokes shows the rest they give is a lean's (the median keeps it out; the first may still be
        settling)."""
        return max(self.levels[1:]) - self.value if len(self.levels) > 1 else -math.inf

    @property
    def t_start_s(self) -> float:
        return self.spans[0][0]

    @property
    def t_end_s(self) -> float:
        """The last top's last frame (as a ``RestEstimate``'s: the frames after it came after the rest)."""
        return self.spans[-1][1]

    @property
    def used_spans(self) -> list[tuple[float, float]]:
        """The used tops' frames: (first, last) time each."""
        return [self.spans[i] for i in self.used]

    def covers(self, t_s: float) -> bool:
        """Whether a frame at ``t_s`` is at one of the used tops."""
        return any(a <= t_s <= b for a, b in self.used_spans)


def still_span(heights_mm, tolerance_mm: float) -> slice:
    """The frames of a hold still at its level: its ends trimmed to the first and last within half ``tolerance_mm`` of
    its median (all of it when none is; NaN is never still).

    Why: a hold is judged on running medians (``RunningMedian``), which lag a departure by half their span, and on
    heights the texture tracker may restate later: a 0.4 s hold after a pause ended 4 frames 3-35 mm into the first
    downstroke, where alone the texture had been found, and the hands located from those frames lay 33 mm toward the
    camera (a headset: that set read 5 % shallow). Frames in the middle stay: the location takes their median."""
    h = np.asarray(heights_mm, dtype=float)
    if h.size == 0 or not np.isfinite(h).any():
        return slice(0, h.size)
    with np.errstate(invalid="ignore"):
        k = np.flatnonzero(np.abs(h - np.nanmedian(h)) <= 0.5 * tolerance_mm)
    return slice(int(k[0]), int(k[-1]) + 1) if k.size else slice(0, h.size)


def rest_of_tops(tops: RecoilTops) -> RestEstimate:
    """The recoil tops' rest as a ``RestEstimate`` (what reports show of a rest): their level, from the first used
    top's first frame to the last one's last, one sample per used top, their levels' spread."""
    used = [tops.levels[i] for i in tops.used]
    spans = tops.used_spans
    return RestEstimate(tops.value, spans[0][0], spans[-1][1], len(used), float(max(used) - min(used)))


class RunningMedian:
    """The median of the last ``samples`` values, fewer where they would span more than ``span_s`` at the nominal
    frame interval (the median of the first 16 intervals, fixed then, as the core fixes its rate; gaps in tracking
    do not change it).

    Why the span: at 15 fps five samples span 0.27 s, a third of a stroke, and their median flattened a shallow
    stroke's 16 mm rise to 9 (rendered straight in, 20 mm, seed 11): no stroke was seen, no rest taken. An odd
    count keeps the median a sample; 30 fps keeps its 5, 15 fps gets 3.
    """

    def __init__(self, samples: int, span_s: float) -> None:
        self._most = max(1, samples)
        self.span_s = span_s
        self._vals: deque[float] = deque(maxlen=self._most)
        self._gaps: list[float] = []  # the first intervals (s)
        self._last_t = math.nan

    @classmethod
    def of(cls, options: RestOptions) -> "RunningMedian":
        return cls(options.smooth_samples, options.smooth_s)

    def push(self, t_s: float, value: float) -> float:
        """Add a value (finite) at ``t_s``; the median of the last ones."""
        if len(self._gaps) < 16 and t_s > self._last_t:
            self._gaps.append(t_s - self._last_t)
            self._resize()
        self._last_t = t_s
        self._vals.append(value)
        return float(np.median(self._vals))

    def _resize(self) -> None:
        dt = float(np.median(self._gaps))
        n = max(1, min(self._most, 1 + 2 * int(self.span_s / (2.0 * dt))))
        if n != self._vals.maxlen:
            self._vals = deque(self._vals, maxlen=n)

    def clear(self) -> None:
        """Forget the values (a hold restarts after a gap); the interval stays."""
        self._vals.clear()


class RestDetector:
    """Finds the first still hold of at least ``min_hold_s``; ``push`` returns it once final."""

    def __init__(self, options: RestOptions | None = None) -> None:
        self.opt = options or RestOptions()
        self._win: deque[tuple[float, float]] = deque()
        self._raw = RunningMedian.of(self.opt)
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
        value = self._raw.push(t_s, value)
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
    rise_frac: float = 0.5  # ... or this share of the set's depth before the pause, where less (``for_depth``): a
    # trainee compressing 20 mm and leaning 5-7 on the first strokes back comes up 13-15 mm, and the top of so short a
    # stroke holds within the rest's 4 mm for 0.2 s: it was taken for the rest (rendered straight in: 5.7 mm low)
    # the rest between landing and the first downstroke: the simulator's hands rest 0.2-0.5 s (rendered, within the
    # 4 mm and the 5-frame median: 0.23-0.5 s), so a short hold counts; only one the signal then leaves downward by
    # rise_mm (a downstroke, not a stroke's bottom coming back up), and of those the last (not a hover above the chest)
    # (no valid range: a stroke's bottom out of it would be a gap the hold spans, and its two sides a "rest")
    rest: RestOptions = RestOptions(hold_s=0.5, min_hold_s=0.2, max_s=2.0)
    max_depth_mm: float = math.inf  # a hold the first stroke then goes further below than any compression (the
    # pipeline: the profile's deepest counted) is a hover above the chest, not its rest (blurred at 640x480: a hover
    # 70 mm up held 0.2 s, the landing's own rest 0.13 s)
    # no such rest (the filmed rescuers held still 0.00-0.07 s): the recoil tops of the first strokes instead
    tops: int = 4  # this many (the first may still be settling; the others' median: RecoilTops.value); 0: none
    # a still hold counts only once the first stroke's recoil top has come back near it (else the tops are collected
    # as without one): hands coming back from the head stopped there, or hovered above the chest, and then came down
    # with too short a rest (simulated with the filmed 0-0.07 s: 3 of 192 returns took such a hold, 25-35 mm off;
    # python -m tests.core_rest_moves --returns); inf: no check (the first stroke's rise ends the hold, ~0.3 s sooner)
    hold_top_below_mm: float = 15.0  # the first top this far below the hold: a hover (a lean lowers a top less; at
    # 10 mm a simulated first top leaning 10 mm turned a right hold into leaning tops)
    hold_top_above_mm: float = 10.0  # ... this far above it: the hold was below the chest's rest (nothing raises a top)
    tops_wait_s: float = 4.0  # from the first stroke's rise, how long they are waited for at most
    top_mm: float = 3.0  # a top's frames: its samples within this of its highest one ...
    top_s: float = 0.1  # ... and within this of it in time
    rest_needs_tops: bool = False  # (a session's start) a still hold before the first stroke counts only once the
    # tops have come too, all of them (hands being placed rest and dip as well); without them, nothing
    hold_above_dip_mm: float = math.inf  # a still hold this far above the lowest point since the hands came (after
    # their highest) came after a compression: the top between two strokes, not the rest before them (at a start: the
    # shallowest compression the core counts). At 15 fps a trainee 25 mm deep leaning 8 came back up 13.6 mm in the
    # medians (17.7 in the frames), short of ``rise_mm``: the next top held within 4 mm for 0.2 s and was taken for
    # the rest, the lean unstated (rendered straight in, seed 11, the hand tag: -8.0 mm against +-2.6)
    tops_early: bool = True  # say each top from the first used one on (``TOPS``), so that the caller may end the hold
    # there when it already shows the same hands (the live feed waits ~1 s less; see Pipeline._same_at_tops)
    # once taken for the rest, the set's later tops: if two (the median of three) rise this far above it, the tops it was
    # taken from were leaning (a lean lowers a top, nothing raises one), and the rest is raised by that much ...
    raise_mm: float = 5.0  # (the filmed sets' tops wander up to 4.5 mm above a level taken at their first tops: at the
    # core's lean tolerance, 3 mm, 5 of 6 filmed returns raised it 3.2-4.5 mm; python -m tests.core_rest_moves --tops)
    raise_max_mm: float = 10.0  # ... but not as far as hands off the chest (the core's off margin)
    # ... and if this many in a row stay this far below it, never coming back, the tops it was taken from stood higher
    # than the rest the set settled to (a marker on the body sinking over the first strokes: the filmed SC1, 14 mm), and
    # the rest is lowered to their upper quartile; fewer is a lean, which comes back up. At 5 mm, simulated trainees
    # who lean on most strokes (4-10 mm) settled it too and read 0.4-1.0 mm more shallow; at 8 mm, as without
    # (python -m tests.core_rest_moves --start-core)
    settle_tops: int = 9
    settle_mm: float = 8.0
    # ... and once the core's baseline (its trimmed mean of the tops it found no lean) stood raise_mm or more above the
    # rest after this many compressions in a row, the rest is raised to it: a trainee who leans on most strokes from
    # the first shows a full recoil only now and then, never two tops in a row (rendered straight in, asymmetric
    # strokes, seed 11: the tops 6 mm under it on 4 of 5 strokes; after the pause the baseline followed them down and
    # the last strokes read 9 mm shallow, their lean unseen). 0: not watched
    baseline_count: int = 4

    def for_depth(self, depth_mm: float) -> "ReturnOptions":
        """These options for a set that compressed ``depth_mm`` deep before the pause (``rise_frac``): shallow strokes
        are strokes, and their tops are tops, not rests."""
        if not (depth_mm > 0.0 and self.rise_frac * depth_mm < self.rise_mm):
            return self
        return replace(self, rise_mm=self.rise_frac * depth_mm)

    def shows_lean(self, rise_mm: float) -> bool:
        """Whether a top (or the core's baseline) ``rise_mm`` above a rest taken at recoil tops says they leant: at least
        ``raise_mm`` (real tops wander less), not as far as ``raise_max_mm`` (hands off the chest)."""
        return self.raise_mm <= rise_mm < self.raise_max_mm

    @property
    def checks_holds(self) -> bool:
        """Whether a still hold waits for the first recoil top to confirm it (``hold_top_*``)."""
        return self.hold_top_below_mm < math.inf or self.hold_top_above_mm < math.inf

    def top_confirms(self, hold_mm: float, top_mm: float) -> bool:
        """Whether a recoil top at ``top_mm`` came back near a still hold at ``hold_mm`` (is the hold the rest?)."""
        return -self.hold_top_below_mm <= top_mm - hold_mm <= self.hold_top_above_mm


class TopFinder:
    """Recoil tops of strokes, as they pass: a top is passed once the next downstroke has gone ``rise_mm`` below it
    (medians of the last samples, as the watcher judges stillness); its frames are the raw samples near its highest
    one (within ``top_mm`` and ``top_s``), its level that highest sample."""

    def __init__(self, opt: "ReturnOptions", recent: RunningMedian, rising: bool, v: float, t_s: float,
                 height: float = math.nan) -> None:
        """``rising``: starting on a stroke's way up, its median ``v`` at ``t_s`` (the sample ``height``)."""
        self.opt = opt
        self._recent = recent  # the last samples (their median), shared with the watcher's stillness test
        self._raw: deque[tuple[float, float]] = deque([(t_s, height)] if math.isfinite(height) else [])  # the last
        # second of samples (t, mm): a top's frames
        self._rising = rising  # a stroke is coming back up (its top not yet passed)
        self._hi, self._hi_t = v, t_s  # ... its highest median so far, and when
        self._trough = v

    def push(self, t_s: float, height: float) -> tuple[tuple[float, float], float] | None:
        """One sample; returns a top ((first, last) time of its frames, level) once it is passed."""
        if not math.isfinite(height):
            return None
        o = self.opt
        self._raw.append((t_s, height))
        while self._raw[0][0] < t_s - 1.0:
            self._raw.popleft()
        v = self._recent.push(t_s, height)
        if self._rising:
            if v > self._hi:
                self._hi, self._hi_t = v, t_s
            elif v < self._hi - o.rise_mm:
                self._rising, self._trough = False, v
                return self._top(self._hi_t)
        else:
            self._trough = min(self._trough, v)
            if v - self._trough >= o.rise_mm:
                self._rising, self._hi, self._hi_t = True, v, t_s
        return None

    @property
    def peak(self) -> float:
        """The last top's level as the medians saw it (its highest median; a frame's spike does not move it)."""
        return self._hi

    def resting_top(self) -> tuple[tuple[float, float], float] | None:
        """The top the last stroke came back up to, if the hands have stayed there (no next downstroke yet)."""
        last = [h for t, h in self._raw if t >= self._raw[-1][0] - 3 * self.opt.top_s] if self._raw else []
        if self._rising and len(last) > 2 and max(last) - min(last) <= 2 * self.opt.top_mm:
            return self._top(self._raw[-1][0])
        return None

    def _top(self, t_hi: float) -> tuple[tuple[float, float], float] | None:
        """The top whose median peaked at ``t_hi`` (the median lags by half its window: look on both sides)."""
        o = self.opt
        near = [(t, h) for t, h in self._raw if abs(t - t_hi) <= 2 * o.top_s]
        if not near:
            return None
        t_top, h_top = max(near, key=lambda s: s[1])
        frames = [t for t, h in near if abs(t - t_top) <= o.top_s and h >= h_top - o.top_mm]
        return (min(frames), max(frames)), h_top


class ReturnWatcher:
    """Notices the hands coming back after a pause and finds their rest before the first compression.

    Why: a rescuer who gives breaths puts the hands back, often otherwise (one hand instead of a stack, turned,
    another rescuer's hands). The tracked surface then rests at another height, which neither the first rest hold
    nor the recoil tops can tell from a lean; the short rest between landing and the first downstroke can.

    ``push`` one sample per frame (heights in mm; NaN: no tracked point) once the rest ``level`` is known. It
    returns ``"start"`` when the hands come back (from then on the caller holds samples), then ``("end", rest)`` once
    the first stroke has come back up (or ``wait_s`` passed), with the last still hold before that stroke (None if
    there was none: the held samples go on as they are). Without such a rest, and with ``tops`` set, it holds on
    through the first strokes and ends with their ``RecoilTops`` instead (None if there were none); on the way, with
    ``tops_early``, it returns ``("tops", tops so far)`` as each top from the first used one passes, and the caller
    may end the hold there with ``finish()``. After the caller
    has taken such tops for the rest (``follow``), it returns ``("raise", mm)`` when later tops of the set rise that
    far above ``level``: the tops it was taken from were leaning; a negative ``mm`` when they all stayed below it for
    ``settle_tops`` in a row: the rest settled lower. Either way the rest moves by ``mm``: the watcher's ``level``
    moves with it (the caller moves its own, and its heights go on as they are).
    """

    START = "start"
    END = "end"
    RAISE = "raise"
    TOPS = "tops"

    def __init__(self, level: float, options: ReturnOptions | None = None) -> None:
        self.level = float(level)
        self.opt = options or ReturnOptions()
        self._last_present: float | None = None
        self._away_from: float | None = None
        self._t0: float | None = None
        self._det: RestDetector | None = None
        self._rest: RestEstimate | None = None  # the last rest found since the return
        self._pending: RestEstimate | None = None  # the last still hold, until a downstroke leaves it
        self._recent = RunningMedian.of(self.opt.rest)  # since the return: the last samples (their median: frame noise)
        self._peak = self._trough = math.nan  # ... the highest of those medians, and the lowest since it
        self.returns = 0  # pauses the hands came back from
        # no rest before the first stroke: the recoil tops of the first strokes
        self._tops: TopFinder | None = None
        self._tops_from = math.nan  # when the first stroke's rise was seen
        self._spans: list[tuple[float, float]] = []
        self._levels: list[float] = []
        # ... taken for the rest: the set's later tops, to see whether they rise above it
        self._follow: TopFinder | None = None
        self._follow_levels: list[float] = []
        self._baseline_gaps: list[float] = []  # ... and the core's baseline above it, after each compression
        self.top_above_mm = -math.inf  # ... and how far the highest that rose raise_mm above it stood above what the
        # core measures from (since the last move)
        self._core_base = math.nan  # the core's baseline after its last compression (core_baseline)

    @property
    def holding(self) -> bool:
        return self._t0 is not None

    def begin(self, t_s: float, height: float) -> None:
        """Hold from this sample on, as when the hands come back: what ``push`` does on a return, and what the first
        hands of a session are given when they compress without a rest hold (``Pipeline``'s start)."""
        self._follow = None
        self._baseline_gaps = []
        self._t0, self._det = t_s, RestDetector(self.opt.rest)
        self._det.push(t_s, height)
        self._recent = RunningMedian.of(self.opt.rest)
        self._recent.push(t_s, height)
        self._peak = self._trough = height

    def follow(self) -> None:
        """The caller took the recoil tops for the rest (heights from now on read it as ``level``): watch the set's
        later tops, and say when they rise above it. ``top_above_mm`` keeps how far the highest top stood above what the
        core measures from (its baseline, when under the rest), if ``raise_mm`` or more (the bar is measured from there
        too: a full recoil 4.99 mm above the rest stood 6.7 above the baseline of a set 8.2 mm shallow), as long as no
        move explains it: one full recoil among leaning strokes raises nothing (the core trims it from its baseline,
        as it would hands lifted off the chest once), but says by how much the depths may read shallow."""
        self._follow = TopFinder(self.opt, RunningMedian.of(self.opt.rest), False, math.inf, math.nan)
        self._forget_follow()

    def _forget_follow(self) -> None:
        """What the follow saw against the level so far (a new follow, or a move that explains it)."""
        self._follow_levels = []
        self._baseline_gaps = []
        self.top_above_mm = -math.inf
        self._core_base = math.nan

    def core_baseline(self, baseline_mm: float):
        """While following: the core's rest baseline after its latest compression. Once it has stood ``raise_mm`` or
        more above ``level`` (and not as far as hands off the chest) after ``baseline_count`` compressions in a row,
        the tops the rest was taken from were leaning: ``("raise", mm)``, the median of those gaps, as ``push`` says
        it. Why the core's baseline and not the tops: it keeps only the tops it found no lean (their strokes are
        longer by the drop) and no hands off the chest, so a full recoil now and then shows in it; the tops' own
        follow needs two in a row. The baseline must have moved while it stood there (new tops came in): a marker on
        the body that sank after the first tops (the filmed SC1) left it on one early top, 5 mm up, for 14
        compressions, all later tops below it."""
        o = self.opt
        self._core_base = baseline_mm
        if self._follow is None or o.baseline_count <= 0 or self._t0 is not None:
            return None
        gap = baseline_mm - self.level
        if not o.shows_lean(gap):
            self._baseline_gaps = []
            return None
        self._baseline_gaps.append(gap)
        if len(self._baseline_gaps) < o.baseline_count or len(set(self._baseline_gaps)) < 2:
            return None  # (a baseline that never moved stands on one top the core kept while the others sank below)
        return self._moved(float(np.median(self._baseline_gaps)))

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
                return self._push_follow(t_s, height)
            self.returns += 1
            self.begin(t_s, height)
            return self.START
        if self._tops is not None:
            return self._push_tops(t_s, height)
        assert self._det is not None
        est = self._det.push(t_s, height)
        if est is not None:  # a candidate: a rest if a downstroke leaves it (a stroke's bottom is left going up)
            if not est.value - self._trough >= o.hold_above_dip_mm:  # (not a top after a compression)
                self._pending = est
            self._det = RestDetector(o.rest)  # look on: the last rest before the first stroke counts
            self._det.push(t_s, height)
        compressing = False
        if math.isfinite(height):
            self._last_present = t_s
            v = self._recent.push(t_s, height)
            if self._pending is not None and v < self._pending.value - o.rise_mm:
                self._rest, self._pending = self._pending, None
            if v > self._peak:  # still coming (hands seen on their way up come back down): a stroke starts lower
                self._peak = self._trough = v
            self._trough = min(self._trough, v)
            # down and back up by a stroke: compressing already (a rest before it has ended at its downstroke)
            compressing = self._peak - self._trough >= o.rise_mm and v - self._trough >= o.rise_mm
        if compressing and self._rest is not None and self._rest.value - self._trough > o.max_depth_mm:
            self._rest = None  # the first stroke reached deeper below it than a compression goes: a hover
        if compressing and o.tops > 0 and (self._rest is None or o.rest_needs_tops or o.checks_holds):
            # hold on for the recoil tops (or, with a still hold, for the first one: is the hold where it comes back to?)
            self._tops, self._tops_from = TopFinder(o, self._recent, True, v, t_s, height), t_s
            self._spans, self._levels = [], []
            return None
        if t_s - self._t0 < o.wait_s and not compressing:
            return None
        return self.END, self.finish(open_hold=not compressing)

    def _push_tops(self, t_s: float, height: float):
        """After the first stroke without a rest: collect the next ``tops`` recoil tops (or wait ``tops_wait_s``)."""
        assert self._tops is not None
        if math.isfinite(height):
            self._last_present = t_s
        top = self._tops.push(t_s, height)
        if top is not None:
            self._spans.append(top[0])
            self._levels.append(top[1])
            if self._rest is not None and len(self._levels) == 1 and self.opt.checks_holds:
                # (the top's median level, not its highest sample: one spiking frame made a simulated first top 27 mm
                # high and turned a right hold into leaning tops)
                if not self.opt.top_confirms(self._rest.value, self._tops.peak):
                    self._rest = None  # not where the first stroke came back to (a hover, the head): the tops it is
                elif not self.opt.rest_needs_tops:
                    return self.END, self.finish()  # the rest (at a start it still waits for all the tops)
        if len(self._levels) < self.opt.tops and t_s - self._tops_from < self.opt.tops_wait_s:
            if top is not None and len(self._levels) >= 2 and self.opt.tops_early:  # (the first is never used alone)
                return self.TOPS, self._recoil_tops()
            return None
        return self.END, self.finish()

    def _push_follow(self, t_s: float, height: float):
        """The set's tops after a rest taken at recoil tops: once two in a row, or the median of the last three, are
        ``raise_mm`` or more above the rest (and not as far as hands off the chest), the rest was a lean's: say how
        much. Once ``settle_tops`` in a row are all ``settle_mm`` or more below it, the rest settled: say how much
        (negative)."""
        if self._follow is None:
            return None
        top = self._follow.push(t_s, height)
        if top is None:
            return None
        self._follow_levels.append(top[1])
        o = self.opt
        self.top_above_mm = max(self.top_above_mm, self.above_rest_mm(top[1]))
        below = self._follow_levels[-o.settle_tops:]
        if o.settle_tops > 0 and len(below) == o.settle_tops and max(below) <= self.level - o.settle_mm:
            return self._moved(float(np.percentile(below, 75)) - self.level)
        last = self._follow_levels[-3:]
        if len(last) < 2:
            return None
        rise = float(np.median(last) if len(last) == 3 else min(last)) - self.level
        if not self.opt.shows_lean(rise):
            return None
        return self._moved(rise)

    def above_rest_mm(self, top_mm: float) -> float:
        """How far a top at ``top_mm`` stands above what the core measures from, if that shows a lean (``shows_lean``;
        else -inf)."""
        rise = self.rise_mm(top_mm)
        return rise if self.opt.shows_lean(rise) else -math.inf

    def rise_mm(self, top_mm: float) -> float:
        """How far a top (or a rest) at ``top_mm`` stands above what the core measures from, either sign. Measured from
        the lower of the rest and the core's baseline: tops a little under the rest are no lean to it, and the
        baseline may stand among them (rendered, 1.3-1.7 mm under it)."""
        ref = min(self.level, self._core_base) if self._core_base == self._core_base else self.level
        return top_mm - ref

    def within_lean(self, rise_mm: float) -> bool:
        """Whether a level ``rise_mm`` off the rest (either sign) is where the same hands could be, leaning or not:
        closer than ``raise_max_mm`` (other hands put back move it 24-48 mm: a stack on or off)."""
        return abs(rise_mm) < self.opt.raise_max_mm

    def move(self, mm: float) -> None:
        """The caller moved the rest by ``mm`` (a still hold after a pause stood that far above a rest taken at recoil
        tops): later tops and returns are compared with the moved level."""
        self._moved(mm)

    def _moved(self, mm: float):
        """The rest moves by ``mm``: the level later tops (and a return's heights) are compared with moves with it."""
        self.level += mm
        self._forget_follow()  # (what rose before the move, the move explains)
        return self.RAISE, mm

    def _recoil_tops(self) -> RecoilTops:
        return RecoilTops(tuple(self._spans), tuple(self._levels), self.opt.top_mm)

    def finish(self, open_hold: bool = True) -> RestEstimate | RecoilTops | None:
        """The rest found since the return (end of input: a still hold still open counts, if long enough), or the
        recoil tops when there was none."""
        if self._tops is not None:
            top = self._tops.resting_top()  # came back up and stayed there (no next downstroke): a top too
            if top is not None:
                self._spans.append(top[0])
                self._levels.append(top[1])
            rest = self._recoil_tops() if self._levels else None
            if self._rest is not None and not self.opt.rest_needs_tops:  # a still hold no top has contradicted
                rest = self._rest
            elif self.opt.rest_needs_tops:  # the still hold before them if there was one; either only with all the tops
                rest = (self._rest or rest) if len(self._levels) >= self.opt.tops else None
            self._tops, self._spans, self._levels = None, [], []
        else:
            est = self._det.finish() if (open_hold and self._det is not None) else None
            rest = est if est is not None else self._rest
        self._t0, self._det, self._rest, self._pending = None, None, None, None
        return rest
