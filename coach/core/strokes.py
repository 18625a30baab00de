"""Stroke layer of the core: phases -> measured, accepted compressions.

Every upstroke event (a DOWN->UP transition from the sample layer) is a
candidate. For each, vectorised over all candidates at once:

- bottom: the DOWN phase's minimum, refined by a least-squares parabola on the
  cleaned samples within +-fit_window_s (sub-frame time and depth);
- rest baseline ``B``: running median of the last ``baseline_tops`` *rest tops*.
  A rest top is the (parabola-refined) top between two candidate bottoms that
  are in rhythm and both plausible strokes away, so hands-off peaks, pauses and
  hand movements never feed it, and a few leaning tops cannot drag it down;
- release: the upstroke's crossing of ``bottom + 0.9 (min(top, B) - bottom)``,
  decided as soon as ``release_wait_s`` of signal has passed after it (or the next
  downstroke began) -- the fixed point that keeps emission within 150 ms;
- start: the last downward crossing of ``ref - 0.1 (ref - bottom)`` before the
  bottom, ``ref = min(top before, B)``, searched at most ``max_down_s`` back;
- acceptance: depth within [min, max], fall and rise each cover ``stroke_frac``
  of the depth, not hands-off on both sides, durations plausible, no unbridged gap.

Every quantity depends only on samples within a bounded window of its upstroke
event plus the carried baseline history, so the streaming buffer reproduces the
batch numbers exactly.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from coach.core.frontend import BIG
from coach.core.options import Params

START_FRACTION = 0.1
RELEASE_FRACTION = 0.9


@dataclass
class StrokeCarry:
    """What the stroke layer remembers between streaming feeds."""

    last_up: int = -1  # global index of the last decided upstroke event
    prev_tb: float = math.nan  # previous candidate's bottom time / fitted value
    prev_bv: float = math.nan
    prev_bs: float = math.nan  # ... and smoothed value
    prev_gb: int = -(10**12)  # previous candidate's bottom (global index)
    tops: list = field(default_factory=list)  # last rest-top heights that were not leaning (<= baseline_tops)
    tops_t: list = field(default_factory=list)  # ... and when they were confirmed
    tops_all: list = field(default_factory=list)  # last rest-top heights, leaning or not
    amps: list = field(default_factory=list)  # ... and the stroke amplitudes around them
    baseline: float = math.nan  # baseline used by the last decided candidate
    debug: list | None = None  # set to [] to collect per-candidate details (development aid)
    pending: tuple | None = None  # (t_up, t_release estimate, bottom, baseline, t_decide or inf) of the first undecided


class Strokes:
    """Accepted compressions as arrays (one entry per compression)."""

    __slots__ = ("t_start", "t_bottom", "t_release", "depth", "residual", "bottom", "baseline", "gap_s", "t_emit", "top")

    def __init__(self, **kw) -> None:
        for k in self.__slots__:
            setattr(self, k, kw[k])

    def __len__(self) -> int:
        return self.t_bottom.size

    @classmethod
    def empty(cls) -> "Strokes":
        z = np.zeros(0)
        return cls(**{k: z for k in cls.__slots__})

    @classmethod
    def concat(cls, parts: list["Strokes"]) -> "Strokes":
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        if len(parts) == 1:
            return parts[0]
        return cls(**{k: np.concatenate([getattr(p, k) for p in parts]) for k in cls.__slots__})


def _gather(t, c, ic, tcen, k):
    """Samples ic-k..ic+k per row: (time offsets from tcen, values, valid mask)."""
    n = t.size
    idx = ic[:, None] + np.arange(-k, k + 1)[None, :]
    inside = (idx >= 0) & (idx < n)
    idx = np.minimum(np.maximum(idx, 0), n - 1)
    tau = t[idx] - tcen[:, None]
    y = c[idx]
    return tau, y, inside & ~np.isnan(y)


def _wquad(u, y, w):
    """Weighted least-squares parabola y ~ b0 + b1 u + b2 u^2 per row (closed form); ok: enough samples."""
    wy = w * y
    wu = w * u
    wu2 = wu * u
    s0 = w.sum(1)
    s1 = wu.sum(1)
    s2 = wu2.sum(1)
    s3 = (wu2 * u).sum(1)
    s4 = (wu2 * u * u).sum(1)
    t0 = wy.sum(1)
    t1 = (wy * u).sum(1)
    t2 = (wy * u * u).sum(1)
    m11, m12, m22 = s2 * s4 - s3 * s3, s1 * s4 - s3 * s2, s1 * s3 - s2 * s2
    det = s0 * m11 - s1 * m12 + s2 * m22
    ok = ((w > 0).sum(1) >= 4) & (np.abs(det) > 1e-12 * np.maximum(s0, 1.0) ** 3)
    det = np.where(ok, det, 1.0)
    b0 = (t0 * m11 - s1 * (t1 * s4 - s3 * t2) + s2 * (t1 * s3 - s2 * t2)) / det
    b1 = (s0 * (t1 * s4 - s3 * t2) - t0 * m12 + s2 * (s1 * t2 - t1 * s2)) / det
    b2 = (s0 * (s2 * t2 - t1 * s3) - s1 * (s1 * t2 - t1 * s2) + t0 * m22) / det
    return b0, b1, b2, ok


def _vertex(b0, b1, b2, ok, lo, hi, sign):
    """Offset (within [lo, hi]) and value of the parabola's extreme; without the right curvature: offset 0."""
    curv = (sign * b2) > 1e-12
    du = np.where(curv, -b1 / (2.0 * np.where(curv, b2, 1.0)), 0.0)
    du = np.minimum(np.maximum(du, lo), hi)
    return np.where(ok, du, 0.0), np.where(ok, b0 + (b1 + b2 * du) * du, np.nan)


