"""Is a change to the core bit-identical? Every number batch ``analyze`` and a ``StreamingAnalyzer`` give over 76 inputs.

Why: speed work on the kernel (docs/core.md, "Session 27") must not move one result. A checkout before the change
saves the fingerprint, the changed one compares with it: every field of every compression, pause, set and summary
(``==``, NaN equal to NaN, types too), which push returned each compression, snapshots and the kernel runs. Inputs:
simulated sessions of every stroke family at 15/24/30/60 fps (noisy, dropouts, spikes, quantised; a known rest; the
child profile), streams with ``move_rest`` and ``push_many``, the filmed traces at 30 and 15 fps and the cardiac
arrest (250 Hz and 30 fps). Needs the shared data (CPR_TEST_DATA); ~1-2 min.

    git worktree add /tmp/before <commit>
    (cd /tmp/before && PYTHONPATH=. python "$OLDPWD/tests/core_identity.py" save /tmp/base.pkl)  # the old core
    python -m tests.core_identity compare /tmp/base.pkl      # this checkout's; exit 1 on any difference
"""
from __future__ import annotations

import dataclasses
import math
import pickle
import sys
import time

import numpy as np

from coach.core import CoreOptions, StreamingAnalyzer, analyze
from coach.core.simulator import SimOptions, simulate


def res_dump(res):
    return {
        "summary": dataclasses.asdict(res.summary),
        "compressions": [dataclasses.asdict(c) for c in res.compressions],
        "pauses": [dataclasses.asdict(p) for p in res.pauses],
        "sets": [dataclasses.asdict(s) for s in res.sets],
    }


def state_dump(st):
    d = dataclasses.asdict(st)
    return d


def stream(t, h, opts=None, moves=None, many=None, snap_every=0):
    """Push per sample (or push_many chunks of sizes from ``many``); moves: {sample index: delta_mm}."""
    an = StreamingAnalyzer(opts)
    returned = []
    snaps = []
    tl, hl = np.asarray(t).tolist(), np.asarray(h).tolist()
    if many:
        i, k = 0, 0
        while i < len(tl):
            n = many[k % len(many)]
            k += 1
            out = an.push_many(tl[i:i + n], hl[i:i + n])
            returned.append((i, [dataclasses.asdict(c) for c in out]))
            # and some single pushes in between
            j = i + n
            for q in range(j, min(j + 40, len(tl))):
                out = an.push(tl[q], hl[q])
                if out:
                    returned.append((q, [dataclasses.asdict(c) for c in out]))
            i = j + 40
    else:
        for i, (a, b) in enumerate(zip(tl, hl)):
            if moves and i in moves:
                an.move_rest(moves[i])
            out = an.push(a, b)
            if out:
                returned.append((i, [dataclasses.asdict(c) for c in out]))
            if snap_every and i % snap_every == snap_every - 1:
                snaps.append((i, res_dump(an.snapshot()), state_dump(an.state)))
    runs = an.state.extra["kernel_runs"]
    res = an.result()
    return {"result": res_dump(res), "returned": returned, "snaps": snaps, "runs": runs}


