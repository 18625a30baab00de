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
   single-frame spike -> NaN (1 sample).
2. bridge: NaN runs whose valid neighbours are at most ``max_gap_s`` apart are
   filled (and flagged): a parabola through the two samples before and the one
   after for short runs, the previous cycle of a
   clear rhythm for longer ones (a 0.5 s hole can hide a whole compression);
   longer runs stay NaN.
3. smooth: a [1, 2, 1]/4 kernel for detection only, with no delay of its own
   (a measured sample's right neighbour is its raw successor, guarded against spikes).
4. phases: a Schmitt trigger against the running max/min over ``w`` samples:
   the signal is DOWN once it falls ``detect_mm`` below its recent max, UP once
   it rises ``detect_mm`` above its recent min. Each sample gets the global
   ordinal of its phase (UP phases even, DOWN odd) and the running extreme of its
   phase so far (max in UP, min in DOWN), with the extreme's global index.
"""
from __future__ import annotations

import numpy as np

from coach.core.options import Params

LIMIT_MM = 1.0e6  # heights beyond +-1 km are not measurements
_NAN_KEY = -2.0e6  # key of a NaN sample in the running-extreme scan (below any real key)
BIG = 5.0e6  # phase offset of the running-extreme key: keeps the scan segmented


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


class FrontendOut:
    """Processed samples (arrays of equal length)."""

    __slots__ = ("t", "c", "s", "filled", "state", "ph", "pst", "acc", "ext_idx", "ext_val", "pext_idx", "pext_val")

    def __init__(self, t, c, s, filled, state, ph, pst, acc, ext_idx, ext_val, pext_idx, pext_val) -> None:
        self.t, self.c, self.s, self.filled, self.state = t, c, s, filled, state
        self.ph, self.pst, self.acc, self.ext_idx, self.ext_val = ph, pst, acc, ext_idx, ext_val
        self.pext_idx, self.pext_val = pext_idx, pext_val  # extreme of the previous phase

    def __len__(self) -> int:
        return self.t.size


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


def _neighbours(a: np.ndarray, n_out: int, ctx: float) -> tuple[np.ndarray, np.ndarray]:
    """Left and right neighbours of a[:n_out] (ctx left of a[0], NaN right of the end)."""
    left = np.empty(n_out)
    right = np.full(n_out, np.nan)
    if n_out:
        left[0] = ctx
        left[1:] = a[: n_out - 1]
        m = min(n_out, a.size - 1)
        right[:m] = a[1 : m + 1]
    return left, right


class Frontend:
    """Chunk-invariant sample layer; see the module docstring."""

    def __init__(self, p: Params) -> None:
        self.p = p
        # despike
        self._ds_ctx = np.nan  # raw height of the last despiked sample (left neighbour)
        self._ds_ctx_t = np.nan
        self._ds_t = _EMPTY  # raw samples waiting for their right neighbour
        self._ds_h = _EMPTY
        # bridge
        self._br_run = _EMPTY  # samples (from a NaN run on) waiting to be resolved
        self._br_run_d = _EMPTY
        self._br_run_hn = _EMPTY
        self._br_ctx_t = _EMPTY  # already-output samples kept as context (slopes, previous cycle)
        self._br_ctx_d = _EMPTY  # (despiked, NaN where missing: slopes and validity)
        self._br_ctx_out = _EMPTY  # (as output, gaps bridged: the previous cycle for long gaps)
        self._br_hist = int(np.ceil(3.5 / p.dt_s)) + 4
        # smooth
        self._sm_ctx = np.nan
        # phases
        self._win = np.full(max(p.w - 1, 0), np.nan)
        self._state = 1
        self._ph = 0
        self._pst = np.nan  # start time of the current phase
        self._acc = -np.inf
        self._ext_idx = -1
        self._ext_val = np.nan
        self._pext_idx = -1
        self._pext_val = np.nan
        self._g = 0  # global index of the next output sample

    @property
    def processed(self) -> int:
        return self._g

    # ------------------------------------------------------------ stages
    def _despike(self, t: np.ndarray, h: np.ndarray, final: bool):
        if self._ds_t.size:
            t = np.concatenate((self._ds_t, t))
            h = np.concatenate((self._ds_h, h))
        n = h.size
        if n == 0:
            return t, h, h
        n_out = n if final else n - 1
        x = h[:n_out]
        left, right = _neighbours(h, n_out, self._ds_ctx)
        tl, tr = _neighbours(t, n_out, self._ds_ctx_t)
        S = self.p.options.spike_mm
        with np.errstate(invalid="ignore", divide="ignore"):
            # off the straight line between its neighbours (in time: frames may be missing)
            fr = (t[:n_out] - tl) / (tr - tl)
            mid = left + (right - left) * fr
            spike = np.abs(x - mid) > S + 0.1 * np.abs(right - left)
            # one neighbour missing (a dropout next to it): a jump faster than any chest moves
            vmax = self.p.options.spike_speed_mm_s
            jl = np.abs(x - left)
            jr = np.abs(x - right)
            spike |= np.isnan(right) & (jl > S) & (jl > vmax * (t[:n_out] - tl))
            spike |= np.isnan(left) & (jr > S) & (jr > vmax * (tr - t[:n_out]))
        d = np.where(spike, np.nan, x)
        if n_out:
            self._ds_ctx = float(h[n_out - 1])
            self._ds_ctx_t = float(t[n_out - 1])
        self._ds_t, self._ds_h = t[n_out:], h[n_out:]
        return t[:n_out], d, right  # right: each sample's raw successor (for lag-free smoothing)

    def _bridge(self, t: np.ndarray, d: np.ndarray, hn: np.ndarray, final: bool):
        ctx_n = self._br_ctx_t.size
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
        self._br_run, self._br_run_d = wt[n_out:], wd[n_out:]
        self._br_run_hn = whn[n_out - ctx_n :]
        return wt[ctx_n:n_out], out[ctx_n:n_out], filled[ctx_n:n_out], whn[: n_out - ctx_n]

    def _fill(self, wt, wd, valid, out, filled, ctx_n, final) -> int:
        """Bridge the NaN runs of wd[ctx_n:] in ``out``; returns how many samples are decided."""
        o = self.p.options
        n = wd.size
        gap = ~valid
        gap[:ctx_n] = False
        starts = np.flatnonzero(gap & ~np.concatenate(([False], gap[:-1])))  # first NaN of each run
        ends = np.flatnonzero(gap & ~np.concatenate((gap[1:], [False]))) + 1  # one past its last NaN
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
        for r in np.flatnonzero(long_run).tolist():
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
        before the gap; without a clear rhythm (peak < 0.6), returns None.
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
        left = np.empty(n)
        left[0] = self._sm_ctx
        left[1:] = c[:-1]
        left = np.where(np.isnan(left), c, left)
        S = self.p.options.spike_mm
        with np.errstate(invalid="ignore"):
            jump = np.abs(hn - c) > S + np.abs(c - left)
        right = np.where(np.isnan(hn) | jump, c, hn)
        if f.any():
            nxt = np.empty(n)
            nxt[:-1] = c[1:]
            nxt[-1] = np.nan
            right = np.where(f, np.where(np.isnan(nxt), c, nxt), right)
        self._sm_ctx = float(c[-1])
        return 0.25 * left + 0.5 * c + 0.25 * right

    def _phases(self, t: np.ndarray, s: np.ndarray):
        # (written with gathers and arithmetic instead of np.where: on long arrays np.where and the
        # scans dominate the batch time)
        n = s.size
        w = self.p.w
        T = self.p.options.detect_mm
        full = np.concatenate((self._win, s)) if w > 1 else s
        rmax = sliding_max(full, w, np.fmax)
        rmin = sliding_max(full, w, np.fmin)
        dn = s < rmax - T  # (NaN compares False: no event)
        up = s > rmin + T
        ev = up.view(np.int8) - dn.view(np.int8)
        idx1 = np.arange(1, n + 1)
        last = np.maximum.accumulate(idx1 * (ev != 0))  # 1 + index of the last event (0: none yet)
        state = np.concatenate(([np.int8(self._state)], ev))[last]
        prev = np.empty(n, np.int8)
        if n:
            prev[0] = self._state
            prev[1:] = state[:-1]
        change = state != prev
        ph = self._ph + np.cumsum(change)
        if n and np.isnan(self._pst) and self._g == 0:
            change[0] = True  # the stream's first sample opens the first phase (for pst / pext)
        cpos = np.maximum.accumulate(idx1 * change)  # 1 + index of the last phase start (0: before this chunk)
        pst = np.concatenate(([self._pst], t))[cpos]
        # running extreme of each phase: max of s in UP (key s), min of s in DOWN (key -s), offset by phase
        key = np.fmax(s * state, _NAN_KEY) + ph * BIG  # (fmax: a NaN sample gets the lowest key)
        acc = np.maximum.accumulate(np.concatenate(([self._acc], key)))
        new = key > acc[:-1]
        acc = acc[1:]
        pos = np.maximum.accumulate(idx1 * new)  # 1 + index of the phase's extreme (0: carried)
        ext_idx = np.concatenate(([self._ext_idx], self._g + idx1 - 1))[pos]
        ext_val = np.concatenate(([self._ext_val], s))[pos]
        # the previous phase's extreme, for every sample (so no stroke ever needs the previous phase's samples)
        pext_idx = np.concatenate(([self._pext_idx, self._ext_idx], ext_idx[:-1]))[cpos]
        pext_val = np.concatenate(([self._pext_val, self._ext_val], ext_val[:-1]))[cpos]
        if n:
            self._pext_idx = int(pext_idx[-1])
            self._pext_val = float(pext_val[-1])
            self._state = int(state[-1])
            self._ph = int(ph[-1])
            self._pst = float(pst[-1])
            self._acc = float(acc[-1])
            self._ext_idx = int(ext_idx[-1])
            self._ext_val = float(ext_val[-1])
            if w > 1:
                self._win = full[-(w - 1) :]
        return state, ph, pst, acc, ext_idx, ext_val, pext_idx, pext_val

    # ------------------------------------------------------------ public
    def process(self, t: np.ndarray, h: np.ndarray, final: bool = False) -> FrontendOut:
        """Feed raw samples; returns the samples now fully processed."""
        h = np.asarray(h, float)
        with np.errstate(invalid="ignore"):
            h = np.where(np.abs(h) <= LIMIT_MM, h, np.nan)  # inf and absurd values: no measurement
        t1, d, hn = self._despike(np.asarray(t, float), h, final)
        t2, c, f, hn2 = self._bridge(t1, d, hn, final)
        s = self._smooth(c, f, hn2)
        state, ph, pst, acc, ext_idx, ext_val, pext_idx, pext_val = self._phases(t2, s)
        self._g += t2.size
        return FrontendOut(t2, c, s, f, state, ph, pst, acc, ext_idx, ext_val, pext_idx, pext_val)
