"""Stroke layer of the core: phases -> measured, accepted compressions.

Every upstroke event (a DOWN->UP transition from the sample layer) is a
candidate. For each, vectorised over all candidates at once:

- bottom: the DOWN phase's minimum, refined by a least-squares parabola on the
  cleaned samples within +-fit_window_s (sub-frame time and depth);
- rest baseline ``B``: trimmed mean (median when few) of the last ``baseline_tops`` *rest tops*.
  A rest top is the (parabola-refined) top between two candidate bottoms that
  are in rhythm and both plausible strokes away, so hands-off peaks, pauses and
  hand movements never feed it, and a few leaning tops cannot drag it down;
- release: the upstroke's crossing of ``bottom + 0.9 (min(top, B) - bottom)``,
  decided as soon as ``release_wait_s`` of signal has passed after it (or the next
  downstroke began) -- the fixed point that keeps emission within 150 ms;
- start: the last downward crossing of ``ref - 0.1 (ref - bottom)`` before the
  bottom, ``ref = min(top before, B)``, searched at most ``max_down_s`` back;
- acceptance: depth within [min, max], fall and rise each cover ``stroke_frac``
  of the depth (``off_side_frac`` where the other side's top is above the rest: hands
  moving between off the chest and the head), not hands-off on both sides,
  durations plausible, no unbridged gap up to the release crossing.

Every quantity depends only on samples within a bounded window of its upstroke
event, the phases around it and the carried baseline history, so the streaming
buffer reproduces the batch numbers exactly.

How it stays fast: the sample layer hands over phases (start, extreme) rather
than per-sample scans; windows of samples are rows of a strided view (or plain
slices for one candidate); sums over a window run down the columns of a
(window x candidates) array, which is both the fast layout and the one whose
arithmetic does not depend on how many candidates a run holds. A streaming run
usually holds one candidate: it takes the stages on Python floats (see "one
candidate" below: the same selections and the same arithmetic in the same
order, so the same numbers), where a NumPy call on a one-element array would
cost more than the dozen float operations it stands for. The rare streaming
run with two or three candidates (after a gap, or a late run) takes them one
after another there (_process_each).
"""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from coach.core.frontend import _nz
from coach.core.options import Params
from coach.core.scalar import (
    baseline_one,
    break_time_one,
    rest_jump_one,
    since_one,
    bottom_one,
    cross_one,
    first_at_or_above_one,
    fmin,
    last_at_or_above_one,
    quantile_list,
    top_one,
)

START_FRACTION = 0.1
RELEASE_FRACTION = 0.9


@dataclass
class StrokeCarry:
    """What the stroke layer remembers between streaming feeds."""

    last_up: int = -1  # global index of the last decided upstroke event
    prev_bottom_t_s: float = math.nan  # previous candidate's bottom: fitted time (s)
    prev_bottom_mm: float = math.nan  # ... fitted height
    prev_bottom_smoothed_mm: float = math.nan  # ... smoothed height of its lowest sample
    prev_bottom_index: int = -(10**12)  # ... global index of its lowest sample
    tops: list = field(default_factory=list)  # last rest-top heights that were not leaning (<= baseline_tops)
    tops_t: list = field(default_factory=list)  # ... and when they were confirmed
    tops_all: list = field(default_factory=list)  # last rest-top heights, leaning or not (<= lean_ref_tops)
    amps: list = field(default_factory=list)  # ... and the stroke amplitudes around them
    tops_all_t: list = field(default_factory=list)  # ... and when they were confirmed (for breaks: see _break_times)
    rest_offset_mm: float = 0.0  # how far the rest jumped at breaks so far (_rest_jumps; moves a known rest)
    rest_break_t: float = -math.inf  # the last break weighed for a jump
    rest_since_t: float = -math.inf  # the last jump's break: nothing before it is remembered
    baseline: float = math.nan  # baseline used by the last decided candidate
    pending: tuple | None = None  # (t_up, bottom, baseline) of the first undecided candidate

    def forget_before(self, t_s: float) -> None:
        """Nothing of the rest tops from before ``t_s`` (a jump of the rest, or a rest moved from outside)."""
        self.tops_all_t, self.tops_all, self.amps = since_one(t_s, self.tops_all_t, self.tops_all, self.amps)
        self.tops_t, self.tops = since_one(t_s, self.tops_t, self.tops)


class Strokes:
    """Accepted compressions as arrays (one entry per compression). ``one``: a single compression's fields as Python
    floats in FIELDS order, where the one-candidate path made it (the bookkeeping reads them without NumPy)."""

    FIELDS = ("t_start", "t_bottom", "t_release", "depth", "residual", "bottom", "baseline", "gap_s", "t_emit", "top",
              "t_mid")
    __slots__ = FIELDS + ("one",)

    def __init__(self, **kw) -> None:
        self.one = kw.get("one")
        if self.one is None:
            for k in self.FIELDS:
                setattr(self, k, kw[k])

    def __getattr__(self, name: str):
        """A compression made as ``one`` gets its arrays when a field is first read (streaming reads ``one``)."""
        if name not in Strokes.FIELDS or self.one is None:
            raise AttributeError(name)
        a = np.array(self.one)
        for i, k in enumerate(Strokes.FIELDS):
            setattr(self, k, a[i : i + 1])
        return getattr(self, name)

    def __len__(self) -> int:
        return 1 if self.one is not None else self.t_bottom.size

    @classmethod
    def of_one(cls, fields: tuple) -> "Strokes":
        """One compression's fields as Python floats, in FIELDS order (``Strokes(one=fields)`` without keywords)."""
        st = cls.__new__(cls)
        st.one = fields
        return st

    @classmethod
    def empty(cls) -> "Strokes":
        z = np.zeros(0)
        return cls(**{k: z for k in cls.FIELDS})

    @classmethod
    def concat(cls, parts: list["Strokes"]) -> "Strokes":
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        if len(parts) == 1:
            return parts[0]
        return cls(**{k: np.concatenate([getattr(p, k) for p in parts]) for k in cls.FIELDS})


class Phases:
    """The sample layer's phases: ordinal ``k0 + i`` starts at global index ``start[i]``
    with ``state[i]`` (+1 UP, -1 DOWN) and extreme ``extv[i]`` at global index ``exti[i]``
    (NaN: no valid sample). The last one is still open (its extreme is running). Arrays, or lists of
    Python numbers in streaming (a handful of phases, extended every run: a list append is cheaper than
    a concatenation); the vectorised stages take ``as_arrays()``."""

    __slots__ = ("k0", "start", "state", "extv", "exti")

    def __init__(self, k0, start, state, extv, exti) -> None:
        self.k0, self.start, self.state, self.extv, self.exti = k0, start, state, extv, exti

    def as_arrays(self) -> "Phases":
        if isinstance(self.start, np.ndarray):
            return self
        return Phases(self.k0, np.array(self.start, np.int64), np.array(self.state, np.int64), np.array(self.extv, float),
                      np.array(self.exti, np.int64))


class _Padded:
    """A buffer array padded on both sides, for row windows without fancy 2-D indexing.

    Why: ``a[i0[:, None] + arange(w)]`` builds and checks an index per element; rows of a
    strided view of the padded array are copied whole, ~20x faster on long inputs.
    """

    __slots__ = ("a", "pad", "fill", "n", "a_pad", "views")

    def __init__(self, a: np.ndarray, fill: float | None) -> None:
        self.a, self.fill, self.n, self.pad = a, fill, a.size, -1
        self.views: dict = {}

    def rows(self, i0: np.ndarray, w: int) -> np.ndarray:
        """(len(i0), w) array of a[i0 + j], j = 0..w-1; positions outside the buffer hold ``fill``
        (None: the edge values, as for times)."""
        if i0.size == 1:
            lo = int(i0[0])
            if 0 <= lo and lo + w <= self.n:  # one row inside the buffer: a slice (a view)
                return self.a[None, lo : lo + w]
        if w > self.pad:
            pad = max(w, 2 * self.pad, 32)
            self.pad = pad
            a = self.a
            ap = np.empty(a.size + 2 * pad)
            ap[:pad] = a[0] if self.fill is None else self.fill
            ap[pad : pad + a.size] = a
            ap[pad + a.size :] = a[-1] if self.fill is None else self.fill
            self.a_pad = ap
            self.views = {}
        if i0.size == 1:  # one row: a slice (a view)
            lo = min(max(int(i0[0]), -self.pad), self.n) + self.pad
            return self.a_pad[None, lo : lo + w]
        lo = np.minimum(np.maximum(i0, -self.pad), self.n) + self.pad
        if lo.size * w <= 2048:  # few rows: plain indexing (building a strided view costs more)
            return self.a_pad[lo[:, None] + _ar(w)]
        v = self.views.get(w)
        if v is None:
            v = self.views[w] = sliding_window_view(self.a_pad, w)
        return v[lo]


_AR = np.arange(256)
_NANS = np.full(64, np.nan)
_NANS.flags.writeable = False


def _ar(k: int) -> np.ndarray:
    """0..k-1 (cached for small k)."""
    return _AR[:k] if k <= _AR.size else np.arange(k)


def _windows(a: np.ndarray, i0: np.ndarray, w: int) -> np.ndarray:
    """a[..., i0 + j] for j = 0..w-1 (all in range): shape (..., len(i0), w). Few rows: plain
    indexing; many: rows of a strided view (no per-element index to build and check)."""
    if i0.size * w <= 2048:
        return a[..., i0[:, None] + _ar(w)]
    return sliding_window_view(a, w, axis=-1)[..., i0, :]


