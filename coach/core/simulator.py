"""A realistic chest-height generator with ground truth (NumPy only).

Why a simulator in the core: the demo, the simulated station, the test
renderer and the accuracy tests all need CPR sessions whose every compression
is known exactly. Real recordings have no depth truth; the simulator has it, and
it deliberately carries what real traces carry: an asymmetric duty cycle, rate
drift and per-stroke jitter, depth variation and fatigue, leaning (incomplete
recoil), 30:2 ventilation pauses with large hand movements (lift off, hand at
the head below the chest, back onto the chest), baseline drift, white noise and
tremor, single-frame spikes, dropouts (NaN runs) and irregular sampling.

Ground-truth conventions are the core's own (see docs/core.md):
- ``t_start_s``: the downstroke has covered 10 % of the stroke from its top
  (``min(previous top, rest)``) to the bottom;
- ``t_bottom_s``: the deepest point;
- ``t_mid_s``: midway between the crossings of half the depth below the rest, down and up (``rate_cpm`` is
  60 / the interval between successive centres);
- ``t_release_s``: the upstroke has covered 90 % of the way from the bottom to
  ``min(next top, rest)``;
- ``depth_mm``: rest position minus the bottom; ``recoil_residual_mm``: rest minus
  the top the chest came back to.
Stroke shapes come in families (``SimOptions.shape``), chosen per session or
mixed stroke by stroke, so the core is tested on shapes it was not tuned to:
``cosine`` (a per-session blend of a raised cosine and a smootherstep, the
default), ``trapezoid`` (bottom and top dwells of 0-150 ms, corners rounded over
20-60 ms), ``asymmetric`` (the downstroke 30-45 % of the cycle, no dwell) and
``template`` (consecutive strokes cut from real recordings by :func:`stroke_templates`,
passed in as arrays: the simulator reads no files).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from coach.core.profiles import Profile, load_profile
from coach.core.types import Compression, CompressionSet, Pause
from coach.core.metrics import compression_flags
from coach.core.strokes import RELEASE_FRACTION, START_FRACTION  # the core's onset (10 %) and release (90 %)


@dataclass(frozen=True)
class SimOptions:
    """What kind of session to generate. Defaults: a realistic adult 30:2 session.

    ``None`` rates and depths are drawn per session around the profile's targets
    (so guideline numbers still come only from coach.core.profiles).
    """

    seed: int = 0
    duration_s: float = 75.0
    fps: float = 30.0
    profile: str = "adult"
    t0_s: float = 0.0  # timestamp of the first sample
    rest_mm: float = 0.0  # absolute chest height at rest (the core must not care)
    # --- measurement -------------------------------------------------------
    noise_mm: float = 1.0  # white measurement noise (standard deviation)
    tremor_mm: float = 0.3  # amplitude of 8-12 Hz hand tremor
    drift_mm: float = 2.0  # amplitude of the slow baseline drift (camera / manikin creep)
    drift_period_s: float = 120.0
    spike_rate_hz: float = 0.03  # single-frame spikes per second
    spike_mm: tuple[float, float] = (15.0, 60.0)
    dropout_rate_hz: float = 0.03  # NaN runs (tracking lost) per second
    dropout_s: tuple[float, float] = (0.03, 0.15)
    jitter: float = 0.1  # standard deviation of the frame interval, as a fraction of 1/fps
    frame_drop_prob: float = 0.01  # frames missing from the stream altogether
    quantum_mm: float = 0.0  # height quantisation (pixel steps), 0: none
    # --- rescuer -----------------------------------------------------------
    rate_cpm: float | None = None  # session mean rate; None: profile target + N(0, 5)
    rate_drift_cpm: float = 5.0  # amplitude of the slow within-session rate drift
    rate_jitter: float = 0.012  # per-compression relative jitter of the interval
    depth_mm: float | None = None  # session mean depth; None: profile band centre + N(0, 2.5)
    depth_sd_mm: float = 2.0  # compression-to-compression variation
    fatigue_mm_per_min: float = 3.0  # depth lost per minute of compressions ...
    fatigue_max_mm: float = 10.0  # ... up to this much (tired rescuers still push)
    fatigue_onset_min: float = 0.0  # minutes of compressing before fatigue starts (0: from the first)
    duty_cycle: float = 0.42  # downstroke share of the cycle
    duty_sd: float = 0.02
    top_hold_frac: float = 0.08  # share of the cycle resting at the top
    bottom_hold_frac: float = 0.0  # share of the cycle held at the bottom
    lean_prob: float = 0.03  # chance that a compression starts a leaning run
    lean_run: tuple[int, int] = (2, 5)
    lean_mm: tuple[float, float] = (4.0, 10.0)
    lean_onset_min: float = 0.0  # minutes of compressing before leaning runs can start
    set_start_rate_cpm: float = 0.0  # extra rate at the start of each set after the first (rushing after breaths), fading over ~3 compressions
    shallow_prob: float = 0.0  # chance of a shallow compression
    shallow_mm: tuple[float, float] = (15.0, 30.0)
    compressions_per_set: int | None = None  # None: the profile's ratio (continuous if none)
    pause_s: tuple[float, float] = (4.0, 8.0)  # ventilation pause, release to next onset
    long_pause_prob: float = 0.0  # chance that a pause exceeds the profile's pause_max_s
    first_delay_s: tuple[float, float] = (1.5, 3.5)
    lift_mm: tuple[float, float] = (40.0, 150.0)  # hands off the chest during pauses
    head_mm: tuple[float, float] = (-90.0, -30.0)  # hand at the head, below the chest top
    return_rest_s: tuple[float, float] = (0.2, 0.5)  # still on the chest after landing, before the first downstroke
    # of a set (at least 0.05 s); the filmed rescuers held 0.00-0.07 s (python -m tests.core_rest_moves --still)
    placement_sd_mm: float = 4.0  # hand offset along the body axis, slow wander
    placement_drift_prob: float = 0.3  # chance per set of a drift off-centre
    placement_drift_mm: tuple[float, float] = (25.0, 40.0)
    rest_step_mm: float = 0.0  # s.d. of the tracked rest's offset, drawn anew in each ventilation pause: the hands
    # come back at another spot or in another posture, so a tracker's point rests at another height (real filmed
    # traces: 4-9 mm between sets). Drawn from its own random stream: sessions without it are unchanged
    # --- stroke shape (see SHAPES); the non-default families draw from their own random stream, so a
    # cosine session is the same whatever these say
    shape: str = "cosine"  # one of SHAPES; "mixed": a family drawn per stroke among the others available
    dwell_ms: tuple[float, float] = (0.0, 150.0)  # trapezoid: bottom and top dwell, drawn per session
    corner_ms: tuple[float, float] = (20.0, 60.0)  # trapezoid: time over which a corner is rounded
    asym_duty: tuple[float, float] = (0.30, 0.45)  # asymmetric: downstroke share of the cycle, per session
    templates: tuple = field(default=(), compare=False)  # template: normalised strokes (see stroke_templates)


SHAPES = ("cosine", "trapezoid", "asymmetric", "template", "mixed")
TEMPLATE_POINTS = 201  # samples of a normalised stroke template (time 0..1, height 0 -> -1 -> 0)
_TABLE_POINTS = 257  # samples of a tabulated monotone transition


@dataclass(frozen=True)
class SimTrace:
    """A generated session: the samples and the truth behind them."""

    options: SimOptions
    t_s: np.ndarray  # sample times (irregular, strictly increasing)
    height_mm: np.ndarray  # what a tracker would report (noise, spikes, NaN dropouts)
    clean_height_mm: np.ndarray  # the chest/hand height without measurement errors
    rest_mm: np.ndarray  # true rest position at each sample (drifts)
    placement_mm: np.ndarray  # hand offset along the body axis (0 = centre of the lower sternum)
    truth: tuple[Compression, ...]
    pauses: tuple[Pause, ...]
    sets: tuple[CompressionSet, ...]
    spike_index: np.ndarray  # samples replaced by a single-frame spike
    dropout_mask: np.ndarray  # samples set to NaN
    extra: dict = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return float(self.t_s[-1] - self.t_s[0]) if self.t_s.size else 0.0

    def write_csv(self, path) -> None:
        """The ``analyze-trace`` format: header ``t_s,height_mm``, empty cell = missing."""
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            fh.write("t_s,height_mm\n")
            for t, h in zip(self.t_s.tolist(), self.height_mm.tolist()):
                fh.write(f"{t:.6f},{'' if not math.isfinite(h) else f'{h:.3f}'}\n")


# ----------------------------------------------------------------- waveform
def _shape(u: np.ndarray, alpha: float) -> np.ndarray:
    """Monotone 0->1 transition: raised cosine blended with a smootherstep."""
    u = np.clip(u, 0.0, 1.0)
    return (1.0 - alpha) * 0.5 * (1.0 - np.cos(np.pi * u)) + alpha * u * u * u * (u * (u * 6.0 - 15.0) + 10.0)


def _shape_inv(y: float, alpha: float) -> float:
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if float(_shape(np.array(mid), alpha)) < y:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _ramp_table(blend: float) -> np.ndarray:
    """A linear ramp whose ends are rounded by parabolic blends over ``blend`` (a share of its duration, <= 0.5):
    the trapezoid's sides. Zero slope at both ends, so the extremes stay at the keyframes."""
    u = np.linspace(0.0, 1.0, _TABLE_POINTS)
    b = min(max(blend, 1e-6), 0.5)
    v = 1.0 / (1.0 - b)  # the slope of the linear part
    y = np.where(u < b, 0.5 * v * u * u / b, v * (u - 0.5 * b))
    y = np.where(u > 1.0 - b, 1.0 - 0.5 * v * (1.0 - u) ** 2 / b, y)
    return y


