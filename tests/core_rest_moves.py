"""Study: a rest that moves in the ventilation pauses (docs/core.md, "The rest after a pause").

Why: the hands come back from the breaths elsewhere, and the tracked point rests elsewhere: the filmed sets of
``../shared/data/cpr-traces`` come back 4-9 mm off the set before (and once 30 mm). The simulator's
``rest_step_mm`` draws such a move in each pause.

    python -m tests.core_rest_moves            counts and depth over simulated worlds, tracked and known rest (~30 s)
    python -m tests.core_rest_moves --filmed   each filmed set's first baselines against its own later rest tops
    python -m tests.core_rest_moves --still    how long each filmed set's rescuer held still before its first downstroke
                                               (what the pipeline's re-location after a pause needs: 0.2 s)
    python -m tests.core_rest_moves --tops     what the pipeline's return watcher takes for each filmed set's rest
                                               (its recoil tops, as there is no still rest) against the set's own
                                               later recoil tops
    python -m tests.core_rest_moves --start    what the pipeline's start takes for each filmed session's first rest
                                               when no rest hold comes (a short still hold, or the recoil tops),
                                               against the first set's own later recoil tops
    python -m tests.core_rest_moves --start-core   the pipeline's start and its follow of the tops (heights only, no
                                               geometry) over simulated straight-in sessions that lean early, and the
                                               filmed traces: depth with the tops' rest given to the core or not
    python -m tests.core_rest_moves --shallow  trainees who compress 20-30 mm and lean, straight in: depth and misses
                                               with and without the held samples watched again at the start's timeout
                                               (``shallow_start_options``)
    python -m tests.core_rest_moves --tops --fps15 (or --start --fps15)   the same on the filmed traces at 15 fps
                                               (every other frame: real strokes at a dim webcam's rate)
    python -m tests.core_rest_moves --returns  the rest the return watcher takes after each simulated pause (the hands
                                               out of view until 1 s before the next set, as rendered): how many are
                                               more than 5 mm off the true rest, with and without the still hold
                                               checked against the first recoil top (ReturnOptions.hold_top_*)
"""
from __future__ import annotations

import itertools
import math
import sys
from multiprocessing import Pool

import numpy as np

from coach.core import CoreOptions, analyze
from coach.core.analyzer import analyze_strokes
from coach.core.simulator import SimOptions, simulate
from tests.core_helpers import TRACE_FPS, TRACES, load_filmed, match, real_templates, shared_data_dir

WORLDS = {
    "default": {}, "head-near": dict(lean_prob=0.2, head_mm=(-45.0, -30.0)), "lean60": dict(lean_prob=0.6),
    "shallow-lean": dict(shallow_prob=0.3, lean_prob=0.5, lean_mm=(6.0, 12.0)), "fps15": dict(fps=15.0),
    "fps20-uneven": dict(fps=20.0, jitter=0.3, frame_drop_prob=0.05), "trapezoid": dict(shape="trapezoid"),
    "template": dict(shape="template"), "asym-lean": dict(shape="asymmetric", lean_prob=0.3), "noise2": dict(noise_mm=2.0),
    "step3": dict(rest_step_mm=3.0), "step6": dict(rest_step_mm=6.0), "step10": dict(rest_step_mm=10.0),
    "step6-lean": dict(rest_step_mm=6.0, lean_prob=0.2), "long-pause": dict(long_pause_prob=0.5), "60fps": dict(fps=60.0),
}


def _world(job):
    name, seed, known = job
    kw = dict(WORLDS[name])
    if kw.get("shape") == "template":
        kw["templates"] = real_templates()
    sim = simulate(SimOptions(seed=seed, **kw))
    res = analyze(sim.t_s, sim.height_mm, CoreOptions(rest_height_mm=float(sim.rest_mm[0])) if known else CoreOptions())
    m = match(sim.truth, res.compressions)
    return len(sim.truth), res.summary.compressions, len(m), [mm.depth_mm - c.depth_mm for c, mm in m]


