"""Session bookkeeping: flags, sets, pauses, rates and the summary.

Why one module for both modes: streaming assigns sets and rates to each chunk
of new compressions with a small carry (the previous compression), batch does
the same over one chunk, so both produce the same numbers. All guideline
numbers come from the profile.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from coach.core.profiles import Profile
from coach.core.scalar import fdiv
from coach.core.types import (
    INCOMPLETE_RECOIL,
    TOO_DEEP,
    TOO_FAST,
    TOO_SHALLOW,
    TOO_SLOW,
    Compression,
    CompressionSet,
    Pause,
    SessionSummary,
)


# One new compression (streaming's usual case) takes a path on Python floats with the same rules and
# arithmetic (tests/test_core_fastpaths.py checks it against the vectorised one).
ONE_COMPRESSION_PATH = True


def compression_flags(depth_mm: float, rate_cpm: float, residual_mm: float, profile: Profile) -> tuple[str, ...]:
    """Quality flags of one compression (no rate flags without a rate)."""
    flags = []
    if depth_mm < profile.depth_mm.min:
        flags.append(TOO_SHALLOW)
    elif depth_mm > profile.depth_mm.max:
        flags.append(TOO_DEEP)
    if math.isfinite(rate_cpm):
        if rate_cpm < profile.rate_cpm.min:
            flags.append(TOO_SLOW)
        elif rate_cpm > profile.rate_cpm.max:
            flags.append(TOO_FAST)
    if residual_mm > profile.recoil_residual_max_mm:
        flags.append(INCOMPLETE_RECOIL)
    return tuple(flags)


def _flag_tuples(depth, rate, residual, profile: Profile) -> list[tuple[str, ...]]:
    """Vectorised compression_flags (same rules), one tuple per compression."""
    shallow = depth < profile.depth_mm.min
    deep = ~shallow & (depth > profile.depth_mm.max)
    with np.errstate(invalid="ignore"):
        slow = rate < profile.rate_cpm.min
        fast = ~slow & (rate > profile.rate_cpm.max)
    recoil = residual > profile.recoil_residual_max_mm
    code = shallow * 1 + deep * 2 + slow * 4 + fast * 8 + recoil * 16
    return [_FLAGS[k] for k in code.tolist()]


def _flag_tuple_one(depth: float, rate: float, residual: float, profile: Profile) -> tuple[str, ...]:
    """_flag_tuples for one compression (the same comparisons, so NaN and inf are flagged alike)."""
    shallow = depth < profile.depth_mm.min
    deep = not shallow and depth > profile.depth_mm.max
    slow = rate < profile.rate_cpm.min
    fast = not slow and rate > profile.rate_cpm.max
    recoil = residual > profile.recoil_residual_max_mm
    return _FLAGS[shallow * 1 + deep * 2 + slow * 4 + fast * 8 + recoil * 16]


_FLAG_BITS = ((1, TOO_SHALLOW), (2, TOO_DEEP), (4, TOO_SLOW), (8, TOO_FAST), (16, INCOMPLETE_RECOIL))
_FLAGS = [tuple(f for bit, f in _FLAG_BITS if k & bit) for k in range(32)]  # the flags of each bit code


@dataclass
class SessionCarry:
    """The previous compression and the pauses so far (streaming state of the bookkeeping)."""

    count: int = 0
    set_index: int = -1
    set_count: int = 0  # compressions in the current set
    prev_mid: float = math.nan  # the last compression's centre (Compression.t_mid_s: the rate's clock)
    prev_release: float = math.nan
    pauses: list = field(default_factory=list)  # internal pauses (between sets)


@dataclass
class SessionArrays:
    """Accepted compressions with their bookkeeping, as arrays (lists of one entry from _assign_one)."""

    index: np.ndarray
    set_index: np.ndarray
    rate: np.ndarray
    duty: np.ndarray


def pause_kind(closed: int, profile: Profile) -> str:
    """Kind of the pause after a set of ``closed`` compressions: ventilation after half a cycle or more."""
    return "ventilation" if profile.ratio is not None and closed >= profile.ratio.compressions // 2 else "hands_off"


def assign(strokes, carry: SessionCarry, profile: Profile, pause_min_s: float) -> SessionArrays:
    """Sets, rates and internal pauses for new compressions (in time order)."""
    n = len(strokes)
    if n == 0:
        z = np.zeros(0)
        return SessionArrays(np.zeros(0, np.int64), np.zeros(0, np.int64), z, z)
    if n == 1 and ONE_COMPRESSION_PATH:  # (streaming's usual case: the same rules on Python floats)
        return _assign_one(strokes, carry, profile, pause_min_s)
    prev_rel = np.concatenate(([carry.prev_release], strokes.t_release[:-1]))
    prev_mid = np.concatenate(([carry.prev_mid], strokes.t_mid[:-1]))
    gap = strokes.t_start - prev_rel
    first_ever = np.zeros(n, bool)
    if carry.count == 0:
        first_ever[0] = True
    with np.errstate(invalid="ignore"):
        new_set = first_ever | (gap > pause_min_s)
    set_index = carry.set_index + np.cumsum(new_set)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(new_set, np.nan, 60.0 / (strokes.t_mid - prev_mid))
        duty = (strokes.t_bottom - strokes.t_start) / (strokes.t_release - strokes.t_start)
    # set sizes at each new set (for the kind of the pause before it)
    pos = np.flatnonzero(new_set)
    for j in pos.tolist():
        if first_ever[j]:
            continue
        # compressions in the set that the pause closes
        before = np.flatnonzero(new_set[:j])
        closed = j - before[-1] if before.size else carry.set_count + j
        kind = pause_kind(closed, profile)
        s, e = float(prev_rel[j]), float(strokes.t_start[j])
        carry.pauses.append(Pause(s, e, kind, (e - s) > profile.pause_max_s))
    last_new = pos[-1] if pos.size else -1
    carry.set_count = (n - last_new) if last_new >= 0 else carry.set_count + n
    carry.set_index = int(set_index[-1])
    carry.prev_mid = float(strokes.t_mid[-1])
    carry.prev_release = float(strokes.t_release[-1])
    index = carry.count + np.arange(n)
    carry.count += n
    return SessionArrays(index, set_index, rate, duty)


def _assign_one(strokes, carry: SessionCarry, profile: Profile, pause_min_s: float) -> SessionArrays:
    """assign for one new compression, the same arithmetic on Python floats."""
    one = strokes.one
    if one is not None:  # (the fields as Python floats: the same numbers)
        ts, tb, tr, _, _, _, _, _, _, _, tm = one  # (Strokes.FIELDS order)
    else:
        ts, tb, tr, tm = (float(strokes.t_start[0]), float(strokes.t_bottom[0]), float(strokes.t_release[0]),
                          float(strokes.t_mid[0]))
    first_ever = carry.count == 0
    new_set = first_ever or (ts - carry.prev_release) > pause_min_s
    rate = math.nan if new_set else fdiv(60.0, tm - carry.prev_mid)
    duty = fdiv(tb - ts, tr - ts)
    if new_set and not first_ever:  # the pause closes the current set
        s, e = carry.prev_release, ts
        carry.pauses.append(Pause(s, e, pause_kind(carry.set_count, profile), (e - s) > profile.pause_max_s))
    carry.set_count = 1 if new_set else carry.set_count + 1
    carry.set_index += int(new_set)
    carry.prev_mid, carry.prev_release = tm, tr
    index = carry.count
    carry.count += 1
    return SessionArrays([index], [carry.set_index], [rate], [duty])  # (lists: to_compressions reads them as they are)


def to_compressions(strokes, sa: SessionArrays, profile: Profile) -> list[Compression]:
    """Result dataclasses for a chunk of compressions."""
    if len(strokes) == 0:
        return []
    if len(strokes) == 1 and ONE_COMPRESSION_PATH:
        one = strokes.one
        if one is not None and isinstance(sa.rate, list):  # (Python floats all the way: no NumPy)
            rate = sa.rate[0]
            t_start, t_bottom, t_release, depth, residual, _, _, gap_s, _, _, t_mid = one  # (Strokes.FIELDS order)
            fl = _flag_tuple_one(depth, rate, residual, profile)
            return [Compression(sa.index[0], sa.set_index[0], t_start, t_bottom, t_release, depth, rate, sa.duty[0],
                                residual, fl, gap_s=gap_s, t_mid_s=t_mid)]
        flags = [_flag_tuple_one(float(strokes.depth[0]), float(sa.rate[0]), float(strokes.residual[0]), profile)]
    else:
        flags = _flag_tuples(strokes.depth, sa.rate, strokes.residual, profile)
    cols = zip(
        np.asarray(sa.index).tolist(),
        np.asarray(sa.set_index).tolist(),
        strokes.t_start.tolist(),
        strokes.t_bottom.tolist(),
        strokes.t_release.tolist(),
        strokes.depth.tolist(),
        np.asarray(sa.rate).tolist(),
        np.asarray(sa.duty).tolist(),
        strokes.residual.tolist(),
        flags,
        strokes.gap_s.tolist(),
        strokes.t_mid.tolist(),
    )
    return [
        Compression(i, si, ts, tb, tr, d, r, dc, res, fl, gap_s=g, t_mid_s=tm)
        for i, si, ts, tb, tr, d, r, dc, res, fl, g, tm in cols
    ]


def ccf_rating(ccf: float, profile: Profile) -> str:
    """Judge CCF against the profile (AHA: >= 60 % minimum, 80 % goal), so debriefs flag it like depth and rate."""
    if not math.isfinite(ccf):
        return ""
    if ccf >= profile.ccf_goal:
        return "goal"
    return "ok" if ccf >= profile.ccf_min else "below_min"


def summarize(
    comps: list[Compression],
    internal_pauses: list[Pause],
    t_first: float,
    t_last: float,
    profile: Profile,
    pause_min_s: float,
) -> tuple[SessionSummary, tuple[Pause, ...], tuple[CompressionSet, ...]]:
    """Whole-session metrics (definitions in docs/core.md)."""
    n = len(comps)
    duration = (t_last - t_first) if math.isfinite(t_first) and math.isfinite(t_last) else 0.0
    pm = profile.pause_max_s
    if n == 0:
        pauses = (Pause(t_first, t_last, "initial", duration > pm),) if duration > 0 else ()
        summary = SessionSummary(
            compressions=0,
            duration_s=duration,
            mean_rate_cpm=math.nan,
            median_rate_cpm=math.nan,
            mean_depth_mm=math.nan,
            median_depth_mm=math.nan,
            pct_depth_ok=math.nan,
            pct_rate_ok=math.nan,
            pct_recoil_ok=math.nan,
            ccf=0.0,
            hands_off_s=0.0,
            time_to_first_s=math.nan,
            pauses_too_long=sum(p.too_long for p in pauses),
            sets=0,
            profile=profile.name,
        )
        return summary, pauses, ()
    depth = np.array([c.depth_mm for c in comps])
    rate = np.array([c.rate_cpm for c in comps])
    resid = np.array([c.recoil_residual_mm for c in comps])
    duty = np.array([c.duty_cycle for c in comps])
    rr = rate[np.isfinite(rate)]
    first, last = comps[0], comps[-1]
    pauses: list[Pause] = []
    if first.t_start_s - t_first > pause_min_s:
        pauses.append(Pause(t_first, first.t_start_s, "initial", first.t_start_s - t_first > pm))
    pauses.extend(internal_pauses)
    if t_last - last.t_release_s > pause_min_s:
        pauses.append(Pause(last.t_release_s, t_last, "final", t_last - last.t_release_s > pm))
    period = last.t_release_s - first.t_start_s
    no_flow = float(sum(p.duration_s for p in internal_pauses))
    ccf = 1.0 - no_flow / period if period > 0 else 1.0
    sets: list[CompressionSet] = []
    set_idx = np.array([c.set_index for c in comps])
    bounds = np.flatnonzero(np.diff(set_idx)) + 1
    for a, b in zip(np.concatenate(([0], bounds)).tolist(), np.concatenate((bounds, [n])).tolist()):
        r = rate[a:b]
        r = r[np.isfinite(r)]
        sets.append(
            CompressionSet(
                index=int(set_idx[a]),
                start_s=comps[a].t_start_s,
                end_s=comps[b - 1].t_release_s,
                count=b - a,
                mean_rate_cpm=float(r.mean()) if r.size else math.nan,
                mean_depth_mm=float(depth[a:b].mean()),
            )
        )
    summary = SessionSummary(
        compressions=n,
        duration_s=duration,
        mean_rate_cpm=float(rr.mean()) if rr.size else math.nan,
        median_rate_cpm=float(np.median(rr)) if rr.size else math.nan,
        mean_depth_mm=float(depth.mean()),
        median_depth_mm=float(np.median(depth)),
        pct_depth_ok=float(100.0 * np.mean((depth >= profile.depth_mm.min) & (depth <= profile.depth_mm.max))),
        pct_rate_ok=float(100.0 * np.mean((rr >= profile.rate_cpm.min) & (rr <= profile.rate_cpm.max))) if rr.size else math.nan,
        pct_recoil_ok=float(100.0 * np.mean(resid <= profile.recoil_residual_max_mm)),
        ccf=float(ccf),
        hands_off_s=no_flow,
        time_to_first_s=float(first.t_start_s - t_first),
        pauses_too_long=sum(p.too_long for p in pauses),
        sets=len(sets),
        profile=profile.name,
        mean_duty_cycle=float(np.nanmean(duty)) if np.isfinite(duty).any() else math.nan,
        mean_recoil_residual_mm=float(resid.mean()),
        ccf_rating=ccf_rating(float(ccf), profile),
    )
    return summary, tuple(pauses), tuple(sets)
