"""The core's algorithm as a straightforward pure-Python loop (no NumPy in the loops).

Why it exists: the benchmark reports the vectorised kernel's speed as a ratio
against this loop, and the tests check that both compute the same compressions,
so the ratio compares one algorithm written two ways. It is not used by the
product. It mirrors coach.core.frontend and coach.core.strokes step by step,
except the previous-cycle fill of long gaps (> hermite_max_s), which raises
NotImplementedError (the benchmark trace has none).
"""
from __future__ import annotations

import math

from coach.core.frontend import LIMIT_MM
from coach.core.options import NOMINAL_SAMPLES, CoreOptions, nominal_dt, resolve
from coach.core.strokes import RELEASE_FRACTION, START_FRACTION

NAN = math.nan


def _isnan(x: float) -> bool:
    return x != x


def _fmin(a: float, b: float) -> float:
    """min ignoring NaN (numpy's fmin)."""
    if a != a:
        return b
    if b != b:
        return a
    return a if a <= b else b


def _hermite(t, d, a, b, tg):
    ta, tb, va, vb = t[a], t[b], d[a], d[b]
    if a >= 1 and not _isnan(d[a - 1]):
        t0, v0 = t[a - 1], d[a - 1]
        d1 = (va - v0) / (ta - t0)
        d2 = ((vb - va) / (tb - ta) - d1) / (tb - t0)
        return v0 + d1 * (tg - t0) + d2 * (tg - t0) * (tg - ta)
    return va + (vb - va) * (tg - ta) / (tb - ta)


def sample_layer(t: list, h: list, p):
    """Despike, bridge, smooth, Schmitt phases: per-sample lists."""
    o = p.options
    n = len(t)
    S = o.spike_mm
    h = [x if (x == x and abs(x) <= LIMIT_MM) else NAN for x in h]
    # despike
    d = []
    for i in range(n):
        x = h[i]
        left = h[i - 1] if i > 0 else NAN
        right = h[i + 1] if i + 1 < n else NAN
        tl = t[i - 1] if i > 0 else NAN
        tr = t[i + 1] if i + 1 < n else NAN
        spike = False
        if not (_isnan(x) or _isnan(left) or _isnan(right)):
            mid = left + (right - left) * ((t[i] - tl) / (tr - tl))
            left2 = h[i - 2] if i > 1 else NAN
            step, side = x - left, left - left2
            turn = step * side > 0.0 and abs(side) >= 0.25 * abs(step)
            lim = max(S, o.spike_turn_mm_s * (0.5 * (tr - tl))) if turn else S
            spike = abs(x - mid) > lim + 0.1 * abs(right - left)
        elif not _isnan(x):
            if _isnan(right) and not _isnan(left):
                j = abs(x - left)
                spike = j > S and j > o.spike_speed_mm_s * (t[i] - tl)
            if _isnan(left) and not _isnan(right):
                j = abs(x - right)
                spike = spike or (j > S and j > o.spike_speed_mm_s * (tr - t[i]))
        d.append(NAN if spike else x)
    # bridge
    c = list(d)
    filled = [False] * n
    i = 0
    while i < n:
        if not _isnan(d[i]):
            i += 1
            continue
        a = i - 1
        b = i
        while b < n and _isnan(d[b]):
            b += 1
        if a >= 0 and b < n and t[b] - t[a] <= o.max_gap_s:
            if t[b] - t[a] > o.hermite_max_s:
                raise NotImplementedError("the reference loop has no previous-cycle fill for long gaps")
            for j in range(i, b):
                c[j] = _hermite(t, d, a, b, t[j])
                filled[j] = True
        i = b
    # smooth (right neighbour: raw successor for measured samples, next bridged value for bridged ones)
    s = []
    for i in range(n):
        ci = c[i]
        left = c[i - 1] if i > 0 else NAN
        if _isnan(left):
            left = ci
        if filled[i]:
            right = c[i + 1] if i + 1 < n else NAN
            if _isnan(right):
                right = ci
        else:
            hn = h[i + 1] if i + 1 < n else NAN
            right = ci if (_isnan(hn) or abs(hn - ci) > S + abs(ci - left)) else hn
        s.append(0.25 * left + 0.5 * ci + 0.25 * right)
    # Schmitt phases, running extremes
    w, T = p.w, o.detect_mm
    state_prev, ph_cur = 1, 0
    ext_idx_prev, ext_val_prev = -1, NAN
    pext_idx_cur, pext_val_cur = -1, NAN
    out = {k: [] for k in ("state", "ph", "ext_idx", "ext_val", "pext_idx", "pext_val")}
    for i in range(n):
        lo = max(0, i - w + 1)
        win = [v for v in s[lo : i + 1] if not _isnan(v)]
        si = s[i]
        ev = 0
        if win and not _isnan(si):
            up = si > min(win) + T
            dn = si < max(win) - T
            ev = (1 if up else 0) - (1 if dn else 0)
        st = ev if ev != 0 else state_prev
        change = st != state_prev
        if change:
            ph_cur += 1
        if change or i == 0:  # a new phase: its extreme starts at its first sample (NaN until a valid one)
            pext_idx_cur, pext_val_cur = ext_idx_prev, ext_val_prev
            ext_idx_prev, ext_val_prev = i, si
        elif not _isnan(si) and (_isnan(ext_val_prev) or (si > ext_val_prev if st > 0 else si < ext_val_prev)):
            ext_idx_prev, ext_val_prev = i, si
        state_prev = st
        for k, v in (("state", st), ("ph", ph_cur), ("ext_idx", ext_idx_prev),
                     ("ext_val", ext_val_prev), ("pext_idx", pext_idx_cur), ("pext_val", pext_val_cur)):
            out[k].append(v)
    return c, s, filled, out


