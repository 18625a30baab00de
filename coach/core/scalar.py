"""One column of the core's kernel on Python floats: the same operations as the vectorised stages.

Why: streaming runs the kernel on ~20 new samples and usually one candidate, where a NumPy call on a
one- or twenty-element array costs more than the float operations it stands for. The stages'
single-candidate paths (coach.core.strokes, ``_process_one``) and the bookkeeping of one compression
(coach.core.metrics) call these instead. Each does what its vectorised counterpart does, selection for
selection and IEEE operation for operation, in the same order: a window's sums are added row by row
from the first row, as NumPy's reduce over axis 0 of a C-ordered (window x candidates) array adds
them; ``np.minimum``/``np.maximum``/``np.fmin`` become the same comparisons; divisions keep NumPy's
inf/NaN for a zero divisor. So the numbers are the same, bit for bit (tests/test_core_fastpaths.py
runs streaming sessions both ways and compares the repr of everything).

Lists hold Python floats; ``t``, ``c``, ``s`` are the buffer's samples (time s, cleaned and smoothed height mm):
streaming's lists of Python floats (arrays work too, converted where a window is read).
"""
from __future__ import annotations

import bisect
import math

import numpy as np

from coach.core.options import Params


def fdiv(a: float, b: float) -> float:
    """a / b on Python floats with NumPy's IEEE result for a zero divisor (inf or NaN, no exception)."""
    if b == 0.0:
        return math.nan if (a == 0.0 or a != a) else math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def fmin(a: float, b: float) -> float:
    """np.fmin on two Python floats (NaN ignored)."""
    if a != a:
        return b
    return a if (b != b or a <= b) else b


def cross_one(t, s, a: int, level: float) -> float:
    """_interp_cross for one crossing (Python floats; ``t``, ``s``: lists), the same operations."""
    sa, sb = s[a], s[a + 1]
    den = sb - sa
    fr = (level - sa) / den if den != 0.0 else math.inf
    if fr - fr == 0.0:  # (finite; min(max(fr, 0.0), 1.0) spelt out: builtin calls cost more)
        fr = 0.0 if fr < 0.0 else (1.0 if fr > 1.0 else fr)
    else:
        fr = 1.0
    ta = t[a]
    return ta + fr * (t[a + 1] - ta)


def vertex_one(b0, b1, b2, ok, lo, hi, sign):
    """_vertex for one column of Python floats (the same operations)."""
    du = -b1 / (2.0 * b2) if sign * b2 > 1e-12 else 0.0
    du = lo if lo > du else du  # min(max(du, lo), hi), spelt out (same selections)
    du = hi if hi < du else du
    if not ok:
        return 0.0, math.nan
    return du, b0 + (b1 + b2 * du) * du


def _window(t, c, i: int, tc: float, K: int, scale: float):
    """Column i-K..i+K of a (window x candidates) gather as Python floats: time offsets from ``tc`` divided by
    ``scale`` ((x - tc) / scale, as _fits divides the gathered offsets) and heights (NaN: missing or outside the
    buffer); the same numbers _gather puts in that column. Times pad with the edge value."""
    n = len(t)
    lo, hi = i - K, i + K + 1
    a, b = max(lo, 0), min(hi, n)
    ts, ys = t[a:b], c[a:b]
    if not isinstance(ts, list):
        ts, ys = ts.tolist(), ys.tolist()
    if a == lo and b == hi:
        return [(x - tc) / scale for x in ts], ys
    u = [(x - tc) / scale for x in ts]
    if a > lo:
        u = [(ts[0] - tc) / scale] * (a - lo) + u
        ys = [math.nan] * (a - lo) + ys
    if b < hi:
        u = u + [(ts[-1] - tc) / scale] * (hi - b)
        ys = ys + [math.nan] * (hi - b)
    return u, ys