def _gather(tp: _Padded, cp: _Padded, ic, tcen, k):
    """Samples ic-k..ic+k, one column per candidate: (time offsets from tcen, values, valid mask).

    Column layout (window position x candidate) so that every sum over the window is a
    plain sequence of vector adds: fast, and the same arithmetic whatever the number of
    candidates, which keeps streaming and batch bit-identical. (A single candidate is
    gathered twice: NumPy sums a lone column pairwise, several columns sequentially.)
    """
    w = 2 * k + 1
    if ic.size == 1:
        tau = np.empty((w, 2))
        tau[...] = (tp.rows(ic - k, w)[0] - tcen[0])[:, None]
        y = np.empty((w, 2))
        y[...] = cp.rows(ic - k, w)[0][:, None]
    else:
        tau = np.ascontiguousarray(tp.rows(ic - k, w).T) - tcen  # (C order: the fits' passes run ~1.7x faster)
        y = np.ascontiguousarray(cp.rows(ic - k, w).T)
    return tau, y, y == y


def _wquad(u, y, w):
    """Weighted least-squares parabola y ~ b0 + b1 u + b2 u^2 per column (closed form); ok: enough samples."""
    P = np.empty((8,) + u.shape)
    P[0] = w
    np.multiply(w, u, out=P[1])
    np.multiply(P[1], u, out=P[2])
    np.multiply(P[2], u, out=P[3])
    np.multiply(P[3], u, out=P[4])
    np.multiply(w, y, out=P[5])
    np.multiply(P[5], u, out=P[6])
    np.multiply(P[6], u, out=P[7])
    S = np.add.reduce(P, 1)  # window sums s0..s4, t0..t2 (see _gather on the order)
    # the symmetric normal equations [[s0 s1 s2] [s1 s2 s3] [s2 s3 s4]] b = [t0 t1 t2] by cofactors,
    # all six at once: C00 C01 C02 C11 C12 C22
    C = S[_CA] * S[_CB] - S[_CC] * S[_CD]
    s0 = S[0]
    det = s0 * C[0] + S[1] * C[1] + S[2] * C[2]
    sc = np.maximum(s0, 1.0)
    ok = (np.add.reduce(w > 0, 0) >= 4) & (np.abs(det) > 1e-12 * (sc * sc * sc))
    num = C[_CN] * S[_CT]
    b = (num[0::3] + num[1::3] + num[2::3]) / np.where(ok, det, 1.0)
    return b[0], b[1], b[2], ok


# index tables for _wquad: cofactor k = S[_CA[k]] * S[_CB[k]] - S[_CC[k]] * S[_CD[k]], and b_i = sum_j C(i,j) t_j
_CA = np.array([2, 2, 1, 0, 1, 0])
_CB = np.array([4, 3, 3, 4, 2, 2])
_CC = np.array([3, 1, 2, 2, 0, 1])
_CD = np.array([3, 4, 2, 2, 3, 1])
_CN = np.array([0, 1, 2, 1, 3, 4, 2, 4, 5])
_CT = np.array([5, 6, 7, 5, 6, 7, 5, 6, 7])


def _vertex(b0, b1, b2, ok, lo, hi, sign):
    """Offset (within [lo, hi]) and value of the parabola's extreme (``sign`` +1: a minimum, -1: a maximum,
    per column or for all); without the right curvature: offset 0."""
    curv = (sign * b2) > 1e-12
    du = np.where(curv, -b1 / (2.0 * np.where(curv, b2, 1.0)), 0.0)
    du = np.minimum(np.maximum(du, lo), hi)
    return np.where(ok, du, 0.0), np.where(ok, b0 + (b1 + b2 * du) * du, np.nan)


def _fits(t, tp, cp, c, ib, t_ib, hw, tcen, p: Params):
    """Bottoms (time, height) of the candidates at ``ib`` and rest levels of the tops centred at ``tcen``.

    Bottom: a triangle-weighted least-squares parabola, re-centred once. Why: the
    weights fall smoothly to zero at +-hw, so the result moves continuously with the
    sampling phase (a boxcar window jumps when a sample enters it), and re-centring on
    the first vertex makes the window symmetric about the bottom. The vertex stays
    within ``Params.vertex_s`` of the discrete minimum (one nominal sample at <= 33 fps,
    30 ms above: CoreOptions.bottom_shift_s); too few valid samples: the sample itself.

    Top (between its 80 % crossings): a weighted mean of two estimates that err in opposite
    directions on the shapes CPR tops take, a parabola's vertex over
    +-top_fit_window_s (overshoots a flat hold) and the window mean over
    +-top_mean_window_s (undershoots a round peak), ``top_vertex_weight`` (3:1) toward the vertex. The parabola's window is never
    under two sample intervals (Params.top_fit_s): narrower, it holds only 3 samples
    at some sampling phases and the top silently falls back to the window mean alone
    (at 30 fps 4 tops in 10 did, biasing the baseline low). See docs/core.md.

    The first bottom fit and the top fits are one least-squares pass (columns side by
    side): every column is computed alone, so this only saves NumPy calls.
    """
    m, k = ib.size, tcen.size
    if m + k <= 2 and ONE_CANDIDATE_PATH:  # (streaming's usual case: the same operations on Python floats, see bottom_one, top_one)
        tl, cl = t.tolist(), c.tolist()
        bts = [bottom_one(tl, cl, int(i), float(ti), float(h), p) for i, ti, h in zip(ib, t_ib, hw)]
        return (np.array([b[0] for b in bts]), np.array([b[1] for b in bts]),
                np.array([top_one(tl, cl, float(x), p) for x in tcen]))
    ic = np.minimum(t.searchsorted(tcen), t.size - 1)
    tau, y, valid = _gather(tp, cp, np.concatenate((ib, ic)), np.concatenate((t_ib, tcen)), p.fit_k)
    tw = p.top_fit_s
    cols = tau.shape[1]  # m + k, or 2 for a lone column (see _gather)
    # bottom columns: triangle weights over +-hw; top columns: a boxcar over +-tw
    scale = np.empty(cols)
    scale[:m] = hw
    scale[m:] = tw
    u0 = tau / scale
    lim = np.empty(cols)
    lim[:m] = p.vertex_s / hw
    lim[m:] = p.dt_s / tw
    yz = np.where(valid, y, 0.0)
    w = np.where(valid, np.maximum(1.0 - np.abs(u0), 0.0), 0.0)
    w[:, m:] = valid[:, m:] & (np.abs(u0[:, m:]) <= 1.0 + 1e-9)
    sign = np.ones(cols)
    sign[m:] = -1.0
    b0, b1, b2, ok = _wquad(u0, yz, w)
    du, val = _vertex(b0, b1, b2, ok, -lim, lim, sign)
    # the bottoms, re-centred once
    center = du[:m]
    if m:
        if m == 1:
            u1, y1, v1, c1, l1 = u0[:, :1] - center, yz[:, :1], valid[:, :1], center, lim[:1]
            u1, y1, v1 = np.repeat(u1, 2, 1), np.repeat(y1, 2, 1), np.repeat(v1, 2, 1)
            c1, l1 = np.repeat(c1, 2), np.repeat(l1, 2)
        else:
            u1, y1, v1, c1, l1 = u0[:, :m] - center, yz[:, :m], valid[:, :m], center, lim[:m]
        w1 = np.where(v1, np.maximum(1.0 - np.abs(u1), 0.0), 0.0)
        b0, b1, b2, ok1 = _wquad(u1, y1, w1)
        du1, vb = _vertex(b0, b1, b2, ok1, -l1 - c1, l1 - c1, 1.0)
        center = (c1 + du1)[:m]
        vb = vb[:m]
    else:
        vb = center
    tb = t_ib + center * hw
    bv = np.where(np.isnan(vb), c[ib], vb)
    # the tops: vertex value and window mean
    vpar = val[m : m + k]
    mw = valid[:, m:] & (np.abs(tau[:, m:]) <= p.options.top_mean_window_s)
    cnt = np.add.reduce(mw, 0)
    ym = np.where(mw, y[:, m:], 0.0)
    if ym.shape[1] == 1:  # (a lone column is summed pairwise: keep two, see _gather)
        ym = np.repeat(ym, 2, 1)
    vmean = np.add.reduce(ym, 0)[: cnt.size] / np.maximum(cnt, 1)
    vmean = np.where(cnt > 0, vmean, np.nan)[:k]
    wv = p.options.top_vertex_weight
    q = np.where(np.isnan(vpar), vmean, wv * vpar + (1.0 - wv) * vmean)
    return tb, bv, q



def _interp_cross(t, s, a, level):
    """Time where s crosses ``level`` between samples a and a+1, clipped to [t[a], t[a+1]]."""
    sa, sb = s[a], s[a + 1]
    fr = (level - sa) / (sb - sa)
    fr = np.where(np.isfinite(fr), np.minimum(np.maximum(fr, 0.0), 1.0), 1.0)
    ta = t[a]
    return ta + fr * (t[a + 1] - ta)


def _quantiles(values: np.ndarray, ends: np.ndarray, K: int, q: float, times=None, lo=None) -> np.ndarray:
    """Nearest-rank q-quantile of values[..., max(0, e-K):e] for each e in ``ends`` (NaN ignored; NaN when
    none), for every row of ``values`` at once; with ``times`` and ``lo`` (per end), only the values whose time is
    at or after that end's ``lo`` (nothing from before a jump of the rest)."""
    if times is not None:
        if ends.size == 1:
            values = np.where(np.asarray(times) >= lo[0], values, np.nan)
        else:
            tw = _windows(np.concatenate((np.full(K, -np.inf), np.asarray(times, float))), ends, K)
            pad = np.concatenate((np.full(values.shape[:-1] + (K,), np.nan), values), axis=-1)
            win = np.where(tw >= lo[:, None], _windows(pad, ends, K), np.nan)
            return _quantile_rows(win, K, q)
    if ends.size == 1 and ONE_CANDIDATE_PATH:  # (streaming's usual case: the same selection on Python floats, see _quantiles_one)
        return _quantiles_one(values, int(ends[0]), K, q)
    pad = np.concatenate((np.full(values.shape[:-1] + (K,), np.nan), values), axis=-1)
    return _quantile_rows(_windows(pad, ends, K), K, q)  # pad index e..e+K-1 == values[e-K..e-1]


