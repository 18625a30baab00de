"""Hand-made compression sessions for the feedback tests (no core needed).

Values are derived from the guideline profile so the tests follow the data
file, exactly as the rules do.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from coach.core.profiles import Profile
from coach.core.types import Compression
from coach.feedback import Coach


@dataclass
class Spec:
    depth_mm: float
    rate_cpm: float
    recoil_mm: float = 0.0
    placement_mm: float | None = None
    gap_before_s: float = 0.0  # extra hands-off time before this compression
    new_set: bool = False


def good(p: Profile, **kw) -> Spec:
    return Spec((p.depth_mm.min + p.depth_mm.max) / 2, p.rate_target_cpm, **kw)


def build(specs: list[Spec], t0_s: float = 1.0) -> list[tuple[Compression, float | None]]:
    """Compressions with consistent timing: each spec's rate sets its interval."""
    out = []
    t_bottom = t0_s
    set_index = 0
    first_of_set = True
    for i, s in enumerate(specs):
        period = 60.0 / s.rate_cpm
        if i > 0:
            t_bottom += period + s.gap_before_s
        if s.new_set and i > 0:
            set_index += 1
            first_of_set = True
        c = Compression(
            index=i,
            set_index=set_index,
            t_start_s=t_bottom - 0.3 * period,
            t_bottom_s=t_bottom,
            t_release_s=t_bottom + 0.3 * period,
            depth_mm=s.depth_mm,
            rate_cpm=math.nan if first_of_set else s.rate_cpm,
            duty_cycle=0.5,
            recoil_residual_mm=s.recoil_mm,
        )
        first_of_set = False
        out.append((c, s.placement_mm))
    return out


def drive(coach: Coach, session, *, fps: float = 30.0, tail_s: float = 0.5, t0_s: float = 0.0,
          posture=None, posture_hz: float = 10.0):
    """Step time at ``fps`` like the live loop; feed each compression at its release.

    ``posture(t_s)``, when given, is a pose frame (``PostureMeasurement`` or None)
    fed at ``posture_hz``, as the posture worker does.
    Returns [(t_s, active prompt id or None, compressions so far)] per frame.
    """
    coach.start(t0_s)
    timeline = []
    pending = list(session)
    end = (pending[-1][0].t_release_s if pending else t0_s) + tail_s
    n = 0
    k = 0
    while True:
        t = t0_s + k / fps
        if t > end:
            break
        if posture is not None and k % max(1, round(fps / posture_hz)) == 0:
            m = posture(t)
            if m is not None:
                coach.on_posture(m, t)
        while pending and pending[0][0].t_release_s <= t:
            c, placement = pending.pop(0)
            coach.on_compression(c, placement_mm=placement)
            n += 1
        p = coach.on_time(t)
        timeline.append((t, None if p is None else p.id, n))
        k += 1
    return timeline


def shown_runs(timeline):
    """[(prompt id, first compression count, last compression count)] for each display interval."""
    runs = []
    cur = None
    for t, pid, n in timeline:
        if cur is None or cur[0] != pid:
            if cur is not None and cur[0] is not None:
                runs.append(tuple(cur))
            cur = [pid, n, n]
        else:
            cur[2] = n
    if cur is not None and cur[0] is not None:
        runs.append(tuple(cur))
    return runs