def worlds(seeds: int = 10) -> None:
    jobs = list(itertools.product(WORLDS, range(seeds), [False, True]))
    with Pool(2) as pool:
        out = dict(zip(jobs, pool.map(_world, jobs)))
    print(f"{seeds} seeds per world; rest: tracked (the core's own) or known (the rest hold's, as the pipeline gives)")
    for name in WORLDS:
        for known in (False, True):
            rr = [out[(name, s, known)] for s in range(seeds)]
            n, got, m = (sum(r[i] for r in rr) for i in range(3))
            e = np.concatenate([r[3] for r in rr])
            print(f"{name:13s} {'known' if known else 'tracked'}: truth {n} missed {n - m} extra {got - m} "
                  f"depth MAE {np.abs(e).mean():.3f} bias {e.mean():+.3f}")


def filmed() -> None:
    """Each set after the first: its first baselines minus the median of its own recoil tops 4-12 (mm)."""
    for tr in TRACES:
        t, h, _ = load_filmed(shared_data_dir() / "cpr-traces" / f"{tr}.csv")
        s = analyze_strokes(t, h)
        starts = np.flatnonzero(np.diff(s.t_bottom, prepend=-1e9) > 2.0)
        for a, b in zip(starts, list(starts[1:]) + [len(s)]):
            ref = np.median(s.top[a + 3 : min(a + 12, b)])
            print(f"{tr} set at {s.t_bottom[a]:5.1f} s: baseline - its rest, compressions 1-6:",
                  " ".join(f"{x:+5.1f}" for x in s.baseline[a : a + 6] - ref))


def still_before_first_stroke(tol_mm: float = 4.0) -> None:
    """Each set after the first: how long the 5-frame median of the trace stayed within ``tol_mm`` (peak to peak)
    before the first downstroke (walking back from its bottom over the downstroke to the top, then over the still)."""
    for tr in TRACES:
        t, h, _ = load_filmed(shared_data_dir() / "cpr-traces" / f"{tr}.csv")
        hs = np.array([np.nanmedian(h[max(0, i - 4) : i + 1]) if np.isfinite(h[max(0, i - 4) : i + 1]).any() else np.nan
                       for i in range(h.size)])
        s = analyze_strokes(t, h)
        starts = np.flatnonzero(np.diff(s.t_bottom, prepend=-1e9) > 2.0)[1:]
        for a in starts:
            j = int(np.searchsorted(t, s.t_bottom[a]))
            while j > 0 and np.isfinite(hs[j - 1]) and hs[j - 1] >= hs[j] - 0.5:  # back up the downstroke
                j -= 1
            top, k, lo, hi = j, j, hs[j], hs[j]
            while k > 0 and np.isfinite(hs[k - 1]) and max(hi, hs[k - 1]) - min(lo, hs[k - 1]) <= tol_mm:
                k -= 1
                lo, hi = min(lo, hs[k]), max(hi, hs[k])
            print(f"{tr} set at {s.t_bottom[a]:5.1f} s: still {(top - k) / TRACE_FPS:.2f} s before its first downstroke "
                  f"(from {t[k]:.2f} s)")


def _follow(w, t, h, t_end: float, level: float) -> list[str]:
    """A copy of the watcher that took ``level`` for the rest at ``t_end``, following the rest of the trace as the
    pipeline does (heights shifted so that the level reads as the watcher's; a raise or a settle moves the level):
    the raises."""
    import copy

    f = copy.deepcopy(w)
    f.follow()
    shift, out = f.level - level, []
    for tt, hh in zip(t.tolist(), h.tolist()):
        if tt <= t_end:
            continue
        ev = f.push(tt, hh + shift)
        if isinstance(ev, tuple) and ev[0] == f.RAISE:  # (the watcher's level moved: the heights stay)
            out.append(f"{ev[1]:.1f} mm at {tt:.1f} s")
        elif ev is not None:
            break  # the next pause: the pipeline's follow ends there
    return out


FILMED_STEP = 2 if "--fps15" in sys.argv else 1  # every other frame of the filmed traces: a dim webcam's 15 fps


def _filmed(tr: str, path=None):
    """A filmed trace (t_s, height), every ``FILMED_STEP``-th frame."""
    t, h, _ = load_filmed(path or shared_data_dir() / "cpr-traces" / f"{tr}.csv")
    return t[::FILMED_STEP], h[::FILMED_STEP]