def _parabola(tau, y, valid, hw: float, clamp_s: float, sign: float):
    """Least-squares parabola over |tau| <= hw: (time offset, value) of its extreme (vertex kept
    within ``clamp_s`` of tau=0). Rows with fewer than 4 samples give NaN."""
    u = tau * (1.0 / hw)
    w = (valid & (np.abs(u) <= 1.0 + 1e-9)).astype(float)
    b0, b1, b2, ok = _wquad(u, np.where(w > 0, y, 0.0), w)
    lim = clamp_s / hw
    du, val = _vertex(b0, b1, b2, ok, -lim, lim, sign)
    return du * hw, val


def _bottom(t, c, ib, p: Params, hw):
    """Sub-frame bottom (time, height): a triangle-weighted least-squares parabola, re-centred once.

    Why this estimator: the weights fall smoothly to zero at +-hw, so
    the result moves continuously with the sampling phase (a boxcar window jumps
    when a sample enters it), and re-centring on the first vertex makes the
    window symmetric about the bottom. The vertex stays within one nominal
    sample of the discrete minimum; too few valid samples: the sample itself.
    """
    lim = p.dt_s / hw
    t_ib = t[ib]
    tau, y, valid = _gather(t, c, ib, t_ib, p.fit_k)
    u0 = tau / hw[:, None]
    y = np.where(valid, y, 0.0)
    center = np.zeros(ib.size)
    val = np.full(ib.size, np.nan)
    for _ in range(2):
        u = u0 - center[:, None]
        w = np.where(valid, np.maximum(1.0 - np.abs(u), 0.0), 0.0)
        b0, b1, b2, ok = _wquad(u, y, w)
        du, val = _vertex(b0, b1, b2, ok, -lim - center, lim - center, +1.0)
        center = center + du
    return t_ib + center * hw, np.where(np.isnan(val), c[ib], val)


def _top_level(t, c, tcen, p: Params):
    """Rest level of a top centred at ``tcen`` (between its 80 % crossings).

    The mean of two estimates that err in opposite directions on the shapes CPR
    tops take: a parabola's vertex (overshoots a flat hold) and the window mean
    (undershoots a round peak). See docs/core.md for the measured bias.
    """
    n = t.size
    ic = np.minimum(np.searchsorted(t, tcen), n - 1)
    tau, y, valid = _gather(t, c, ic, tcen, p.fit_k)
    _, vpar = _parabola(tau, y, valid, p.options.top_fit_window_s, p.dt_s, -1.0)
    mw = valid & (np.abs(tau) <= p.options.top_mean_window_s)
    cnt = mw.sum(1)
    vmean = np.where(mw, y, 0.0).sum(1) / np.maximum(cnt, 1)
    vmean = np.where(cnt > 0, vmean, np.nan)
    return np.where(np.isnan(vpar), vmean, 0.5 * (vpar + vmean))


def _interp_cross(t, s, a, level):
    """Time where s crosses ``level`` between samples a and a+1, clipped to [t[a], t[a+1]]."""
    sa, sb = s[a], s[a + 1]
    fr = (level - sa) / (sb - sa)
    fr = np.where(np.isfinite(fr), np.minimum(np.maximum(fr, 0.0), 1.0), 1.0)
    ta = t[a]
    return ta + fr * (t[a + 1] - ta)


