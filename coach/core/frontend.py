"""Sample layer of the core: despike, bridge gaps, smooth, split into phases.

Why chunked with explicit carries: streaming and batch must be one algorithm.
Every stage here is a vectorised NumPy function of (carry, chunk) that returns
(output, new carry), and every output value is computed by the same arithmetic
on the same inputs whatever the chunking, so one big chunk (batch) and many
small ones (streaming) give bit-identical samples.

Stages (each delays its output only as long as it must):
1. despike: a sample more than ``spike_mm`` (plus a tenth of the step between
   its neighbours) off the straight line between its two neighbours, or, next to
   a missing sample, one that jumps faster than ``spike_speed_mm_s``, is a
   single-frame spike -> NaN (1 sample). Where the sample before it already
   moved its way (by a quarter of its own step or more: a turn approached, not a
   jump from a hold), the bar is ``spike_turn_mm_s`` x half its neighbours' span
   when that is more: at 15 fps a stroke's sharp bottom lies up to ~29 mm off its
   neighbours' line, and it went missing as a spike.
2. bridge: NaN runs whose valid neighbours are at most ``max_gap_s`` apart are
   filled (and flagged): a parabola through the two samples before and the one
   after for short runs, the previous cycle of a
   clear rhythm for longer ones (a 0.5 s hole can hide a whole compression);
   longer runs stay NaN.
3. smooth: a [1, 2, 1]/4 kernel for detection only, with no delay of its own
   (a measured sample's right neighbour is its raw successor, guarded against spikes).
4. phases: a Schmitt trigger against the running max/min over ``w`` samples:
   the signal is DOWN once it falls ``detect_mm`` below its recent max, UP once
   it rises ``detect_mm`` above its recent min. Phases get global ordinals (UP
   even, DOWN odd, phase 0 is the UP phase the stream starts in); the layer
   reports where each phase starts and its extreme (max in UP, min in DOWN,
   first occurrence, NaN ignored) with the extreme's global index -- running
   for the phase still open. Why phases and not per-sample arrays: the stroke
   layer only ever reads a phase's start and extreme, and per-sample scans
   (running extremes, forward fills) are the slowest NumPy operations there are.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from coach.core.options import Params
from coach.core.scalar import fdiv


def _nz(mask: np.ndarray) -> np.ndarray:
    """Indices of the true entries of a 1-D mask (np.flatnonzero without its Python-level overhead)."""
    return mask.nonzero()[0]


LIMIT_MM = 1.0e6  # heights beyond +-1 km are not measurements

# Streaming feeds the layer a few samples at a time (~20 at 30 fps). For such a chunk, despike, smooth,
# the bridge of short gaps and phases run on Python floats: the same selections and the same IEEE
# arithmetic in the same order as their vectorised form, so the same numbers (tests/test_core_fastpaths.py
# checks it), for a fraction of the fixed cost of some hundred NumPy calls on tiny arrays.
SMALL_CHUNK_PATH = True  # False: every chunk takes the vectorised stages (for the equality tests)
SMALL_CHUNK = 160  # samples: up to this many, the scalar path (a 2 s fallback run: 60 samples at 30 fps, 120 at 60 Hz)


def sliding_max(a: np.ndarray, w: int, op=np.fmax) -> np.ndarray:
    """r[i] = max(a[i:i+w]) for i in 0..len(a)-w (exact; log-doubling). ``np.fmax`` ignores NaN
    (an all-NaN window gives NaN); pass ``np.fmin`` for the minimum."""
    r = a
    span = 1
    while span * 2 <= w:
        r = op(r[:-span], r[span:])
        span *= 2
    if span < w:
        m = a.size - w + 1
        r = op(r[:m], r[w - span : w - span + m])
    return r


def _skipping_nan(op):
    """``op`` (max or min) of the values that are not NaN (np.fmax's or np.fmin's reduction); NaN when none is."""
    def reduce(xs: list) -> float:
        v = [x for x in xs if x == x]
        return op(v) if v else math.nan
    return reduce


_nanmax, _nanmin = _skipping_nan(max), _skipping_nan(min)


class FrontendOut:
    """Processed samples of one chunk (equal-length arrays ``t, c, s, filled``) and its phases.
    (A small chunk: ``t, c, s`` lists of Python floats, ``filled`` a list of bools, or None where nothing was
    bridged; the engine appends them to its buffer as they are.)

    ``c``: cleaned height (despiked, gaps bridged; NaN where unbridged), ``s``: ``c``
    lightly smoothed (detection only), ``filled``: bridged samples. Phases touched by
    the chunk, in order: entry 0 is the phase that was open before the chunk (start
    and state unchanged, extreme updated), entries 1.. are phases that began in it.
    ``ph0`` is the ordinal of entry 0. The last entry is still open.
    """

    __slots__ = ("t", "c", "s", "filled", "ph0", "ph_start", "ph_state", "ph_extv", "ph_exti")

    def __init__(self, t, c, s, filled, ph0, ph_start, ph_state, ph_extv, ph_exti) -> None:
        self.t, self.c, self.s, self.filled = t, c, s, filled
        self.ph0, self.ph_start, self.ph_state, self.ph_extv, self.ph_exti = ph0, ph_start, ph_state, ph_extv, ph_exti

    def __len__(self) -> int:
        return len(self.t)


_EMPTY = np.zeros(0)


def _hermite(wt, wd, valid, a, b, tg):
    """Fill across short gaps (arrays a, b, tg): the parabola through the two samples before the gap
    and the first after it, so a bottom inside a short gap keeps its curvature; it needs nothing
    after the gap's first valid sample, so it adds no delay. Linear without a second sample before."""
    ta, tb, va, vb = wt[a], wt[b], wd[a], wd[b]
    am1 = np.maximum(a - 1, 0)
    t0, v0 = wt[am1], wd[am1]
    ok = (a >= 1) & valid[am1]
    with np.errstate(invalid="ignore", divide="ignore"):
        lin = va + (vb - va) * (tg - ta) / (tb - ta)
        # Newton form through (t0, v0), (ta, va), (tb, vb)
        d1 = (va - v0) / (ta - t0)
        d2 = ((vb - va) / (tb - ta) - d1) / (tb - t0)
        quad = v0 + d1 * (tg - t0) + d2 * (tg - t0) * (tg - ta)
    return np.where(ok, quad, lin)


