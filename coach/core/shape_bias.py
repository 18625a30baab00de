"""How far this session's stroke shape biases the core's depth: pooled (equivalent-time) bottoms and rest tops.

Why: the core's bottom and top fits have fixed widths in seconds, so each stroke shape has its own bias: a
sharp-cornered trapezoid held for a session reads 5 mm shallow, a 100 ms bottom dwell 1.7 mm deep
(docs/core.md, "One shape held fixed"). No local model is unbiased on every shape under 1 mm of noise, but a
rescuer repeats one shape, and each stroke is sampled at its own phase: the samples of many strokes, taken
relative to each stroke's *fitted* bottom (time and height), trace the true shape around the fits densely.
Where the pooled shape's lowest point is not at the fits' level, they are biased by that much for this
rescuer's strokes. Correcting each depth by it was studied and not kept (``tests/core_pooled_shape.py``: it
moves the trapezoid family's bias from +0.02 to +0.40 mm, and per compression it costs more than the whole batch
kernel); the session's figure says how far its depths may read off, which the stated uncertainty takes in
(``calibration.handpoint.core_floor_mm``'s 0.6 mm covers the simulated families on average, not one shape held:
rendered, trapezoids with a 140 ms dwell read +1.87 mm with the hand tag, stated +-1.18).

The pool: the samples within ``WINDOW`` sample intervals (and ``MIN_WINDOW_S``) of each fitted bottom, as
(t - t_bottom, height - bottom); of each rest top the same around its own parabola vertex, levelled by the core's
top fit (``coach.core.scalar.top_one``), height negated. The model: ``a + b |u - u0| + c (u - u0)^2`` (a V, a
parabola, a flat and anything between) by least squares with ``b, c >= 0`` (convex, so the corner is the
minimum), ``u0`` on a grid within the core's vertex freedom (``Params.vertex_s``). Its level at the corner is the
fits' bias, used when it is more than ``GATE`` standard errors from zero.
"""
from __future__ import annotations

import numpy as np

from .analyzer import analyze_strokes, increasing
from .options import NOMINAL_SAMPLES, CoreOptions, nominal_dt, resolve
from .scalar import top_one

WINDOW = 1.5  # samples within this many sample intervals of a fitted bottom or top ...
MIN_WINDOW_S = 0.05  # ... and never nearer than this (at 250 Hz 1.5 intervals are 6 ms: a degenerate fit)
GATE = 4.0  # a pooled level is a bias when it is this many standard errors from zero
CORNERS = 7  # grid of corner positions u0 within +-vertex_s of the fits (the core's own freedom)
MIN_STROKES = 10  # a session's figure needs at least this many compressions (each brings ~3 samples at 30 fps)