def watcher_on_filmed(blank_breaths: bool = False) -> None:
    """The pipeline's ``ReturnWatcher`` run over each filmed trace (its level: the first set's median recoil top):
    for each return, what it found (a still rest or recoil tops), the level it gives and that level minus the set's
    own recoil tops 4-12 (as ``--filmed``), and each top's level against the same. ``blank_breaths``: no sample where
    the labels say "Breathing" (hands off the chest for the breaths: the body marker itself barely leaves its rest,
    so the watcher sees only 3 of the 6 returns as they are)."""
    from calibration.rest import RecoilTops, ReturnWatcher

    for tr in TRACES:
        path = shared_data_dir() / "cpr-traces" / f"{tr}.csv"
        t, h = _filmed(tr, path)
        if blank_breaths:
            lab = [line.split(",")[3].strip() for line in path.read_text().splitlines() if line.strip()]
            h = np.where(np.array(lab)[::FILMED_STEP] == "Breathing", np.nan, h)
        s = analyze_strokes(t, h)
        starts = np.flatnonzero(np.diff(s.t_bottom, prepend=-1e9) > 2.0)
        w = ReturnWatcher(float(np.median(s.top[3 : starts[1]])))
        for tt, hh in zip(t.tolist(), h.tolist()):
            ev = w.push(tt, hh)
            if not isinstance(ev, tuple):
                continue
            rest = ev[1]
            a = int(np.searchsorted(s.t_bottom, tt)) - 1
            a = max((k for k in starts if k <= max(a, 0)), default=0)
            b = min((k for k in starts if k > a), default=len(s))
            ref = float(np.median(s.top[a + 3 : min(a + 12, b)]))
            if rest is None:
                print(f"{tr} return ending {tt:5.1f} s: nothing found")
            elif isinstance(rest, RecoilTops):
                tops = " ".join(f"{v - ref:+5.1f}" for v in rest.levels)
                print(f"{tr} return ending {tt:5.1f} s: recoil tops {tops} (used {list(rest.used)}): "
                      f"level - the set's rest {rest.value - ref:+5.1f} mm")
                raised = _follow(w, t, h, tt, rest.value)
                print(f"    then followed to the set's end: raised {raised}")
            else:
                print(f"{tr} return ending {tt:5.1f} s: still rest {rest.duration_s:.2f} s, "
                      f"level - the set's rest {rest.value - ref:+5.1f} mm")


def start_on_filmed() -> None:
    """The pipeline's start over each filmed trace: its rest hold detector (``PipelineOptions.rest``, no valid range:
    these heights have no chest to be above) and, beside it, the start without a rest hold (``Pipeline._watch_start``: a
    ``ReturnWatcher`` begun at the first sample, waiting as long as it takes, a short still hold counting only with all
    the tops; looking again after a look that found none): which came first, when, and its level minus the first set's
    recoil tops 4-12."""
    from dataclasses import replace

    from calibration.rest import RecoilTops, RestDetector, ReturnWatcher
    from coach.pipeline import PipelineOptions, start_watch_options

    opt = start_watch_options(PipelineOptions())
    for tr in TRACES:
        t, h = _filmed(tr)
        s = analyze_strokes(t, h)
        starts = np.flatnonzero(np.diff(s.t_bottom, prepend=-1e9) > 2.0)
        ref = float(np.median(s.top[3 : min(12, starts[1])]))
        w, looks, found = None, 0, None
        det = RestDetector(replace(PipelineOptions().rest, valid_range=(-float("inf"), float("inf"))))
        for tt, hh in zip(t.tolist(), h.tolist()):
            r = det.push(tt, hh)
            if r is not None:
                found = (tt, r)
                break
            if w is None:
                if np.isfinite(hh):
                    w, looks = ReturnWatcher(float("nan"), opt), looks + 1
                    w.begin(tt, hh)
                continue
            ev = w.push(tt, hh)
            if isinstance(ev, tuple) and ev[0] == ReturnWatcher.END:
                if ev[1] is not None:
                    found = (tt, ev[1])
                    break
                w = None
        if found is None:
            print(f"{tr}: nothing found in {looks} look(s)")
            continue
        tt, rest = found
        what = (f"recoil tops {' '.join(f'{v - ref:+5.1f}' for v in rest.levels)} (used {list(rest.used)})"
                if isinstance(rest, RecoilTops) else
                f"{'the rest hold' if rest.duration_s >= det.opt.min_hold_s else 'a still hold'} of {rest.duration_s:.2f} s")
        print(f"{tr}: after {looks} look(s), at {tt:5.1f} s ({tt - s.t_release[0]:.1f} s after the first compression's "
              f"release): {what}; level - the set's rest {rest.value - ref:+5.1f} mm")


