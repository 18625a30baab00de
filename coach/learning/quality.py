"""Per-compression correctness and per-minute views of a session.

Why one definition: the mastery criterion, the learning curve, the fatigue rule
and the patterns all ask "was this compression correct?" in Anderson et al.'s
sense (depth, rate and recoil all within the profile's bands). The first
compression of a set has no rate; it is judged on depth and recoil alone.
Minutes count from the session's first compression.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from coach.core.metrics import compression_flags
from coach.core.profiles import Profile
from coach.core.types import Compression


def correct_mask(comps: Sequence[Compression], profile: Profile) -> np.ndarray:
    """Boolean per compression: a measured depth and none of the core's quality flags under ``profile``.

    Why the core's rule (``compression_flags``) and not a copy: "correct" must mean the same in the live
    feedback, the report and the learning rules. A compression without a measured depth (NaN) is not correct:
    nothing shows it was deep enough.
    """
    return np.array([math.isfinite(c.depth_mm)
                     and not compression_flags(c.depth_mm, c.rate_cpm, c.recoil_residual_mm, profile)
                     for c in comps], bool)


def pct_correct(comps: Sequence[Compression], profile: Profile) -> float:
    """Share of correct compressions in percent (NaN without compressions)."""
    m = correct_mask(comps, profile)
    return float(100.0 * m.mean()) if m.size else math.nan


def minute_index(comps: Sequence[Compression]) -> np.ndarray:
    """0-based minute of each compression's bottom, counted from the first compression's start."""
    if not comps:
        return np.zeros(0, np.int64)
    t0 = comps[0].t_start_s
    return np.floor((np.array([c.t_bottom_s for c in comps]) - t0) / 60.0).astype(np.int64)


def compressing_span_s(comps: Sequence[Compression]) -> float:
    """First compression's start to the last one's release (0 without compressions)."""
    return float(comps[-1].t_release_s - comps[0].t_start_s) if comps else 0.0


def per_minute(values: np.ndarray, minutes: np.ndarray, n_minutes: int | None = None) -> np.ndarray:
    """Mean of ``values`` per minute (NaN for a minute without values); NaN values are skipped."""
    n = int(minutes.max()) + 1 if n_minutes is None and minutes.size else (n_minutes or 0)
    out = np.full(n, np.nan)
    v = np.asarray(values, float)
    for m in range(n):
        sel = v[(minutes == m) & np.isfinite(v)]
        if sel.size:
            out[m] = sel.mean()
    return out
