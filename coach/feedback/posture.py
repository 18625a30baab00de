"""Posture judgement: pose frames in, per-compression and per-set posture out.

Why separate from the geometry: ``calibration.posture`` says what the body
looks like in one frame (angles, offsets, confidences); this module says what
that means for coaching, with the profile's bands (``guidelines.json``,
``posture`` block): elbows smoothed over ``smooth_frames`` pose frames (the
component-wise median of the arm's unit vectors: robust to one bad frame, and
a real change wins the window after 3 of 5 frames) are
"good" (locked), "acceptable" or "bent"; shoulders further than
``shoulder_offset_max_mm`` from over the hands are off.

The pose runs at about 10 Hz in its own thread, so a compression (about
0.5 s) spans a handful of pose frames: each compression gets the last smoothed
elbow angle and the median shoulder offset inside its time span (or the last
frame before it, when the pose is late). Verdicts feed the Coach's run latches like any other rule:
bent -> "low" (Lock your elbows), good -> "ok", acceptable -> no evidence (the
latch holds), so the prompt neither flickers nor nags at 150 deg.

    judge = PostureJudge(profile.posture)
    judge.add(measurement, t_s)               # every pose frame
    cp = judge.for_compression(compression)   # CompressionPosture or None
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from calibration.posture import PostureMeasurement, rounded, smoothed_elbow_deg
from coach.core.profiles import PostureThresholds

GOOD, ACCEPTABLE, BENT = "good", "acceptable", "bent"


@dataclass(frozen=True)
class PostureSample:
    """One pose frame after smoothing."""

    t_s: float
    elbow_deg: float  # smoothed, the more bent visible arm; NaN = not visible
    elbow_class: str | None  # good | acceptable | bent | None (not visible / low confidence)
    elbow_confidence: float
    shoulder_offset_front_mm: float
    shoulder_offset_side_mm: float
    offset_confidence: float
    measurement: PostureMeasurement | None = field(default=None, compare=False)

    def to_dict(self) -> dict:
        r = rounded
        d = {
            "elbow_deg": r(self.elbow_deg),
            "elbow_class": self.elbow_class,
            "elbow_visible": self.elbow_class is not None,
            "elbow_confidence": r(self.elbow_confidence, 2),
            "shoulder_offset_front_mm": r(self.shoulder_offset_front_mm),
            "shoulder_offset_side_mm": r(self.shoulder_offset_side_mm),
            "offset_confidence": r(self.offset_confidence, 2),
        }
        if self.measurement is not None:
            m = self.measurement
            d["elbow_deg_lr"] = [r(a) for a in m.elbow_deg]
            d["lean_deg"] = r(m.lean_deg)
            d["frame"] = m.frame
        return d


@dataclass(frozen=True)
class CompressionPosture:
    """Posture during one compression."""

    elbow_deg: float  # NaN: not visible
    elbow_class: str | None
    elbows_locked: bool | None  # None: no evidence
    shoulder_offset_front_mm: float
    shoulder_offset_side_mm: float
    shoulder_offset_mm: float  # horizontal distance from over the hands
    confidence: float
    samples: int

    def to_dict(self) -> dict:
        r = rounded
        return {
            "elbow_deg": r(self.elbow_deg),
            "elbow_class": self.elbow_class,
            "elbows_locked": self.elbows_locked,
            "shoulder_offset_front_mm": r(self.shoulder_offset_front_mm),
            "shoulder_offset_side_mm": r(self.shoulder_offset_side_mm),
            "shoulder_offset_mm": r(self.shoulder_offset_mm),
            "confidence": r(self.confidence, 2),
            "samples": self.samples,
        }


def classify_elbow(angle_deg: float, th: PostureThresholds) -> str | None:
    """good / acceptable / bent by the profile's bands; None for NaN."""
    if not math.isfinite(angle_deg):
        return None
    if angle_deg >= th.elbow_good_min_deg:
        return GOOD
    if angle_deg < th.elbow_bent_below_deg:
        return BENT
    return ACCEPTABLE


def elbow_verdict(cp: CompressionPosture | None) -> str | None:
    """Run-latch verdict: bent -> "low", good -> "ok", acceptable/unknown -> None (no evidence)."""
    if cp is None or cp.elbow_class is None:
        return None
    return {BENT: "low", GOOD: "ok"}.get(cp.elbow_class)


def shoulder_verdict(cp: CompressionPosture | None, th: PostureThresholds) -> str | None:
    """Run-latch verdict: shoulders beyond the tolerance -> "high", else "ok"; None without evidence."""
    if cp is None or not math.isfinite(cp.shoulder_offset_mm):
        return None
    return "high" if cp.shoulder_offset_mm > th.shoulder_offset_max_mm else "ok"


