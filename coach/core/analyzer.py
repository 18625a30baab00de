"""Batch and streaming analysis: one engine, two front doors.

Why one engine: ``analyze`` feeds the whole signal to the engine as one final
chunk; ``StreamingAnalyzer`` feeds it the samples that arrived since its last
feed. The engine's layers (coach.core.frontend, coach.core.strokes,
coach.core.metrics) are chunk-invariant, so both give the same compressions.

Streaming cost: calling the vectorised kernel on every sample would cost far
more than a per-sample Python loop. ``push`` therefore only appends the sample
and runs a few scalar checks: it replicates the kernel's smoothed value of the
previous sample and its release rule (first crossing of 90 % of the rise, plus
the wait) to predict when a compression becomes decidable, and the kernel runs
then -- about 1.15-1.2 times per compression. The checks only choose *when* to
feed; what is decided is always the kernel's, so a missed guess costs latency or
one run, never a different result (a fallback run happens at least every
``FALLBACK_S`` of signal). The engine keeps the last few seconds of processed
samples and the few phases the undecided candidates need. A run brings ~20
samples and usually one candidate, so it takes the layers' scalar paths (the
same arithmetic on Python floats; see coach.core.frontend.SMALL_CHUNK_PATH,
coach.core.strokes.ONE_CANDIDATE_PATH, coach.core.metrics.ONE_COMPRESSION_PATH).

``snapshot()`` reads the bookkeeping of what is decided without running or
finishing anything, so a live station can show the session so far.
"""
from __future__ import annotations

import bisect
import math
from collections import deque
from typing import Iterable

import numpy as np

from coach.core.frontend import Frontend, FrontendOut
from coach.core.metrics import SessionCarry, assign, summarize, to_compressions
from coach.core.options import NOMINAL_SAMPLES, CoreOptions, Params, nominal_dt, resolve
from coach.core.profiles import load_profile
from coach.core.strokes import RELEASE_FRACTION, Phases, StrokeCarry, Strokes, process
from coach.core.types import (
    PHASE_DOWN,
    PHASE_IDLE,
    PHASE_LOST,
    PHASE_OFF,
    PHASE_UP,
    Compression,
    CoreState,
    SessionResult,
)

FALLBACK_S = 2.0  # streaming feeds the kernel at least this often (signal time)
TRIM_MIN = 32  # samples: the buffer drops what no undecided candidate needs once it is this many (every few
# runs: the kernel's numbers never depend on how much history the buffer holds, see _need_from)


class _Samples:
    """The processed samples the stroke layer may still need (from global index ``base``): times, cleaned and
    smoothed heights, whether bridged. Arrays (batch: a chunk's own arrays), or lists of Python floats
    (streaming: its chunks come as lists, appended and trimmed in place; the stroke layer's one-candidate
    stages read lists, the vectorised ones make arrays of them)."""

    __slots__ = ("t", "c", "s", "filled")

    def __init__(self, t, c, s, filled) -> None:
        self.t, self.c, self.s, self.filled = t, c, s, filled

    def __len__(self) -> int:
        return len(self.t)

    def as_lists(self) -> "_Samples":
        """The same samples as lists (new ones, which the engine may extend)."""
        if isinstance(self.t, list):
            return _Samples(list(self.t), list(self.c), list(self.s), list(self.filled))
        return _Samples(self.t.tolist(), self.c.tolist(), self.s.tolist(), self.filled.tolist())