def _quantile_rows(win: np.ndarray, K: int, q: float) -> np.ndarray:
    """_quantiles' selection over windows already gathered (NaN last after the sort)."""
    win = np.sort(win, axis=-1)
    cnt = K - np.add.reduce(win != win, -1)
    qi = np.minimum(np.maximum(np.round(q * (cnt - 1)).astype(np.int64), 0), K - 1)
    flat = win.reshape(-1, K)
    med = flat[_ar(flat.shape[0]), qi.reshape(-1)].reshape(qi.shape)
    return np.where(cnt > 0, med, np.nan)


def _quantiles_one(values: np.ndarray, e: int, K: int, q: float) -> np.ndarray:
    """_quantiles for a single end: a selection (no arithmetic on the values), so the same numbers; for
    one candidate a sort of <= K Python floats costs a fraction of the dozen NumPy calls."""
    out = [quantile_list(row, e, K, q) for row in values.reshape(-1, values.shape[-1]).tolist()]
    return np.array(out).reshape(values.shape[:-1] + (1,))


def _row_median(a: np.ndarray) -> np.ndarray:
    """Median of each row's non-NaN values (NaN: none), by sorting: the same float as scalar.median_one."""
    w = np.sort(a, axis=1)
    cnt = a.shape[1] - np.add.reduce(w != w, 1)
    r = np.arange(a.shape[0])
    med = 0.5 * (w[r, np.maximum((cnt - 1) // 2, 0)] + w[r, np.maximum(cnt // 2, 0)])
    return np.where(cnt > 0, med, np.nan)


def _baseline(vals, vt, ends, t_now, K: int, window_s: float, trim: int, t_break: np.ndarray, break_mm: float,
              min_tops: int, lo_t=None) -> np.ndarray:
    """Robust mean of the last K rest tops before each candidate.

    Which tops: after a break (``t_break``, the first rest top after a long gap between rest tops: a pause, or
    tracking lost; -inf: none) only the tops since, once there are ``min_tops`` of them and their median has moved
    more than ``break_mm`` from the earlier ones' (the hands came back elsewhere); otherwise only those from the
    last ``window_s`` when at least three are that recent (drift).

    The robust mean drops the ``trim`` highest and lowest tops and averages the rest (a trimmed
    mean); with fewer than 2 trim + 3 tops it is their median. Why not the median throughout: a
    top's error is close to normal, for which the median of 9 wastes about a third of the
    information; one leaning top that escaped its check or one noisy top on either side is still
    dropped. (The middle tops are summed in sorted order, one row of a (position x candidate)
    array after another, the same arithmetic for any number of candidates, so streaming stays
    bit-identical to batch.)
    """
    if ends.size == 0:
        return np.zeros(0)
    if ends.size == 1 and ONE_CANDIDATE_PATH:  # (streaming's usual case: the same arithmetic on Python floats, see baseline_one)
        return np.array([baseline_one(vals, vt, int(ends[0]), float(t_now[0]), K, window_s, trim, float(t_break[0]),
                                      break_mm, min_tops, -math.inf if lo_t is None else float(lo_t[0]))])
    v = _windows(np.concatenate((_NANS[:K] if K <= _NANS.size else np.full(K, np.nan), vals)), ends, K)  # (a copy)
    tw = _windows(np.concatenate((-np.inf * np.ones(K), vt)), ends, K)
    if lo_t is not None:  # nothing from before a jump of the rest
        v[tw < lo_t[:, None]] = np.nan
    recent = tw >= (t_now - window_s)[:, None]
    use_recent = np.add.reduce(recent & (v == v), 1) >= 3
    broke = np.zeros(ends.size, bool)
    rows = _nz(t_break > -np.inf)  # (candidates with a break among their last rest tops)
    if rows.size:
        vr, after = v[rows], tw[rows] >= t_break[rows, None]
        valid = vr == vr
        n_after = np.add.reduce(after & valid, 1)
        br = (n_after >= min_tops) & (n_after < np.add.reduce(valid, 1))
        if br.any():
            moved = _row_median(np.where(after, vr, np.nan)) - _row_median(np.where(after, np.nan, vr))
            br &= np.abs(moved) > break_mm
            broke[rows[br]] = True
            v[rows[br]] = np.where(after[br], vr[br], np.nan)
    v[use_recent[:, None] & ~broke[:, None] & ~recent] = np.nan
    win = np.sort(v, axis=1)
    cnt = K - np.add.reduce(win != win, 1)
    r = np.arange(ends.size)
    med = 0.5 * (win[r, np.maximum((cnt - 1) // 2, 0)] + win[r, np.maximum(cnt // 2, 0)])
    hi = cnt - trim  # the trimmed mean: sorted positions trim .. cnt - trim - 1
    pos = _ar(K)
    mid = np.where((pos >= trim) & (pos < hi[:, None]), win, 0.0).T  # (positions x candidates, zeros outside)
    if ends.size == 1:  # (a lone column is summed pairwise: keep two, see _gather)
        mid = np.repeat(mid, 2, 1)
    acc = np.add.reduce(np.ascontiguousarray(mid), 0)[: ends.size]  # in position order, for any number of candidates
    est = np.where(cnt >= 2 * trim + 3, acc / np.maximum(cnt - 2 * trim, 1), med)
    return np.where(cnt > 0, est, np.nan)


def _last_at_or_above(sp: _Padded, lo: np.ndarray, hi: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Largest j in [lo, hi] with s[j] >= level (per row), -1 if none. Short window first."""
    if lo.size == 1:
        l0, h0 = max(int(lo[0]), 0), int(hi[0])
        hit = _nz(sp.a[l0 : h0 + 1] >= level[0])
        return np.array([l0 + int(hit[-1]) if hit.size else -1])
    out = np.full(lo.size, -1, np.int64)
    if lo.size == 0:
        return out
    width = max(int((hi - lo).max()) + 1, 1)
    short = min(width, 24)
    rows = None
    for wdt in (short, width):
        if rows is None:
            rows = np.arange(lo.size)
            h, l, lv = hi, lo, level
        else:
            rows = _nz((out < 0) & (hi - lo + 1 > short))
            if rows.size == 0:
                break
            h, l, lv = hi[rows], lo[rows], level[rows]
        # window hi-wdt+1 .. hi, read backwards: the first hit is the largest j
        win = sp.rows(h - (wdt - 1), wdt)[:, ::-1]
        hit = (win >= lv[:, None]) & (np.arange(wdt)[None, :] <= (h - l)[:, None])
        first = hit.argmax(1)
        anyh = hit[np.arange(rows.size), first]
        out[rows[anyh]] = h[anyh] - first[anyh]
        if wdt == width:
            break
    return out


def _first_at_or_above(sp: _Padded, lo: np.ndarray, hi: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Smallest j in [lo, hi] with s[j] >= level (per row); hi when none. Short window first."""
    if lo.size == 1:
        l0, h0 = max(int(lo[0]), 0), int(hi[0])
        hit = _nz(sp.a[l0 : h0 + 1] >= level[0])
        return np.array([l0 + int(hit[0]) if hit.size else h0])
    out = hi.copy()
    if lo.size == 0:
        return out
    width = max(int((hi - lo).max()) + 1, 1)
    short = min(width, 24)
    found = np.zeros(lo.size, bool)
    rows = np.arange(lo.size)
    for wdt in (short, width):
        if wdt != short:
            rows = _nz(~found & (hi - lo + 1 > short))
            if rows.size == 0:
                break
        h, l, lv = hi[rows], lo[rows], level[rows]
        hit = (sp.rows(l, wdt) >= lv[:, None]) & (np.arange(wdt)[None, :] <= (h - l)[:, None])
        first = hit.argmax(1)
        anyh = hit[np.arange(rows.size), first]
        found[rows] = anyh
        out[rows[anyh]] = l[anyh] + first[anyh]
        if wdt == width:
            break
    return out


def _count(sorted_idx: np.ndarray, lo, hi):
    """How many of the sorted indices lie in [lo, hi) (per row)."""
    return sorted_idx.searchsorted(hi, side="left") - sorted_idx.searchsorted(lo, side="left")


def _gap_free(c: list, lo: int, hi: int) -> bool:
    """No NaN in c[lo:hi] (bounds clipped to the buffer): ``_count(nan_i, lo, hi) == 0`` for one row, without
    the buffer's NaN index. (The sum of a window is NaN only with a NaN in it: cleaned heights are finite or NaN.)"""
    z = sum(c[max(lo, 0) : max(hi, 0)])
    return z == z


def _need_from(t, j: int, p: Params) -> int:
    """First local index streaming must keep for candidates from local index j on."""
    if isinstance(t, list):
        return bisect.bisect_left(t, t[j] - p.back_s)
    return int(t.searchsorted(t[j] - p.back_s, side="left"))


def _prefix_max(a: np.ndarray) -> np.ndarray:
    """Running max along each row, NaN ignored (a max is exact in any order, so any scan gives the same
    numbers). NumPy's accumulate along the rows: on the benchmark's hour (5 300 rows of 64) 1.2 ms against
    2.0 for the log-step scan this used to be (session 15)."""
    return np.fmax.accumulate(a, axis=1)


class _Release:
    """The release rule on each candidate's upstroke window (u .. u + width - 1).

    ``M(f)``: the running max of the upstroke at sample f (the top seen so far);
    ``first(level)``: the first sample of the upstroke at or above a level.
    """

    def __init__(self, sp: _Padded, tp: _Padded, u: np.ndarray, width: int) -> None:
        self.u = u
        self.sw = sp.rows(u, width)
        self.rm = _prefix_max(self.sw)
        self.tw = tp.rows(u, width + 1)

    def top(self, a, fm):
        return self.rm[a, fm - self.u[a]]

    def first(self, a, level, fm):
        """First j in [u, fm] with s[j] >= level (fm when none). The running max only grows, so that
        is the number of window samples whose running max is not at the level (NaN level: all)."""
        return np.minimum(self.u[a] + _count_below(self.rm, a, level), fm)

    def first_time(self, a, x, lo, hi):
        """First sample j >= lo with t[j] >= x, searched up to hi (hi + 1 when beyond; times only grow)."""
        return np.minimum(np.maximum(self.u[a] + _count_below(self.tw, a, x), lo), hi + 1)


def _count_below(rows: np.ndarray, a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """For each i: how many of rows[a[i]] (nondecreasing, no NaN) are not >= x[i].

    Few rows: count them; many: a branchless binary search (log2(width) steps of one gather, one
    comparison and one select over the rows, instead of a pass over every element; session 15: half the
    time of the bounded search it replaced). Both give the same integer. (A NaN level counts every sample.)
    """
    w = rows.shape[1]
    if a.size == 1:  # (NaN sorts last: a NaN level counts every sample, as below)
        return np.searchsorted(rows[a[0]], x)
    if a.size < 64:
        return np.add.reduce(~(rows[a] >= x[:, None]), 1)
    flat = np.ascontiguousarray(rows).reshape(-1)
    base = a * w - 1  # flat index of element k of row a[i]: base[i] + k + 1
    # pos only advances past elements below x; a probe beyond the row reads its last element instead,
    # which is >= x unless every element is below (that case is the whole row: allb)
    allb = ~(flat[base + w] >= x)
    pos = np.zeros(a.size, np.int64)
    step = 1 << (w.bit_length() - 1)
    while step:
        cand = pos + step
        pos = np.where(flat[base + np.minimum(cand, w)] >= x, pos, cand)
        step >>= 1
    return np.where(allb, w, pos)


def process(buf, phases: Phases, base: int, p: Params, carry: StrokeCarry, final: bool) -> tuple[Strokes, int]:
    """Decide every candidate in ``buf`` after ``carry.last_up`` that can be decided.

    ``buf`` holds processed samples (arrays ``t, c, s, filled``) starting at global
    index ``base``; ``phases`` the sample layer's phases (at least the two before
    every undecided candidate). Returns the accepted compressions and the local
    index from which the buffer is still needed. Updates ``carry``.
    """
    carry.pending = None
    if len(buf.t) < 3:
        return Strokes.empty(), 0
    run = _Run(buf, phases, base, p)
    if len(phases.start) <= 16 and ONE_CANDIDATE_PATH:  # (streaming's few phases)
        return _process_each(run, carry, _undecided(phases, base, carry), final)
    if not _candidates(run, carry):
        return Strokes.empty(), _need_from(run.t, run.n - 1, p)
    if run.n_cand == 1 and ONE_CANDIDATE_PATH:
        run.as_lists()
        return _process_one(run, carry, final)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _process(run, carry, final)


def _undecided(ph: "Phases", base: int, carry: StrokeCarry) -> list:
    """_candidates' test on Python ints: the phases of the upstroke events not decided yet (UP phases >= 2)."""
    lo = max(carry.last_up, base)  # (st > last_up and st - base >= 1)
    st, sg = (ph.start, ph.state) if isinstance(ph.start, list) else (ph.start.tolist(), ph.state.tolist())
    return [i for i in range(2, len(st)) if sg[i] > 0 and st[i] > lo]


def _process_each(run: "_Run", carry: StrokeCarry, js: list, final: bool):
    """The candidates at phases ``js`` one after another on the one-candidate stages, until one is undecided.
    Why the same numbers as _process on all of them: each decided candidate leaves the carry as a run that
    ended after it would, and the next one reads only the carry and the samples (the kernel is chunk-invariant);
    a streaming run with two candidates (after a gap, a late run) so stays off NumPy."""
    p = run.p
    if not js:
        return Strokes.empty(), _need_from(run.t, run.n - 1, p)
    run.as_lists()  # (the one-candidate stages read the buffer as lists, on Python floats: no NumPy error state)
    out = None
    for i, j in enumerate(js):
        one = _Run(run, run.ph, run.base, p) if i else run  # (after the first, a fresh run on the same lists)
        _candidate_one(one, carry, j)
        last_up = carry.last_up
        st, need = _process_one(one, carry, final)
        out = st if out is None else Strokes.concat([out, st])
        if carry.last_up == last_up:  # undecided: so are the ones after it
            break
    return out, need


class _Run:
    """One kernel run: the buffer, and the candidates' arrays as the stages fill them in.

    Shapes: every candidate array has one entry per candidate (upstroke event), in time order; indices
    are local to the buffer (global index - ``base``); heights in mm, times in s.
    """

    # What the stages fill in (class attributes until set: a run sets only what its stages compute).
    # set by _candidates (``_i``: local sample index, may be < 0 before the buffer; ``_ic``: clipped to it)
    cand_phase = None  # each candidate's UP phase (index into ph)
    up_i = None  # first sample of that UP phase
    bottom_i = bottom_ic = None  # the DOWN phase's lowest smoothed sample
    bottom_sample_t_s = None  # ... its time
    bottom_smoothed_mm = None  # ... its smoothed height
    top_before_smoothed_mm = None  # the previous UP phase's highest smoothed height
    top_before_i = top_before_ic = None  # ... its sample
    measurable = None  # bottom in the buffer, a top before it, the upstroke not too long
    fit_half_width_s = None  # the bottom fit's half-width (narrowed on fast strokes)
    prev_bottom_i = None  # the previous candidate's lowest sample (the carry's for the first)
    n_cand = 0
    t_padded = clean_padded = smooth_padded = None  # views that read past either end
    # set by _measure
    bottom_t_s = bottom_mm = None  # each candidate's fitted bottom
    prev_bottom_t_s = prev_bottom_mm = None  # ... and the previous candidate's
    nan_i = None  # samples with no cleaned height
    # set by _releases (_releases_one: up_end only)
    good_top = None  # set by _baselines: the top before each candidate is a rest top that feeds the baseline
    rest_offset_mm = rest_break_t = rest_since_t = None  # ... and the rest's jumps (_rest_jumps)
    release = None  # the upstrokes' running maxima and crossings (_Release), for the centres
    up_end = None  # each candidate's last upstroke sample

    def __init__(self, buf, ph: Phases, base: int, p: Params) -> None:
        self.p, self.o, self.ph, self.base = p, p.options, ph, base
        # the buffer: times (s), cleaned and smoothed heights (mm), whether a sample was bridged
        self.t, self.c, self.s, self.filled = buf.t, buf.c, buf.s, buf.filled
        self.n = len(buf.t)

    def as_arrays(self) -> None:
        """The buffer as arrays, for the vectorised stages (streaming's buffer is lists)."""
        if isinstance(self.t, list):
            self.t, self.c, self.s = np.array(self.t), np.array(self.c), np.array(self.s)
            self.filled = np.array(self.filled, bool)

    def as_lists(self) -> None:
        """The buffer as lists of Python numbers, for the one-candidate stages (batch's buffer is arrays)."""
        if not isinstance(self.t, list):
            self.t, self.c, self.s, self.filled = self.t.tolist(), self.c.tolist(), self.s.tolist(), self.filled.tolist()


def _process(run: _Run, carry: StrokeCarry, final: bool):
    """The stroke layer's stages after _candidates (process): rest-top times -> bottom and top fits -> rest tops ->
    baselines -> releases -> start and acceptance -> carry. Each stage fills in ``_Run``."""
    p = run.p
    k, tcen, jq = _rest_top_times(run, carry)
    qv = _measure(run, carry, k, tcen, jq)
    B, good, rest_top, amp = _baselines(run, carry, qv)
    f, t_r, M, n_dec = _releases(run, carry, B, final)
    if n_dec == 0:
        return Strokes.empty(), _need_from(run.t, run.up_i[0], p)
    out = _accept(run, n_dec, B, f, t_r, M)
    d = slice(0, n_dec)
    rt, gd = rest_top[d], good[d]
    _advance_carry(run, carry, n_dec, qv[d][rt].tolist(), amp[d][rt].tolist(), qv[d][gd].tolist(),
                   run.bottom_t_s[d][gd].tolist(), float(B[n_dec - 1]), run.bottom_t_s[d][rt].tolist())
    need = _need_from(run.t, run.up_i[n_dec], p) if n_dec < run.n_cand else _need_from(run.t, run.n - 1, p)
    return out, need


def _candidates(run: _Run, carry: StrokeCarry) -> bool:
    """Upstroke events (UP phases >= 2) not decided yet; for each, its bottom (the DOWN phase's minimum)
    and the top before (the previous UP phase's maximum), smoothed. False: none."""
    ph, base, n, o = run.ph, run.base, run.n, run.o
    ph = run.ph = ph.as_arrays()
    st = ph.start[2:]
    j = np.arange(2, len(ph.start))[(ph.state[2:] > 0) & (st > carry.last_up) & (st - base >= 1)]
    if j.size == 0:
        return False
    run.as_arrays()
    t = run.t
    run.t_padded, run.clean_padded, run.smooth_padded = _Padded(t, None), _Padded(run.c, np.nan), _Padded(run.s, np.nan)
    run.cand_phase, run.n_cand = j, j.size
    u = run.up_i = ph.start[j] - base
    lb = run.bottom_i = ph.exti[j - 1] - base  # the DOWN phase's minimum (local index)
    run.bottom_smoothed_mm = ph.extv[j - 1]
    p_s = run.top_before_smoothed_mm = ph.extv[j - 2]  # max of the previous UP phase (smoothed)
    lp = run.top_before_i = ph.exti[j - 2] - base
    geo_ok = (lb >= 0) & ~np.isnan(p_s)
    lbc = run.bottom_ic = np.maximum(lb, 0)
    t_lb = run.bottom_sample_t_s = t[lbc]
    geo_ok &= t[u] - t_lb <= o.max_up_s
    run.measurable = geo_ok
    lpc = run.top_before_ic = np.minimum(np.maximum(lp, 0), n - 1)
    # fit half-width: the full window, narrowed on fast strokes (about 0.6 of the top-to-bottom time)
    fw = o.fit_window_s
    run.fit_half_width_s = np.where(lp >= 0, np.minimum(np.maximum(0.6 * (t_lb - t[lpc]), 0.5 * fw), fw), fw)
    run.prev_bottom_i = np.concatenate(([carry.prev_bottom_index - base], lb[:-1]))
    return True


def _rest_top_times(run: _Run, carry: StrokeCarry):
    """Which candidates have a top before them that may be a rest top (``k``), its centre time (between the
    80 % crossings of the previous up- and this downstroke) and the last sample of this downstroke at or
    above that level (``jq``, -1: none)."""
    ph, base, t, s, n, o, j = run.ph, run.base, run.t, run.s, run.n, run.o, run.cand_phase
    b_s, p_s = run.bottom_smoothed_mm, run.top_before_smoothed_mm
    prev_bs = np.concatenate(([carry.prev_bottom_smoothed_mm], b_s[:-1]))
    d_loc = np.maximum(ph.start[j - 1] - base, 0)  # first sample of this DOWN phase
    uprev = np.maximum(ph.start[j - 2] - base, 0)  # first sample of the previous UP phase
    pre = run.measurable & (run.top_before_i >= 0) & (uprev >= 1)
    pre &= (t[np.minimum(d_loc, n - 1)] - t[np.minimum(uprev, n - 1)]) <= o.rhythm_s[1]
    k = _nz(pre)
    if not k.size:
        return k, np.zeros(0), None
    ps_k = p_s[k]
    Lq = ps_k - 0.2 * (ps_k - np.fmax(prev_bs[k], b_s[k]))
    tau_u = _first_at_or_above(run.smooth_padded, uprev[k], run.top_before_ic[k], Lq)
    tau_u = np.minimum(np.maximum(tau_u, uprev[k]), run.top_before_ic[k])
    jq = _last_at_or_above(run.smooth_padded, run.top_before_ic[k], run.bottom_ic[k], Lq)
    tq = _interp_cross(t, s, np.concatenate((tau_u - 1, np.minimum(np.maximum(jq, 0), n - 2))), np.concatenate((Lq, Lq)))
    return k, 0.5 * (tq[: k.size] + tq[k.size :]), jq


def _measure(run: _Run, carry: StrokeCarry, k, tcen, jq) -> np.ndarray:
    """Bottoms (fitted time and height) of every candidate, and the level of each rest top (NaN where the
    top before is not one: unbridged gap, out of rhythm, or not a plausible stroke away on both sides)."""
    o, p = run.o, run.p
    tb, bv, q_k = _fits(run.t, run.t_padded, run.clean_padded, run.c, run.bottom_ic, run.bottom_sample_t_s, run.fit_half_width_s, tcen, p)
    run.bottom_t_s, run.bottom_mm = tb, bv
    run.prev_bottom_t_s = np.concatenate(([carry.prev_bottom_t_s], tb[:-1]))
    prev_bv = run.prev_bottom_mm = np.concatenate(([carry.prev_bottom_mm], bv[:-1]))
    dt_b = tb - run.prev_bottom_t_s
    qv = np.full(run.n_cand, np.nan)
    run.nan_i = _nz(np.isnan(run.c))  # (rare: counting by search beats a scan of the buffer)
    if k.size:
        prev_lb = run.prev_bottom_i
        gap_free = _count(run.nan_i, np.maximum(prev_lb[k], 0) + 1, run.bottom_ic[k] + 1) == 0
        rise_prev, fall_this = q_k - prev_bv[k], q_k - bv[k]
        ok = gap_free & (prev_lb[k] >= 0) & (jq >= 0) & (dt_b[k] >= o.rhythm_s[0]) & (dt_b[k] <= o.rhythm_s[1])
        ok &= (rise_prev >= p.min_depth_mm) & (rise_prev <= p.max_depth_mm)
        ok &= (fall_this >= p.min_depth_mm) & (fall_this <= p.max_depth_mm)
        qv[k] = np.where(ok, q_k, np.nan)
    return qv


def _break_times(hist_t: list, new_t: np.ndarray, rest_top: np.ndarray, break_s: float, KL: int) -> np.ndarray:
    """For each candidate, the time of the first rest top after the last gap of more than ``break_s`` between
    consecutive rest tops (leaning or not), among the last ``KL`` before it and its own; -inf: none. Why rest tops
    and not the tops that feed the baseline: a leaning run leaves a gap in those, not in these; a pause or lost
    tracking leaves one in both. (The window is what streaming remembers, so batch reads the same.)"""
    all_t = np.concatenate((np.asarray(hist_t, float), new_t))
    if all_t.size < 2:
        return np.full(rest_top.size, -np.inf)
    pos = np.full(all_t.size, -1)
    pos[1:] = np.where(all_t[1:] - all_t[:-1] > break_s, np.arange(1, all_t.size), -1)
    last = np.maximum.accumulate(pos)  # the latest gap's position up to each rest top
    end = len(hist_t) + np.cumsum(rest_top)  # rest tops up to and including each candidate
    first = end - rest_top - KL  # the window's first position
    g = last[np.maximum(end - 1, 0)]
    return np.where((end >= 1) & (g >= first + 1), all_t[np.maximum(g, 0)], -np.inf)


def _rest_jumps(carry: StrokeCarry, run: _Run, qv, amp, rest_top, t_break, KL: int):
    """Per candidate: how far the rest has jumped at breaks so far, the last break weighed, the last jump's break
    (nothing before it counts), and its break (-inf where that jump forgot it).

    Why: the hands come back from a pause placed otherwise, and the tracked point rests elsewhere: rendered, one
    hand then a stack moves it 38 mm up, a stack then one hand 36 mm down (docs/calibration.md). A move that far is
    no lean (never deeper than max_lean_frac of the deepest compression) and no hovering hands (they never count as
    far above a known rest), so where the strokes kept their length the rest is new: the checks against the tops
    before the break (and a known rest) would read every later compression off by the jump. A break is weighed
    once, when ``baseline_break_tops`` rest tops follow it (scalar.rest_jump_one). (A Python loop: it acts only
    where a break is not weighed yet, a few candidates per pause.)"""
    o, p = run.o, run.p
    n = t_break.size
    off, last, since = carry.rest_offset_mm, carry.rest_break_t, carry.rest_since_t
    cand = _nz(t_break > max(last, since))  # (a break's t_break only grows until it leaves the window: sorted)
    events = []  # (candidate, offset, last, since) from there on
    if cand.size:
        all_t = np.concatenate((carry.tops_all_t[-KL:], run.bottom_t_s[rest_top]))
        all_v = np.concatenate((carry.tops_all[-KL:], qv[rest_top]))
        all_a = np.concatenate((carry.amps[-KL:], amp[rest_top]))
        end = len(carry.tops_all_t[-KL:]) + np.cumsum(rest_top)
        down, up = o.max_lean_frac * p.profile.depth_mm.max, 2.0 * o.off_margin_mm
        tl, cl, el = all_t.tolist(), cand.tolist(), end[cand].tolist()  # (Python scalars: the loop runs a few hundred times)
        tbc = t_break[cand].tolist()
        own = rest_top[cand].tolist()
        i = 0
        while i < len(cl):
            c, T = cl[i], tbc[i]
            if T <= since or T <= last:  # (weighed, or forgotten by a jump: the rest of its group too)
                i = bisect.bisect_right(tbc, T)
                continue
            e = el[i]
            if e - bisect.bisect_left(tl, T) < o.baseline_break_tops:  # (too few rest tops since: the next one)
                i += 1
                continue
            lo = max(e - own[i] - KL, bisect.bisect_left(tl, since), 0)  # (all_t is in time order)
            mv = rest_jump_one(tl[lo:e], all_v[lo:e].tolist(), all_a[lo:e].tolist(), T, o.baseline_break_tops, down, up)
            if mv is None:  # (not enough rest tops since the break yet: the next candidate)
                i += 1
                continue
            if mv != 0.0:
                off, since = off + mv, T
            else:
                last = T
            events.append((c, off, last, since))
    state = np.array([(carry.rest_offset_mm, carry.rest_break_t, carry.rest_since_t)] + [ev[1:] for ev in events])
    at = np.array([ev[0] for ev in events], np.int64)
    k = at.searchsorted(_ar(n), side="right")  # the events at or before each candidate (0: none)
    offs, lasts, sinces = state[k, 0], state[k, 1], state[k, 2]
    return offs, lasts, sinces, np.where(t_break > sinces, t_break, -np.inf)


def _baselines(run: _Run, carry: StrokeCarry, qv: np.ndarray):
    """The rest baseline ``B`` at each candidate, from two passes over the rest tops.

    Pass 1 flags leaning tops: clearly below the upper quartile of the last tops while the stroke around
    them got shorter by much of that drop (leaning lowers the top but not the bottom; a drifting camera
    or manikin moves both). Pass 2 is the running trimmed mean of the unflagged tops (see _baseline), so
    a run of leaning compressions cannot drag the baseline down, while drift is still followed.
    Returns (B, good: rest tops that feed B, rest_top: all rest tops, amp: stroke amplitude around each).
    """
    o, p = run.o, run.p
    rest_top = ~np.isnan(qv)
    K = o.baseline_tops
    KL = max(o.lean_ref_tops, 1)  # (longer than K: a leaning run must not become its own reference)
    amp = qv - 0.5 * (run.prev_bottom_mm + run.bottom_mm)
    t_break = _break_times(carry.tops_all_t[-KL:], run.bottom_t_s[rest_top], rest_top, o.baseline_break_s, KL)
    offs, lasts, since, t_break = _rest_jumps(carry, run, qv, amp, rest_top, t_break, KL)
    run.rest_offset_mm, run.rest_break_t, run.rest_since_t = offs, lasts, since
    jumped = bool((since > -np.inf).any())
    rest = None if o.rest_height_mm is None else float(o.rest_height_mm) + offs
    if rest_top.any():
        new_tops, new_amp = qv[rest_top], amp[rest_top]
        hist_all, hist_amp = carry.tops_all[-KL:], carry.amps[-KL:]
        ends = len(hist_all) + np.arange(new_tops.size)
        tq = (carry.tops_all_t[-KL:] + run.bottom_t_s[rest_top].tolist()) if jumped else None
        B0, A0 = _quantiles(np.array((hist_all + new_tops.tolist(), hist_amp + new_amp.tolist())), ends, KL, 0.75,
                            tq, since[rest_top] if jumped else None)
        drop = B0 - new_tops
        good = rest_top.copy()
        lean = (drop > o.lean_tol_mm) & (A0 - new_amp > 0.5 * drop)
        # nowhere near the rest position (hand at the head, hands lifted): not a rest top at all
        # ... or lifted off it (bouncing: the stroke got longer by much of the rise; a rest that moved up in a pause
        # keeps the strokes' length, docs/core.md "The rest after a pause")
        away = (drop > o.max_lean_frac * p.profile.depth_mm.max) | ((-drop > o.off_margin_mm) & (new_amp - A0 > 0.5 * -drop))
        if rest is not None:  # a known rest: hands hovering above it never make rest tops (strokes that
            # reach into the chest below it do: the hands came back higher after a pause, docs/core.md)
            rr = rest[rest_top]
            away |= (new_tops > rr + 2.0 * o.off_margin_mm) & (new_tops - new_amp > rr - p.min_depth_mm)
            # ... and tops below it are leaning, however many there are (issue 4: leaning is measured
            # against the calibrated rest, not against a baseline that sinks with it)
            lean |= new_tops < rr - o.lean_tol_mm
        good[rest_top] = ~(lean | away)
    else:
        good = rest_top
    run.good_top = good
    hist = carry.tops[-K:]
    hist_t = carry.tops_t[-K:]
    vals = np.concatenate((hist, qv[good]))
    vt = np.concatenate((hist_t, run.bottom_t_s[good]))  # (a rest top's time: the bottom that confirmed it)
    B = _baseline(vals, vt, len(hist) + np.cumsum(good), run.bottom_t_s, K, o.baseline_window_s, max(o.baseline_trim, 0),
                  t_break, o.baseline_break_mm, o.baseline_break_tops, since if jumped else None)
    if rest is not None:
        B = np.where(np.isnan(B), rest, B)
    return B, good, rest_top, amp


def _releases(run: _Run, carry: StrokeCarry, B: np.ndarray, final: bool):
    """The release of each candidate: the fixed point of ``t >= r(t) + wait`` (see the module docstring).

    Returns (f: decision sample, t_r: release time, M: the top seen by then, n_dec: how many candidates,
    from the first, are decided). Streaming: records the first undecided one in ``carry.pending``.
    """
    ph, base, t, s, n, o, p = run.ph, run.base, run.t, run.s, run.n, run.o, run.p
    j, u, m, b_s = run.cand_phase, run.up_i, run.n_cand, run.bottom_smoothed_mm
    P = ph.start.size
    nxt = np.minimum(j + 1, P - 1)
    dn_next = np.where(j + 1 < P, ph.start[nxt] - base, n)  # next DOWN event (n: not yet)
    e = np.minimum(dn_next, t.searchsorted(t[u] + o.max_up_s, side="left"))  # latest decision sample
    up_end = np.minimum(dn_next, n) - 1
    wait = p.release_wait_s
    # never decide before the bottom's fit window is complete (its samples must not depend on when we look)
    f_min = t.searchsorted(run.bottom_sample_t_s + o.fit_window_s + p.vertex_s, side="left")
    f = np.maximum(u, f_min)
    hi = np.minimum(np.maximum(e, f_min), n)  # the decision sample is never beyond this
    rel = run.release = _Release(run.smooth_padded, run.t_padded, u, int((np.minimum(hi, n - 1) - u).max()) + 1)
    run.up_end = up_end
    t_r = np.full(m, np.nan)
    M = np.full(m, np.nan)
    a = np.arange(m)
    for _ in range(64):
        fa = f[a]
        fm = np.minimum(fa, up_end[a])
        Mv = rel.top(a, fm)
        ba = b_s[a]
        level = ba + RELEASE_FRACTION * (np.fmin(Mv, B[a]) - ba)  # (no baseline yet: fmin gives the top)
        tau = np.maximum(rel.first(a, level, fm), u[a])
        tr = _interp_cross(t, s, tau - 1, level)
        x = rel.first_time(a, tr + wait, fa, hi[a])
        fn = np.maximum(np.minimum(np.maximum(x, fa), e[a]), f_min[a])
        t_r[a], M[a], f[a] = tr, Mv, fn
        a = a[fn != fa]
        if a.size == 0:
            break
    if final:
        n_dec = m
        over = _nz(f >= n)  # end of data: decide with what there is
        if over.size:
            f[over] = n - 1
            fm = np.minimum(n - 1, up_end[over])
            Mv = rel.top(over, fm)
            ba = b_s[over]
            level = ba + RELEASE_FRACTION * (np.fmin(Mv, B[over]) - ba)
            tau = np.maximum(rel.first(over, level, fm), u[over])
            t_r[over], M[over] = _interp_cross(t, s, tau - 1, level), Mv
    else:
        pend = _nz(f >= n)
        n_dec = int(pend[0]) if pend.size else m
        if pend.size:  # what the streaming scheduler needs to know about the first undecided candidate
            k = n_dec
            carry.pending = (float(t[u[k]]), float(b_s[k]), float(B[k]))
    return f, t_r, M, n_dec


def _releases_one(run: _Run, carry: StrokeCarry, B: float, final: bool):
    """_releases for a single candidate on Python floats: the same rule and arithmetic.

    The iteration of _releases (f -> fn(f), from f0) stops at the first f >= f0 with fn(f) == f: fn only
    grows with f (the running max, hence the level, the crossing and the wait all grow), so the iterates
    never pass that f; here the decision samples are tried in order until that one. Returns what
    _releases returns, as Python numbers: (decision sample, release time, running max, decided count).
    """
    ph, base, t, s, n, o, p = run.ph, run.base, run.t, run.s, run.n, run.o, run.p
    j, u, b = int(run.cand_phase[0]), int(run.up_i[0]), float(run.bottom_smoothed_mm[0])
    dn_next = int(ph.start[j + 1]) - base if j + 1 < len(ph.start) else n
    e = min(dn_next, bisect.bisect_left(t, t[u] + o.max_up_s))
    up_end = min(dn_next, n) - 1
    run.up_end = [up_end]  # (the centre's upstroke search, _accept_one)
    wait = p.release_wait_s
    f_min = bisect.bisect_left(t, run.bottom_sample_t_s[0] + o.fit_window_s + p.vertex_s)
    f0 = max(u, f_min)
    hi = min(max(e, f_min), n)
    last = min(hi, n - 1)
    # samples u-1 .. last+1 (a crossing is between tau - 1 >= u - 1 and tau; u >= 1); the upstroke u..last:
    # its times (one more, the edge value past the end) and the running max of its values
    off = u - 1
    ts = t[off : last + 2]
    ss = s[off : last + 2]
    tl = ts[1:]
    if len(tl) < last - u + 2:
        tl.append(tl[-1])
    rm, run_max = [], math.nan
    for x in ss[1 : last - off + 1]:
        if run_max != run_max or x > run_max:
            run_max = x if x == x else run_max
        rm.append(run_max)

    def at(f: int):
        fm = f if f < up_end else up_end
        Mv = rm[fm - u]
        level = b + RELEASE_FRACTION * (fmin(Mv, B) - b)
        tau = u + (bisect.bisect_left(rm, level) if level == level else len(rm))
        tau = u if tau < u else (fm if tau > fm else tau)  # max(min(., fm), u)
        return level, Mv, cross_one(ts, ss, tau - 1 - off, level)

    f_dec, tr, Mv = n, math.nan, math.nan
    for f in range(f0, last + 1):
        level, Mv, tr = at(f)
        x = u + bisect.bisect_left(tl, tr + wait)
        x = f if x < f else (hi + 1 if x > hi + 1 else x)  # min(max(., f), hi + 1)
        x = e if e < x else x
        if (x if x > f_min else f_min) == f:  # max(min(max(x, f), e), f_min) == f
            f_dec = f
            break
    if f_dec >= n:
        if final:  # end of data: decide with what there is
            f_dec = n - 1
            level, Mv, tr = at(n - 1)
        else:  # what the streaming scheduler needs to know about the first undecided candidate
            carry.pending = (t[u], b, B)
    return f_dec, tr, Mv, 1 if (final or f_dec < n) else 0


def _accept(run: _Run, n_dec: int, B, f, t_r, M) -> Strokes:
    """The decided candidates' start (onset crossing) and depth, and which of them are compressions."""
    t, s, n, o, p, sp = run.t, run.s, run.n, run.o, run.p, run.smooth_padded
    if n_dec == 1 and ONE_CANDIDATE_PATH:  # (streaming's usual case: the same arithmetic on Python floats, see _accept_one)
        run.as_lists()
        return _accept_one(run, float(B[0]), int(f[0]), float(t_r[0]), float(M[0]))
    d = slice(0, n_dec)
    Bd, q, bss, ps = B[d], M[d], run.bottom_smoothed_mm[d], run.top_before_smoothed_mm[d]
    kn = ~np.isnan(Bd)
    ref0 = np.fmin(ps, q)  # no baseline yet: the lower of the two tops
    ref_s = np.where(kn, np.fmin(ps, Bd), ref0)
    Ls = ref_s - START_FRACTION * (ref_s - bss)
    lbd = run.bottom_ic[d]
    lo_s = t.searchsorted(run.bottom_sample_t_s[d] - o.max_down_s, side="left")
    js = _last_at_or_above(sp, lo_s, lbd, Ls)
    miss = _nz(js < 0)
    pb = ps  # where the hands were before the stroke: the top before, or where they rested below it (below)
    if miss.size:  # the hand sank slowly below the top before: start from the highest point in reach
        width = int((lbd[miss] - lo_s[miss]).max()) + 1
        win = sp.rows(lbd[miss] - (width - 1), width)
        win = np.where(np.arange(width)[None, :] >= (width - 1 - (lbd[miss] - lo_s[miss]))[:, None], win, np.nan)
        loc = np.max(np.where(np.isnan(win), -np.inf, win), axis=1)
        pb = ps.copy()
        pb[miss] = np.fmin(ps[miss], loc)
        ref_s[miss] = np.fmin(ref_s[miss], loc)
        Ls[miss] = ref_s[miss] - START_FRACTION * (ref_s[miss] - bss[miss])
        js[miss] = _last_at_or_above(sp, lo_s[miss], lbd[miss], Ls[miss])
    jsc = np.minimum(np.maximum(js, 0), n - 2)
    t_s = _interp_cross(t, s, jsc, Ls)
    bvd, tbd, trd = run.bottom_mm[d], run.bottom_t_s[d], t_r[d]
    base = np.where(kn, Bd, ref0)
    depth = base - bvd
    depth_s = base - bss
    fall = ref_s - bss
    rise = np.where(kn, np.fmin(q, Bd), q) - bss
    jr = np.minimum(f[d], n - 1)
    off = o.off_margin_mm
    ok = run.measurable[d] & (js >= 0) & (depth >= p.min_depth_mm) & (depth <= p.max_depth_mm)
    half_off = 0.5 * off
    ok &= fall >= np.where(q > base + half_off, o.off_side_frac, o.stroke_frac) * depth_s
    ok &= rise >= np.where(pb > base + half_off, o.off_side_frac, o.stroke_frac) * depth_s
    # hands-off on both sides: a hand movement (unless the top before is a rest top: the rest moved, see _baselines)
    ok &= ~(kn & (pb > Bd + off) & (q > Bd + off) & ~run.good_top[d])
    ok &= kn | (depth >= o.bootstrap_depth_frac * p.profile.depth_mm.min)  # the first must be unmistakable
    ok &= (tbd - t_s <= o.max_down_s) & (trd - t_s <= o.max_stroke_s) & (trd > tbd) & (t_s < tbd)
    # no unbridged gap inside the stroke: from its start to the release crossing (tracking lost after it, while the
    # release was being watched, as the hands leave for a pause, does not undo a compression)
    ok &= _count(run.nan_i, jsc, np.minimum(t.searchsorted(trd, side="left"), jr) + 1) == 0
    gap = _count(_nz(run.filled), jsc, jr + 1) * p.dt_s
    a = _nz(ok)
    t_mid = _centres(run, a, jsc[a], lbd[a], jr[a], base[a], bvd[a], tbd[a])
    return Strokes(
        t_start=t_s[a],
        t_bottom=tbd[a],
        t_release=trd[a],
        depth=depth[a],
        residual=np.where(kn, np.maximum(Bd - q, 0.0), 0.0)[a],
        bottom=bvd[a],
        baseline=base[a],
        gap_s=gap[a],
        t_emit=t[jr[a]],
        top=q[a],
        t_mid=t_mid,
    )


_CENTRE_K = 12  # samples before the bottom that _centres searches first: the crossing lies within them at <= 60 Hz


def _centres(run: _Run, a, js, lb, jr, base_mm, bottom_mm, t_bottom):
    """Each stroke's centre: midway between the downstroke's and the upstroke's crossings of half its depth.

    Why the rate is clocked by it and not by the bottom: a real bottom is nearly flat over ~8 % of the
    cycle, so its deepest instant wanders from stroke to stroke by more than the rhythm does (real strokes:
    1.8 cpm per compression from bottoms, 0.4 from centres; docs/core.md), while at half depth the chest
    moves fastest and the crossing is sharp. Down: the last sample at or above the level between the start
    and the bottom; up: the first one in the upstroke (UP phase) up to the decision sample; each crossing
    between that sample and its neighbour by linear interpolation of the smoothed height. The bottom time
    where a crossing is missing (the upstroke never got back to half depth). ``a``: the candidates.
    """
    t, s, n, sp = run.t, run.s, run.n, run.smooth_padded
    m = a.size
    if m == 0:
        return np.zeros(0)
    L = 0.5 * (base_mm + bottom_mm)
    if m <= 2:
        jd = _last_at_or_above(sp, js, lb, L)
    else:  # a window of K samples before the bottom first (the crossing is in it at <= 60 Hz), the rest in full
        K = _CENTRE_K
        hit = sp.rows(lb - K, K + 1)[:, ::-1] >= L[:, None]
        hit &= _ar(K + 1)[None, :] <= (lb - js)[:, None]
        back = hit.argmax(1)
        jd = np.where(hit[_ar(m), back], lb - back, -1)
        far = _nz((jd < 0) & (js < lb - K))
        if far.size:
            jd[far] = _last_at_or_above(sp, js[far], lb[far] - (K + 1), L[far])
    ju = np.maximum(run.release.first(a, L, np.minimum(jr, run.up_end[a])), run.up_i[a])
    ok = (jd >= 0) & (sp.a[ju] >= L)
    td = _interp_cross(t, s, np.minimum(np.maximum(jd, 0), n - 2), L)
    tu = _interp_cross(t, s, np.minimum(np.maximum(ju - 1, 0), n - 2), L)
    return np.where(ok, 0.5 * (td + tu), t_bottom)


def _accept_one(run: _Run, Bd: float, f: int, trd: float, q: float) -> Strokes:
    """_accept for the first candidate alone on Python floats (the same operations and tests)."""
    t, s, n, o, p = run.t, run.s, run.n, run.o, run.p
    bss, ps = float(run.bottom_smoothed_mm[0]), float(run.top_before_smoothed_mm[0])
    kn = Bd == Bd
    ref0 = fmin(ps, q)  # no baseline yet: the lower of the two tops
    ref_s = fmin(ps, Bd) if kn else ref0
    Ls = ref_s - START_FRACTION * (ref_s - bss)
    lbd = int(run.bottom_ic[0])
    lo_s = bisect.bisect_left(t, run.bottom_sample_t_s[0] - o.max_down_s)
    js = last_at_or_above_one(s, lo_s, lbd, Ls)
    pb = ps  # where the hands were before the stroke (_accept)
    if js < 0:  # the hand sank slowly below the top before: start from the highest point in reach
        win = [x for x in s[max(lo_s, 0) : lbd + 1] if x == x]
        loc = max(win) if win else -math.inf
        pb = fmin(ps, loc)
        ref_s = fmin(ref_s, loc)
        Ls = ref_s - START_FRACTION * (ref_s - bss)
        js = last_at_or_above_one(s, lo_s, lbd, Ls)
    jsc = min(max(js, 0), n - 2)
    t_s = cross_one(t, s, jsc, Ls)
    bvd, tbd = float(run.bottom_mm[0]), float(run.bottom_t_s[0])
    base_mm = Bd if kn else ref0
    depth = base_mm - bvd
    depth_s = base_mm - bss
    fall = ref_s - bss
    rise = (fmin(q, Bd) if kn else q) - bss
    jr = min(f, n - 1)
    off = o.off_margin_mm
    ok = (bool(run.measurable[0]) and js >= 0 and depth >= p.min_depth_mm and depth <= p.max_depth_mm
          and fall >= (o.off_side_frac if q > base_mm + 0.5 * off else o.stroke_frac) * depth_s
          and rise >= (o.off_side_frac if pb > base_mm + 0.5 * off else o.stroke_frac) * depth_s
          and not (kn and pb > Bd + off and q > Bd + off and not run.good_top[0])  # hands-off on both sides (_accept)
          and (kn or depth >= o.bootstrap_depth_frac * p.profile.depth_mm.min)  # the first must be unmistakable
          and tbd - t_s <= o.max_down_s and trd - t_s <= o.max_stroke_s and trd > tbd and t_s < tbd
          and _gap_free(run.c, jsc, min(bisect.bisect_left(t, trd), jr) + 1))  # no gap up to the release
    if not ok:
        return Strokes.empty()
    gap = run.filled[jsc : jr + 1].count(True) * p.dt_s
    L = 0.5 * (base_mm + bvd)  # the centre (_centres, the same operations)
    jd = last_at_or_above_one(s, jsc, lbd, L)
    u = int(run.up_i[0])
    ju = max(first_at_or_above_one(s, u, min(jr, int(run.up_end[0])), L), u)
    t_mid = tbd
    if jd >= 0 and s[ju] >= L:
        td = cross_one(t, s, min(max(jd, 0), n - 2), L)
        tu = cross_one(t, s, min(max(ju - 1, 0), n - 2), L)
        t_mid = 0.5 * (td + tu)
    return Strokes.of_one((t_s, tbd, trd, depth, max(Bd - q, 0.0) if kn else 0.0, bvd, base_mm, gap, t[jr], q, t_mid))


# ---------------------------------------------------------------- one candidate
# Streaming's usual run holds a single candidate. For it, each stage below does what its vectorised
# counterpart does, operation for operation, on Python floats (the same selections, the same IEEE
# arithmetic in the same order, sums added in window order as the column reduces add their rows), so
# the numbers are the same (tests/test_core_fastpaths.py checks it against the vectorised stages);
# a dozen Python float operations cost less than one NumPy call on a one-element array. The candidate
# arrays of ``_Run`` are then lists of one entry; the one-column arithmetic is in coach.core.scalar.
ONE_CANDIDATE_PATH = True  # False: every run takes the vectorised stages (for the equality tests)


def _process_one(run: _Run, carry: StrokeCarry, final: bool):
    """_process's stages after _candidates, for a single candidate."""
    p = run.p
    tcen, jq = _rest_top_one(run, carry)
    qv = _measure_one(run, carry, tcen, jq)
    B, good, amp = _baselines_one(run, carry, qv)
    f, t_r, M, n_dec = _releases_one(run, carry, B, final)
    if n_dec == 0:
        return Strokes.empty(), _need_from(run.t, run.up_i[0], p)
    out = _accept_one(run, B, f, t_r, M)
    rest = qv == qv
    _advance_carry(run, carry, 1, [qv] if rest else [], [amp] if rest else [], [qv] if good else [],
                   [run.bottom_t_s[0]] if good else [], B, [float(run.bottom_t_s[0])] if rest else [])
    return out, _need_from(run.t, run.n - 1, p)


def _candidate_one(run: _Run, carry: StrokeCarry, j: int) -> None:
    """_candidates' per-candidate quantities for the single candidate at phase ``j`` (lists of one)."""
    ph, base, t, n, o = run.ph, run.base, run.t, run.n, run.o
    run.n_cand = 1
    run.cand_phase = [j]
    u = int(ph.start[j]) - base
    lb = int(ph.exti[j - 1]) - base
    b_s, p_s = float(ph.extv[j - 1]), float(ph.extv[j - 2])
    lp = int(ph.exti[j - 2]) - base
    lbc = max(lb, 0)
    t_lb = float(t[lbc])
    geo_ok = lb >= 0 and p_s == p_s and float(t[u]) - t_lb <= o.max_up_s
    lpc = min(max(lp, 0), n - 1)
    fw = o.fit_window_s
    hw = min(max(0.6 * (t_lb - float(t[lpc])), 0.5 * fw), fw) if lp >= 0 else fw
    run.up_i, run.bottom_i, run.bottom_smoothed_mm, run.top_before_smoothed_mm, run.top_before_i = [u], [lb], [b_s], [p_s], [lp]
    run.measurable, run.bottom_ic, run.bottom_sample_t_s, run.top_before_ic, run.fit_half_width_s = [geo_ok], [lbc], [t_lb], [lpc], [hw]
    run.prev_bottom_i = [carry.prev_bottom_index - base]


def _rest_top_one(run: _Run, carry: StrokeCarry):
    """_rest_top_times for one candidate: (centre time of the top before or None, jq)."""
    ph, base, t, s, n, o = run.ph, run.base, run.t, run.s, run.n, run.o
    j = run.cand_phase[0]
    b_s, p_s, lpc = run.bottom_smoothed_mm[0], run.top_before_smoothed_mm[0], run.top_before_ic[0]
    d_loc = max(int(ph.start[j - 1]) - base, 0)  # first sample of this DOWN phase
    uprev = max(int(ph.start[j - 2]) - base, 0)  # first sample of the previous UP phase
    if not (run.measurable[0] and run.top_before_i[0] >= 0 and uprev >= 1
            and float(t[min(d_loc, n - 1)]) - float(t[min(uprev, n - 1)]) <= o.rhythm_s[1]):
        return None, -1
    pb = carry.prev_bottom_smoothed_mm
    Lq = p_s - 0.2 * (p_s - (b_s if pb != pb else (pb if (b_s != b_s or pb >= b_s) else b_s)))
    tau_u = min(max(first_at_or_above_one(s, uprev, lpc, Lq), uprev), lpc)
    jq = last_at_or_above_one(s, lpc, run.bottom_ic[0], Lq)
    a1, a2 = tau_u - 1, min(max(jq, 0), n - 2)
    t1 = cross_one(t, s, a1, Lq)
    t2 = cross_one(t, s, a2, Lq)
    return 0.5 * (t1 + t2), jq


def _measure_one(run: _Run, carry: StrokeCarry, tcen, jq: int) -> float:
    """_measure for one candidate: its bottom (into ``run``) and the level of its rest top (NaN: none)."""
    o, p = run.o, run.p
    tb, bv = bottom_one(run.t, run.c, run.bottom_ic[0], run.bottom_sample_t_s[0], run.fit_half_width_s[0], p)
    run.bottom_t_s, run.bottom_mm = [tb], [bv]
    run.prev_bottom_t_s, run.prev_bottom_mm = [carry.prev_bottom_t_s], [carry.prev_bottom_mm]
    if tcen is None:
        return math.nan
    q = top_one(run.t, run.c, tcen, p)
    dt_b = tb - carry.prev_bottom_t_s
    prev_lb = run.prev_bottom_i[0]
    rise_prev, fall_this = q - carry.prev_bottom_mm, q - bv
    ok = (_gap_free(run.c, max(prev_lb, 0) + 1, run.bottom_ic[0] + 1) and prev_lb >= 0 and jq >= 0
          and dt_b >= o.rhythm_s[0] and dt_b <= o.rhythm_s[1]
          and rise_prev >= p.min_depth_mm and rise_prev <= p.max_depth_mm
          and fall_this >= p.min_depth_mm and fall_this <= p.max_depth_mm)
    return q if ok else math.nan


def _baselines_one(run: _Run, carry: StrokeCarry, qv: float):
    """_baselines for one candidate: (B, good, amp)."""
    o, p = run.o, run.p
    K = o.baseline_tops
    KL = max(o.lean_ref_tops, 1)
    amp = qv - 0.5 * (run.prev_bottom_mm[0] + run.bottom_mm[0])
    hist_all, hist_amp, hist_all_t = carry.tops_all[-KL:], carry.amps[-KL:], carry.tops_all_t[-KL:]
    hist, hist_t = carry.tops[-K:], carry.tops_t[-K:]
    own = qv == qv
    all_t = hist_all_t + ([float(run.bottom_t_s[0])] if own else [])
    t_break = break_time_one(all_t, o.baseline_break_s)
    off, last, since = carry.rest_offset_mm, carry.rest_break_t, carry.rest_since_t  # (_rest_jumps for one)
    if t_break <= since:
        t_break = -math.inf
    elif t_break > last:
        mv = rest_jump_one(all_t, hist_all + ([qv] if own else []), hist_amp + ([amp] if own else []), t_break,
                           o.baseline_break_tops, o.max_lean_frac * p.profile.depth_mm.max, 2.0 * o.off_margin_mm)
        if mv is not None:
            if mv != 0.0:
                off, since, t_break = off + mv, t_break, -math.inf
                hist_all_t, hist_all, hist_amp = since_one(since, hist_all_t, hist_all, hist_amp)  # nothing from before
                hist_t, hist = since_one(since, hist_t, hist)
            else:
                last = t_break
    run.rest_offset_mm, run.rest_break_t, run.rest_since_t = [off], [last], [since]
    rest = None if o.rest_height_mm is None else float(o.rest_height_mm) + off
    good = False
    if qv == qv:
        e = len(hist_all)
        B0 = quantile_list(hist_all, e, KL, 0.75)
        A0 = quantile_list(hist_amp, e, KL, 0.75)
        drop = B0 - qv
        lean = drop > o.lean_tol_mm and A0 - amp > 0.5 * drop
        away = drop > o.max_lean_frac * p.profile.depth_mm.max or (-drop > o.off_margin_mm and amp - A0 > 0.5 * -drop)
        if rest is not None:  # (see _baselines)
            away = away or (qv > rest + 2.0 * o.off_margin_mm and qv - amp > rest - p.min_depth_mm)
            lean = lean or qv < rest - o.lean_tol_mm
        good = not (lean or away)
    run.good_top = [good]
    vals = hist + [qv] if good else hist
    vt = hist_t + [run.bottom_t_s[0]] if good else hist_t
    B = baseline_one(vals, vt, len(hist) + good, run.bottom_t_s[0], K, o.baseline_window_s, max(o.baseline_trim, 0),
                     t_break, o.baseline_break_mm, o.baseline_break_tops)
    if rest is not None and B != B:
        B = rest
    return B, good, amp


def _advance_carry(run: _Run, carry: StrokeCarry, n_dec: int, tops_all, amps, tops, tops_t, B_last: float,
                   tops_all_t=()) -> None:
    """Remember what the next run needs of the last decided candidate and of the rest tops (the decided
    candidates' rest tops, their amplitudes, the tops that fed the baseline and their times: lists)."""
    o = run.o
    K = o.baseline_tops
    KL = max(o.lean_ref_tops, 1)
    last = n_dec - 1
    carry.rest_offset_mm, carry.rest_break_t = float(run.rest_offset_mm[last]), float(run.rest_break_t[last])
    since = carry.rest_since_t = float(run.rest_since_t[last])
    carry.last_up = int(run.up_i[last] + run.base)
    carry.prev_bottom_t_s, carry.prev_bottom_mm = float(run.bottom_t_s[last]), float(run.bottom_mm[last])
    carry.prev_bottom_smoothed_mm = float(run.bottom_smoothed_mm[last])
    carry.prev_bottom_index = int(run.bottom_i[last] + run.base)
    if tops_all:
        carry.tops_all = (carry.tops_all + tops_all)[-KL:]
        carry.amps = (carry.amps + amps)[-KL:]
        carry.tops_all_t = (carry.tops_all_t + list(tops_all_t))[-KL:]
    if tops:
        carry.tops = (carry.tops + tops)[-K:]
        carry.tops_t = (carry.tops_t + tops_t)[-K:]
    if since > -math.inf:  # nothing from before a jump of the rest
        carry.forget_before(since)
    carry.baseline = B_last
