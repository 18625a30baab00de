"""The session's pauses, sets and summary, re-derived from its recorded compressions.

Why: a session whose process was killed has no final summary, and the report needs pauses and
sets that the file does not store. The core's own bookkeeping (``coach.core.metrics.summarize``)
does it from the compressions, with the same definitions (docs/core.md), so a recovered session
reads like a finished one.
"""
from __future__ import annotations

import math

from coach.core.metrics import pause_kind, summarize
from coach.core.options import CoreOptions
from coach.core.profiles import Profile, load_profile
from coach.core.types import Compression, Pause, SessionResult


def internal_pauses(comps: list[Compression], profile: Profile) -> list[Pause]:
    """Pauses between sets (where the set index changes), kinds and "too long" as the core judges them."""
    out: list[Pause] = []
    set_start = 0
    for j in range(1, len(comps)):
        if comps[j].set_index != comps[j - 1].set_index:
            closed = j - set_start
            kind = pause_kind(closed, profile)
            s, e = comps[j - 1].t_release_s, comps[j].t_start_s
            out.append(Pause(s, e, kind, (e - s) > profile.pause_max_s))
            set_start = j
    return out


def derive_result(comps: list[Compression], t_first_s: float, t_last_s: float,
                  profile: Profile | str | None = None) -> SessionResult:
    """Summary, pauses and sets from the compressions of one session (in time order)."""
    prof = profile if isinstance(profile, Profile) else load_profile(profile)
    if comps:
        t_first_s = min(t_first_s, comps[0].t_start_s) if math.isfinite(t_first_s) else comps[0].t_start_s
        t_last_s = max(t_last_s, comps[-1].t_release_s) if math.isfinite(t_last_s) else comps[-1].t_release_s
    summary, pauses, sets = summarize(list(comps), internal_pauses(comps, prof), t_first_s, t_last_s, prof,
                                      CoreOptions(profile=prof.name).pause_min_s)
    return SessionResult(summary, tuple(comps), pauses, sets)