def inputs():
    """(name, t, h, options, stream kwargs) of every case."""
    from tests.core_helpers import TRACES, case1_at, load_case1, load_filmed, real_templates
    from tests.conftest import shared_data_dir

    templates = real_templates()
    shapes = ("cosine", "trapezoid", "asymmetric", "template", "mixed")
    k = 0
    for fps in (15.0, 24.0, 30.0, 60.0):
        for shape in shapes:
            for seed in (0, 1, 2):
                k += 1
                dur = 120.0 + 60.0 * ((seed + k) % 4)  # 2-5 minutes
                kw = dict(seed=seed + 10 * k, duration_s=dur, fps=fps, shape=shape,
                          templates=templates if shape in ("template", "mixed") else ())
                if seed == 1:
                    kw.update(noise_mm=2.5, dropout_rate_hz=0.15, dropout_s=(0.05, 0.8), spike_rate_hz=0.2,
                              shallow_prob=0.1, long_pause_prob=0.3, lean_prob=0.2, rest_step_mm=6.0)
                if seed == 2:
                    kw.update(dropout_s=(0.03, 0.15), quantum_mm=1.0, frame_drop_prob=0.05, jitter=0.2)
                sim = simulate(SimOptions(**kw))
                opts = None
                if k % 7 == 3:
                    opts = CoreOptions(rest_height_mm=float(sim.rest_mm[0]))
                elif k % 7 == 5:
                    opts = CoreOptions(profile="child")
                skw = {"snap_every": 1500} if k % 5 == 0 else {}
                yield f"sim fps={fps} {shape} seed={kw['seed']} dur={dur}", sim.t_s, sim.height_mm, opts, skw
    # move_rest streams (as the pipeline: a known rest, moved later)
    for seed in (0, 1, 2):
        sim = simulate(SimOptions(seed=seed, duration_s=90.0, lean_prob=0.6, drift_mm=0.0, fps=30.0))
        rest = float(sim.rest_mm[0])
        n = sim.t_s.size
        moves = {n // 7: 7.0, n // 3: -3.0, n // 2: 2.5}
        yield f"move_rest seed={seed}", sim.t_s, sim.height_mm, CoreOptions(rest_height_mm=rest - 7.0), {"moves": moves}
        yield f"move_rest no-rest seed={seed}", sim.t_s, sim.height_mm, None, {"moves": moves}
    # push_many
    for seed in (3, 4):
        sim = simulate(SimOptions(seed=seed, duration_s=150.0, fps=30.0 if seed == 3 else 60.0))
        yield f"push_many seed={seed}", sim.t_s, sim.height_mm, None, {"many": [1, 7, 50, 300, 2, 33]}
    # real filmed traces
    d = shared_data_dir() / "cpr-traces"
    for name in TRACES:
        t, h, _ = load_filmed(d / f"{name}.csv")
        yield f"filmed {name}", t, h, None, {"snap_every": 500}
        yield f"filmed {name} 15fps", t[1::2], h[1::2], None, {}
    # the cardiac arrest: a slice at 250 Hz, and resampled to 30 fps
    t, h, _ = load_case1()
    m = (t > t[0] + 300.0) & (t < t[0] + 480.0)
    yield "case1 250Hz 3min", t[m], h[m], None, {}
    t30, h30 = case1_at(30.0)
    m = t30 < t30[0] + 900.0
    yield "case1 30fps 15min", t30[m], h30[m], None, {}


def compute():
    out = {}
    t0 = time.perf_counter()
    for name, t, h, opts, skw in inputs():
        b = res_dump(analyze(t, h, opts))
        s = stream(t, h, opts, **skw)
        out[name] = {"batch": b, "stream": s, "n": int(np.asarray(t).size)}
    print(f"{len(out)} inputs in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return out


def same(a, b, path="") -> list:
    if isinstance(a, float) and isinstance(b, float):
        if a == b or (math.isnan(a) and math.isnan(b)):
            return []
        return [f"{path}: {a!r} != {b!r}"]
    if type(a) is not type(b):
        return [f"{path}: type {type(a)} != {type(b)}"]
    if isinstance(a, dict):
        if a.keys() != b.keys():
            return [f"{path}: keys differ"]
        return [e for k in a for e in same(a[k], b[k], f"{path}/{k}")]
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return [f"{path}: len {len(a)} != {len(b)}"]
        return [e for i, (x, y) in enumerate(zip(a, b)) for e in same(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "save":
        with open(sys.argv[2], "wb") as fh:
            pickle.dump(compute(), fh)
    else:
        base = pickle.load(open(sys.argv[2], "rb"))
        new = pickle.load(open(sys.argv[3], "rb")) if len(sys.argv) > 3 else compute()
        errs = same(base, new)
        ncomp = sum(len(v["batch"]["compressions"]) for v in base.values())
        runs = [(k, base[k]["stream"]["runs"], new[k]["stream"]["runs"]) for k in base]
        print(f"{len(base)} inputs, {ncomp} batch compressions; differences: {len(errs)}")
        for e in errs[:30]:
            print("  ", e)
        # streaming must equal batch (results), independent of the baseline
        bad = [k for k in new if same(new[k]["batch"], new[k]["stream"]["result"]) and "move_rest" not in k]
        print("stream != batch (excluding move_rest):", bad)
        print("kernel runs base/new:", sum(r[1] for r in runs), sum(r[2] for r in runs))
        sys.exit(1 if errs else 0)