class PostureJudge:
    """Smooths pose frames and summarises them per compression and per set."""

    def __init__(self, thresholds: PostureThresholds, *, history_s: float = 10.0) -> None:
        self.th = thresholds
        self.history_s = float(history_s)
        n = max(1, thresholds.smooth_frames)
        self._vectors: tuple[deque, deque] = (deque(maxlen=n), deque(maxlen=n))  # per arm, (2, 3) unit vectors
        self._samples: deque[PostureSample] = deque()
        self._sets: dict[int, list[CompressionPosture]] = {}

    @property
    def latest(self) -> PostureSample | None:
        return self._samples[-1] if self._samples else None

    def add(self, m: PostureMeasurement, t_s: float) -> PostureSample:
        """One pose frame (in time order). Low-confidence elbows are no evidence and do not enter the smoother."""
        th = self.th
        vecs = m.extra.get("arm_vectors")
        arms, confs = [], []
        for arm in (0, 1):
            seen = m.elbow_visible[arm] and m.elbow_confidence[arm] >= th.min_confidence and vecs is not None
            if seen:
                self._vectors[arm].append(np.asarray(vecs[arm]))
                arms.append(smoothed_elbow_deg(list(self._vectors[arm]), median=True))
                confs.append(m.elbow_confidence[arm])
            else:
                self._vectors[arm].clear()  # a gap restarts the smoother: never average across "not visible"
        smoothed = float(min(arms)) if arms else math.nan
        el_conf = float(min(confs)) if confs else 0.0
        off_ok = m.offset_confidence >= th.min_confidence
        s = PostureSample(
            t_s=float(t_s),
            elbow_deg=smoothed,
            elbow_class=classify_elbow(smoothed, th),
            elbow_confidence=el_conf,
            shoulder_offset_front_mm=m.shoulder_offset_front_mm if off_ok else math.nan,
            shoulder_offset_side_mm=m.shoulder_offset_side_mm if off_ok else math.nan,
            offset_confidence=m.offset_confidence if off_ok else 0.0,
            measurement=m,
        )
        self._samples.append(s)
        while self._samples and self._samples[0].t_s < s.t_s - self.history_s:
            self._samples.popleft()
        return s

    def for_compression(self, t_start_s: float, t_end_s: float, set_index: int | None = None) -> CompressionPosture | None:
        """Posture during [t_start_s, t_end_s] (median of the frames inside; else the last within 0.5 s before)."""
        inside = [s for s in self._samples if t_start_s <= s.t_s <= t_end_s]
        if not inside:
            before = [s for s in self._samples if t_start_s - 0.5 <= s.t_s < t_start_s]
            inside = before[-1:]
        if not inside:
            return None
        # Elbows: the last smoothed frame of the span (its window holds the most frames of this
        # compression, so a change shows on the compression it starts on); offsets: the span's median.
        elbow, cls = inside[-1].elbow_deg, inside[-1].elbow_class
        fr = np.array([s.shoulder_offset_front_mm for s in inside])
        sd = np.array([s.shoulder_offset_side_mm for s in inside])
        ok = np.isfinite(fr) & np.isfinite(sd)
        front = float(np.median(fr[ok])) if ok.any() else math.nan
        side = float(np.median(sd[ok])) if ok.any() else math.nan
        confs = [s.elbow_confidence for s in inside] + [s.offset_confidence for s in inside]
        cp = CompressionPosture(
            elbow_deg=elbow,
            elbow_class=cls,
            elbows_locked=None if cls is None else cls == GOOD,
            shoulder_offset_front_mm=front,
            shoulder_offset_side_mm=side,
            shoulder_offset_mm=math.hypot(front, side) if ok.any() else math.nan,
            confidence=float(np.mean(confs)) if confs else 0.0,
            samples=len(inside),
        )
        if set_index is not None:
            self._sets.setdefault(int(set_index), []).append(cp)
        return cp

    def set_summary(self, set_index: int) -> dict:
        """Share of judged compressions with locked elbows and the mean shoulder offset of one set."""
        return summarize(self._sets.get(int(set_index), []))

    def session_summary(self) -> dict:
        """Per set and over the session (for the debrief)."""
        every = [cp for cps in self._sets.values() for cp in cps]
        return {"sets": {str(k): summarize(v) for k, v in sorted(self._sets.items())}, "session": summarize(every)}


def summarize(cps: list[CompressionPosture]) -> dict:
    """{"compressions", "judged", "locked_share", "mean_shoulder_offset_mm"} of some compressions."""
    judged = [cp for cp in cps if cp.elbows_locked is not None]
    offs = [cp.shoulder_offset_mm for cp in cps if math.isfinite(cp.shoulder_offset_mm)]
    return {
        "compressions": len(cps),
        "judged": len(judged),
        "locked_share": round(sum(cp.elbows_locked for cp in judged) / len(judged), 3) if judged else None,
        "mean_shoulder_offset_mm": round(float(np.mean(offs)), 1) if offs else None,
    }