def _session(seed: int, shape: str, **kw):
    """A simulated session of 3 sets of 30 (60 s, 0.5 mm noise), real or cosine strokes: the studies' worlds."""
    return simulate(SimOptions(seed=seed, shape=shape, templates=real_templates() if shape == "template" else (),
                               duration_s=60.0, compressions_per_set=30, noise_mm=0.5, **kw))


def _hands_out_in_pauses(sim):
    """The session's heights with the hands out of view in the ventilation pauses, as rendered (from 0.2 s into each
    pause to 1 s before its end)."""
    h = sim.height_mm.copy()
    for p in sim.pauses:
        if p.kind == "ventilation":
            h[(sim.t_s > p.start_s + 0.2) & (sim.t_s < p.end_s - 1.0)] = np.nan
    return h


def _start_and_follow(t, h, tops_to_core: bool, settle: bool, shallow: bool = True):
    """The pipeline's start without a rest hold and its follow of the tops, on heights alone: the start watcher
    (``start_watch_options``) holds every sample until it has the rest; the core gets a still hold's level as its
    known rest, and the recoil tops' too with ``tops_to_core`` (``PipelineOptions.core_rest_at_tops``; else it follows
    its own baseline); a ``ReturnWatcher`` at that level then watches for the pauses' returns (a return's rest only
    restarts the follow: there is no geometry to re-locate) and, after tops, follows them: a raise, or a settle (``settle``,
    ``ReturnOptions.settle_tops``), moves the rest in the watcher and the core. No rest by ``rest_timeout_s``: the held
    samples are watched again with a shallow stroke's rise (``shallow_start_options``; not without ``shallow``, as
    before session 25), or else the core follows its own baseline. Returns (the session, the level, the moves
    [(t_s, mm)])."""
    from dataclasses import replace

    from calibration.rest import RecoilTops, ReturnWatcher
    from coach.core import StreamingAnalyzer
    from coach.pipeline import (PipelineOptions, return_watch_options, shallow_start_options, start_watch_options,
                                watch_start)

    po = PipelineOptions()
    returns = return_watch_options(po) if settle else replace(return_watch_options(po), settle_tops=0)
    w, held, core, level, follow, moves, due = None, [], None, math.nan, None, [], False
    t_hand = math.nan

    def step(tt: float, hh: float) -> None:
        """One sample once the core runs: the follow of the tops, then the core (as the pipeline's _feed)."""
        nonlocal due
        if follow is None:
            core.push(tt, hh)
            return
        ev = follow.push(tt, hh)
        if ev is None and due:  # (as the pipeline: the core's baseline after each compression)
            due = False
            ev = follow.core_baseline(core.state.baseline_mm)
        if isinstance(ev, tuple) and ev[0] == ReturnWatcher.RAISE:
            core.move_rest(ev[1])  # (as the pipeline: the rest moves, in the watcher and the core; the heights stay)
            moves.append((tt, ev[1]))
        elif isinstance(ev, tuple) and ev[0] == ReturnWatcher.END and isinstance(ev[1], RecoilTops):
            follow.follow()
        due |= bool(core.push(tt, hh))

    for tt, hh in zip(t.tolist(), h.tolist()):
        if core is not None:
            step(tt, hh)
            continue
        held.append((tt, hh))
        if t_hand != t_hand and math.isfinite(hh):
            t_hand = tt
        watch_after = math.inf
        if tt - t_hand > po.rest_timeout_s:  # (as the pipeline: no rest by then, the held samples watched again with a
            # stroke's rise as short as a compression, those after the rest followed as live ones; else the core's own
            # baseline, and no follow)
            rest = watch_start(held, shallow_start_options(po)) if shallow else None
            if rest is None:
                core = StreamingAnalyzer(CoreOptions())
                for a, b in held:
                    core.push(a, b)
                held = []
                continue
            ev = (ReturnWatcher.END, rest)
            watch_after = rest.t_end_s
        elif w is None:
            if math.isfinite(hh):
                w = ReturnWatcher(math.nan, start_watch_options(po))
                w.begin(tt, hh)
            continue
        else:
            ev = w.push(tt, hh)
        if isinstance(ev, tuple) and ev[0] == ReturnWatcher.END:
            if ev[1] is None:
                w = None
                continue
            level = float(ev[1].value)
            at_tops = isinstance(ev[1], RecoilTops)
            core = StreamingAnalyzer(CoreOptions(rest_height_mm=level if (tops_to_core or not at_tops) else None))
            follow = ReturnWatcher(level, returns)
            if at_tops:
                follow.follow()
            for a, b in held:
                if a <= watch_after:
                    due |= bool(core.push(a, b))
                else:
                    step(a, b)
            held = []
    return core.result(), level, moves