class _Engine:
    """Frontend -> buffer -> strokes -> bookkeeping, fed in chunks."""

    def __init__(self, options: CoreOptions) -> None:
        self.options = options
        self.profile = load_profile(options.profile)  # fail early on a bad profile name
        self.p: Params | None = None
        self._head_t: list[float] = []
        self._head_h: list[float] = []
        self.front: Frontend | None = None
        self.buf: _Samples | None = None
        self.ph: Phases | None = None
        self.base = 0
        self.carry = StrokeCarry()
        self.session = SessionCarry()
        self.comps: list[Compression] = []
        self.strokes: list[Strokes] = []
        self.t_first = math.nan
        self.t_last = math.nan
        self.feeds = 0

    def feed(self, t, h, final: bool, objects: bool = True) -> list[Compression]:
        """Run the layers on the samples that arrived (arrays, or lists of Python floats: streaming's few)."""
        if len(t):
            if math.isnan(self.t_first):
                self.t_first = float(t[0])
            self.t_last = float(t[-1])
        if self.p is None:
            if len(self._head_t) + len(t) < NOMINAL_SAMPLES and not final:
                self._head_t.extend(np.asarray(t, float).tolist())
                self._head_h.extend(np.asarray(h, float).tolist())
                return []
            t, h = np.asarray(t, float), np.asarray(h, float)
            if self._head_t:
                t = np.concatenate((np.asarray(self._head_t), t))
                h = np.concatenate((np.asarray(self._head_h), h))
                self._head_t, self._head_h = [], []
            self.p = resolve(self.options, nominal_dt(t[:NOMINAL_SAMPLES]))
            self.front = Frontend(self.p)
        self.feeds += 1
        out = self.front.process(t, h, final)
        self._append(out)
        ph = self.ph
        strokes, need = process(self.buf, ph, self.base, self.p, self.carry, final)
        if need >= TRIM_MIN and not final:
            b = self.buf
            if isinstance(b.t, list):
                del b.t[:need], b.c[:need], b.s[:need], b.filled[:need]
            else:
                self.buf = _Samples(b.t[need:], b.c[need:], b.s[need:], b.filled[need:])
            self.base += need
            # phases no undecided candidate can reach (each needs the two phases before it)
            st = ph.start
            if isinstance(st, list):
                first = max(bisect.bisect_right(st, self.carry.last_up), bisect.bisect_left(st, self.base + 1))
            else:
                first = max(int(st.searchsorted(self.carry.last_up, side="right")),
                            int(st.searchsorted(self.base + 1, side="left")))
            cut = first - 2
            if cut > 0:
                self.ph = Phases(ph.k0 + cut, ph.start[cut:], ph.state[cut:], ph.extv[cut:], ph.exti[cut:])
        if not len(strokes):
            return []
        sa = assign(strokes, self.session, self.profile, self.options.pause_min_s)
        if not objects:
            self.strokes.append(strokes)
            return []
        comps = to_compressions(strokes, sa, self.profile)
        self.comps.extend(comps)
        return comps

    def _append(self, out: FrontendOut) -> None:
        """Add a chunk's samples to the buffer and its phases to the table (entry 0 updates the open one)."""
        k = len(out)
        buf = self.buf
        if buf is None or not len(buf):
            if isinstance(out.t, list):
                buf = _Samples(out.t, out.c, out.s, [False] * k if out.filled is None else out.filled).as_lists()
            else:  # (batch: the chunk's arrays themselves, no copy)
                buf = _Samples(out.t, out.c, out.s, out.filled)
            self.buf = buf
        elif k:
            if not isinstance(buf.t, list):  # (streaming after a large first chunk: lists from here on)
                buf = self.buf = buf.as_lists()
            if isinstance(out.t, list):
                buf.t += out.t
                buf.c += out.c
                buf.s += out.s
                buf.filled += [False] * k if out.filled is None else out.filled
            else:
                buf.t += out.t.tolist()
                buf.c += out.c.tolist()
                buf.s += out.s.tolist()
                buf.filled += out.filled.tolist()
        ph = self.ph
        if ph is None:  # a small chunk's phases are lists: the table stays lists (streaming), else arrays (batch)
            if isinstance(out.ph_start, list):
                self.ph = Phases(out.ph0, out.ph_start, out.ph_state, out.ph_extv, out.ph_exti)
            else:
                self.ph = Phases(out.ph0, out.ph_start, out.ph_state, out.ph_extv.copy(), out.ph_exti.copy())
            return
        if isinstance(out.ph_start, list) and not isinstance(ph.start, list):
            # (streaming: the first chunk's window context is NaN, so its phases came as arrays; from the first
            # small chunk on the table is lists)
            ph = self.ph = Phases(ph.k0, ph.start.tolist(), ph.state.tolist(), ph.extv.tolist(), ph.exti.tolist())
        if isinstance(ph.start, list):
            if isinstance(out.ph_start, list):
                start, state, extv, exti = out.ph_start, out.ph_state, out.ph_extv, out.ph_exti
            else:
                start, state, extv, exti = (out.ph_start.tolist(), out.ph_state.tolist(), out.ph_extv.tolist(),
                                            out.ph_exti.tolist())
            ph.extv[-1] = extv[0]
            ph.exti[-1] = exti[0]
            if len(start) > 1:
                ph.start += start[1:]
                ph.state += state[1:]
                ph.extv += extv[1:]
                ph.exti += exti[1:]
            return
        ph.extv[-1] = out.ph_extv[0]
        ph.exti[-1] = out.ph_exti[0]
        if len(out.ph_start) > 1:
            self.ph = Phases(ph.k0, np.concatenate((ph.start, out.ph_start[1:])), np.concatenate((ph.state, out.ph_state[1:])),
                             np.concatenate((ph.extv, out.ph_extv[1:])), np.concatenate((ph.exti, out.ph_exti[1:])))

    def result(self, t_first: float | None = None, t_last: float | None = None) -> SessionResult:
        """The session from the compressions decided so far (``t_first``/``t_last``: the signal's span)."""
        t0 = self.t_first if t_first is None else t_first
        t1 = self.t_last if t_last is None else t_last
        summary, pauses, sets = summarize(self.comps, self.session.pauses, t0, t1, self.profile, self.options.pause_min_s)
        return SessionResult(summary=summary, compressions=tuple(self.comps), pauses=pauses, sets=sets)

    def move_rest(self, delta_mm: float, t_s: float) -> None:
        """The rest moved by ``delta_mm`` at ``t_s`` (see StreamingAnalyzer.move_rest): as a jump of the rest does."""
        c = self.carry
        c.rest_offset_mm += delta_mm
        c.rest_since_t = max(c.rest_since_t, t_s)
        c.forget_before(t_s)
        rest = self.options.rest_height_mm
        c.baseline = float(rest) + c.rest_offset_mm if rest is not None else math.nan

    @property
    def baseline_mm(self) -> float:
        b = self.carry.baseline
        if math.isnan(b) and self.carry.tops:
            b = float(np.median(self.carry.tops[-self.options.baseline_tops :]))
        if math.isnan(b) and self.options.rest_height_mm is not None:
            b = float(self.options.rest_height_mm)
        return b


