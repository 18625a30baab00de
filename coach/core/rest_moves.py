"""What a session cannot tell apart: a rest that came back lower after a pause, or a trainee who started leaning.

Why: with a known rest (the pipeline's rest hold) the core measures every compression against it. If the hands come
back from the breaths placed otherwise, the tracked point may rest a few mm lower (rendered: one hand, then turned,
12.6 mm), and every later compression reads that much too deep and "leaning". A lean that starts in the pause looks
the same in the tops; it differs in the strokes: leaning raises the top, not the bottom, so each stroke gets shorter
by the lean, while a moved rest moves both. Where the tops dropped and the strokes kept their length, the session
states the drop as depth it cannot vouch for (docs/core.md, "The rest after a pause").
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from coach.core.options import CoreOptions
from coach.core.types import Compression


def unresolved_rest_drop_mm(compressions: list[Compression] | tuple[Compression, ...],
                            lean_tol_mm: float = CoreOptions.lean_tol_mm, rest_measured_s: Sequence[float] = ()) -> float:
    """The largest drop of the recoil tops from one set to the next (median residual, mm) that kept the strokes'
    length (median depth minus residual within half the drop): 0.0 when none is over ``lean_tol_mm``. A pause with
    a time in ``rest_measured_s`` (the pipeline measured the rest again there, from the hands resting still before
    the first downstroke) is resolved: a drop after it is a lean."""
    by_set: dict[int, list[Compression]] = {}
    for c in compressions:
        if np.isfinite(c.depth_mm) and np.isfinite(c.recoil_residual_mm):
            by_set.setdefault(c.set_index, []).append(c)
    worst = 0.0
    sets = sorted(by_set)
    for a, b in zip(sets, sets[1:]):
        t_a, t_b = by_set[a][-1].t_release_s, by_set[b][0].t_start_s
        if any(t_a <= t <= t_b for t in rest_measured_s):
            continue
        ra = float(np.median([c.recoil_residual_mm for c in by_set[a]]))
        rb = float(np.median([c.recoil_residual_mm for c in by_set[b]]))
        la = float(np.median([c.depth_mm - c.recoil_residual_mm for c in by_set[a]]))
        lb = float(np.median([c.depth_mm - c.recoil_residual_mm for c in by_set[b]]))
        drop = rb - ra
        if drop > lean_tol_mm and abs(lb - la) < 0.5 * drop:
            worst = max(worst, drop)
    return worst