HOWS = ("own", "given", "given+settle")  # the tops' rest: the core's own baseline instead; given to it; and settling


def start_core(seeds: int = 20) -> None:
    """``_start_and_follow`` over simulated sessions straight in (no rest before the first stroke, none after the
    pauses), 3 sets of 30, template and cosine strokes, leaning runs starting at 25 % or 60 % of the compressions:
    depth error of the whole session and of its first set; and over the filmed traces (no truth: their first set's
    mean depth each way, and the moves)."""
    rows = {}
    for shape, lean, seed in itertools.product(("template", "cosine"), (0.25, 0.6), range(seeds)):
        sim = _session(seed, shape, first_delay_s=(0.0, 0.0), return_rest_s=(0.0, 0.07), lean_prob=lean)
        first_end = sim.truth[29].t_release_s + 0.5
        for how in HOWS:
            res, _, moves = _start_and_follow(sim.t_s, sim.height_mm, how != "own", how == "given+settle")
            m = match(sim.truth, res.compressions)
            e = np.array([mm.depth_mm - c.depth_mm for c, mm in m])
            e1 = np.array([mm.depth_mm - c.depth_mm for c, mm in m if c.t_bottom_s < first_end])
            rows.setdefault((shape, lean, how), []).append((e, e1, len(sim.truth) - len(m), len(moves),
                                                          len(res.compressions) - len(m)))
    print(f"simulated straight in, {seeds} seeds each, 3 sets of 30: depth bias / MAE (mm), whole session | first set; "
          "the worst session's |bias|; missed, extra; settles or raises")
    for (shape, lean, how), rr in rows.items():
        e = np.concatenate([r[0] for r in rr])
        e1 = np.concatenate([r[1] for r in rr])
        worst = max(abs(r[0].mean()) for r in rr)
        print(f"  {shape:8s} lean {lean:.2f} {how:13s}: {e.mean():+.2f} / {np.abs(e).mean():.2f} | "
              f"{e1.mean():+.2f} / {np.abs(e1).mean():.2f}; worst {worst:.2f}; missed {sum(r[2] for r in rr)}, "
              f"extra {sum(r[4] for r in rr)}; "
              f"moves {sum(r[3] for r in rr)}")
    print("filmed (no truth): the first set's mean depth (mm), " + " | ".join(HOWS) + "; the moves")
    for tr in TRACES:
        t, h, _ = load_filmed(shared_data_dir() / "cpr-traces" / f"{tr}.csv")
        out = []
        for how in HOWS:
            res, level, moves = _start_and_follow(t, h, how != "own", how == "given+settle")
            sets = [c for c in res.compressions if c.set_index == 0]
            out.append(f"{np.mean([c.depth_mm for c in sets]):5.1f} ({len(sets)}, "
                       f"moves {' '.join(f'{mv:+.1f}@{tm:.1f}s' for tm, mv in moves) or '-'})")
        print(f"  {tr}: " + " | ".join(out))


def _shallow_world(job):
    depth, lean, shape, seed, shallow = job
    sim = _session(seed, shape, depth_mm=depth, first_delay_s=(0.0, 0.0), return_rest_s=(0.0, 0.07), lean_prob=lean)
    res, _, _ = _start_and_follow(sim.t_s, _hands_out_in_pauses(sim), True, True, shallow=shallow)
    m = match(sim.truth, res.compressions)
    return np.array([mm.depth_mm - c.depth_mm for c, mm in m]), len(sim.truth) - len(m), len(res.compressions) - len(m)