def _as_arrays(t_s, height_mm) -> tuple[np.ndarray, np.ndarray]:
    """Flat float arrays of equal length (ValueError otherwise)."""
    t = np.asarray(t_s, dtype=float).reshape(-1)
    h = np.asarray(height_mm, dtype=float).reshape(-1)
    if t.shape != h.shape:
        raise ValueError(f"t_s has {t.size} samples but height_mm has {h.size}")
    return t, h


def _validate(t_s, height_mm) -> tuple[np.ndarray, np.ndarray]:
    t, h = _as_arrays(t_s, height_mm)
    bad = np.flatnonzero(~np.isfinite(t))
    if bad.size:
        raise ValueError(f"t_s[{bad[0]}] is not a finite time")
    back = np.flatnonzero(np.diff(t) <= 0)
    if back.size:
        i = int(back[0]) + 1
        raise ValueError(f"t_s[{i}] = {t[i]!r} does not increase (previous {t[i - 1]!r})")
    return t, h


def increasing(t: np.ndarray, after: float = -math.inf) -> np.ndarray:
    """Which of the times ``t`` streaming keeps: finite, and later than ``after`` and every time kept before them
    (a live trace may repeat or step back a stamp)."""
    run = np.maximum.accumulate(np.concatenate(([after], np.where(np.isfinite(t), t, -np.inf))))
    return np.isfinite(t) & (t > run[:-1])


def analyze(t_s, height_mm, options: CoreOptions | None = None) -> SessionResult:
    """Batch analysis of a whole chest-height signal.

    ``t_s``: strictly increasing seconds (irregular is fine); ``height_mm``: chest
    height, up positive, NaN where nothing was measured. Raises ValueError on
    times that are not finite or do not increase.
    """
    t, h = _validate(t_s, height_mm)
    eng = _Engine(options or CoreOptions())
    eng.feed(t, h, final=True)
    return eng.result()


def analyze_strokes(t_s, height_mm, options: CoreOptions | None = None) -> Strokes:
    """The kernel alone: accepted compressions as arrays (no result objects). For benchmarks and tools."""
    t, h = _validate(t_s, height_mm)
    eng = _Engine(options or CoreOptions())
    eng.feed(t, h, final=True, objects=False)
    return Strokes.concat(eng.strokes)


_INF, _NEG_INF = math.inf, -math.inf  # (push reads them on every sample: module names, not math's attributes)


def _smoothed(left: float, h1: float, right: float, spike_mm: float) -> float:
    """The scheduler's copy of the frontend's [1, 2, 1]/4 smoothing at ``h1`` (finite), in scalar arithmetic:
    a missing neighbour counts as ``h1``, and so does a right neighbour that jumps by more than ``spike_mm``
    beyond the step from the left (a spike the frontend would remove). ``push`` writes the same arithmetic out."""
    if left != left:
        left = h1
    if not (right == right and abs(right - h1) <= spike_mm + abs(h1 - left)):
        right = h1
    return 0.25 * left + 0.5 * h1 + 0.25 * right


