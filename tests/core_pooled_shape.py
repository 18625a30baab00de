"""Equivalent-time corrections of the bottoms and the rest tops, gated by their own noise: a study for issue 10.

Why: the core's bottom and top fits have fixed widths in seconds, so each stroke shape has its own bias
(tests/core_fixed_shapes.py: a sharp-cornered trapezoid reads 5 mm shallow, a held bottom 1.7 mm deep) and
no single local model is unbiased on every shape under 1 mm of noise (docs/core.md). But a rescuer repeats one
shape, and each stroke is sampled at its own phase: the samples of the last strokes, taken relative to each
stroke's *fitted* bottom (time and height), trace the true shape around that fit densely. Where the pooled
shape's lowest point is not at the fit's level, the fit is biased, by that much, for this rescuer's strokes.

Per compression, from the ``POOL_N`` compressions before it (never itself, so streaming could do the same):

* (the pools and the model are ``coach.core.shape_bias``'s, which states a whole session's figure)
* bottoms: the samples within ``WINDOW`` sample intervals (and ``MIN_WINDOW_S``) of each fitted bottom, as
  (t - t_bottom, height - bottom); tops: the same around the rest top after each (found between its 80 %
  crossings, levelled by the core's own top fit, ``coach.core.scalar.top_one``, aligned on its own parabola
  vertex), height negated;
* a model ``a + b |u - u0| + c (u - u0)^2`` (a V, a parabola, a flat and anything between) by least squares
  with ``b, c >= 0`` (convex, so the corner is the minimum), ``u0`` over a grid of 7 positions within the
  core's vertex freedom (``Params.vertex_s``: one sample interval at <= 33 fps, 30 ms above; both session 14,
  see ``coach.core.shape_bias.convex_fit`` and ``pooled_level``); the correction is the model's value at ``u0`` (its corner), used only when it is more than ``GATE`` standard errors from zero;
* depth = the core's depth - bottom correction + top correction.

Why a script and not the core (docs/core.md, "Pooled shape corrections"): it removes most of a fixed shape's bias
(the sharp-cornered trapezoid's -5.3 mm goes to -0.2 clean, -0.4 noisy) and no longer hurts real bottoms, but it
moves the trapezoid family's bias from +0.02 to +0.40 mm (held bottoms are corrected less than sharp corners),
and even from running sums (``pooled_fast``, 9 us per compression) it costs more than the whole batch kernel
spends per compression (~6 us); in streaming its window sums would also have to be added in batch's order.
Run from the repo root (~15 s with 20 seeds)::

    python -m tests.core_pooled_shape
    python -m tests.core_pooled_shape --seeds 6 --gate 3
    python -m tests.core_pooled_shape --real      # the real cardiac arrest's bottoms (~1 min)
    python -m tests.core_pooled_shape --bench     # its cost per compression, from running sums (pooled_fast),
                                                  # checked against one fit per compression (pooled_slow)
"""
from __future__ import annotations

import argparse

import numpy as np

from coach.core import analyze_strokes
from coach.core.shape_bias import CORNERS, GATE, pooled_level, pooled_points
from coach.core.simulator import SimOptions, simulate
from tests.core_fixed_shapes import SHAPES as FIXED
from tests.core_helpers import CLEAN, case1_at, case1_turning_points, kernel_pairs, real_templates

POOL_N = 30  # compressions pooled (corrections start once half of them are there)


