"""``cpr-coach bench core``: batch throughput and streaming cost, against a pure-Python loop.

Why ratios: this machine is shared and noisy, so absolute figures move between
runs; the ratio against the straightforward loop (coach.core.reference, the same
algorithm, checked equal here) moves much less. Times are the best of a few
repeats (the least disturbed run), in CPU time of this process
(``time.process_time``): the kernel is single-threaded, so on a quiet machine
that is the wall time, and on a shared one it leaves out the time spent waiting
for a core (at a load average of 9-12 on 2 cores wall times were 5-7x longer).
"""
from __future__ import annotations

import argparse
import platform
import time

import numpy as np

BATCH_GOAL_SPS = 7e6  # samples per second (issue 10: "batch still >= 7 M samples/s")
STREAM_GOAL_US = 15.0  # microseconds per pushed sample at 30 fps (issue 10; beyond it: faster than the pure-Python loop)


def _best(fn, repeats: int) -> float:
    return _best_and_faults(fn, repeats)[0]


def _minor_faults() -> int:
    try:
        import resource
    except ImportError:  # not Unix: no fault count
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _best_and_faults(fn, repeats: int) -> tuple[float, int]:
    """The best CPU time of ``repeats`` runs, and the most minor page faults one run took (0 where unknown)."""
    best, faults = float("inf"), 0
    for _ in range(repeats):
        f0, t0 = _minor_faults(), time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
        faults = max(faults, _minor_faults() - f0)
    return best, faults


def main(args: argparse.Namespace | None = None) -> int:
    from coach.core import StreamingAnalyzer, analyze, analyze_strokes
    from coach.core.heap import keep_freed_heap
    from coach.core.options import NOMINAL_SAMPLES, nominal_dt
    from coach.core.reference import reference_strokes
    from coach.core.simulator import SimOptions, simulate

    quick = bool(getattr(args, "quick", False))
    hours = 0.1 if quick else 1.0
    fps = 60.0
    print(f"cpr-coach bench core  (python {platform.python_version()}, numpy {np.__version__}, {platform.machine()})")
    t0 = time.perf_counter()
    sim = simulate(SimOptions(seed=1, duration_s=3600.0 * hours, fps=fps, dropout_s=(0.03, 0.15)))
    t, h = sim.t_s, sim.height_mm
    n = t.size
    print(f"trace: simulated {3600 * hours / 60:.0f} min at {fps:g} Hz, {n} samples, {len(sim.truth)} compressions"
          f" (generated in {time.perf_counter() - t0:.1f} s)")

    # ---- batch: the vectorised kernel, and the full result with dataclasses. First with the C library's default
    # heap (as a Python process that embeds the core runs it), then as the CLI runs it: with freed memory kept
    # (coach.core.heap), so the kernel's temporaries are not page-faulted back on every run.
    kern = analyze_strokes(t, h)
    reps = 3 if quick else 5
    d_s, d_faults = _best_and_faults(lambda: analyze_strokes(t, h), reps)
    heap = keep_freed_heap()
    analyze_strokes(t, h)  # the heap grows to the kernel's peak once
    k_s, k_faults = _best_and_faults(lambda: analyze_strokes(t, h), reps) if heap.applied else (d_s, d_faults)
    full_s = _best(lambda: analyze(t, h), 2 if quick else 3)
    print(f"batch kernel, default heap {n / d_s / 1e6:6.2f} M samples/s   ({d_s * 1e3:.1f} ms for the trace; "
          f"up to {d_faults} minor page faults per run)")
    print(f"batch kernel     {n / k_s / 1e6:8.2f} M samples/s   ({k_s * 1e3:.1f} ms for the trace; {len(kern)} compressions;"
          f" up to {k_faults} page faults per run; {heap.detail})")
    print(f"batch + results  {n / full_s / 1e6:8.2f} M samples/s   (analyze(): Compression objects, sets, pauses, summary)")

    # ---- the same algorithm as a plain Python loop, on a slice (it is slow), at each streamed rate: its cost per
    # sample depends on the rate (a compression's work is spread over fewer samples at 30 fps: 5.7 against 5.1 us)
    def ref_cost(tt, hh, label):
        m = min(tt.size, int((60 if quick else 300) / nominal_dt(tt[:NOMINAL_SAMPLES])))
        ref_s = _best(lambda: reference_strokes(tt[:m], hh[:m]), 1 if quick else 2)
        ref = reference_strokes(tt[:m], hh[:m])
        k_slice = analyze_strokes(tt[:m], hh[:m])
        same = len(ref) == len(k_slice) and all(
            abs(r["depth"] - d) < 1e-6 and abs(r["t_bottom"] - b) < 1e-9
            for r, d, b in zip(ref, k_slice.depth, k_slice.t_bottom)
        )
        print(f"pure-Python loop {label} {m / ref_s / 1e6:6.3f} M samples/s   ({ref_s / m * 1e6:.2f} us/sample on {m} samples;"
              f" same compressions as the kernel: {'yes' if same else 'NO'})")
        return ref_s / m * 1e6

    sim30 = simulate(SimOptions(seed=1, duration_s=120.0 if quick else 600.0, fps=30.0, dropout_s=(0.03, 0.15)))
    ref_us = ref_cost(t, h, "60 Hz ")
    ref_us30 = ref_cost(sim30.t_s, sim30.height_mm, "30 fps")

    # ---- streaming: one push per sample (60 Hz as the batch trace, and 30 fps: a camera's rate)
    def stream_cost(tt, hh):
        tl, hl = tt.tolist(), hh.tolist()

        def stream():
            an = StreamingAnalyzer()
            push = an.push
            for a, b in zip(tl, hl):
                push(a, b)
            return an

        sec = _best(stream, 2 if quick else 3)
        an = stream()
        return sec / len(tl) * 1e6, an.state.extra["kernel_runs"], len(an.compressions), len(tl)

    ms = min(n, int((120 if quick else 600) * fps))
    us, runs, ncomp, npush = stream_cost(t[:ms], h[:ms])
    print(f"streaming 60 Hz  {us:8.2f} us/sample         ({npush} pushes, {runs} kernel runs for {ncomp}"
          f" compressions: {runs / max(ncomp, 1):.2f} per compression)")
    us30, runs30, ncomp30, npush30 = stream_cost(sim30.t_s, sim30.height_mm)
    print(f"streaming 30 fps {us30:8.2f} us/sample         ({npush30} pushes, {runs30} kernel runs for {ncomp30}"
          f" compressions: {runs30 / max(ncomp30, 1):.2f} per compression)")

    # ---- summary
    batch_ratio = (n / k_s) / (1e6 / ref_us)
    print()
    print(f"{'':18s}{'reached':>16s}{'goal':>14s}{'vs pure-Python loop, same rate':>35s}")
    print(f"{'batch':18s}{n / k_s / 1e6:13.1f} M/s{BATCH_GOAL_SPS / 1e6:11.0f} M/s{batch_ratio:32.0f} x faster")
    for label, u, ru in (("streaming 60 Hz", us, ref_us), ("streaming 30 fps", us30, ref_us30)):
        r = ru / u
        print(f"{label:18s}{u:13.1f} us {STREAM_GOAL_US:10.0f} us {r:31.2f} x {'faster' if r >= 1 else 'the speed'}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    main(argparse.Namespace(quick=True))