def _first_index(t, x):
    """First i with t[i] >= x (len(t) if none)."""
    lo, hi = 0, len(t)
    while lo < hi:
        mid = (lo + hi) // 2
        if t[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _cross(t, s, a, level):
    sa, sb = s[a], s[a + 1]
    den = sb - sa
    fr = (level - sa) / den if den != 0 else math.inf
    fr = min(max(fr, 0.0), 1.0) if math.isfinite(fr) else 1.0
    return t[a] + fr * (t[a + 1] - t[a])


def _wquad(us, ys, ws):
    s0 = s1 = s2 = s3 = s4 = t0 = t1 = t2 = 0.0
    npos = 0
    for u, y, w in zip(us, ys, ws):
        if w <= 0:
            continue
        npos += 1
        s0 += w
        s1 += w * u
        s2 += w * u * u
        s3 += w * u * u * u
        s4 += w * u * u * u * u
        t0 += w * y
        t1 += w * y * u
        t2 += w * y * u * u
    m11, m12, m22 = s2 * s4 - s3 * s3, s1 * s4 - s3 * s2, s1 * s3 - s2 * s2
    det = s0 * m11 - s1 * m12 + s2 * m22
    if npos < 4 or abs(det) <= 1e-12 * max(s0, 1.0) ** 3:
        return None
    b0 = (t0 * m11 - s1 * (t1 * s4 - s3 * t2) + s2 * (t1 * s3 - s2 * t2)) / det
    b1 = (s0 * (t1 * s4 - s3 * t2) - t0 * m12 + s2 * (s1 * t2 - t1 * s2)) / det
    b2 = (s0 * (s2 * t2 - t1 * s3) - s1 * (s1 * t2 - t1 * s2) + t0 * m22) / det
    return b0, b1, b2


def _vertex(b, lo, hi, sign):
    b0, b1, b2 = b
    du = -b1 / (2.0 * b2) if sign * b2 > 1e-12 else 0.0
    du = min(max(du, lo), hi)
    return du, b0 + (b1 + b2 * du) * du


def _window(t, c, ic, k):
    n = len(t)
    return [(t[j], c[j]) for j in range(ic - k, ic + k + 1) if 0 <= j < n and not _isnan(c[j])]


def _bottom(t, c, ib, p, hw):
    lim = p.vertex_s / hw
    win = _window(t, c, ib, p.fit_k)
    center = 0.0
    val = NAN
    for _ in range(2):
        us = [(tt - t[ib]) / hw - center for tt, _ in win]
        ws = [max(1.0 - abs(u), 0.0) for u in us]
        b = _wquad(us, [y for _, y in win], ws)
        if b is None:
            du, val = 0.0, NAN
        else:
            du, val = _vertex(b, -lim - center, lim - center, +1.0)
        center += du
    return t[ib] + center * hw, (c[ib] if _isnan(val) else val)


def _top_level(t, c, tcen, p):
    o = p.options
    ic = min(_first_index(t, tcen), len(t) - 1)
    win = _window(t, c, ic, p.fit_k)
    hw = p.top_fit_s
    us = [(tt - tcen) / hw for tt, _ in win]
    ws = [1.0 if abs(u) <= 1.0 + 1e-9 else 0.0 for u in us]
    b = _wquad(us, [y for _, y in win], ws)
    vpar = _vertex(b, -p.dt_s / hw, p.dt_s / hw, -1.0)[1] if b is not None else NAN
    m = [y for tt, y in win if abs(tt - tcen) <= o.top_mean_window_s]
    vmean = sum(m) / len(m) if m else NAN
    wv = o.top_vertex_weight
    return vmean if _isnan(vpar) else wv * vpar + (1.0 - wv) * vmean


def _robust_mean(vals, trim):
    """Mean without the ``trim`` highest and lowest values (median when fewer than 2 trim + 3)."""
    v = sorted(x for x in vals if not _isnan(x))
    if len(v) < 2 * trim + 3:
        return _quantile(v, 0.5)
    acc = 0.0
    for x in v[trim : len(v) - trim]:
        acc += x
    return acc / (len(v) - 2 * trim)


def _quantile(vals, q):
    v = sorted(x for x in vals if not _isnan(x))
    if not v:
        return NAN
    if q == 0.5:
        return 0.5 * (v[(len(v) - 1) // 2] + v[len(v) // 2])
    return v[min(max(int(round(q * (len(v) - 1))), 0), len(v) - 1)]


def reference_strokes(t_s, height_mm, options: CoreOptions | None = None) -> list[dict]:
    """Accepted compressions (t_start, t_bottom, t_release, depth, residual, gap_s, t_mid) in a plain loop."""
    o = options or CoreOptions()
    t = [float(x) for x in t_s]
    h = [float(x) for x in height_mm]
    n = len(t)
    if n == 0:
        return []
    p = resolve(o, nominal_dt(t[:NOMINAL_SAMPLES]))
    c, s, filled, L = sample_layer(t, h, p)
    state, ph, ext_idx, ext_val = L["state"], L["ph"], L["ext_idx"], L["ext_val"]
    prof = p.profile
    K = o.baseline_tops
    KL = max(o.lean_ref_tops, 1)
    tops, tops_t, tops_all, amps, tops_all_t = [], [], [], [], []
    rest_offset, rest_break_t = 0.0, -math.inf  # how far the rest jumped at breaks so far; the last break weighed
    prev = dict(tb=NAN, bv=NAN, bs=NAN, lb=-(10**12))
    out = []
    first_of_phase = {}
    for i in range(n):
        first_of_phase.setdefault(ph[i], i)
    nan_before = [0] * (n + 1)
    filled_before = [0] * (n + 1)
    for i in range(n):
        nan_before[i + 1] = nan_before[i] + (1 if _isnan(c[i]) else 0)
        filled_before[i + 1] = filled_before[i] + (1 if filled[i] else 0)
    for u in range(1, n):
        if not (ph[u] != ph[u - 1] and state[u] > 0):
            continue
        ordu = ph[u]
        lb, b_s = ext_idx[u - 1], ext_val[u - 1]
        p_s, lp = L["pext_val"][u - 1], L["pext_idx"][u - 1]
        geo_ok = lb >= 0 and not _isnan(p_s) and t[u] - t[max(lb, 0)] <= o.max_up_s
        lbc = max(lb, 0)
        lpc = min(max(lp, 0), n - 1)
        fw = o.fit_window_s
        hw = min(max(0.6 * (t[lbc] - t[lpc]), 0.5 * fw), fw) if lp >= 0 else fw
        tb, bv = _bottom(t, c, lbc, p, hw)
        # rest top between the previous candidate and this one
        d_loc = first_of_phase.get(ordu - 1, n)
        uprev = first_of_phase.get(ordu - 2, n)
        dt_b = tb - prev["tb"]
        qv = NAN
        if (geo_ok and lp >= 0 and uprev >= 1 and o.rhythm_s[0] <= dt_b <= o.rhythm_s[1]
                and t[min(d_loc, n - 1)] - t[min(uprev, n - 1)] <= o.rhythm_s[1]):
            Lq = p_s - 0.2 * (p_s - (b_s if _isnan(prev["bs"]) else (prev["bs"] if _isnan(b_s) else max(prev["bs"], b_s))))
            tau = next((j for j in range(uprev, lpc + 1) if s[j] >= Lq), lpc)  # first sample of that upstroke above Lq
            tau = min(max(tau, uprev), lpc)
            tq_up = _cross(t, s, tau - 1, Lq)
            jq = next((j for j in range(lbc, lpc - 1, -1) if s[j] >= Lq), -1)
            tq_dn = _cross(t, s, min(max(jq, 0), n - 2), Lq)
            q = _top_level(t, c, 0.5 * (tq_up + tq_dn), p)
            rise_prev, fall_this = q - prev["bv"], q - bv
            if (prev["lb"] >= 0 and jq >= 0 and nan_before[lbc + 1] - nan_before[max(prev["lb"], 0) + 1] == 0
                    and p.min_depth_mm <= rise_prev <= p.max_depth_mm and p.min_depth_mm <= fall_this <= p.max_depth_mm):
                qv = q
        amp = qv - 0.5 * (prev["bv"] + bv)
        win_t = tops_all_t[-KL:] + ([] if _isnan(qv) else [tb])  # (the last KL rest tops before this one, and it)
        # the last break: the first rest top (leaning or not) after a gap of more than baseline_break_s between two
        t_break = max([win_t[i] for i in range(1, len(win_t)) if win_t[i] - win_t[i - 1] > o.baseline_break_s], default=-math.inf)
        if t_break > rest_break_t:  # weighed once: did the rest jump beyond what leaning or lifted hands can be?
            own = [] if _isnan(qv) else [qv]
            vs, As = tops_all[-KL:] + own, amps[-KL:] + ([amp] if own else [])
            new = [i for i, x in enumerate(win_t) if x >= t_break]
            if o.baseline_break_tops <= len(new) < len(win_t):
                old = [i for i, x in enumerate(win_t) if x < t_break]
                moved = _quantile([vs[i] for i in new], 0.5) - _quantile([vs[i] for i in old], 0.5)
                old_len = _quantile([As[i] for i in old], 0.5)
                if ((moved < -o.max_lean_frac * prof.depth_mm.max or moved > 2.0 * o.off_margin_mm)
                        and abs(_quantile([As[i] for i in new], 0.5) - old_len) < 0.25 * old_len):  # a new rest: forget
                    rest_offset += moved
                    keep = [i for i, x in enumerate(tops_all_t) if x >= t_break]
                    tops_all, amps, tops_all_t = [tops_all[i] for i in keep], [amps[i] for i in keep], [tops_all_t[i] for i in keep]
                    keep = [i for i, x in enumerate(tops_t) if x >= t_break]
                    tops, tops_t = [tops[i] for i in keep], [tops_t[i] for i in keep]
                    t_break = -math.inf  # (no break left in what is remembered)
                else:
                    rest_break_t = t_break
        rest = None if o.rest_height_mm is None else float(o.rest_height_mm) + rest_offset
        good = False
        if not _isnan(qv):
            B0 = _quantile(tops_all[-KL:], 0.75)
            A0 = _quantile(amps[-KL:], 0.75)
            drop = B0 - qv
            lean = drop > o.lean_tol_mm and A0 - amp > 0.5 * drop
            away = drop > o.max_lean_frac * prof.depth_mm.max or (-drop > o.off_margin_mm and amp - A0 > 0.5 * -drop)
            if rest is not None:
                away = away or (qv > rest + 2.0 * o.off_margin_mm and qv - amp > rest - p.min_depth_mm)
                lean = lean or qv < rest - o.lean_tol_mm
            good = not (lean or away)
            tops_all = (tops_all + [qv])[-KL:]
            amps = (amps + [amp])[-KL:]
            tops_all_t = (tops_all_t + [tb])[-KL:]
        if good:
            tops = (tops + [qv])[-K:]
            tops_t = (tops_t + [tb])[-K:]
        cut = next((i for i, tt in enumerate(tops_t) if tt >= t_break), len(tops_t))
        cut = cut if cut < len(tops_t) else 0  # (none after it: all the tops)
        if cut:
            moved = _quantile(tops[cut:], 0.5) - _quantile(tops[:cut], 0.5)
            if not (abs(moved) > o.baseline_break_mm and len(tops) - cut >= o.baseline_break_tops):
                cut = 0  # the rest did not move in the pause: all the tops
        recent = [v for v, tt in zip(tops, tops_t) if tt >= tb - o.baseline_window_s]
        B = _robust_mean(tops[cut:] if cut else (recent if len(recent) >= 3 else tops), max(o.baseline_trim, 0))
        if _isnan(B) and rest is not None:
            B = rest
        known = not _isnan(B)
        # release: the first sample at or after r(t) + wait
        dn_next = first_of_phase.get(ordu + 1, n)
        e = min(dn_next, _first_index(t, t[u] + o.max_up_s))
        up_end = min(dn_next, n) - 1
        f_min = _first_index(t, t[lbc] + o.fit_window_s + p.vertex_s)
        f = max(u, f_min)
        t_r = M = NAN
        while True:
            fm = min(f, up_end)
            if fm >= n:
                break
            M = ext_val[fm]
            ref = _fmin(M, B) if known else M
            level = b_s + RELEASE_FRACTION * (ref - b_s)
            tau = min(max(next((j for j in range(u, fm + 1) if s[j] >= level), fm), u), fm)
            t_r = _cross(t, s, tau - 1, level)
            fn = max(min(max(_first_index(t, t_r + p.release_wait_s), f), e), f_min)
            if fn == f:
                break
            f = fn
        if f >= n:  # end of data: decide with what there is
            f = n - 1
            fm = min(n - 1, up_end)
            M = ext_val[fm]
            ref = _fmin(M, B) if known else M
            level = b_s + RELEASE_FRACTION * (ref - b_s)
            tau = min(max(next((j for j in range(u, fm + 1) if s[j] >= level), fm), u), fm)
            t_r = _cross(t, s, tau - 1, level)
        # start: last downward crossing of the start level (from the highest point in reach if none)
        ref0 = _fmin(p_s, M)
        ref_s = _fmin(p_s, B) if known else ref0
        lo_s = _first_index(t, t[lbc] - o.max_down_s)
        Ls = ref_s - START_FRACTION * (ref_s - b_s)
        js = next((j for j in range(lbc, lo_s - 1, -1) if s[j] >= Ls), -1)
        p_b = p_s  # where the hands were before the stroke
        if js < 0:
            loc = max((s[j] for j in range(lo_s, lbc + 1) if not _isnan(s[j])), default=-math.inf)
            p_b = _fmin(p_s, loc)
            ref_s = _fmin(ref_s, loc)
            Ls = ref_s - START_FRACTION * (ref_s - b_s)
            js = next((j for j in range(lbc, lo_s - 1, -1) if s[j] >= Ls), -1)
        jsc = min(max(js, 0), n - 2)
        t_s = _cross(t, s, jsc, Ls)
        base = B if known else ref0
        depth = base - bv
        depth_s = base - b_s
        fall = ref_s - b_s
        rise = (_fmin(M, B) if known else M) - b_s
        jr = min(f, n - 1)
        j_rel = jr if t_r != t_r else min(_first_index(t, t_r), jr)  # the first sample at or after the release
        ok = (
            geo_ok and js >= 0 and p.min_depth_mm <= depth <= p.max_depth_mm
            and fall >= (o.off_side_frac if M > base + 0.5 * o.off_margin_mm else o.stroke_frac) * depth_s
            and rise >= (o.off_side_frac if p_b > base + 0.5 * o.off_margin_mm else o.stroke_frac) * depth_s
            and not (known and p_b > B + o.off_margin_mm and M > B + o.off_margin_mm and not good)
            and (known or depth >= o.bootstrap_depth_frac * prof.depth_mm.min)
            and tb - t_s <= o.max_down_s and t_r - t_s <= o.max_stroke_s and t_r > tb and t_s < tb
            and nan_before[j_rel + 1] - nan_before[jsc] == 0  # no unbridged gap up to the release crossing
        )
        if ok:
            # the centre: midway between the crossings of half the depth (the rate's clock; strokes._centres)
            Lm = 0.5 * (base + bv)
            jd = next((j for j in range(lbc, jsc - 1, -1) if s[j] >= Lm), -1)
            fm = min(jr, up_end)
            ju = max(next((j for j in range(u, fm + 1) if s[j] >= Lm), fm), u)
            t_mid = tb
            if jd >= 0 and s[ju] >= Lm:
                t_mid = 0.5 * (_cross(t, s, min(max(jd, 0), n - 2), Lm) + _cross(t, s, min(max(ju - 1, 0), n - 2), Lm))
            out.append(dict(t_start=t_s, t_bottom=tb, t_release=t_r, depth=depth,
                            residual=max(B - M, 0.0) if known else 0.0,
                            gap_s=(filled_before[jr + 1] - filled_before[jsc]) * p.dt_s, t_mid=t_mid))
        prev = dict(tb=tb, bv=bv, bs=b_s, lb=lb)
    return out