def _medians(values: np.ndarray, ends: np.ndarray, K: int, q: float = 0.5) -> np.ndarray:
    """Median (or the q-quantile, nearest rank) of values[max(0, e-K):e] for each e in ``ends`` (NaN when e == 0)."""
    if ends.size == 0:
        return np.zeros(0)
    pad = np.concatenate((np.full(K, np.nan), values))
    rows = ends[:, None] + np.arange(K)[None, :]  # pad index e..e+K-1 == values[e-K..e-1]
    win = np.sort(pad[rows], axis=1)  # NaN sort last
    cnt = K - np.isnan(win).sum(1)
    r = np.arange(ends.size)
    if q == 0.5:
        med = 0.5 * (win[r, np.maximum((cnt - 1) // 2, 0)] + win[r, np.maximum(cnt // 2, 0)])
    else:
        med = win[r, np.minimum(np.maximum(np.round(q * (cnt - 1)).astype(np.int64), 0), K - 1)]
    return np.where(cnt > 0, med, np.nan)


def _baseline(vals, vt, ends, t_now, K: int, window_s: float) -> np.ndarray:
    """Running median of the last K rest tops before each candidate, keeping only those from the last
    ``window_s`` when at least three are that recent (after a pause the rest may have moved)."""
    if ends.size == 0:
        return np.zeros(0)
    pad = np.concatenate((np.full(K, np.nan), vals))
    pad_t = np.concatenate((np.full(K, -np.inf), vt))
    rows = ends[:, None] + np.arange(K)[None, :]
    v = pad[rows]
    recent = pad_t[rows] >= (t_now - window_s)[:, None]
    use_recent = (recent & ~np.isnan(v)).sum(1) >= 3
    v = np.where(use_recent[:, None] & ~recent, np.nan, v)
    win = np.sort(v, axis=1)
    cnt = K - np.isnan(win).sum(1)
    r = np.arange(ends.size)
    med = 0.5 * (win[r, np.maximum((cnt - 1) // 2, 0)] + win[r, np.maximum(cnt // 2, 0)])
    return np.where(cnt > 0, med, np.nan)


def _last_at_or_above(s: np.ndarray, lo: np.ndarray, hi: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Largest j in [lo, hi] with s[j] >= level (per row), -1 if none. Short window first."""
    out = np.full(lo.size, -1, np.int64)
    if lo.size == 0:
        return out
    width = max(int((hi - lo).max()) + 1, 1)
    short = min(width, 24)
    rows = None
    for wdt in (short, width):
        if rows is None:
            rows = np.arange(lo.size)
        else:
            rows = np.flatnonzero((out < 0) & (hi - lo + 1 > short))
            if rows.size == 0:
                break
        idx = hi[rows, None] - np.arange(wdt)[None, :]
        hit = (idx >= lo[rows, None]) & (s[np.maximum(idx, 0)] >= level[rows, None])
        first = hit.argmax(1)
        anyh = hit[np.arange(rows.size), first]
        out[rows[anyh]] = idx[anyh, first[anyh]]
        if wdt == width:
            break
    return out


def _count(sorted_idx: np.ndarray, lo, hi):
    """How many of the sorted indices lie in [lo, hi) (per row)."""
    return np.searchsorted(sorted_idx, hi, side="left") - np.searchsorted(sorted_idx, lo, side="left")


def _need_from(t: np.ndarray, j: int, p: Params) -> int:
    """First local index streaming must keep for candidates from local index j on."""
    return int(np.searchsorted(t, t[j] - p.back_s, side="left"))


def process(buf, base: int, p: Params, carry: StrokeCarry, final: bool) -> tuple[Strokes, int]:
    """Decide every candidate in ``buf`` after ``carry.last_up`` that can be decided.

    ``buf`` holds processed samples (FrontendOut-like arrays) starting at global
    index ``base``. Returns the accepted compressions and the local index from
    which the buffer is still needed. Updates ``carry``.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        return _process(buf, base, p, carry, final)


def _process(buf, base, p, carry, final):
    o = p.options
    t, c, s, ph, acc, ext_val = buf.t, buf.c, buf.s, buf.ph, buf.acc, buf.ext_val
    n = t.size
    carry.pending = None
    if n < 3:
        return Strokes.empty(), 0
    u = np.flatnonzero((ph[1:] != ph[:-1]) & (buf.state[1:] > 0)) + 1  # upstroke events
    u = u[u + base > carry.last_up]
    if u.size == 0:
        return Strokes.empty(), _need_from(t, n - 1, p)
    m = u.size
    ordu = ph[u]
    um1 = u - 1
    # ------------------------------------------------------------ bottom and the top before
    lb = buf.ext_idx[um1] - base  # the DOWN phase's minimum (local index)
    b_s = ext_val[um1]
    p_s = buf.pext_val[um1]  # max of the previous UP phase (smoothed), carried by the sample layer
    lp = buf.pext_idx[um1] - base
    geo_ok = (lb >= 0) & ~np.isnan(p_s)
    lbc = np.maximum(lb, 0)
    geo_ok &= t[u] - t[lbc] <= o.max_up_s
    lpc = np.minimum(np.maximum(lp, 0), n - 1)
    # fit half-width: the full window, narrowed on fast strokes (about 0.6 of the top-to-bottom time)
    fw = o.fit_window_s
    hw = np.where(lp >= 0, np.minimum(np.maximum(0.6 * (t[lbc] - t[lpc]), 0.5 * fw), fw), fw)
    tb, bv = _bottom(t, c, lbc, p, hw)
    # ------------------------------------------------------------ rest top between the previous candidate and this
    prev_bs = np.concatenate(([carry.prev_bs], b_s[:-1]))
    prev_tb = np.concatenate(([carry.prev_tb], tb[:-1]))
    prev_bv = np.concatenate(([carry.prev_bv], bv[:-1]))
    prev_lb = np.concatenate(([carry.prev_gb - base], lb[:-1]))
    dt_b = tb - prev_tb
    d_loc = np.searchsorted(ph, ordu - 1, side="left")  # first sample of this DOWN phase
    uprev = np.searchsorted(ph, ordu - 2, side="left")  # first sample of the previous UP phase
    cand = geo_ok & (lp >= 0) & (uprev >= 1) & (dt_b >= o.rhythm_s[0]) & (dt_b <= o.rhythm_s[1])
    cand &= (t[np.minimum(d_loc, n - 1)] - t[np.minimum(uprev, n - 1)]) <= o.rhythm_s[1]
    qv = np.full(m, np.nan)
    if cand.any():
        k = np.flatnonzero(cand)
        # centred between the 80 % crossings of the previous up- and this downstroke
        ps_k = p_s[k]
        Lq = ps_k - 0.2 * (ps_k - np.fmax(prev_bs[k], b_s[k]))
        tau_u = np.searchsorted(acc, Lq + (ordu[k] - 2) * BIG, side="left")
        tau_u = np.minimum(np.maximum(tau_u, uprev[k]), lpc[k])
        tq_up = _interp_cross(t, s, tau_u - 1, Lq)
        jq = _last_at_or_above(s, lpc[k], lbc[k], Lq)
        tq_dn = _interp_cross(t, s, np.minimum(np.maximum(jq, 0), n - 2), Lq)
        q_k = _top_level(t, c, 0.5 * (tq_up + tq_dn), p)
        nan_at = np.flatnonzero(np.isnan(c))  # (rare: counting by search beats a scan of the buffer)
        gap_free = _count(nan_at, np.maximum(prev_lb[k], 0) + 1, lbc[k] + 1) == 0
        rise_prev, fall_this = q_k - prev_bv[k], q_k - bv[k]
        ok = gap_free & (prev_lb[k] >= 0) & (jq >= 0)
        ok &= (rise_prev >= p.min_depth_mm) & (rise_prev <= p.max_depth_mm)
        ok &= (fall_this >= p.min_depth_mm) & (fall_this <= p.max_depth_mm)
        qv[k] = np.where(ok, q_k, np.nan)
    rest_top = ~np.isnan(qv)
    # ------------------------------------------------------------ baseline: two passes over the rest tops
    # Pass 1 flags leaning tops: clearly below the upper quartile of the last tops while the stroke around
    # them got shorter by much of that drop (leaning lowers the top but not the bottom; a drifting camera
    # or manikin moves both). Pass 2 is the running median of the unflagged tops, so a run of leaning
    # compressions cannot drag the baseline down, while drift is still followed.
    K = o.baseline_tops
    amp = qv - 0.5 * (prev_bv + bv)
    if rest_top.any():
        new_tops, new_amp = qv[rest_top], amp[rest_top]
        hist_all, hist_amp = carry.tops_all[-K:], carry.amps[-K:]
        ends = len(hist_all) + np.arange(new_tops.size)
        B0 = _medians(np.concatenate((hist_all, new_tops)), ends, K, 0.75)
        A0 = _medians(np.concatenate((hist_amp, new_amp)), ends, K, 0.75)
        drop = B0 - new_tops
        good = rest_top.copy()
        lean = (drop > o.lean_tol_mm) & (A0 - new_amp > 0.5 * drop)
        # nowhere near the rest position (hand at the head, hands lifted): not a rest top at all
        away = (drop > o.max_lean_frac * p.profile.depth_mm.max) | (-drop > o.off_margin_mm)
        if o.rest_height_mm is not None:  # a known rest: hands hovering above it never make rest tops
            away |= new_tops > float(o.rest_height_mm) + 2.0 * o.off_margin_mm
            # ... and tops below it are leaning, however many there are (issue 4: leaning is measured
            # against the calibrated rest, not against a baseline that sinks with it)
            lean |= new_tops < float(o.rest_height_mm) - o.lean_tol_mm
        good[rest_top] = ~(lean | away)
    else:
        good = rest_top
    hist = carry.tops[-K:]
    hist_t = carry.tops_t[-K:]
    vals = np.concatenate((hist, qv[good]))
    vt = np.concatenate((hist_t, tb[good]))  # (a rest top's time: the bottom that confirmed it)
    B = _baseline(vals, vt, len(hist) + np.cumsum(good), tb, K, o.baseline_window_s)
    if o.rest_height_mm is not None:
        B = np.where(np.isnan(B), float(o.rest_height_mm), B)
    known = ~np.isnan(B)
    # ------------------------------------------------------------ release: fixed point of t >= r(t) + wait
    dn_next = np.searchsorted(ph, ordu + 1, side="left")  # next DOWN event (n: not yet)
    e = np.minimum(dn_next, np.searchsorted(t, t[u] + o.max_up_s, side="left"))  # latest decision sample
    up_end = np.minimum(dn_next, n) - 1
    wait = p.release_wait_s
    # never decide before the bottom's fit window is complete (its samples must not depend on when we look)
    f_min = np.searchsorted(t, t[lbc] + o.fit_window_s + p.dt_s, side="left")
    f = np.maximum(u, f_min)
    t_r = np.full(m, np.nan)
    M = np.full(m, np.nan)
    a = np.arange(m)
    for _ in range(64):
        fa = f[a]
        fm = np.minimum(fa, up_end[a])
        Mv = ext_val[fm]
        Ba, ba = B[a], b_s[a]
        ref = np.where(np.isnan(Ba), Mv, np.fmin(Mv, Ba))
        level = ba + RELEASE_FRACTION * (ref - ba)
        tau = np.searchsorted(acc, level + ordu[a] * BIG, side="left")
        tau = np.minimum(np.maximum(tau, u[a]), fm)
        tr = _interp_cross(t, s, tau - 1, level)
        fn = np.maximum(np.minimum(np.maximum(np.searchsorted(t, tr + wait, side="left"), fa), e[a]), f_min[a])
        t_r[a], M[a], f[a] = tr, Mv, fn
        a = a[fn != fa]
        if a.size == 0:
            break
    if final:
        n_dec = m
        over = np.flatnonzero(f >= n)  # end of data: decide with what there is
        if over.size:
            f[over] = n - 1
            fm = np.minimum(n - 1, up_end[over])
            Mv = ext_val[fm]
            Ba, ba = B[over], b_s[over]
            level = ba + RELEASE_FRACTION * (np.where(np.isnan(Ba), Mv, np.fmin(Mv, Ba)) - ba)
            tau = np.minimum(np.maximum(np.searchsorted(acc, level + ordu[over] * BIG, side="left"), u[over]), fm)
            t_r[over], M[over] = _interp_cross(t, s, tau - 1, level), Mv
    else:
        pend = np.flatnonzero(f >= n)
        n_dec = int(pend[0]) if pend.size else m
        if pend.size:  # what the streaming scheduler needs to know about the first undecided candidate
            k = n_dec
            carry.pending = (float(t[u[k]]), float(t_r[k]), float(b_s[k]), float(B[k]))
    if n_dec == 0:
        return Strokes.empty(), _need_from(t, u[0], p)
    # ------------------------------------------------------------ decided candidates: start, acceptance
    d = slice(0, n_dec)
    kn, Bd, q, bss, ps = known[d], B[d], M[d], b_s[d], p_s[d]
    ref0 = np.fmin(ps, q)  # no baseline yet: the lower of the two tops
    ref_s = np.where(kn, np.fmin(ps, Bd), ref0)
    Ls = ref_s - START_FRACTION * (ref_s - bss)
    lbd = lbc[d]
    lo_s = np.searchsorted(t, t[lbd] - o.max_down_s, side="left")
    js = _last_at_or_above(s, lo_s, lbd, Ls)
    miss = np.flatnonzero(js < 0)
    if miss.size:  # the hand sank slowly below the top before: start from the highest point in reach
        width = int((lbd[miss] - lo_s[miss]).max()) + 1
        idx = lbd[miss, None] - np.arange(width)[None, :]
        win = np.where(idx >= lo_s[miss, None], s[np.maximum(idx, 0)], np.nan)
        loc = np.nanmax(np.where(np.isnan(win), -np.inf, win), axis=1)
        ref_s[miss] = np.fmin(ref_s[miss], loc)
        Ls[miss] = ref_s[miss] - START_FRACTION * (ref_s[miss] - bss[miss])
        js[miss] = _last_at_or_above(s, lo_s[miss], lbd[miss], Ls[miss])
    jsc = np.minimum(np.maximum(js, 0), n - 2)
    t_s = _interp_cross(t, s, jsc, Ls)
    bvd, tbd, trd = bv[d], tb[d], t_r[d]
    depth = np.where(kn, Bd, ref0) - bvd
    depth_s = np.where(kn, Bd, ref0) - bss
    fall = ref_s - bss
    rise = np.where(kn, np.fmin(q, Bd), q) - bss
    jr = np.minimum(f[d], n - 1)
    nan_at = np.flatnonzero(np.isnan(c))
    off = o.off_margin_mm
    ok = geo_ok[d] & (js >= 0) & (depth >= p.min_depth_mm) & (depth <= p.max_depth_mm)
    ok &= (fall >= o.stroke_frac * depth_s) & (rise >= o.stroke_frac * depth_s)
    ok &= ~(kn & (ps > Bd + off) & (q > Bd + off))  # hands-off on both sides: a hand movement
    ok &= kn | (depth >= o.bootstrap_depth_frac * p.profile.depth_mm.min)  # the first must be unmistakable
    ok &= (tbd - t_s <= o.max_down_s) & (trd - t_s <= o.max_stroke_s) & (trd > tbd) & (t_s < tbd)
    ok &= _count(nan_at, jsc, jr + 1) == 0  # no unbridged gap inside the stroke
    if carry.debug is not None:  # development aid: every decided candidate with what it was judged on
        carry.debug.append(dict(t_up=t[u[d]], t_b=tbd, bottom=bvd, B=Bd, p=ps, q=q, depth=depth, fall=fall,
                                rise=rise, t_s=t_s, t_r=trd, geo=geo_ok[d], found=js >= 0, ok=ok,
                                rest_top=rest_top[d], qv=qv[d]))
    gap = _count(np.flatnonzero(buf.filled), jsc, jr + 1) * p.dt_s
    # ------------------------------------------------------------ carry
    last = n_dec - 1
    carry.last_up = int(u[last] + base)
    carry.prev_tb, carry.prev_bv, carry.prev_bs = float(tb[last]), float(bv[last]), float(b_s[last])
    carry.prev_gb = int(lb[last] + base)
    if rest_top[:n_dec].any():
        carry.tops_all = (carry.tops_all + qv[:n_dec][rest_top[:n_dec]].tolist())[-K:]
        carry.amps = (carry.amps + amp[:n_dec][rest_top[:n_dec]].tolist())[-K:]
    if good[:n_dec].any():
        carry.tops = (carry.tops + qv[:n_dec][good[:n_dec]].tolist())[-K:]
        carry.tops_t = (carry.tops_t + tb[:n_dec][good[:n_dec]].tolist())[-K:]
    carry.baseline = float(B[last])
    need = _need_from(t, u[n_dec], p) if n_dec < m else _need_from(t, n - 1, p)
    a = np.flatnonzero(ok)
    out = Strokes(
        t_start=t_s[a],
        t_bottom=tbd[a],
        t_release=trd[a],
        depth=depth[a],
        residual=np.where(kn, np.maximum(Bd - q, 0.0), 0.0)[a],
        bottom=bvd[a],
        baseline=np.where(kn, Bd, ref0)[a],
        gap_s=gap[a],
        t_emit=t[jr[a]],
        top=q[a],
    )
    return out, need