def _from_min(rec) -> list:
    """The (t, s) samples from the lowest one on (the crossing search starts at the bottom)."""
    items = list(rec)
    if not items:
        return items
    s = [v for _, v in items]
    return items[s.index(min(s)) :]  # (the first lowest)


class StreamingAnalyzer:
    """Push samples as frames arrive; compressions come back as soon as they are decided.

    Each compression is returned by the push of the sample that decided it, at
    most ~150 ms of signal after its release (see docs/core.md). ``result()``
    decides what is still pending and returns the session, identical to
    ``analyze`` over the same samples. Samples whose time is not finite or does
    not increase are dropped (counted in ``state.extra['dropped_samples']``): a
    live loop must not die on one bad frame.
    """

    def __init__(self, options: CoreOptions | None = None) -> None:
        self.options = options or CoreOptions()
        self._e = _Engine(self.options)
        self._t: list[float] = []
        self._h: list[float] = []
        self._last_t = -math.inf
        self._last_h = math.nan
        self._prev_h = math.nan
        self._dropped = 0
        self._result: SessionResult | None = None
        self._phase = PHASE_IDLE
        # scheduler (decides when to run the kernel; never what it decides)
        o = self.options
        self._detect_mm = o.detect_mm
        self._rise_mm = 0.8 * o.detect_mm  # a rise this far above the recent minimum may be a candidate's upstroke
        self._recent: deque = deque(maxlen=16)  # (t, smoothed) of the last samples
        self._recent_lo = math.inf  # a lower bound of their least smoothed value: the least appended since computed
        self._rise: list = []  # (t, smoothed) from the candidate's lowest sample on
        self._bottom_mm = self._baseline_mm = math.nan  # the candidate's smoothed bottom and its baseline (the kernel's)
        self._release_due_s = math.inf  # run the kernel once the previous sample is this late (release + wait)
        self._fallback_due_s = math.inf  # ... or once a sample is this late, whatever the signal does
        self._armed = False  # a rise was seen: watching for the release
        self._rise_max_mm = -math.inf  # highest smoothed value of the rise
        self._up_deadline_s = math.inf  # the upstroke may not last longer (max_up_s)
        self._release_wait_s = 0.05  # the kernel's wait after a release (from its resolved parameters)
        self._spike_mm = o.spike_mm
        self._min_depth_mm = 0.0  # a dip shallower than this below the baseline is no candidate
        self._valid_t = -math.inf  # the last sample with a height (tracking lost after it: a gap)
        self._gap_fed_for = math.nan  # ... the gap after it already given to the kernel once it could not be bridged
        self._max_gap_s = o.max_gap_s

    # ------------------------------------------------------------ feeding
    def _feed(self, final: bool) -> list[Compression]:
        t, h = self._t, self._h  # (lists: the engine takes them as they are)
        self._t, self._h = [], []
        new = self._e.feed(t, h, final)
        p = self._e.p
        if p is not None:
            self._release_wait_s = p.release_wait_s
            self._min_depth_mm = p.min_depth_mm
            if self._recent.maxlen != p.w + 3:
                self._recent = deque(self._recent, maxlen=p.w + 3)
        self._schedule()
        return new

    def _schedule(self) -> None:
        """After a kernel run: what to watch for before the next one."""
        self._fallback_due_s = self._last_t + FALLBACK_S
        pend = self._e.carry.pending
        if pend is None or self._e.p is None:
            self._armed = False
            self._recent.clear()  # the next candidate needs a new dip
            self._recent_lo = math.inf
            return
        t_up, b_s, B = pend
        if not self._armed:
            self._rise = _from_min(self._recent)
            self._rise_max_mm = max((v for _, v in self._rise), default=-math.inf)
        self._armed = True
        self._bottom_mm, self._baseline_mm = b_s, B  # the kernel's own numbers for this candidate
        self._up_deadline_s = t_up + self.options.max_up_s
        self._release_due_s = -math.inf  # recompute the release estimate on the next sample

    def _release_time(self) -> float:
        """The kernel's release rule on the replicated smoothed samples: first crossing of
        b + 0.9 (min(M, B) - b), M the running max (interpolated like the kernel)."""
        hist = self._rise
        if not hist:
            return math.inf
        M = self._rise_max_mm
        ref = M if self._baseline_mm != self._baseline_mm else min(M, self._baseline_mm)
        lvl = self._bottom_mm + RELEASE_FRACTION * (ref - self._bottom_mm)
        tp, sp = hist[0]
        for tt, ss in hist:
            if ss >= lvl:
                if sp < lvl and ss > sp:
                    return tp + (lvl - sp) / (ss - sp) * (tt - tp)
                return tt
            tp, sp = tt, ss
        return math.inf

    def push(self, t_s: float, height_mm: float) -> list[Compression]:
        """One sample; returns the compressions it completed (usually none)."""
        t = float(t_s)
        prev_t = self._last_t
        if not (t > prev_t) or t == _INF:
            self._dropped += 1
            return []
        if self._result is not None:
            raise RuntimeError("result() was called: this analyzer is finished; start a new one")
        h = float(height_mm)
        h1, h2 = self._last_h, self._prev_h
        self._last_t = t
        self._prev_h, self._last_h = h1, h
        self._t.append(t)
        self._h.append(h)
        # The kernel sees a sample once its successor has arrived: the previous sample is visible now.
        valid_t = self._valid_t
        if h == h:
            self._valid_t = t
        if t >= self._fallback_due_s:
            return self._feed(False)
        if h1 != h1:
            # Tracking lost (the hands leave the view for the breaths, often right at the set's last release): the
            # sample layer gives the gap out, unbridged, once the samples it has seen span more than max_gap_s from
            # the last height; a candidate waiting for it is decidable then, not at the fallback (~1.6 s late).
            if self._armed and prev_t - valid_t > self._max_gap_s and self._gap_fed_for != valid_t:
                self._gap_fed_for = valid_t
                return self._feed(False)
            return []
        # Scheduler: replicate the kernel's smoothed value of the previous sample (scalar arithmetic) and
        # its release rule, to run the kernel when a compression becomes decidable. It only chooses *when*
        # the kernel runs, never what it decides; a wrong guess costs one run or some latency.
        # (_smoothed(h2, h1, h, spike_mm) written out: this line runs for every sample)
        if h2 != h2:
            h2 = h1
        s1 = 0.25 * h2 + 0.5 * h1 + 0.25 * (h if h == h and abs(h - h1) <= self._spike_mm + abs(h1 - h2) else h1)
        rec = self._recent
        ts = (prev_t, s1)
        rec.append(ts)
        if s1 < self._recent_lo:
            self._recent_lo = s1
        if self._armed:
            self._rise.append(ts)
            if s1 > self._rise_max_mm or self._release_due_s == _NEG_INF:
                if s1 > self._rise_max_mm:
                    self._rise_max_mm = s1
                self._release_due_s = self._release_time() + self._release_wait_s
            if prev_t >= self._release_due_s or prev_t >= self._up_deadline_s or self._rise_max_mm - s1 > self._detect_mm:
                return self._feed(False)  # decidable (or the next downstroke has begun)
        elif s1 - self._recent_lo > self._rise_mm:  # (never with one sample: the bound is then s1 itself)
            # (the window's minimum b is >= the bound, so s1 - b > ... fails wherever this does: b computed less often)
            b = self._recent_lo = min([v for _, v in rec])
            # a rise after a dip that reached compression depth below the rest: a candidate upstroke
            if s1 - b > self._rise_mm and not (b > self._e.baseline_mm - self._min_depth_mm):
                B = self._e.baseline_mm
                self._armed = True
                self._bottom_mm, self._baseline_mm = b, B
                self._rise = _from_min(rec)
                self._rise_max_mm = s1
                self._up_deadline_s = prev_t + self.options.max_up_s
                self._release_due_s = self._release_time() + self._release_wait_s
        return []

    def push_many(self, t_s: Iterable[float], height_mm: Iterable[float]) -> list[Compression]:
        """Many samples at once (one kernel run); returns the compressions they completed."""
        t, h = _as_arrays(t_s, height_mm)
        if self._result is not None:
            raise RuntimeError("result() was called: this analyzer is finished; start a new one")
        if t.size == 0:
            return []
        keep = increasing(t, self._last_t)  # (as push does)
        self._dropped += int(t.size - keep.sum())
        t, h = t[keep], h[keep]
        if t.size == 0:
            return []
        self._t.extend(t.tolist())
        self._h.extend(h.tolist())
        self._prev_h = float(h[-2]) if h.size > 1 else self._last_h
        self._last_t, self._last_h = float(t[-1]), float(h[-1])
        # the scheduler's view of the last samples (smoothed like push does), then one kernel run
        k = (self._recent.maxlen or 1) + 2
        tt, hh = t[-k:].tolist(), h[-k:].tolist()
        self._armed = False
        self._recent.clear()
        for i in range(1, len(hh) - 1):
            if hh[i] == hh[i]:
                s1 = _smoothed(hh[i - 1], hh[i], hh[i + 1], self._spike_mm)
                self._recent.append((tt[i], s1))
        self._recent_lo = min((v for _, v in self._recent), default=math.inf)
        return self._feed(False)

    def result(self) -> SessionResult:
        """Decide what is pending and return the whole session (idempotent; ends the analyzer)."""
        if self._result is None:
            self._feed(True)
            self._result = self._e.result()
        return self._result

    def snapshot(self) -> SessionResult:
        """The session so far, without finishing anything: pushing afterwards works as before.

        It holds every compression already returned by ``push`` (not the one still
        in progress), the pauses and sets they define, and a ``final`` pause when the
        signal has been still since the last release (as ``result()`` would report it
        if the session ended now). The summary spans the samples pushed so far.
        Cheap: no kernel run, only the bookkeeping of what is decided.
        """
        if self._result is not None:
            return self._result
        t_first = self._e.t_first  # (the first sample the engine was fed; else the first one waiting for it)
        if t_first != t_first and self._t:
            t_first = self._t[0]
        return self._e.result(t_first=t_first, t_last=self._last_t if t_first == t_first else math.nan)

    # ------------------------------------------------------------ live view
    @property
    def compressions(self) -> tuple[Compression, ...]:
        return tuple(self._e.comps)

    def move_rest(self, delta_mm: float) -> None:
        """The chest's rest is ``delta_mm`` higher (lower if negative) than this analyzer had it, from the last sample
        pushed on: what a caller learnt beside the heights (the pipeline: a set's recoil tops rose above a rest it had
        taken at leaning tops, or all stayed below it). A known rest (``CoreOptions.rest_height_mm``) moves by that
        much and the rest tops seen so far are forgotten, as after a jump of the rest at a break: they stood at the
        old rest or leant below it, and the baseline starts again from the moved rest. Why not shift the heights
        instead: the baseline may already have followed tops that rose, or may hold leaning ones; either way it is not
        where the caller now knows the rest to be. Streaming only (``analyze`` has no such outside knowledge): a
        replay of the same samples must make the same calls at the same samples to measure the same."""
        if self._result is not None:
            raise RuntimeError("result() was called: this analyzer is finished; start a new one")
        if math.isfinite(delta_mm) and delta_mm != 0.0:
            self._e.move_rest(float(delta_mm), self._last_t)

    @property
    def state(self) -> CoreState:
        """Live view after the latest sample (cheap; computed on access)."""
        e = self._e
        o = self.options
        t, h = self._last_t, self._last_h
        base = e.baseline_mm
        disp = base - h
        comps = e.comps
        last = comps[-1] if comps else None
        since = t - last.t_release_s if last is not None else math.nan
        idle = last is None or since > o.pause_min_s
        if not math.isfinite(h):
            phase = PHASE_LOST
        elif math.isfinite(base) and h > base + o.off_margin_mm:
            phase = PHASE_OFF
        elif idle and not (math.isfinite(disp) and disp > o.detect_mm):
            phase = PHASE_IDLE
        else:
            ph = self._phase if self._phase in (PHASE_DOWN, PHASE_UP) else PHASE_UP
            if math.isfinite(self._prev_h):
                if h < self._prev_h - 0.5:
                    ph = PHASE_DOWN
                elif h > self._prev_h + 0.5:
                    ph = PHASE_UP
            phase = ph
        self._phase = phase
        rate = math.nan
        if not idle and last is not None:
            rs = [c.rate_cpm for c in comps[-3:] if c.set_index == last.set_index and math.isfinite(c.rate_cpm)]
            if rs:
                rate = sum(rs) / len(rs)
        return CoreState(
            t_s=t if math.isfinite(t) else math.nan,
            height_mm=h,
            baseline_mm=base,
            displacement_mm=disp,
            phase=phase,
            rate_cpm=rate,
            last_depth_mm=last.depth_mm if last is not None else math.nan,
            compressions=len(comps),
            set_compressions=e.session.set_count if last is not None and not idle else 0,
            since_last_compression_s=since,
            extra={"dropped_samples": self._dropped, "kernel_runs": e.feeds},
        )
