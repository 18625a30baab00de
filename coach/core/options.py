"""Options of the compression core, and the numbers derived from them.

Why two classes: ``CoreOptions`` is what a user or the CLI sets (units in the
names, guideline-free: bands come from the profile). ``Params`` is the resolved,
internal form (profile loaded, fractions turned into millimetres, seconds into
sample counts once the nominal sample rate is known), so the kernel never
re-derives anything per call and streaming and batch read identical numbers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from coach.core.profiles import Profile, load_profile


@dataclass(frozen=True)
class CoreOptions:
    """How the core turns a chest-height signal into compressions.

    The defaults are tuned on the simulator and on real filmed traces; the
    guideline bands (rate, depth, recoil, pause) always come from ``profile``.
    """

    profile: str = "adult"
    rest_height_mm: float | None = None  # known rest position (calibration); None: tracked from the signal
    # --- cleaning
    spike_mm: float = 15.0  # a sample this far off the mean of its two (agreeing) neighbours is a spike
    spike_turn_mm_s: float = 450.0  # ... or, where the sample before already moved its way (a turn approached),
    # this speed x its half-span of neighbours when more: a stroke's sharp turn lies that far off its neighbours'
    # line at a low frame rate (15 fps: the cardiac arrest's turns up to 29 mm, real strokes' bottoms went missing
    # as spikes: depths 14 mm shallow). 450 x 1/30 s = spike_mm: unchanged at >= 30 fps on even frames (docs/core.md)
    spike_speed_mm_s: float = 1000.0  # next to a missing sample: a faster jump than this is a spike
    max_gap_s: float = 0.6  # NaN runs are bridged when the valid samples around them are this close
    hermite_max_s: float = 0.25  # ... by a cubic up to this span, by the previous cycle (if rhythmic) beyond
    # --- stroke detection (Schmitt trigger on the lightly smoothed signal)
    detect_mm: float = 5.0  # a reversal must exceed this to start a new phase
    detect_window_s: float = 0.2  # ... measured against the running min/max over this window
    sample_rate_hz: float | None = None  # nominal rate for windows; None: from the first 16 samples
    # --- measurement
    fit_window_s: float = 0.14  # half-width of the triangular weights of the least-squares fit at bottoms
    bottom_shift_s: float = 0.03  # the bottom's vertex may lie this far from the lowest sample (never under one
    # sample interval). In time, not samples: held to one 4 ms sample at 250 Hz, real bottoms read +0.76 mm
    # above where the chest turned (a real cardiac arrest), +0.21 with 30 ms; at <= 33 fps it is one interval
    top_fit_window_s: float = 0.06  # ... at rest tops (narrower: tops are often flat holds); never under 2 sample
    # intervals, so that the fit always has the 4 samples it needs whatever the sampling phase
    top_mean_window_s: float = 0.05  # half-width of the window mean at rest tops
    top_vertex_weight: float = 0.75  # a rest top's level: this share of the parabola's vertex (overshoots a flat
    # hold), the rest the window mean (undershoots a peak); 3:1 is the least biased over the simulator's stroke
    # families (0.5 before them: the peaked tops of asymmetric and real strokes read 0.4-0.8 mm low)
    release_wait_s: float | None = None  # top watched this long after the release crossing; None: fits the 150 ms
    # bound, and at least 1.25 sample intervals (at <= 25 fps that outlasts the bound)
    max_up_s: float = 1.0  # a release is decided at the latest this long after the upstroke began
    # --- what counts as a compression
    min_depth_frac: float = 0.2  # shallowest counted, as a share of the profile's minimum depth
    max_depth_frac: float = 1.5  # deeper than this share of the profile's maximum: a hand movement
    stroke_frac: float = 0.4  # fall and rise must each cover this share of the depth
    off_side_frac: float = 0.6  # ... this share where the other side's top is over half the off margin above the rest:
    # hands moving between off the chest and the head pass below the rest and do not come back (docs/core.md)
    bootstrap_depth_frac: float = 0.5  # before any baseline: the stroke must reach this share of the minimum depth
    max_down_s: float = 0.5  # longest downstroke (onset to bottom): slower is a hand movement
    max_stroke_s: float = 1.5  # longest stroke (onset to release)
    off_margin_mm: float = 10.0  # this far above the rest baseline: hands off the chest
    # --- rest baseline
    baseline_tops: int = 9  # the baseline is a robust mean of the last this many rest tops:
    baseline_trim: int = 1  # ... without the this-many highest and lowest (median when there are under 2 trim + 3)
    lean_ref_tops: int = 18  # leaning is judged against the upper quartile of this many recent rest tops (and their strokes)
    baseline_window_s: float = 6.0  # ... only those this recent, once there are three (the rest may move in a pause)
    baseline_break_s: float = 3.0  # ... and after a gap this long between rest tops (a ventilation pause, tracking lost),
    # only those since, once they moved: the hands come back elsewhere and the tracked rest with them (real filmed
    # sets: 4-9 mm, once 30 mm; docs/core.md "The rest after a pause") ...
    baseline_break_mm: float = 2.0  # ... by more than this (their median from the earlier ones'; less: all the tops,
    # since one top is noisier than the trimmed mean of nine) ...
    baseline_break_tops: int = 3  # ... once there are this many (the first top after the hands land is often off)
    max_lean_frac: float = 0.4  # a top further below the rest than this share of the max depth is no rest top
    lean_tol_mm: float = 3.0  # a rest top this far below the upper quartile of the recent tops is leaning: kept out of the baseline
    rhythm_s: tuple[float, float] = (0.25, 1.6)  # bottom-to-bottom interval of a rest top's neighbours
    # --- sessions
    pause_min_s: float = 1.0  # a gap between compressions longer than this is a pause


@dataclass(frozen=True)
class Params:
    """Resolved numbers the kernel uses (see CoreOptions for meanings)."""

    options: CoreOptions
    profile: Profile
    dt_s: float  # nominal sample interval
    w: int  # Schmitt window, samples
    fit_k: int  # gather half-width for fits, samples (time-masked inside)
    top_fit_s: float  # half-width of the parabola fit at rest tops (top_fit_window_s, at least 2 dt_s)
    vertex_s: float  # how far a bottom's vertex may lie from the lowest sample (bottom_shift_s, at least dt_s)
    min_depth_mm: float
    max_depth_mm: float
    release_wait_s: float
    back_s: float  # how far before an upstroke event a stroke's data may reach


def nominal_dt(t_first: "list[float] | object") -> float:
    """Median interval of the first samples (deterministic in both modes)."""
    import numpy as np

    t = np.asarray(t_first, float)
    d = np.diff(t)
    d = d[np.isfinite(d) & (d > 0)]
    return float(np.median(d)) if d.size else 1.0 / 30.0


NOMINAL_SAMPLES = 16  # samples used to fix the nominal rate
RELEASE_WAIT_INTERVALS = 1.25  # the release is watched for at least this many nominal sample intervals (jitter)


def deepest_counted_mm(options: CoreOptions, profile: Profile | None = None) -> float:
    """Deeper than this is a hand movement, not a compression (a share of the profile's maximum depth)."""
    return options.max_depth_frac * (profile or load_profile(options.profile)).depth_mm.max


def shallowest_counted_mm(options: CoreOptions, profile: Profile | None = None) -> float:
    """Shallower than this is no compression (a share of the profile's minimum depth)."""
    return options.min_depth_frac * (profile or load_profile(options.profile)).depth_mm.min


def resolve(options: CoreOptions, dt_s: float) -> Params:
    prof = load_profile(options.profile)
    if options.sample_rate_hz:
        dt_s = 1.0 / float(options.sample_rate_hz)
    dt_s = min(max(dt_s, 1e-4), 0.5)
    w = max(2, int(round(options.detect_window_s / dt_s)))
    # the top's parabola needs 4 samples: a window of +-2 sample intervals holds them at any sampling phase
    top_fit = max(options.top_fit_window_s, 2.0 * dt_s)
    vertex = max(options.bottom_shift_s, dt_s)
    # (the re-centred bottom fit reaches fit_window_s + vertex from the lowest sample: one more interval at <= 33 fps)
    fit_k = max(2, int(math.ceil(max(options.fit_window_s, top_fit) / dt_s)) + int(math.ceil(vertex / dt_s - 1e-9)))
    if options.release_wait_s is not None:
        wait = options.release_wait_s
    else:  # processed samples lag one raw sample (despike), the decision one more: stay inside 150 ms ...
        wait = min(max(0.15 - 3.0 * dt_s, 0.02), 0.08)
        # ... but watch the top for longer than one sample interval: a shorter wait is over within the interval
        # after the 90 % crossing, so a stroke still rising fast was released at the next sample with its top
        # read low (at 15-25 fps 13-27 % of fully recoiled strokes were flagged incomplete; docs/core.md)
        wait = max(wait, RELEASE_WAIT_INTERVALS * dt_s)
    # a candidate's data reach back at most: upstroke + previous rhythm + downstroke + fit (+ margin)
    back = options.max_up_s + options.rhythm_s[1] + options.max_down_s + options.fit_window_s + 6 * dt_s
    back += vertex - dt_s
    return Params(
        options=options,
        profile=prof,
        dt_s=dt_s,
        w=w,
        fit_k=fit_k,
        top_fit_s=top_fit,
        vertex_s=vertex,
        min_depth_mm=shallowest_counted_mm(options, prof),
        max_depth_mm=deepest_counted_mm(options, prof),
        release_wait_s=wait,
        back_s=back,
    )