def wquad_one(u0: list, y: list, center: float = 0.0, edge: float | None = None, lead: bool = False):
    """strokes._wquad for one column of Python floats, with the weights of u = u0 - center: triangle weights
    max(1 - |u|, 0), or with ``edge`` box weights (1.0 where -edge <= u <= edge, else 0.0); 0 where y is NaN,
    which counts as 0. Computed row by row (no weight lists first): the same products (a weight of 1.0 multiplies
    exactly), the window sums added in window order from the first row (as the column reduce of _wquad adds its
    rows), the same cofactors and solve; so the same floats.

    A row of zero weight adds a signed zero to every sum, which leaves a sum unchanged unless it is -0.0;
    and a sum that is not -0.0 never becomes -0.0 again (x + y == -0.0 needs both -0.0). After a row of
    positive weight only t0..t2 can still be -0.0 (u is never -0.0), so once they are nonzero, rows of
    zero weight are skipped: the same sums. Rows of zero weight before the first row of positive weight are
    skipped too: they leave each sum a signed zero, and adding the first positive row's products to a signed
    zero gives those products themselves where they are nonzero or +0.0 (s0, s2, s4 are never -0.0); where one
    of the others is a zero (a height or an offset exactly 0), the column is summed again with every leading
    row (``lead``)."""
    npos = 0
    skip = started = False
    skipped = lead  # (lead: no leading row is skipped)
    s0 = s1 = s2 = s3 = s4 = t0 = t1 = t2 = 0.0
    for uu, yy in zip(u0, y):
        uu -= center
        if yy == yy:
            if edge is None:
                ww = 1.0 - (uu if uu >= 0.0 else -uu)
            else:
                ww = 1.0 if -edge <= uu <= edge else 0.0
            if ww > 0.0:
                npos += 1
            elif skip or not (started or lead):
                skipped = True
                continue
            else:
                ww = 0.0
        elif skip or not (started or lead):
            skipped = True
            continue
        else:
            ww = yy = 0.0
        if started:
            p = ww * uu
            s0 += ww
            s1 += p
            p *= uu
            s2 += p
            p *= uu
            s3 += p
            s4 += p * uu
            p = ww * yy
            t0 += p
            p *= uu
            t1 += p
            t2 += p * uu
        else:
            started = True
            s0 = ww
            s1 = ww * uu
            s2 = s1 * uu
            s3 = s2 * uu
            s4 = s3 * uu
            t0 = ww * yy
            t1 = t0 * uu
            t2 = t1 * uu
            if skipped and not lead and not (s1 != 0.0 and s3 != 0.0 and t0 != 0.0 and t1 != 0.0 and t2 != 0.0):
                return wquad_one(u0, y, center, edge, True)  # (the skipped rows' signed zeros may matter)
        if not skip and ww > 0.0 and t0 != 0.0 and t1 != 0.0 and t2 != 0.0:
            skip = True
    if not started and not lead:  # (no row of positive weight: the sums of the zero rows, as they were)
        return wquad_one(u0, y, center, edge, True)
    return _solve(s0, s1, s2, s3, s4, t0, t1, t2, npos)


def _solve(s0, s1, s2, s3, s4, t0, t1, t2, npos):
    """The cofactor solve of _wquad for one column."""
    c00 = s2 * s4 - s3 * s3
    c01 = s2 * s3 - s1 * s4
    c02 = s1 * s3 - s2 * s2
    c11 = s0 * s4 - s2 * s2
    c12 = s1 * s2 - s0 * s3
    c22 = s0 * s2 - s1 * s1
    det = s0 * c00 + s1 * c01 + s2 * c02
    sc = max(s0, 1.0)
    ok = npos >= 4 and abs(det) > 1e-12 * (sc * sc * sc)
    d = det if ok else 1.0
    b0 = (c00 * t0 + c01 * t1 + c02 * t2) / d
    b1 = (c01 * t0 + c11 * t1 + c12 * t2) / d
    b2 = (c02 * t0 + c12 * t1 + c22 * t2) / d
    return b0, b1, b2, ok


def bottom_one(t, c, i: int, t_i: float, hw: float, p: Params):
    """One bottom column of _fits on Python floats (the same operations): (time, height)."""
    u0, y = _window(t, c, i, t_i, p.fit_k, hw)
    lim = p.vertex_s / hw
    center, _ = vertex_one(*wquad_one(u0, y, 0.0), -lim, lim, 1.0)  # (u0 - 0.0 == u0)
    du1, vb = vertex_one(*wquad_one(u0, y, center), -lim - center, lim - center, 1.0)
    center = center + du1
    return t_i + center * hw, (float(c[i]) if vb != vb else vb)


def top_one(t, c, tc: float, p: Params) -> float:
    """One rest-top column of _fits on Python floats (the same operations): its level."""
    i = min(bisect.bisect_left(t, tc), len(t) - 1)  # (t.searchsorted(tc))
    tw = p.top_fit_s
    tau, y = _window(t, c, i, tc, p.fit_k, 1.0)  # ((x - tc) / 1.0 == x - tc)
    u0 = [x / tw for x in tau]
    lim = p.dt_s / tw
    _, vpar = vertex_one(*wquad_one(u0, y, 0.0, 1.0 + 1e-9), -lim, lim, -1.0)
    # the window mean: the samples within +-top_mean_window_s summed in window order from the first row,
    # as the column reduce adds them with zeros elsewhere (adding 0.0 changes only a zero sum's sign)
    mwin = p.options.top_mean_window_s
    acc = None
    cnt = 0
    for x, yy in zip(tau, y):
        if yy == yy and -mwin <= x <= mwin:
            cnt += 1
            acc = yy if acc is None else acc + yy
        elif acc is None:
            acc = 0.0
        elif acc == 0.0:
            acc = acc + 0.0
    vmean = acc / cnt if cnt > 0 else math.nan
    wv = p.options.top_vertex_weight
    return vmean if vpar != vpar else wv * vpar + (1.0 - wv) * vmean


def quantile_list(row: list, e: int, K: int, q: float) -> float:
    """The nearest-rank q-quantile of row[max(0, e-K):e] (Python floats, NaN ignored; NaN when none)."""
    w = row[max(e - K, 0) : e]
    z = sum(w)
    if z != z:  # (a NaN among them; the values are finite otherwise)
        w = [x for x in w if x == x]
    w.sort()
    cnt = len(w)
    return w[min(max(round(q * (cnt - 1)), 0), K - 1)] if cnt else math.nan