def _monotone_table(seg: np.ndarray) -> np.ndarray:
    """A 0 -> 1 nondecreasing transition from a segment of a template (first value 0, last 1)."""
    seg = np.maximum.accumulate(np.clip(seg, 0.0, 1.0))
    u = np.linspace(0.0, 1.0, seg.size)
    return np.interp(np.linspace(0.0, 1.0, _TABLE_POINTS), u, seg)


class _Shapes:
    """Tabulated monotone transitions (row i: 0 -> 1 over _TABLE_POINTS); code -1 is the analytic cosine blend."""

    def __init__(self, alpha: float) -> None:
        self.alpha = alpha
        self.rows: list[np.ndarray] = []

    def add(self, row: np.ndarray) -> int:
        self.rows.append(row)
        return len(self.rows) - 1

    def inv(self, code: int, y: float) -> float:
        """Where the transition reaches the share ``y`` (0..1 of the piece's duration)."""
        if code < 0:
            return _shape_inv(y, self.alpha)
        row = self.rows[code]
        i = int(np.searchsorted(row, y, side="left"))  # first table point at or above y, then interpolate
        if i <= 0:
            return 0.0
        if i >= row.size:
            return 1.0
        fr = (y - row[i - 1]) / max(row[i] - row[i - 1], 1e-15)
        return (i - 1 + fr) / (row.size - 1)

    def evaluate(self, u: np.ndarray, code: np.ndarray) -> np.ndarray:
        out = _shape(u, self.alpha)
        tab = code >= 0
        if tab.any() and self.rows:
            table = np.array(self.rows)
            x = np.clip(u[tab], 0.0, 1.0) * (_TABLE_POINTS - 1)
            i = np.minimum(x.astype(np.int64), _TABLE_POINTS - 2)
            fr = x - i
            r = code[tab]
            out[tab] = table[r, i] + fr * (table[r, i + 1] - table[r, i])
        return out


