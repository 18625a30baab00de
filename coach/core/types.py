"""Result types of the NumPy core: the contract every later layer reads.

Why dataclasses with units in every name: the same results feed the CLI JSON,
the coach's feedback rules and the ZeroMQ protocol, and a reader must never
guess whether a number is mm or cm, seconds or frames. JSON is made only at the
edges (``to_dict``); inside, arrays stay NumPy.
"""
from __future__ import annotations

import math
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from typing import Any, Mapping

# Quality flags a compression can carry (strings so JSON and viewers read them as-is).
TOO_SHALLOW = "too_shallow"
TOO_DEEP = "too_deep"
TOO_SLOW = "too_slow"
TOO_FAST = "too_fast"
INCOMPLETE_RECOIL = "incomplete_recoil"
ALL_FLAGS = (TOO_SHALLOW, TOO_DEEP, TOO_SLOW, TOO_FAST, INCOMPLETE_RECOIL)

# Phases of the live signal (CoreState.phase).
PHASE_IDLE = "idle"  # no compression yet, or hands-off / pause
PHASE_DOWN = "down"  # compressing (height falling toward the bottom)
PHASE_UP = "up"  # releasing (height rising toward the rest baseline)
PHASE_OFF = "off"  # hands clearly above the rest baseline: hands-off the chest
PHASE_LOST = "lost"  # no measurement (NaN) for a while