def corrections(t: np.ndarray, y: np.ndarray, k, gate: float = GATE, fast: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(bottom, top) corrections per compression of the kernel's strokes ``k`` over the samples (t, y)
    (``fast``: from running sums, ``pooled_fast``; else one fit per compression, ``pooled_slow``, the reference
    ``--bench`` checks it against)."""
    bottoms, tops, w, span = pooled_points(t, y, k)
    n = len(k)
    pooled = pooled_fast if fast else pooled_slow
    return pooled(bottoms, n, w, span, gate), -pooled(tops, n, w, span, gate)


def pooled_slow(pts: list, n: int, w: float, span: float, gate: float) -> np.ndarray:
    """Per compression j, the correction from the entries (index, u, r) of the POOL_N compressions before it: one
    least-squares pass per grid position and sub-model (~0.7 ms per compression and pool in this Python)."""
    corr = np.zeros(n)
    for j in range(n):
        sel = [x for x in pts if j - POOL_N <= x[0] < j]
        if len(sel) >= POOL_N // 2:
            u = np.concatenate([x[1] for x in sel])
            r = np.concatenate([x[2] for x in sel])
            if u.size >= 12:
                corr[j] = pooled_level(u, r, w, span, gate)
    return corr


def pooled_fast(pts: list, n: int, w: float, span: float, gate: float) -> np.ndarray:
    """``pooled_slow`` from running sums: each stroke's moments per grid position (the 6 distinct entries of
    X'X, X'r and r'r), summed over the last POOL_N strokes by a cumulative sum, and every sub-model solved in
    closed form for all compressions and grid positions at once. What the core would need (issue 10's cost):
    see ``--bench``."""
    corr = np.zeros(n)
    if not pts:
        return corr
    ids = np.repeat(np.array([x[0] for x in pts], np.intp), [len(x[1]) for x in pts])
    u = np.concatenate([x[1] for x in pts])
    r = np.concatenate([x[2] for x in pts])
    v = (u[:, None] - np.linspace(-span, span, CORNERS)[None, :]) / w  # (samples, grid)
    x1, x2 = np.abs(v), v * v
    rr = r[:, None]
    mom = np.stack([np.ones_like(v), x1, x2, x1 * x1, x1 * x2, x2 * x2, rr * np.ones_like(v), rr * x1, rr * x2,
                    rr * rr * np.ones_like(v)], -1)  # S00 S01 S02 S11 S12 S22 T0 T1 T2 R
    # per-stroke sums in one bincount over (stroke, grid, moment) cells (np.add.at is ~10x slower)
    cell = ((ids + 1)[:, None, None] * CORNERS + np.arange(CORNERS)[None, :, None]) * 10 + np.arange(10)
    per = np.bincount(cell.ravel(), mom.ravel(), (n + 1) * CORNERS * 10).reshape(n + 1, CORNERS, 10)
    cum = np.cumsum(per, 0)  # cum[k]: the strokes before k
    ent = np.cumsum(np.bincount(np.array([x[0] for x in pts]) + 1, minlength=n + 1))
    j = np.arange(n)
    lo = np.maximum(j - POOL_N, 0)
    M = cum[j] - cum[lo]  # (compressions, grid, 10)
    n_entries = ent[j] - ent[lo]
    n_samples = M[:, 0, 0]
    S00, S01, S02, S11, S12, S22, T0, T1, T2, R = np.moveaxis(M, -1, 0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        cand = []  # per sub-model: (rss, a, the inverse Gram's [0, 0], the Gram's rows for its condition)
        # full: [[S00 S01 S02] [S01 S11 S12] [S02 S12 S22]] by cofactors
        c00, c01, c02 = S11 * S22 - S12 * S12, S02 * S12 - S01 * S22, S01 * S12 - S02 * S11
        c11, c12, c22 = S00 * S22 - S02 * S02, S01 * S02 - S00 * S12, S00 * S11 - S01 * S01
        det = S00 * c00 + S01 * c01 + S02 * c02
        a = (c00 * T0 + c01 * T1 + c02 * T2) / det
        b = (c01 * T0 + c11 * T1 + c12 * T2) / det
        c = (c02 * T0 + c12 * T1 + c22 * T2) / det
        cand.append((np.where((b >= 0) & (c >= 0) & (det > 0), R - a * T0 - b * T1 - c * T2, np.inf), a, c00 / det,
                     ((S00, S01, S02), (S01, S11, S12), (S02, S12, S22))))
        for Sxx, Sx, Tx in ((S11, S01, T1), (S22, S02, T2)):  # a V alone, a parabola alone
            d2 = S00 * Sxx - Sx * Sx
            a2 = (Sxx * T0 - Sx * Tx) / d2
            b2 = (S00 * Tx - Sx * T0) / d2
            cand.append((np.where((b2 >= 0) & (d2 > 0), R - a2 * T0 - b2 * Tx, np.inf), a2, Sxx / d2, ((S00, Sx), (Sx, Sxx))))
        a1 = T0 / S00  # a flat
        cand.append((np.where(S00 > 0, R - a1 * T0, np.inf), a1, 1.0 / S00, None))
    rss = np.stack([x[0] for x in cand], -1)  # (compressions, grid, 4)
    m = np.argmin(rss, -1)  # the best feasible sub-model per grid position (ties: the first, as pooled_slow)
    rss_g = np.take_along_axis(rss, m[..., None], -1)[..., 0]
    g = np.argmin(rss_g, -1)  # the best grid position
    k = np.take_along_axis(m, g[:, None], -1)[:, 0]
    pick = lambda arr: arr[j, g]  # noqa: E731
    a_sel = np.choose(k, [pick(x[1]) for x in cand])
    inv00 = np.choose(k, [pick(x[2]) for x in cand])
    rss_sel = np.maximum(pick(rss_g), 0.0)
    cond = np.ones(n)
    for mi, x in enumerate(cand[:3]):  # the chosen sub-model's Gram matrix (X'X): cond(X'X) = cond(X)^2
        sel = np.flatnonzero(k == mi)
        if sel.size:
            gram = np.array([[e[sel, g[sel]] for e in row] for row in x[3]]).transpose(2, 0, 1)
            ev = np.linalg.eigvalsh(gram)
            cond[sel] = np.where(ev[:, 0] > 0, ev[:, -1] / np.where(ev[:, 0] > 0, ev[:, 0], 1.0), np.inf)
    se = np.sqrt(np.maximum(inv00 * rss_sel / np.maximum(n_samples - 4, 1), 0.0))
    use = (n_entries >= POOL_N // 2) & (n_samples >= 12) & (cond <= 1e12) & (np.abs(a_sel) > gate * se)
    corr[use] = a_sel[use]
    return corr


def errors(kw: dict, seeds: int, gate: float) -> tuple[np.ndarray, np.ndarray]:
    """Depth errors of the core and of the corrected depths over seeded sessions."""
    e0, e1 = [], []
    for seed in range(seeds):
        sim = simulate(SimOptions(seed=seed, **kw))
        k = analyze_strokes(sim.t_s, sim.height_mm)
        cb, ct = corrections(sim.t_s, sim.height_mm, k, gate)
        pairs = kernel_pairs(sim.truth, k)
        for e, d in ((e0, k.depth), (e1, k.depth - cb + ct)):
            e += [d[i] - c.depth_mm for c, i in pairs]
    return np.array(e0), np.array(e1)


def real_bottoms(gate: float = GATE) -> None:
    """The real cardiac arrest's bottoms (shared data; 250 Hz, and resampled to 30 fps) against the signal's own
    minimum within +-60 ms at 250 Hz: no depth truth there, but the height is a smooth double integral, so the
    dense minimum is where the chest really turned."""
    def pct(e: np.ndarray) -> str:
        q = np.percentile(e, [5, 50, 95])
        return f"mean {e.mean():+.2f}, 5/50/95 % {q[0]:+.2f} / {q[1]:+.2f} / {q[2]:+.2f}"

    for fps in (250.0, 30.0):
        ts, hs = case1_at(fps)
        k = analyze_strokes(ts, hs)
        cb, _ = corrections(ts, hs, k, gate)
        ref = case1_turning_points(k.t_bottom)
        print(f"real bottoms at {fps:g} Hz ({len(k)}), bottom - dense minimum (mm): core {pct(k.bottom - ref)}; "
              f"corrected {pct(k.bottom + cb - ref)} ({np.mean(cb != 0):.0%} corrected)", flush=True)


def bench(hours: float = 1.0) -> None:
    """The pooled fits' cost per compression (the gather, a Python loop here, left out: the kernel has those
    samples), slow and from running sums, on a simulated trace at 30 fps; and that both give the same."""
    import time

    sim = simulate(SimOptions(seed=1, duration_s=3600.0 * hours, fps=30.0))
    k = analyze_strokes(sim.t_s, sim.height_mm)
    bottoms, tops, w, span = pooled_points(sim.t_s, sim.height_mm, k)
    n = len(k)
    m = min(n, 400)  # the slow one on the first 400 compressions
    t0 = time.process_time()
    fast = [pooled_fast(pts, n, w, span, GATE) for pts in (bottoms, tops)]
    t1 = time.process_time()
    slow = [pooled_slow([x for x in pts if x[0] < m], m, w, span, GATE) for pts in (bottoms, tops)]
    t2 = time.process_time()
    same = all(np.allclose(f[:m], s_, rtol=0, atol=1e-9) for f, s_ in zip(fast, slow))
    print(f"{n} compressions ({3600 * hours / 60:.0f} min at 30 fps): bottoms and tops, from running sums "
          f"{1e6 * (t1 - t0) / n:.1f} us per compression; one fit per compression {1e6 * (t2 - t1) / m:.0f} us; "
          f"the same corrections: {'yes' if same else 'NO'}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--gate", type=float, default=GATE)
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--real", action="store_true", help="the real cardiac arrest's bottoms instead (shared data)")
    ap.add_argument("--bench", action="store_true", help="the cost per compression, slow and from running sums")
    a = ap.parse_args(argv)
    if a.bench:
        bench()
        return
    if a.real:
        real_bottoms(a.gate)
        return
    cases = [(f, dict(shape=f)) for f in ("cosine", "trapezoid", "asymmetric")]
    try:
        tm = real_templates()
        cases += [(f, dict(shape=f, templates=tm)) for f in ("template", "mixed")]
    except BaseException as exc:  # pytest's skip when the shared data is absent
        print(f"template and mixed families skipped: {exc}")
    cases += [(label, kw) for label, kw in FIXED if kw["shape"] == "trapezoid"]
    f = lambda e: f"{np.abs(e).mean():.2f} ({e.mean():+.2f})"  # noqa: E731
    print("case | clean: core -> corrected | noisy: core -> corrected  (depth MAE (bias), mm)")
    for label, kw in cases:
        cells = []
        for clean in (True, False):
            e0, e1 = errors(dict(kw, fps=a.fps, **(CLEAN if clean else {})), a.seeds, a.gate)
            cells.append(f"{f(e0)} -> {f(e1)}")
        print(f"{label} | {cells[0]} | {cells[1]}", flush=True)


if __name__ == "__main__":
    main()