class _Timeline:
    """Piecewise-monotone keyframes: (t0, t1, y0, y1, shape code)."""

    def __init__(self, t: float, y: float) -> None:
        self.t, self.y = t, y
        self.pieces: list[tuple[float, float, float, float, int]] = []

    def to(self, dur: float, y: float, code: int = -1) -> tuple[float, float]:
        t0 = self.t
        self.pieces.append((t0, t0 + dur, self.y, y, code))
        self.t, self.y = t0 + dur, y
        return t0, self.t

    def hold(self, dur: float) -> None:
        self.to(dur, self.y)

    def evaluate(self, t: np.ndarray, shapes: _Shapes) -> np.ndarray:
        p = np.array(self.pieces, float).reshape(-1, 5)
        k = np.clip(np.searchsorted(p[:, 0], t, side="right") - 1, 0, len(p) - 1)
        t0, t1, y0, y1 = p[k, 0], p[k, 1], p[k, 2], p[k, 3]
        u = (t - t0) / np.maximum(t1 - t0, 1e-9)
        out = y0 + (y1 - y0) * shapes.evaluate(u, p[k, 4].astype(np.int64))
        return np.where(t >= p[-1, 1], p[-1, 3], out)


class _StrokeShaper:
    """Per stroke: the down and up transitions and the dwells of the session's shape family."""

    def __init__(self, o: "SimOptions", seed: int, shapes: _Shapes) -> None:
        if o.shape not in SHAPES:
            raise ValueError(f"SimOptions.shape: {o.shape!r} is not one of {', '.join(SHAPES)}")
        if o.shape == "template" and not o.templates:
            raise ValueError("SimOptions.templates: the template family needs at least one template")
        self.o, self.shapes = o, shapes
        self.rng = np.random.default_rng([seed, 7])  # (its own stream: a cosine session does not change)
        r = self.rng
        self.dwell_bottom_s = float(r.uniform(*o.dwell_ms)) / 1000.0
        self.dwell_top_s = float(r.uniform(*o.dwell_ms)) / 1000.0
        self.corner_s = float(r.uniform(*o.corner_ms)) / 1000.0
        self.asym_duty = float(r.uniform(*o.asym_duty))
        self.family = o.shape
        self.mixed = ["cosine", "trapezoid", "asymmetric"] + (["template"] if o.templates else [])
        self._tpl: dict[int, tuple[float, int, int]] = {}
        self._next_tpl = -1  # the next template (-1: not drawn yet)

    def template(self, i: int) -> tuple[float, int, int]:
        """(bottom position 0..1, down code, up code) of template i."""
        if i not in self._tpl:
            y = np.asarray(self.o.templates[i], float)
            y = y / -y.min()
            # the bottom: the middle of where the stroke is within 3 % of its deepest (a real bottom is often
            # nearly flat, and its sampled minimum anywhere in it); each side is then made monotone and
            # stretched by at most 3 % to reach it, so the deepest point is that keyframe
            near = np.flatnonzero(y <= -0.97)
            ib = int(round(0.5 * (near[0] + near[-1])))
            ub = ib / (y.size - 1)
            dn = np.maximum.accumulate(np.clip(-y[: ib + 1], 0.0, 1.0))
            upw = np.maximum.accumulate(np.clip(-y[ib:][::-1], 0.0, 1.0))[::-1]
            down = self.shapes.add(_monotone_table(dn / dn[-1]))
            up = self.shapes.add(_monotone_table(1.0 - upw / upw[0]))
            self._tpl[i] = (ub, down, up)
        return self._tpl[i]

    def stroke(self, period: float, duty: float, t_hold: float, t_bot: float):
        """(t_down, t_bottom_dwell, t_up, t_top_dwell, down code, up code) for one stroke."""
        fam = self.family
        if fam == "mixed":
            fam = self.mixed[int(self.rng.integers(len(self.mixed)))]
        if fam == "cosine":
            t_down = duty * period
            return t_down, t_bot, period - t_down - t_bot - t_hold, t_hold, -1, -1
        r = self.rng
        if fam == "trapezoid":
            db = self.dwell_bottom_s * float(r.uniform(0.85, 1.15))
            dt = self.dwell_top_s * float(r.uniform(0.85, 1.15))
            if db + dt > 0.7 * period:  # (fast strokes: the dwells shrink, the sides keep 30 % of the cycle)
                db, dt = db * 0.7 * period / (db + dt), dt * 0.7 * period / (db + dt)
            moving = period - db - dt
            t_down = duty * moving
            t_up = moving - t_down
            half = 0.5 * self.corner_s * float(r.uniform(0.9, 1.1))  # each side of a corner rounds over half
            down = self.shapes.add(_ramp_table(half / t_down))
            up = self.shapes.add(_ramp_table(half / t_up))
            return t_down, db, t_up, dt, down, up
        if fam == "asymmetric":
            t_down = (self.asym_duty + float(r.normal(0, 0.01))) * period
            return t_down, 0.0, period - t_down, 0.0, -1, -1
        # consecutive templates in their recorded order from a random start: one rescuer's stroke-to-stroke
        # variation, not a different rescuer every stroke
        if self._next_tpl < 0:
            self._next_tpl = int(r.integers(len(self.o.templates)))
        ub, down, up = self.template(self._next_tpl % len(self.o.templates))
        self._next_tpl += 1
        t_down = ub * period
        return t_down, 0.0, period - t_down, 0.0, down, up


