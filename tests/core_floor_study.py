"""Study: the core's depth bias per stroke family and frame rate, against its share of the stated uncertainty.

Why: ``calibration.handpoint.core_floor_mm`` is what every session claims for the core's own reading of tops and
bottoms. It must cover the core's bias on stroke shapes it was not tuned to, at the frame rates and frame timing a
webcam gives, not only on the simulator's default shape (docs/calibration.md, "Stated uncertainty").

    python -m tests.core_floor_study [NOISE_MM] [SEEDS]     (defaults 1.0 and 10; ~10 s on 2 cores)

Prints, per frame rate (regular, or uneven: 30 % jitter, 5 % dropped), each family's mean depth error (mm) and
the term. Tremor scales with the noise (0.3 of it, the simulator's default ratio).
"""
from __future__ import annotations

import itertools
import sys
from multiprocessing import Pool

import numpy as np

from calibration.handpoint import core_floor_mm
from coach.core import analyze
from coach.core.simulator import SimOptions, simulate
from tests.core_helpers import match, real_templates

FAMILIES = ("cosine", "trapezoid", "asymmetric", "template", "mixed")
RATES = [(30, 0.0, 0.0), (30, 0.3, 0.05), (25, 0.0, 0.0), (24, 0.0, 0.0), (20, 0.0, 0.0), (20, 0.3, 0.05),
         (15, 0.0, 0.0), (15, 0.3, 0.05)]  # (fps, jitter, frame_drop_prob)


def _errors(job) -> list:
    family, (fps, jitter, drop), seed, noise_mm = job
    kw = dict(shape=family, fps=float(fps), seed=seed, jitter=jitter, frame_drop_prob=drop, noise_mm=noise_mm,
              tremor_mm=0.3 * noise_mm)
    if family in ("template", "mixed"):
        kw["templates"] = real_templates()
    sim = simulate(SimOptions(**kw))
    res = analyze(sim.t_s, sim.height_mm)
    return [m.depth_mm - c.depth_mm for c, m in match(sim.truth, res.compressions)]


def main(noise_mm: float = 1.0, seeds: int = 10) -> None:
    jobs = list(itertools.product(FAMILIES, RATES, range(seeds), [noise_mm]))
    with Pool(2) as pool:
        errs = pool.map(_errors, jobs)
    print(f"noise {noise_mm} mm, {seeds} seeds: mean depth error (mm) per family; the core's term")
    for rate in RATES:
        cells = []
        for fam in FAMILIES:
            e = np.concatenate([np.asarray(x) for x, j in zip(errs, jobs) if j[0] == fam and j[1] == rate])
            cells.append(f"{fam} {e.mean():+.2f}")
        fps, jit, drop = rate
        timing = f"uneven ({jit:.0%} jitter, {drop:.0%} dropped)" if jit else "regular"
        print(f"{fps} fps {timing}: term {core_floor_mm(1 / fps):.2f} | " + "  ".join(cells), flush=True)


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0, int(sys.argv[2]) if len(sys.argv) > 2 else 10)