class Frontend:
    """Chunk-invariant sample layer; see the module docstring."""

    def __init__(self, p: Params) -> None:
        self.p = p
        # despike
        self._ds_ctx = np.nan  # raw height of the last despiked sample (left neighbour)
        self._ds_ctx_t = np.nan
        self._ds_ctx2 = np.nan  # raw height of the sample before it (a turn is approached: spike_turn_mm_s)
        self._ds_t: list = []  # raw samples waiting for their right neighbour (Python floats)
        self._ds_h: list = []
        # bridge
        self._br_run: list = []  # samples (from a NaN run on) waiting to be resolved (times, despiked, successors)
        self._br_run_d: list = []
        self._br_run_hn: list = []
        self._br_ctx_t = _EMPTY  # already-output samples kept as context (slopes, previous cycle)
        self._br_ctx_d = _EMPTY  # (despiked, NaN where missing: slopes and validity)
        self._br_ctx_out = _EMPTY  # (as output, gaps bridged: the previous cycle for long gaps)
        self._br_tail_t: list = []  # context still to append (small chunks without gaps: kept as lists until needed)
        self._br_tail_d: list = []
        self._br_tail_out: list = []
        self._br_hist = int(np.ceil(3.5 / p.dt_s)) + 4
        # smooth
        self._sm_ctx = np.nan
        # phases: the open one (ordinal, start, state, extreme so far; NaN: no valid sample yet)
        self._win = [math.nan] * max(p.w - 1, 0)  # the last w - 1 smoothed samples (Python floats)
        self._ph = 0
        self._ph_start = 0
        self._state = 1
        self._extv = np.nan
        self._exti = 0
        self._g = 0  # global index of the next output sample

    # ------------------------------------------------------------ stages
    def _despike(self, t: np.ndarray, h: np.ndarray, final: bool):
        if self._ds_t:
            t = np.concatenate((self._ds_t, t))
            h = np.concatenate((self._ds_h, h))
        n = h.size
        if n == 0:
            return t, h, h
        n_out = n if final else n - 1
        # each sample with its neighbours, as views of one extended array (ctx on the left, NaN past the end)
        he = np.empty(n + 2)
        he[0] = self._ds_ctx
        he[1 : n + 1] = h
        he[n + 1] = np.nan
        te = np.empty(n + 2)
        te[0] = self._ds_ctx_t
        te[1 : n + 1] = t
        te[n + 1] = np.nan
        left, x, right = he[:n_out], he[1 : n_out + 1], he[2 : n_out + 2]
        left2 = np.empty(n_out)
        if n_out:
            left2[0] = self._ds_ctx2
            left2[1:] = he[: n_out - 1]
        tl, tx, tr = te[:n_out], te[1 : n_out + 1], te[2 : n_out + 2]
        S = self.p.options.spike_mm
        with np.errstate(invalid="ignore", divide="ignore"):
            # off the straight line between its neighbours (in time: frames may be missing)
            dlr = right - left
            mid = left + dlr * ((tx - tl) / (tr - tl))
            step = x - left
            side = left - left2
            turn = (step * side > 0.0) & (np.abs(side) >= 0.25 * np.abs(step))
            lim = np.where(turn, np.fmax(S, self.p.options.spike_turn_mm_s * (0.5 * (tr - tl))), S)
            spike = np.abs(x - mid) > lim + 0.1 * np.abs(dlr)
            # one neighbour missing (a dropout next to it): a jump faster than any chest moves.
            # Only samples next to a NaN can qualify, so look at those alone.
            gaps = (he != he).nonzero()[0]
            if gaps.size:
                vmax = self.p.options.spike_speed_mm_s
                i = gaps - 2  # samples whose right neighbour is missing
                i = i[(i >= 0) & (i < n_out)]
                jl = np.abs(x[i] - left[i])
                spike[i[(jl > S) & (jl > vmax * (tx[i] - tl[i]))]] = True
                i = gaps[gaps < n_out]  # ... whose left neighbour is missing
                jr = np.abs(x[i] - right[i])
                spike[i[(jr > S) & (jr > vmax * (tr[i] - tx[i]))]] = True
        d = x.copy()
        d[spike] = np.nan
        if n_out:
            self._ds_ctx2 = float(he[n_out - 1])
            self._ds_ctx = float(h[n_out - 1])
            self._ds_ctx_t = float(t[n_out - 1])
        self._ds_t, self._ds_h = t[n_out:].tolist(), h[n_out:].tolist()
        return t[:n_out], d, right.copy()  # right: each sample's raw successor (for lag-free smoothing)

    def _despike_small(self, t: list, h: list, final: bool):
        """process's height limit and _despike's rule on Python floats, sample by sample (the same
        selections and operations; the samples carried to the next chunk are kept limited, as there).
        Returns lists: (times, despiked heights, each one's raw successor, and what _smooth_small makes of
        the despiked heights where nothing is bridged: the same operations, in the same pass; its left
        neighbour context is left to the caller, which uses them only then)."""
        t_all = self._ds_t + t
        h_all = self._ds_h + [x if abs(x) <= LIMIT_MM else math.nan for x in h]
        n = len(t_all)
        n_out = n if final else n - 1
        he = [self._ds_ctx] + h_all + [math.nan]
        te = [self._ds_ctx_t] + t_all + [math.nan]
        S = self.p.options.spike_mm
        vmax = self.p.options.spike_speed_mm_s
        V = self.p.options.spike_turn_mm_s
        # Within half of spike_mm of both neighbours, a sample is no spike: the line between them passes within
        # that of it (times increase: both front doors drop or refuse others; heights are limited, so the line's
        # rounding is far below a micrometre), and both neighbours are measured. Such a sample, more than half of
        # them, skips the test (the same decision); its raw successor is its smoothing's right neighbour.
        H = 0.5 * S if S >= 1e-3 else 0.0
        d, sm = [], []
        d_add, sm_add = d.append, sm.append
        nH = -H  # (abs(a) <= H as -H <= a <= H: no builtin call on the common path)
        prev = self._sm_ctx  # the smoothing's left neighbour: the cleaned sample before
        lefts2 = itertools.chain((self._ds_ctx2,), he)  # (each sample's left neighbour's left one; no list copied)
        for left2, left, x, right, tl, tx, tr in zip(lefts2, he, he[1 : n_out + 1], he[2:], te, te[1:], te[2:]):  # (n_out)
            if nH <= x - left <= H and nH <= right - x <= H:
                d_add(x)
                sm_add(0.25 * (prev if prev == prev else x) + 0.5 * x + 0.25 * right)
                prev = x
                continue
            if x == x:  # (a missing sample is no spike: every test below compares NaN, False)
                dlr = right - left
                den = tr - tl
                mid = left + dlr * ((tx - tl) / den if den else fdiv(tx - tl, den))
                step = x - left
                side = left - left2
                turn = step * side > 0.0 and abs(side) >= 0.25 * abs(step)
                spike = abs(x - mid) > (max(S, V * (0.5 * den)) if turn else S) + 0.1 * abs(dlr)
                if right != right:  # a dropout next to it: a jump faster than any chest moves
                    jl = abs(x - left)
                    spike = spike or (jl > S and jl > vmax * (tx - tl))
                if left != left:
                    jr = abs(x - right)
                    spike = spike or (jr > S and jr > vmax * (tr - tx))
                if spike:
                    x = math.nan
            d_add(x)
            lft = prev if prev == prev else x  # (_smooth_small's arithmetic)
            sm_add(0.25 * lft + 0.5 * x + 0.25 * (right if abs(right - x) <= S + abs(x - lft) else x))
            prev = x
        if n_out:
            self._ds_ctx2 = he[n_out - 1]
            self._ds_ctx = he[n_out]
            self._ds_ctx_t = te[n_out]
        self._ds_t, self._ds_h = t_all[n_out:], h_all[n_out:]
        return t_all[:n_out], d, he[2 : n_out + 2], sm

    def _keep_context(self, t: list, d: list, out: list | None = None) -> None:
        """_bridge's context after a small chunk (``d`` despiked, ``out`` as output: bridged; None: the same as ``d``):
        appended lazily, as lists; the arrays are the last ``_br_hist`` samples of everything appended once _context
        has run."""
        self._br_tail_t += t
        self._br_tail_d += d
        self._br_tail_out += d if out is None else out
        h = self._br_hist
        # once the lists hold ``_br_hist`` samples, the arrays hold nothing the context still needs; the lists are
        # trimmed once they hold twice that (so no arrays are made while there is nothing to bridge)
        if len(self._br_tail_t) >= h:
            if self._br_ctx_t.size:
                self._br_ctx_t = self._br_ctx_d = self._br_ctx_out = _EMPTY
            if len(self._br_tail_t) >= 2 * h:
                del self._br_tail_t[:-h], self._br_tail_d[:-h], self._br_tail_out[:-h]

    def _context(self) -> None:
        """Append the lazily kept context (see _keep_context): the same arrays as appending chunk by chunk."""
        if self._br_tail_t:
            tt, dd = self._br_tail_t, self._br_tail_d
            keep = max(self._br_ctx_t.size + len(tt) - self._br_hist, 0)
            self._br_ctx_t = np.concatenate((self._br_ctx_t, tt))[keep:]
            self._br_ctx_d = np.concatenate((self._br_ctx_d, dd))[keep:]
            self._br_ctx_out = np.concatenate((self._br_ctx_out, self._br_tail_out))[keep:]
            self._br_tail_t, self._br_tail_d, self._br_tail_out = [], [], []

    def _context_last(self, k: int) -> tuple[list, list]:
        """The last ``k`` (fewer at the start) context samples: times and despiked heights, as lists."""
        tt, dd = self._br_tail_t, self._br_tail_d
        if len(tt) >= k:
            return tt[-k:], dd[-k:]
        m = k - len(tt)
        return self._br_ctx_t[-m:].tolist() + tt, self._br_ctx_d[-m:].tolist() + dd

    def _bridge_small(self, t: list, d: list, hn: list, final: bool):
        """_bridge on Python floats for a small chunk whose gaps need at most the cubic Hermite fill (the same
        selections, and _hermite's IEEE operations in the same order, sample by sample); None (nothing changed)
        where a gap needs the previous cycle (_fill's vectorised form) or nothing is left to output.
        Why: a dropout in a streamed chunk otherwise sends the whole sample layer through NumPy calls on a few
        dozen numbers. The Hermite fill reads at most the two samples before a gap, so the window's context is
        the last two context samples (its indices shifted, the same tests)."""
        o = self.p.options
        wt, wd = self._context_last(2)
        k = len(wt)
        wt += self._br_run
        wt += t
        wd += self._br_run_d
        wd += d
        n = len(wd)
        runs = []  # (first NaN, one past the last) of each NaN run after the context
        i = k
        while i < n:
            if wd[i] != wd[i]:
                s0 = i
                i += 1
                while i < n and wd[i] != wd[i]:
                    i += 1
                runs.append((s0, i))
            i += 1
        n_out = n
        max_gap = o.max_gap_s
        if runs and runs[-1][1] >= n:  # only the last run can be open: wait while it could still be bridged
            a = runs[-1][0] - 1
            if a >= 0 and wd[a] == wd[a] and not final and wt[n - 1] - wt[a] <= max_gap:
                n_out = runs[-1][0]
        fills = []
        for s0, e0 in runs:
            a = s0 - 1
            if not (a >= 0 and wd[a] == wd[a]) or e0 >= n or s0 >= n_out:
                continue
            span = wt[e0] - wt[a]
            if span <= max_gap:
                if span > o.hermite_max_s:
                    return None
                fills.append((s0, e0))
        if n_out == k:
            return None
        out = wd[:]
        filled = [False] * n
        for s0, e0 in fills:
            a, b = s0 - 1, e0
            ta, tb, va, vb = wt[a], wt[b], wd[a], wd[b]
            quad = a >= 1 and wd[a - 1] == wd[a - 1]
            if quad:  # Newton form through (t0, v0), (ta, va), (tb, vb), as _hermite
                t0, v0 = wt[a - 1], wd[a - 1]
                d1 = (va - v0) / (ta - t0)
                d2 = ((vb - va) / (tb - ta) - d1) / (tb - t0)
            for g in range(s0, e0):
                tg = wt[g]
                if quad:
                    out[g] = v0 + d1 * (tg - t0) + d2 * (tg - t0) * (tg - ta)
                else:
                    out[g] = va + (vb - va) * (tg - ta) / (tb - ta)
                filled[g] = True
        whn = self._br_run_hn + hn
        self._br_run, self._br_run_d, self._br_run_hn = wt[n_out:], wd[n_out:], whn[n_out - k :]
        t2, c = wt[k:n_out], out[k:n_out]
        self._keep_context(t2, wd[k:n_out], c)
        return t2, c, filled[k:n_out], whn[: n_out - k]

    def _bridge(self, t: np.ndarray, d: np.ndarray, hn: np.ndarray, final: bool):
        self._context()
        ctx_n = self._br_ctx_t.size
        if not self._br_run and d.size and not np.isnan(d).any():  # nothing to bridge: only keep the context
            keep = max(ctx_n + d.size - self._br_hist, 0)
            self._br_ctx_t = np.concatenate((self._br_ctx_t, t))[keep:]
            self._br_ctx_d = np.concatenate((self._br_ctx_d, d))[keep:]
            self._br_ctx_out = np.concatenate((self._br_ctx_out, d))[keep:]
            return t, d, np.zeros(d.size, bool), hn
        wt = np.concatenate((self._br_ctx_t, self._br_run, t))
        wd = np.concatenate((self._br_ctx_d, self._br_run_d, d))
        whn = np.concatenate((self._br_run_hn, hn))  # (no context part)
        n = wd.size
        if n == ctx_n:
            return t[:0], d[:0], np.zeros(0, bool), hn[:0]
        valid = ~np.isnan(wd)
        out = wd.copy()
        out[:ctx_n] = self._br_ctx_out  # the context as it was output (earlier gaps bridged)
        filled = np.zeros(n, bool)
        n_out = n
        if not valid[ctx_n:].all():
            n_out = self._fill(wt, wd, valid, out, filled, ctx_n, final)
        keep = max(n_out - self._br_hist, 0)
        self._br_ctx_t, self._br_ctx_d, self._br_ctx_out = wt[keep:n_out], wd[keep:n_out], out[keep:n_out]
        self._br_run, self._br_run_d = wt[n_out:].tolist(), wd[n_out:].tolist()
        self._br_run_hn = whn[n_out - ctx_n :].tolist()
        return wt[ctx_n:n_out], out[ctx_n:n_out], filled[ctx_n:n_out], whn[: n_out - ctx_n]

    def _fill(self, wt, wd, valid, out, filled, ctx_n, final) -> int:
        """Bridge the NaN runs of wd[ctx_n:] in ``out``; returns how many samples are decided."""
        o = self.p.options
        n = wd.size
        gap = ~valid
        gap[:ctx_n] = False
        starts = _nz(gap & ~np.concatenate(([False], gap[:-1])))  # first NaN of each run
        ends = _nz(gap & ~np.concatenate((gap[1:], [False]))) + 1  # one past its last NaN
        a = starts - 1  # last valid sample before (valid or context: never a NaN run, runs are maximal)
        b = ends  # first valid sample after (n: still open)
        n_out = n
        has_a = (a >= 0) & ~np.isnan(wd[np.maximum(a, 0)])
        ta = np.where(has_a, wt[np.maximum(a, 0)], np.nan)
        open_run = b >= n
        if open_run.any():  # only the last run can be open: wait while it could still be bridged
            if has_a[-1] and not final and wt[n - 1] - ta[-1] <= o.max_gap_s:
                n_out = int(starts[-1])
        bc = np.minimum(b, n - 1)
        span = wt[bc] - ta
        ok = has_a & ~open_run & (span <= o.max_gap_s)
        ok &= starts < n_out
        if not ok.any():
            return n_out
        # short runs: cubic Hermite, all at once
        long_run = ok & (span > o.hermite_max_s)
        self._hermite_runs(wt, wd, valid, out, filled, a, b, starts, ends, ok & ~long_run)
        # long runs, in order (each may read the ones before): the previous cycle inside a clear rhythm
        for r in _nz(long_run).tolist():
            s0, e0 = int(starts[r]), int(ends[r])
            vals = self._periodic(wt, out, int(a[r]), int(b[r]), wt[s0:e0])
            if vals is None:
                self._hermite_runs(wt, wd, valid, out, filled, a, b, starts, ends, np.arange(a.size) == r)
            else:
                out[s0:e0] = vals
                filled[s0:e0] = True
        return n_out

    @staticmethod
    def _hermite_runs(wt, wd, valid, out, filled, a, b, starts, ends, sel) -> None:
        if not sel.any():
            return
        ra, rb, rs, re = a[sel], b[sel], starts[sel], ends[sel]
        lens = re - rs
        gi = np.repeat(rs - np.cumsum(np.concatenate(([0], lens[:-1]))), lens) + np.arange(lens.sum())
        run = np.repeat(np.arange(ra.size), lens)
        out[gi] = _hermite(wt, wd, valid, ra[run], rb[run], wt[gi])
        filled[gi] = True

    def _periodic(self, wt, wd, a, b, tg):
        """Fill a long gap inside rhythmic compressions with the previous cycle (offset-corrected).

        A gap of up to ``max_gap_s`` can hide a whole compression; a straight line
        would erase it. The period comes from the autocorrelation of the ~2 s
        before the gap; without a clear rhythm (peak < 0.6), returns None. Nor where the
        last period before the gap moved less than half as much as the one before it: the
        trainee had stopped (the 2 s still correlate on the compressions before), and the
        copy of a still period with one bad frame in it made a compression nobody did.
        """
        dt = self.p.dt_s
        W = int(round(2.0 / dt))
        k0, k1 = max(int(round(0.33 / dt)), 1), int(round(1.2 / dt))
        lo = a - W - k1 + 1
        if lo < 0 or np.isnan(wd[lo : a + 1]).any():  # (earlier bridged gaps are fine: wd holds bridged values)
            return None
        x = wd[lo : a + 1]
        x = x - x[-W:].mean()
        cur = x[-W:]
        lags = np.arange(k0, k1 + 1)
        rows = (x.size - W) - lags[:, None] + np.arange(W)[None, :]
        prev = x[rows]
        den = np.sqrt((cur * cur).sum() * (prev * prev).sum(1))
        with np.errstate(invalid="ignore", divide="ignore"):
            r = (prev * cur[None, :]).sum(1) / den
        if not np.isfinite(r).any():
            return None
        j = int(np.nanargmax(r))
        if r[j] < 0.6:
            return None
        lag = float(lags[j])
        if 0 < j < lags.size - 1:  # parabolic refinement of the peak
            den2 = r[j - 1] - 2 * r[j] + r[j + 1]
            if den2 < 0:
                lag += 0.5 * (r[j - 1] - r[j + 1]) / den2
        P = lag * dt
        m = int(round(lag))
        last, before = wd[a - m + 1 : a + 1], wd[a - 2 * m + 1 : a - m + 1]
        if last.max() - last.min() < 0.5 * (before.max() - before.min()):
            return None  # the rhythm stopped before the gap (hands at rest: nothing to copy, docs/core.md)
        src_t, src_d = wt[lo : a + 1], wd[lo : a + 1]
        ta, tb = wt[a], wt[b]

        def back(tt):
            m = np.ceil((tt - ta) / P - 1e-9)
            return np.interp(tt - np.maximum(m, 1) * P, src_t, src_d)

        ea = wd[a] - np.interp(ta - P, src_t, src_d)
        eb = wd[b] - back(np.array([tb]))[0]
        return back(tg) + ea + (eb - ea) * (tg - ta) / (tb - ta)

    def _smooth(self, c: np.ndarray, f: np.ndarray, hn: np.ndarray) -> np.ndarray:
        """[1, 2, 1]/4 without extra delay: the right neighbour of a measured sample is its raw
        successor (ignored when missing or jumping like a spike); a bridged sample's is the next
        bridged or measured value, output with it."""
        n = c.size
        if n == 0:
            return c
        if n <= SMALL_CHUNK and SMALL_CHUNK_PATH:
            return np.array(self._smooth_small(c.tolist(), f.tolist(), hn.tolist()))
        left = np.empty(n)
        left[0] = self._sm_ctx
        left[1:] = c[:-1]
        lm = (left != left).nonzero()[0]
        if lm.size:
            left[lm] = c[lm]
        S = self.p.options.spike_mm
        with np.errstate(invalid="ignore"):
            keep = np.abs(hn - c) <= S + np.abs(c - left)  # (False where hn is missing)
        right = np.where(keep, hn, c)
        fi = f.nonzero()[0]
        if fi.size:  # a bridged sample's right neighbour: the next bridged or measured value
            nxt = np.append(c[1:], np.nan)[fi]
            right[fi] = np.where(nxt != nxt, c[fi], nxt)
        self._sm_ctx = float(c[-1])
        return 0.25 * left + 0.5 * c + 0.25 * right

    def _smooth_small(self, cl: list, fl: list, hl: list) -> list:
        """_smooth on Python floats, sample by sample (the same operations). (A chunk with nothing bridged is
        smoothed by _despike_small, in the same pass.)"""
        n = len(cl)
        S = self.p.options.spike_mm
        left = self._sm_ctx
        out = []
        for i in range(n):
            x = cl[i]
            lft = left if left == left else x
            r = hl[i] if abs(hl[i] - x) <= S + abs(x - lft) else x
            if fl[i]:  # a bridged sample's right neighbour: the next bridged or measured value
                nxt = cl[i + 1] if i + 1 < n else math.nan
                r = x if nxt != nxt else nxt
            out.append(0.25 * lft + 0.5 * x + 0.25 * r)
            left = x
        self._sm_ctx = cl[-1]
        return out

    def _phases(self, s):
        """Schmitt phases of the chunk: (ordinal of the open phase, starts, states, extremes). ``s``: an array, or a
        small chunk's list of Python floats (lists come back then)."""
        n = len(s)
        w = self.p.w
        T = self.p.options.detect_mm
        if n <= SMALL_CHUNK and SMALL_CHUNK_PATH:
            full = self._win + (s if isinstance(s, list) else s.tolist())
            z = sum(full)  # NaN when any sample is (or on inf - inf): then max and min that ignore NaN, as np.fmax
            return self._phases_small(full, n, w, T, z == z)
        s = np.asarray(s, float)
        full = np.concatenate((self._win, s)) if w > 1 else s
        ev = (s > sliding_max(full, w, np.fmin) + T).view(np.int8) - (s < sliding_max(full, w, np.fmax) - T).view(np.int8)
        # (NaN compares False: no event.) The state is the last nonzero event: it changes only where
        # an event differs from the previous nonzero one, and those are among the samples whose event
        # is nonzero and differs from their predecessor's (a sparse set, so no scan of the chunk).
        prev = np.empty(n, np.int8)
        prev[0] = 0
        prev[1:] = ev[:-1]
        cand = _nz((ev != 0) & (ev != prev))
        e = ev[cand]
        last = np.empty(e.size, np.int8)
        if e.size:
            last[0] = self._state
            last[1:] = e[:-1]
        ch = e != last
        trans = cand[ch]
        states = np.concatenate(([self._state], e[ch].astype(np.int64)))
        starts = np.concatenate(([0], trans))
        # extremes of every segment (max in UP, min in DOWN; NaN ignored), first occurrence
        mx = np.fmax.reduceat(s, starts)
        mn = np.fmin.reduceat(s, starts)
        ext = np.where(states > 0, mx, mn)
        if starts.size > 1 and starts[1] == 0:  # the open phase ended before this chunk's first sample
            ext[0] = np.nan
        lens = np.diff(np.concatenate((starts, [n])))
        hits = _nz(s == np.repeat(ext, lens))
        at = hits.searchsorted(starts)
        exti = np.where(np.isnan(ext), starts, hits[np.minimum(at, max(hits.size - 1, 0))] if hits.size else starts)
        # entry 0 continues the open phase: keep its extreme unless the chunk beats it (ties: the earlier)
        v0, i0 = ext[0], int(exti[0])
        cv = self._extv
        if cv == cv and not (v0 > cv if self._state > 0 else v0 < cv):
            v0, i0 = cv, self._exti
        else:
            i0 = self._g + i0 if v0 == v0 else self._exti
        ext[0] = v0
        g = self._g
        exti_g = g + exti
        exti_g[0] = i0
        start_g = g + starts
        start_g[0] = self._ph_start
        ph0 = self._ph
        if w > 1:
            self._win = full[-(w - 1) :].tolist()
        self._ph = ph0 + trans.size
        self._ph_start = int(start_g[-1])
        self._state = int(states[-1])
        self._extv = float(ext[-1])
        self._exti = int(exti_g[-1])
        return ph0, start_g, states, ext, exti_g

    def _phases_small(self, full: list, n: int, w: int, T: float, clean: bool = True):
        """_phases on Python floats for a small chunk (``full``: the window context, then the chunk; ``clean``:
        no NaN in it, else max and min ignore NaN as np.fmax and np.fmin do: a dropout's fallback runs stay here).
        Returns lists. The window's max (min) is computed only where the sample falls (rises) more than ``T``
        below (above) a bound of it: the running max (min) since it was last computed is never below (above)
        the window's, so elsewhere the event cannot fire; where it may, the same comparisons as _phases.
        (A NaN sample compares False: no event, as there.)"""
        mx, mn = (max, min) if clean else (_nanmax, _nanmin)
        sl = full[w - 1 :]
        state = state0 = self._state
        trans, states = [], [state0]
        hi, lo = math.inf, -math.inf  # bounds: hi >= max of the current window, lo <= its min
        for i in range(n):
            # the event (x > min + T) - (x < max - T) matters only where it is the other state: while UP,
            # only x < max - T can change it (and then only if not also x > min + T); while DOWN, the reverse.
            # (Only the current state's bound is kept: a change of state computes the other from the window.)
            x = sl[i]
            if state > 0:
                if x > hi:
                    hi = x
                if x < hi - T:
                    win = full[i : i + w]
                    hi = mx(win)
                    if x < hi - T and not x > (lo := mn(win)) + T:
                        trans.append(i)
                        states.append(-1)
                        state = -1
            else:
                if x < lo:
                    lo = x
                if x > lo + T:
                    win = full[i : i + w]
                    lo = mn(win)
                    if x > lo + T and not x < (hi := mx(win)) - T:
                        trans.append(i)
                        states.append(1)
                        state = 1
        # each phase's extreme (global indices): the segments [0, trans[0]), [trans[0], trans[1]), ... [.., n)
        g = self._g
        ext, exti_g, start_g = [], [], [self._ph_start]
        a = 0
        for b, st in zip(trans + [n], states):
            if b <= a:  # the open phase ended before this chunk's first sample
                ext.append(math.nan)
                exti_g.append(g + a)
            else:
                seg = sl[a:b]
                v = mx(seg) if st > 0 else mn(seg)
                ext.append(v)
                exti_g.append(g + a + seg.index(v) if v == v else g + a)  # (NaN: every sample missing)
            if b < n:
                start_g.append(g + b)
            a = b
        # entry 0 continues the open phase: keep its extreme unless the chunk beats it (ties: the earlier)
        v0, i0 = ext[0], exti_g[0]
        cv = self._extv
        if cv == cv and not (v0 > cv if state0 > 0 else v0 < cv):
            v0, i0 = cv, self._exti
        elif v0 != v0:
            i0 = self._exti
        ext[0] = v0
        exti_g[0] = i0
        ph0 = self._ph
        self._win = full[-(w - 1) :]
        self._ph = ph0 + len(trans)
        self._ph_start = start_g[-1]
        self._state = states[-1]
        self._extv = float(ext[-1])
        self._exti = exti_g[-1]
        return ph0, start_g, states, ext, exti_g

    # ------------------------------------------------------------ public
    def process(self, t, h, final: bool = False) -> FrontendOut:
        """Feed raw samples (arrays, or lists of Python floats); returns the samples now fully processed.
        Phases come as arrays, or as lists from a small chunk (the engine's table takes either)."""
        if 0 < len(self._ds_t) + len(t) <= SMALL_CHUNK and SMALL_CHUNK_PATH:
            t1, d, hn, sl = self._despike_small(t if isinstance(t, list) else t.tolist(),
                                                h if isinstance(h, list) else h.tolist(), final)
            z = sum(d)  # (NaN when a sample is missing; heights are limited, so no inf)
            if d and z == z and not self._br_run:
                # nothing to bridge (as _bridge: it only keeps the context), no bridged samples to smooth: ``sl``
                self._keep_context(t1, d)
                self._sm_ctx = d[-1]  # (as _smooth_small leaves it)
                ph0, start, state, extv, exti = self._phases(sl)
                self._g += len(sl)
                return FrontendOut(t1, d, sl, None, ph0, start, state, extv, exti)
            br = self._bridge_small(t1, d, hn, final) if (d or self._br_run) else None
            if br is not None:  # (a dropout: short gaps, on Python floats too)
                t2, c, f, hn2 = br
                sl = self._smooth_small(c, f, hn2)
                ph0, start, state, extv, exti = self._phases(sl)
                self._g += len(sl)
                return FrontendOut(t2, c, sl, f, ph0, start, state, extv, exti)
            t1, d, hn = np.array(t1), np.array(d), np.array(hn)
        else:
            t, h = np.asarray(t, float), np.asarray(h, float)
            with np.errstate(invalid="ignore"):
                h = np.where(np.abs(h) <= LIMIT_MM, h, np.nan)  # inf and absurd values: no measurement
            t1, d, hn = self._despike(t, h, final)
        t2, c, f, hn2 = self._bridge(t1, d, hn, final)
        s = self._smooth(c, f, hn2)
        if s.size:
            ph0, start, state, extv, exti = self._phases(s)
        else:
            ph0, start, state = self._ph, np.array([self._ph_start]), np.array([self._state])
            extv, exti = np.array([self._extv]), np.array([self._exti])
        self._g += t2.size
        return FrontendOut(t2, c, s, f, ph0, start, state, extv, exti)