def median_one(x: list) -> float:
    """Median of the non-NaN values (NaN: none), as strokes._row_median computes it."""
    w = sorted(v for v in x if v == v)
    n = len(w)
    return 0.5 * (w[(n - 1) // 2] + w[n // 2]) if n else math.nan


def break_time_one(t: list, break_s: float) -> float:
    """strokes._break_times for one candidate: the first rest top (times ``t``, in order) after the last gap of more
    than ``break_s`` between two; -inf: none."""
    if t:
        b = t[-1]
        for a in t[-2::-1]:  # (the last such gap: searched from the end)
            if b - a > break_s:
                return b
            b = a
    return -math.inf


def since_one(since: float, t: list, *cols: list) -> tuple:
    """(t, *cols) without the entries before ``since`` (times ``t`` in order): what a jump of the rest forgets."""
    k = bisect.bisect_left(t, since)
    return (t[k:], *(c[k:] for c in cols))


def rest_jump_one(t: list, v: list, a: list, t_break: float, min_tops: int, down_mm: float, up_mm: float) -> float | None:
    """How far the rest jumped at a break (``t_break``), from the rest tops around it (times ``t``, in order, levels
    ``v``, stroke lengths ``a``; leaning or not): the median level of those since minus the one of those before, where
    it fell more than ``down_mm`` (deeper than any lean) or rose more than ``up_mm`` (higher than hovering hands may
    count) and the strokes kept their length (within a quarter: breaths at a head 70 mm below the chest make rest tops
    too, with 15 mm strokes); 0.0 otherwise; None while fewer than ``min_tops`` are since."""
    j = bisect.bisect_left(t, t_break)
    if len(t) - j < min_tops or j == 0:
        return None
    moved = median_one(v[j:]) - median_one(v[:j])
    if not (moved < -down_mm or moved > up_mm):
        return 0.0
    old_len = median_one(a[:j])
    # the same compressions, not hand movements at the head: the strokes' length within a quarter of what it was
    return moved if abs(median_one(a[j:]) - old_len) < 0.25 * old_len else 0.0


def baseline_one(vals, vt, e: int, t_now: float, K: int, window_s: float, trim: int, t_break: float = -math.inf,
                 break_mm: float = 0.0, min_tops: int = 1, lo_t: float = -math.inf) -> float:
    """_baseline for a single candidate, operation for operation: the same selection, and the trimmed sum
    added in sorted position order from 0.0 (x + 0.0 == x), as the column reduce adds its rows; so the same
    float. Why: for one candidate these few Python float operations replace ~25 NumPy calls."""
    lo = max(e - K, 0)
    v, vr = vals[lo:e], vt[lo:e]
    if not isinstance(v, list):  # (lists hold Python floats)
        v = v.tolist() if isinstance(v, np.ndarray) else list(v)
    if not isinstance(vr, list):
        vr = vr.tolist() if isinstance(vr, np.ndarray) else list(vr)
    since = t_now - window_s
    if lo_t > -math.inf:
        v = [x if tt >= lo_t else math.nan for x, tt in zip(v, vr)]  # (nothing from before a jump of the rest)
    broke = False
    if t_break > -math.inf:  # (-inf: every top is after it, none before: no break; times are finite)
        new = [x for x, tt in zip(v, vr) if tt >= t_break and x == x]  # (the measured ones after it, and before)
        old = [x for x, tt in zip(v, vr) if not tt >= t_break and x == x]
        if new and old:
            moved = median_one(new) - median_one(old)
            broke = abs(moved) > break_mm and len(new) >= min_tops
    if broke:
        w = sorted(new)
    else:
        w = [x for x, tt in zip(v, vr) if tt >= since and x == x]  # the recent ones, once there are three
        w.sort()
        if len(w) < 3:
            w = sorted(x for x in v if x == x)
    cnt = len(w)
    if cnt == 0:
        return math.nan
    if cnt < 2 * trim + 3:
        return 0.5 * (w[max((cnt - 1) // 2, 0)] + w[max(cnt // 2, 0)])
    acc = 0.0
    for x in w[trim : cnt - trim]:
        acc += x
    return acc / max(cnt - 2 * trim, 1)


def first_at_or_above_one(s: list, lo: int, hi: int, level: float) -> int:
    """_first_at_or_above for one row (``s``: a list)."""
    l0 = max(lo, 0)
    for i, x in enumerate(s[l0 : hi + 1]):
        if x >= level:
            return l0 + i
    return hi


def last_at_or_above_one(s: list, lo: int, hi: int, level: float) -> int:
    """_last_at_or_above for one row (``s``: a list)."""
    l0 = max(lo, 0)
    seg = s[l0 : hi + 1]
    for i in range(len(seg) - 1, -1, -1):
        if seg[i] >= level:
            return l0 + i
    return -1