def json_safe(x: Any) -> Any:
    """Plain JSON values, recursively: NaN/inf become null, tuples lists, NumPy scalars Python ones.

    The one JSON cleaner of the project (the CLI files and the ZeroMQ protocol use it):
    JSON is made only at the edges, and JSON has no NaN.
    """
    if isinstance(x, float):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, Mapping):
        return {str(k): json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    if hasattr(x, "item") and callable(x.item):  # NumPy scalars (no NumPy import needed here)
        return json_safe(x.item())
    return x


def from_json_num(x: Any) -> float:
    """JSON null -> NaN (the inverse of json_safe for a float)."""
    return math.nan if x is None else float(x)


def _fields_from(cls, d: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments of ``cls`` from its JSON dict: ints and strings by the field's (string) annotation,
    ``flags`` a tuple, every other field a float (null -> NaN). Keys ``cls`` lacks are ignored, so files from
    newer versions still read; a field the dict lacks takes its default, else NaN / 0 / "" (older files)."""
    kw: dict[str, Any] = {}
    for f in fields(cls):
        v = d.get(f.name)
        if f.name not in d:
            if f.default is not MISSING:
                continue
            v = None
        if f.type == "int":
            kw[f.name] = int(v or 0)
        elif f.type == "str":
            kw[f.name] = "" if v is None else str(v)
        elif f.name == "flags":
            kw[f.name] = tuple(str(x) for x in v)
        else:
            kw[f.name] = from_json_num(v)
    return kw


@dataclass(frozen=True)
class Compression:
    """One compression, measured against the chest's rest baseline.

    Times are in the input's clock (seconds), interpolated below one frame.
    ``rate_cpm`` is 60 / (interval to the previous compression's centre, ``t_mid_s``) and is
    NaN for the first compression of a set, where there is no interval. The centre, midway between the
    crossings of half the depth on the way down and up, and not the bottom: a real bottom is nearly flat, so
    its deepest instant wanders by more than the rhythm does.
    """

    index: int  # 0-based over the whole session
    set_index: int  # 0-based set (sets are separated by ventilation pauses)
    t_start_s: float  # chest leaves the rest position (onset of the downstroke)
    t_bottom_s: float  # deepest point
    t_release_s: float  # back up at the rest position (or at the top, if recoil is incomplete)
    depth_mm: float  # rest baseline minus bottom height
    rate_cpm: float  # instantaneous rate; NaN for the first of a set
    duty_cycle: float  # fraction of the cycle spent compressing (downstroke / cycle)
    recoil_residual_mm: float  # >= 0: how far below the rest baseline the chest stayed at the top
    flags: tuple[str, ...] = ()  # subset of ALL_FLAGS
    gap_s: float = 0.0  # seconds of bridged (missing) signal between start and release; depth is partly estimated
    t_mid_s: float = math.nan  # the stroke's centre: midway between its half-depth crossings (the rate's clock)

    def shifted(self, dt_s: float) -> "Compression":
        """The same compression with every time moved by ``dt_s`` (a script that places a simulated session later
        in its clip). Why here: each caller listing the times itself had to learn of every new one."""
        return replace(self, t_start_s=self.t_start_s + dt_s, t_bottom_s=self.t_bottom_s + dt_s,
                       t_release_s=self.t_release_s + dt_s, t_mid_s=self.t_mid_s + dt_s)

    def to_dict(self) -> dict[str, Any]:
        d = json_safe(asdict(self))
        d["t_s"] = d["t_bottom_s"]  # the CLI schema names the bottom time t_s
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Compression":
        """Inverse of ``to_dict`` (null -> NaN; the optional fields may be absent). KeyError when a timing or
        the depth is missing, TypeError/ValueError when a value is not a number: a malformed record."""
        for name in ("index", "set_index", "t_start_s", "t_bottom_s", "t_release_s", "depth_mm"):
            if name not in d:
                raise KeyError(name)
        return cls(**_fields_from(cls, d))


@dataclass(frozen=True)
class Pause:
    """A stretch with no compressions longer than the normal inter-compression gap."""

    start_s: float  # release of the last compression before the pause (or signal start)
    end_s: float  # start of the first compression after it (or signal end)
    kind: str  # "ventilation" (between sets), "initial" (before the first), "final", "hands_off"
    too_long: bool  # duration > profile pause_max_s

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def to_dict(self) -> dict[str, Any]:
        d = json_safe(asdict(self))
        d["duration_s"] = json_safe(self.duration_s)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Pause":
        """Inverse of ``to_dict``. KeyError when a field is missing."""
        return cls(from_json_num(d["start_s"]), from_json_num(d["end_s"]), str(d["kind"]), bool(d["too_long"]))


@dataclass(frozen=True)
class CompressionSet:
    """A run of compressions between ventilation pauses (one 30:2 cycle)."""

    index: int
    start_s: float
    end_s: float
    count: int
    mean_rate_cpm: float
    mean_depth_mm: float

    def to_dict(self) -> dict[str, Any]:
        return json_safe(asdict(self))


@dataclass(frozen=True)
class SessionSummary:
    """Whole-session CPR quality, the numbers an instructor debriefs with."""

    compressions: int
    duration_s: float
    mean_rate_cpm: float
    median_rate_cpm: float
    mean_depth_mm: float
    median_depth_mm: float
    pct_depth_ok: float  # 0..100
    pct_rate_ok: float  # 0..100
    pct_recoil_ok: float  # 0..100
    ccf: float  # chest compression fraction 0..1
    hands_off_s: float
    time_to_first_s: float  # NaN when there is no compression
    pauses_too_long: int
    sets: int
    profile: str
    mean_duty_cycle: float = math.nan  # mean of the per-compression duty cycles
    mean_recoil_residual_mm: float = math.nan
    ccf_rating: str = ""  # against the profile: "below_min", "ok" (>= min), "goal" (>= goal); "" without compressions

    def to_dict(self) -> dict[str, Any]:
        return json_safe(asdict(self))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "SessionSummary":
        """Inverse of ``to_dict`` (null -> NaN; unknown keys ignored, missing ones take the field's default
        or NaN / 0 / "", so older and newer files both read)."""
        return cls(**_fields_from(cls, d))


@dataclass(frozen=True)
class SessionResult:
    """What batch analysis returns and what streaming accumulates."""

    summary: SessionSummary
    compressions: tuple[Compression, ...]
    pauses: tuple[Pause, ...]
    sets: tuple[CompressionSet, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary.to_dict(),
            "compressions": [c.to_dict() for c in self.compressions],
            "pauses": [p.to_dict() for p in self.pauses],
            "sets": [s.to_dict() for s in self.sets],
        }


@dataclass(frozen=True)
class CoreState:
    """The live view of the signal after the latest pushed sample (for cpr.state)."""

    t_s: float
    height_mm: float  # latest (cleaned) height, NaN when lost
    baseline_mm: float  # tracked rest position, NaN before it is known
    displacement_mm: float  # baseline - height: >0 is compressed, <0 is hands above the chest
    phase: str  # one of the PHASE_* constants
    rate_cpm: float  # current rate (recent compressions), NaN when idle
    last_depth_mm: float  # depth of the last completed compression, NaN before any
    compressions: int  # completed so far
    set_compressions: int  # completed in the current set
    since_last_compression_s: float  # time since the last compression's release, NaN before any
    extra: dict[str, Any] = field(default_factory=dict)