def convex_fit(X: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Least squares with the V's and the parabola's coefficients held >= 0: (beta, the columns used, rss).

    Why: unconstrained, a pool that is not one shape (real strokes change from stroke to stroke) fits a W
    (b < 0, c > 0) whose corner is a local *maximum*; read as the bottom, it raised one real bottom in
    seven by 2-6 mm at 30 fps. A bottom is convex: a V, a parabola, a flat or a blend, so its corner is its
    minimum."""
    best = None
    for cols in ((0, 1, 2), (0, 1), (0, 2), (0,)):
        Xs = X[:, cols]
        b = np.linalg.lstsq(Xs, r, rcond=None)[0]
        if np.any(b[1:] < 0):
            continue
        rss = float(((Xs @ b - r) ** 2).sum())
        if best is None or rss < best[2]:
            beta = np.zeros(3)
            beta[list(cols)] = b
            best = (beta, Xs, rss)
    return best


def pooled_level(u: np.ndarray, r: np.ndarray, w: float, span: float, gate: float = GATE) -> float:
    """The pooled shape's level at its corner, relative to the fits (0 when within ``gate`` s.e. of zero).

    The corner is sought within ``span`` of the fits: as far as the core lets a bottom's vertex move from its
    lowest sample (``Params.vertex_s``; half a sample interval before session 14, which at 250 Hz left the
    pool aligned 18 ms off the real turning points and read it 0.3 mm high)."""
    best = None
    for u0 in np.linspace(-span, span, CORNERS):
        X = np.stack([np.ones_like(u), np.abs(u - u0) / w, ((u - u0) / w) ** 2], 1)
        beta, Xs, rss = convex_fit(X, r)
        if best is None or rss < best[0]:
            best = (rss, Xs, beta)
    rss, X, beta = best
    if np.linalg.cond(X) > 1e6:  # the pool does not span the model (too few distinct positions)
        return 0.0
    cov = np.linalg.inv(X.T @ X) * (rss / max(len(u) - 4, 1))
    a, se = float(beta[0]), float(np.sqrt(max(cov[0, 0], 0.0)))
    return a if abs(a) > gate * se else 0.0


def _peak_time(t: np.ndarray, y: np.ndarray, tc: float, half_s: float, dt: float) -> float:
    """The top's own time: the vertex of a parabola over +-half_s of the crossings' centre (within one sample
    interval of it). Why: an asymmetric peak sits off the centre of its 80 % crossings by an amount that varies
    with each stroke's duration, which would smear the pool."""
    ts, ys = _near(t, y, tc, half_s)
    if ts.size < 4:
        return tc
    b2, b1, _ = np.polyfit(ts - tc, ys, 2)
    return tc + (min(max(-b1 / (2.0 * b2), -dt), dt) if b2 < 0 else 0.0)


def _near(t: np.ndarray, y: np.ndarray, tc: float, half_s: float) -> tuple[np.ndarray, np.ndarray]:
    """The finite samples within ``half_s`` of ``tc`` (a slice of the sorted times: a whole-trace mask per stroke
    made an hour's session cost minutes)."""
    lo, hi = int(np.searchsorted(t, tc - half_s, side="left")), int(np.searchsorted(t, tc + half_s, side="right"))
    ts, ys = t[max(lo - 1, 0) : hi + 1], y[max(lo - 1, 0) : hi + 1]  # (one either side: the mask decides)
    m = (np.abs(ts - tc) <= half_s) & np.isfinite(ys)
    return ts[m], ys[m]


def pooled_points(t: np.ndarray, y: np.ndarray, k) -> tuple[list, list, float, float]:
    """The pools' entries, (compression index, u, r) for the bottoms and for the rest tops of the kernel's strokes
    ``k`` (``analyze_strokes``) over the samples (t, y), and the window ``w`` and corner span the fits use."""
    p = resolve(CoreOptions(), nominal_dt(t[:NOMINAL_SAMPLES]))  # the kernel's own parameters for this signal
    w = max(WINDOW * p.dt_s, MIN_WINDOW_S)
    n = len(k)
    bottoms, tops = [], []  # (compression index, u, r)
    for j in range(n):
        ts, ys = _near(t, y, k.t_bottom[j], w)
        bottoms.append((j, ts - k.t_bottom[j], ys - k.bottom[j]))
        if j + 1 < n and k.t_start[j + 1] - k.t_release[j] < 0.6:  # the rest top between j and j + 1
            lo, hi = np.searchsorted(t, [k.t_release[j], k.t_start[j + 1]])
            seg, ts = y[lo : hi + 1], t[lo : hi + 1]
            above = np.flatnonzero(np.isfinite(seg) & (seg >= k.baseline[j] - 0.2 * k.depth[j]))
            if above.size:
                tc = 0.5 * (ts[above[0]] + ts[above[-1]])
                q = top_one(t, y, tc, p)
                if q == q:
                    tv = _peak_time(t, y, tc, p.top_fit_s, p.dt_s)
                    ts, ys = _near(t, y, tv, w)
                    tops.append((j + 1, ts - tv, q - ys))
    return bottoms, tops, w, p.vertex_s


def session_shape_bias_mm(t_s, height_mm, gate: float = GATE) -> float:
    """How far this session's stroke shape biases its depths (mm; + reads deep, 0 when the pools show none or the
    session has under ``MIN_STROKES`` compressions): the pooled bottoms' level plus the pooled (negated) tops', over
    every compression of the trace (the kernel's own, ``analyze_strokes``). Samples whose time is not finite or does
    not increase are dropped, as ``StreamingAnalyzer.push`` drops them (a live trace may repeat a stamp)."""
    t = np.asarray(t_s, dtype=np.float64)
    y = np.asarray(height_mm, dtype=np.float64)
    if t.size < 2:
        return 0.0
    keep = increasing(t)
    t, y = t[keep], y[keep]
    k = analyze_strokes(t, y)
    if len(k) < MIN_STROKES:
        return 0.0
    bottoms, tops, w, span = pooled_points(t, y, k)
    level = []
    for pts in (bottoms, tops):
        u = np.concatenate([x[1] for x in pts]) if pts else np.zeros(0)
        r = np.concatenate([x[2] for x in pts]) if pts else np.zeros(0)
        level.append(pooled_level(u, r, w, span, gate) if u.size >= 12 and len(pts) >= MIN_STROKES else 0.0)
    # depth = baseline - bottom: a bottom fitted above the shape's real one (level < 0) reads shallow; a top fitted
    # below the real one (its negated level < 0) too
    return level[0] + level[1]