def stroke_templates(t_s: np.ndarray, height_mm: np.ndarray, *, max_templates: int = 60,
                     max_period_s: float = 1.0, smooth_s: float | None = None) -> list[np.ndarray]:
    """Normalised strokes cut from a real recording, for ``SimOptions(shape="template", templates=...)``.

    Each runs from one top to the next (the highest samples between consecutive bottoms found by the
    core), resampled to TEMPLATE_POINTS in time (0..1) by a cubic through the samples, its ends levelled
    to 0 and its deepest point scaled to -1. Strokes whose recoil overshoots the tops (> 0.15) or whose
    bottom is outside 15-75 % of the cycle are skipped. Why arrays in: the tests read the data files,
    the simulator never does.

    ``smooth_s``: Gaussian smoothing (s.d., seconds) of the resampled stroke; None: half the median sample
    interval. Why: a 30 fps marker trace is quantised to pixels (1-3 mm here), and its sampled minimum is
    often a one-pixel notch below a flat bottom: a shape detail no camera stroke has and no estimator
    could see. At 250 Hz this is 2 ms, i.e. nothing.
    """
    from coach.core.analyzer import analyze  # (the core finds the bottoms; imported here: no cycle)

    t = np.asarray(t_s, float)
    h = np.asarray(height_mm, float)
    res = analyze(t, h)
    ok = ~np.isnan(h)
    if smooth_s is None:
        d = np.diff(t)
        smooth_s = 0.5 * float(np.median(d)) if d.size else 0.0
    out: list[np.ndarray] = []
    cs = res.compressions
    for a, b, c in zip(cs[:-2], cs[1:-1], cs[2:]):
        if not (a.set_index == b.set_index == c.set_index):
            continue
        if b.t_bottom_s - a.t_bottom_s > max_period_s or c.t_bottom_s - b.t_bottom_s > max_period_s:
            continue
        idx = []
        for lo, hi in ((a.t_bottom_s, b.t_bottom_s), (b.t_bottom_s, c.t_bottom_s)):
            m = np.flatnonzero((t > lo) & (t < hi) & ok)
            if m.size == 0:
                break
            idx.append(int(m[np.argmax(h[m])]))
        if len(idx) < 2:
            continue
        i0, i1 = idx
        seg_t, seg_h = t[i0 : i1 + 1], h[i0 : i1 + 1]
        if np.isnan(seg_h).any() or seg_h.size < 5:
            continue
        u = (seg_t - seg_t[0]) / (seg_t[-1] - seg_t[0])
        y = _catmull_rom(u, seg_h, np.linspace(0.0, 1.0, TEMPLATE_POINTS))
        sig = smooth_s / (seg_t[-1] - seg_t[0]) * (TEMPLATE_POINTS - 1)  # in grid steps
        if sig > 0.5:
            k = np.arange(-int(3 * sig) - 1, int(3 * sig) + 2)
            g = np.exp(-0.5 * (k / sig) ** 2)
            y = np.convolve(np.pad(y, k.size // 2, mode="edge"), g / g.sum(), mode="valid")
        y = y - (y[0] + (y[-1] - y[0]) * np.linspace(0.0, 1.0, TEMPLATE_POINTS))
        depth = -float(y.min())
        if depth <= 0:
            continue
        y = y / depth
        ub = int(np.argmin(y)) / (TEMPLATE_POINTS - 1)
        if y.max() > 0.15 or not 0.15 <= ub <= 0.75:
            continue
        out.append(y)
        if len(out) >= max_templates:
            break
    return out


def _catmull_rom(x: np.ndarray, y: np.ndarray, xq: np.ndarray) -> np.ndarray:
    """Cubic Hermite interpolation with centred-difference slopes (NumPy only)."""
    m = np.gradient(y, x)
    i = np.clip(np.searchsorted(x, xq, side="right") - 1, 0, x.size - 2)
    h = x[i + 1] - x[i]
    s = (xq - x[i]) / h
    s2, s3 = s * s, s * s * s
    return ((2 * s3 - 3 * s2 + 1) * y[i] + (s3 - 2 * s2 + s) * h * m[i] + (-2 * s3 + 3 * s2) * y[i + 1]
            + (s3 - s2) * h * m[i + 1])


def _smooth_noise(rng: np.random.Generator, t: np.ndarray, period_s: float) -> np.ndarray:
    """Zero-mean, unit-amplitude slow wander: a few random low-frequency sinusoids."""
    out = np.zeros_like(t)
    for k in range(3):
        f = (1.0 + k) / period_s * rng.uniform(0.7, 1.3)
        out += rng.normal(0, 1.0 / (1 + k)) * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    return out / 1.5


# --------------------------------------------------------------- generation
def simulate(options: SimOptions | None = None) -> SimTrace:
    """Generate one seeded session (deterministic for a given SimOptions)."""
    o = options or SimOptions()
    if o.fps <= 0 or o.duration_s <= 0:
        raise ValueError("SimOptions: fps and duration_s must be positive")
    prof = load_profile(o.profile)
    rng = np.random.default_rng(o.seed)
    alpha = float(rng.uniform(0.0, 0.5))
    shapes = _Shapes(alpha)
    shaper = _StrokeShaper(o, o.seed, shapes)

    per_set = o.compressions_per_set
    if per_set is None:
        per_set = prof.ratio.compressions if prof.ratio is not None else 10**9
    rate_mean = o.rate_cpm if o.rate_cpm is not None else prof.rate_target_cpm + rng.normal(0, 5)
    depth_mean = o.depth_mm if o.depth_mm is not None else 0.5 * (prof.depth_mm.min + prof.depth_mm.max) + rng.normal(0, 2.5)
    rate_phase = rng.uniform(0, 2 * np.pi)
    rate_period = rng.uniform(40, 90)
    duty_phase = rng.uniform(0, 2 * np.pi)
    end_t = o.duration_s  # relative time (t0 added at the end)

    step_times: list[float] = []  # mid-pause times, where the rest may step (rest_step_mm)
    tl = _Timeline(0.0, float(rng.uniform(*o.lift_mm)) * 0.5)
    # before CPR: hands hover above the chest, then land on it
    d0 = float(rng.uniform(*o.first_delay_s))
    land = float(rng.uniform(0.25, 0.5))
    hover = max(d0 - land - 0.3, 0.2)
    tl.to(hover * 0.5, tl.y + float(rng.uniform(-15, 15)))
    tl.hold(hover * 0.5)
    tl.to(land, 0.0)
    tl.hold(max(d0 - tl.t, 0.1))

    comps: list[dict] = []
    set_idx = 0
    lean_left = 0
    lean_mm = 0.0
    top = 0.0  # relative level the next stroke starts from
    cpr_minutes = 0.0
    onsets: dict[str, float] = {}  # session time at which fatigue / leaning began
    stop = False
    while not stop:
        set_offset = rng.normal(0, 1.5)
        n_in_set = 0
        while n_in_set < per_set:
            t_on = tl.t
            r = rate_mean + o.rate_drift_cpm * math.sin(2 * np.pi * t_on / rate_period + rate_phase)
            if set_idx > 0 and o.set_start_rate_cpm:
                r += o.set_start_rate_cpm * math.exp(-n_in_set / 3.0)
            period = 60.0 / max(r, 20.0) * (1.0 + rng.normal(0, o.rate_jitter))
            duty = o.duty_cycle + o.duty_sd * math.sin(2 * np.pi * t_on / 23.0 + duty_phase) + rng.normal(0, o.duty_sd * 0.25)
            t_down, t_bot, t_up, t_hold, code_down, code_up = shaper.stroke(
                period, duty, o.top_hold_frac * period * float(rng.uniform(0.5, 1.5)), o.bottom_hold_frac * period)
            if t_on + t_down + t_bot + t_up + 1.5 > end_t:  # the session ends with >= 1.5 s of rest
                stop = True
                break
            if rng.random() < o.shallow_prob:
                depth = float(rng.uniform(*o.shallow_mm))
            else:
                fatigue = min(o.fatigue_mm_per_min * max(cpr_minutes - o.fatigue_onset_min, 0.0), o.fatigue_max_mm)
                depth = depth_mean + set_offset - fatigue + rng.normal(0, o.depth_sd_mm)
                depth = float(max(depth, 8.0))
            for key, onset_min in (("fatigue_onset_t_s", o.fatigue_onset_min), ("lean_onset_t_s", o.lean_onset_min)):
                if key not in onsets and cpr_minutes >= onset_min:
                    onsets[key] = t_on + o.t0_s
            if lean_left == 0 and rng.random() < o.lean_prob and cpr_minutes >= o.lean_onset_min:
                lean_left = int(rng.integers(o.lean_run[0], o.lean_run[1] + 1))
                lean_mm = float(rng.uniform(*o.lean_mm))
            residual = lean_mm * float(rng.uniform(0.8, 1.2)) if lean_left > 0 else 0.0
            lean_left = max(lean_left - 1, 0)
            residual = min(residual, 0.3 * depth)  # leaning keeps a real stroke
            top_before = top
            bottom = -depth
            tl.to(t_down, bottom, code_down)
            tl.hold(t_bot)
            tl.to(t_up, -residual, code_up)
            tl.hold(t_hold)
            # truth by the core's conventions (relative levels; rest = 0)
            ref_before = min(top_before, 0.0)
            start_frac = START_FRACTION * (ref_before - bottom) / max(top_before - bottom, 1e-9)
            # the centre (the rate's clock): the crossings of half the depth below the rest, down and up
            half = 0.5 * bottom
            mid_down = t_on + t_down * shapes.inv(code_down, (top_before - half) / max(top_before - bottom, 1e-9))
            mid_up = t_on + t_down + t_bot + t_up * shapes.inv(code_up, (half - bottom) / max(-residual - bottom, 1e-9))
            comps.append(
                dict(
                    set_index=set_idx,
                    t_start=t_on + t_down * shapes.inv(code_down, start_frac),
                    t_bottom=t_on + t_down + 0.5 * t_bot,
                    t_release=t_on + t_down + t_bot + t_up * shapes.inv(code_up, RELEASE_FRACTION),
                    t_top=t_on + t_down + t_bot + t_up,
                    t_mid=0.5 * (mid_down + mid_up),
                    depth=depth,
                    residual=residual,
                )
            )
            top = -residual
            cpr_minutes += period / 60.0
            n_in_set += 1
        if stop:
            break
        # ventilation pause: release -> lift -> head -> breaths -> back -> land -> onset
        if prof.ratio is None and per_set >= 10**9:
            break
        if rng.random() < o.long_pause_prob:
            pause = float(rng.uniform(prof.pause_max_s + 1.0, prof.pause_max_s + 5.0))
        else:
            pause = float(rng.uniform(*o.pause_s))
        last_release = comps[-1]["t_release"] if comps else tl.t
        pause_end = last_release + pause
        if pause_end + 1.0 > end_t:
            stop = True
            break
        step_times.append(last_release + 0.5 * pause)  # (the hands are off the chest by then)
        lift = float(rng.uniform(*o.lift_mm))
        head = float(rng.uniform(*o.head_mm))
        tl.to(float(rng.uniform(0.35, 0.6)), lift)
        tl.to(float(rng.uniform(0.5, 0.9)), head)
        t_back_up = float(rng.uniform(0.4, 0.7))
        t_land = float(rng.uniform(0.3, 0.5))
        t_rest = float(rng.uniform(*o.return_rest_s))
        breathe = pause_end - tl.t - t_back_up - t_land - t_rest
        if breathe < 0.5:  # a short pause: skip the head, just lift and land
            tl.pieces.pop()
            tl.t, tl.y = tl.pieces[-1][1], tl.pieces[-1][3]
            breathe = pause_end - tl.t - t_land - t_rest
            tl.hold(max(breathe, 0.05))
        else:
            n_b = 2
            for _ in range(n_b):
                amp = float(rng.uniform(5, 15))
                seg = breathe / (2 * n_b)
                tl.to(seg, head + amp)
                tl.to(seg, head)
            tl.to(t_back_up, float(rng.uniform(*o.lift_mm)) * 0.6)
        tl.to(t_land, 0.0)
        tl.hold(max(pause_end - tl.t, 0.05))
        top = 0.0
        set_idx += 1
    tl.hold(max(end_t - tl.t, 0.0) + 1.0)

    # ---------------------------------------------------------- sampling
    n_max = int(end_t * o.fps * 1.6) + 16
    dt = (1.0 / o.fps) * np.clip(1.0 + o.jitter * rng.standard_normal(n_max), 0.5, 1.5)
    t_rel = np.concatenate([[0.0], np.cumsum(dt)])
    t_rel = t_rel[t_rel <= end_t]
    keep = rng.random(t_rel.size) >= o.frame_drop_prob
    keep[0] = True
    t_rel = t_rel[keep]
    y = tl.evaluate(t_rel, shapes)
    ph1, ph2 = rng.uniform(0, 2 * np.pi, 2)
    w = 2 * np.pi / o.drift_period_s
    drift = o.drift_mm * (0.7 * np.sin(w * t_rel + ph1) + 0.3 * np.sin(2 * w * t_rel + ph2))
    rest = o.rest_mm + drift + _rest_steps(o, step_times, t_rel)
    clean = rest + y
    meas = clean.copy()
    if o.tremor_mm > 0:
        f1, f2 = rng.uniform(8, 12, 2)
        meas += o.tremor_mm * (np.sin(2 * np.pi * f1 * t_rel + rng.uniform(0, 6.3)) + 0.5 * np.sin(2 * np.pi * f2 * t_rel + rng.uniform(0, 6.3))) / 1.5
    if o.noise_mm > 0:
        meas += rng.normal(0, o.noise_mm, t_rel.size)
    if o.quantum_mm > 0:
        meas = np.round(meas / o.quantum_mm) * o.quantum_mm
    n = t_rel.size
    n_spk = rng.poisson(o.spike_rate_hz * end_t) if o.spike_rate_hz > 0 else 0
    spikes = np.unique(rng.integers(2, max(n - 2, 3), n_spk)) if n_spk and n > 6 else np.zeros(0, int)
    if spikes.size:  # single-frame: never two adjacent
        spikes = spikes[np.concatenate([[True], np.diff(spikes) > 2])]
        meas[spikes] += rng.choice([-1.0, 1.0], spikes.size) * rng.uniform(*o.spike_mm, spikes.size)
    drop = np.zeros(n, bool)
    n_do = rng.poisson(o.dropout_rate_hz * end_t) if o.dropout_rate_hz > 0 else 0
    for _ in range(n_do):
        a = float(rng.uniform(0, end_t))
        drop |= (t_rel >= a) & (t_rel < a + float(rng.uniform(*o.dropout_s)))
    drop[0] = False
    meas[drop] = np.nan
    # (a spike inside a dropout is simply lost)
    spikes = spikes[~drop[spikes]] if spikes.size else spikes

    placement = _placement(rng, t_rel, comps, o)

    # -------------------------------------------------------- truth objects
    t_first = float(t_rel[0])
    t_last = float(t_rel[-1])
    truth: list[Compression] = []
    for i, c in enumerate(comps):
        if c["t_release"] > t_last:
            break
        prev = comps[i - 1] if i > 0 and comps[i - 1]["set_index"] == c["set_index"] else None
        rate = 60.0 / (c["t_mid"] - prev["t_mid"]) if prev else math.nan
        duty = (c["t_bottom"] - c["t_start"]) / (c["t_release"] - c["t_start"])
        truth.append(
            Compression(
                index=i,
                set_index=c["set_index"],
                t_start_s=c["t_start"] + o.t0_s,
                t_bottom_s=c["t_bottom"] + o.t0_s,
                t_release_s=c["t_release"] + o.t0_s,
                depth_mm=c["depth"],
                rate_cpm=rate,
                duty_cycle=duty,
                recoil_residual_mm=c["residual"],
                flags=compression_flags(c["depth"], rate, c["residual"], prof),
                t_mid_s=c["t_mid"] + o.t0_s,
            )
        )
    truth_t = tuple(truth)
    pauses_t, sets_t = _truth_pauses_sets(truth_t, t_first + o.t0_s, t_last + o.t0_s, prof)
    return SimTrace(
        options=o,
        t_s=t_rel + o.t0_s,
        height_mm=meas,
        clean_height_mm=clean,
        rest_mm=rest,
        placement_mm=placement,
        truth=truth_t,
        pauses=pauses_t,
        sets=sets_t,
        spike_index=spikes,
        dropout_mask=drop,
        extra={"shape": o.shape, "shape_alpha": alpha, "rate_mean_cpm": rate_mean, "depth_mean_mm": depth_mean, **onsets},
    )


def _rest_steps(o: SimOptions, step_times: list, t: np.ndarray) -> np.ndarray:
    """The rest's per-set offset (0 in the first set): a new N(0, rest_step_mm) level after each pause, reached over
    0.3 s around the pause's middle, while the hands are off the chest."""
    out = np.zeros(t.size)
    if o.rest_step_mm <= 0 or not step_times:
        return out
    r = np.random.default_rng([o.seed, 0x5E7])
    level = 0.0
    for ts in step_times:
        new = float(r.normal(0.0, o.rest_step_mm))
        out += (new - level) * np.clip((t - ts) / 0.3 + 0.5, 0.0, 1.0)
        level = new
    return out


def _truth_pauses_sets(truth: tuple[Compression, ...], t_first: float, t_last: float, prof: Profile):
    pauses: list[Pause] = []
    sets: list[CompressionSet] = []
    if not truth:
        return (Pause(t_first, t_last, "initial", t_last - t_first > prof.pause_max_s),), ()
    pauses.append(Pause(t_first, truth[0].t_start_s, "initial", truth[0].t_start_s - t_first > prof.pause_max_s))
    by_set: dict[int, list[Compression]] = {}
    for c in truth:
        by_set.setdefault(c.set_index, []).append(c)
    keys = sorted(by_set)
    for k in keys:
        cs = by_set[k]
        rates = [c.rate_cpm for c in cs if math.isfinite(c.rate_cpm)]
        sets.append(
            CompressionSet(
                index=k,
                start_s=cs[0].t_start_s,
                end_s=cs[-1].t_release_s,
                count=len(cs),
                mean_rate_cpm=float(np.mean(rates)) if rates else math.nan,
                mean_depth_mm=float(np.mean([c.depth_mm for c in cs])),
            )
        )
    for a, b in zip(keys[:-1], keys[1:]):
        s, e = by_set[a][-1].t_release_s, by_set[b][0].t_start_s
        pauses.append(Pause(s, e, "ventilation" if prof.ratio is not None else "hands_off", e - s > prof.pause_max_s))
    pauses.append(Pause(truth[-1].t_release_s, t_last, "final", t_last - truth[-1].t_release_s > prof.pause_max_s))
    return tuple(pauses), tuple(sets)


def _placement(rng, t, comps, o: SimOptions) -> np.ndarray:
    """Hand offset along the body axis: slow wander, new offset per set, occasional drifts off-centre."""
    n = t.size
    if n == 0:
        return np.zeros(0)
    out = o.placement_sd_mm * _smooth_noise(rng, t, 12.0) * 0.6
    sets: dict[int, list[float]] = {}
    for c in comps:
        sets.setdefault(c["set_index"], []).append(c["t_start"])
    for ts in sets.values():
        a, b = ts[0], ts[-1]
        m = (t >= a) & (t <= b)
        out[m] += rng.normal(0, o.placement_sd_mm)
        if rng.random() < o.placement_drift_prob and b - a > 10:
            t0 = float(rng.uniform(a, b - 8))
            amp = float(rng.uniform(*o.placement_drift_mm)) * rng.choice([-1.0, 1.0])
            ramp, hold, back = 4.0, float(rng.uniform(3, 6)), 1.5
            u = np.clip((t - t0) / ramp, 0, 1) - np.clip((t - t0 - ramp - hold) / back, 0, 1)
            out += amp * u
    return out