def shallow_start(seeds: int = 16) -> None:
    """Trainees who compress shallow (20-30 mm) and lean, straight in (``_start_and_follow``, the hands out of view in
    the pauses): depth bias / MAE and missed compressions, before session 25 (no rest by the timeout: the core's own
    baseline) and now (the held samples watched again with a 10 mm rise, ``shallow_start_options``)."""
    worlds = list(itertools.product((20.0, 25.0, 30.0), (0.25, 0.6), ("asymmetric", "template")))
    jobs = [(d, lean, shape, seed, sh) for d, lean, shape in worlds for seed in range(seeds) for sh in (False, True)]
    with Pool(2) as pool:
        out = dict(zip(jobs, pool.map(_shallow_world, jobs)))
    print(f"simulated straight in, {seeds} seeds each, 3 sets of 30: depth bias / MAE (mm), missed; before -> now")
    for d, lean, shape in worlds:
        cells = []
        for sh in (False, True):
            rr = [out[(d, lean, shape, seed, sh)] for seed in range(seeds)]
            e = np.concatenate([r[0] for r in rr])
            cells.append(f"{e.mean():+.2f} / {np.abs(e).mean():.2f}, missed {sum(r[1] for r in rr)}, "
                         f"extra {sum(r[2] for r in rr)}")
        print(f"  {d:4.0f} mm, leaning runs at {lean:.2f}, {shape:10s}: " + "  ->  ".join(cells))


def returns_off(seeds: int = 20, off_mm: float = 5.0) -> None:
    """Simulated sessions (3 sets of 30, real and cosine strokes, a rest of 0-0.07 s or 0.2-0.5 s after each pause,
    the hands out of view from 0.2 s into the pause to 1 s before its end): each return's rest against the truth."""
    from dataclasses import replace

    from calibration.rest import ReturnWatcher
    from coach.pipeline import PipelineOptions, return_watch_options

    base = return_watch_options(PipelineOptions())
    worlds = []  # (shape, seed, rest after each pause, the session, its heights with the hands out of view)
    for shape, seed, rr in itertools.product(("template", "cosine"), range(seeds), ((0.0, 0.07), (0.2, 0.5))):
        sim = _session(seed, shape, return_rest_s=rr)
        worlds.append((shape, seed, rr, sim, _hands_out_in_pauses(sim)))
    for check in ((math.inf, math.inf), (base.hold_top_below_mm, base.hold_top_above_mm)):
        o = replace(base, hold_top_below_mm=check[0], hold_top_above_mm=check[1])
        n = 0
        off: list[str] = []
        delays: list[float] = []
        for shape, seed, rr, sim, h in worlds:
            w = ReturnWatcher(0.0, o)
            for tt, hh in zip(sim.t_s.tolist(), h.tolist()):
                ev = w.push(tt, hh)
                if isinstance(ev, tuple) and ev[0] == ReturnWatcher.END:
                    n += 1
                    nxt = min((c for c in sim.truth if c.t_bottom_s > tt - 1.0), key=lambda c: c.t_bottom_s)
                    delays.append(tt - nxt.t_release_s)
                    if ev[1] is not None and abs(ev[1].value) > off_mm:
                        off.append(f"{shape} seed {seed} rest {rr[1]:g} s at {tt:.1f} s: "
                                   f"{type(ev[1]).__name__} {ev[1].value:+.1f}")
        print(f"the first top within {-check[0]:g}..+{check[1]:g} mm of a hold: {len(off)} of {n} returns' rests "
              f"more than {off_mm:g} mm off; the hold ends {np.median(delays):+.2f} s after the set's first release "
              "(median)")
        for line in off:
            print("   " + line)


if __name__ == "__main__":
    if "--returns" in sys.argv:
        returns_off()
    elif "--shallow" in sys.argv:
        shallow_start()
    elif "--start-core" in sys.argv:
        start_core()
    elif "--start" in sys.argv:
        start_on_filmed()
    elif "--tops" in sys.argv:
        watcher_on_filmed()
        print("the same, no samples while the labels say Breathing (the hands off the chest):")
        watcher_on_filmed(blank_breaths=True)
    elif "--still" in sys.argv:
        still_before_first_stroke()
    else:
        filmed() if "--filmed" in sys.argv else worlds()
