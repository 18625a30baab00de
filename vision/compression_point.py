"""One compression point per frame: where the hands push on the chest (NumPy only).

During CPR the hands are stacked, fingers often interlaced, and MediaPipe
reports one hand in some frames and two in others. The point must not jump
when that count flickers, and a second person's hand entering the frame must
not hijack it. So:

* each hand gives an *anchor*: the heel of the hand (between wrist and palm
  centre), the part that pushes;
* two hands whose anchors are close are a stacked *pair*; the point is their
  mean. Each hand also keeps a learned offset to that mean, so when only one
  hand is seen the point is "that hand + its offset": the same spot;
* the point is gated: a hand is used only if its implied point lies within
  ``gate_base_palm`` palm sizes of the last point, plus what CPR motion can
  cover since then (``max_speed_palm_per_s``), capped at ``gate_max_palm``
  because compressions move the hands less than a palm. Anything else is
  rejected, however long it stays;
* after ``reacquire_after_ms`` without a valid point the tracker looks anew,
  preferring stacked pairs, inside ``roi_px`` when given (the chest), and only
  trusts a location seen in ``acquire_confirm_frames`` consecutive frames.

Sizes are in palm sizes (the largest rigid palm chord in px), so the same
options work at any resolution and camera distance.

The result also carries the used hands' landmarks, world landmarks and a
per-hand pixels-per-metre scale as plain arrays, for calibration's
"no marker" fallback.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vision import hand_geometry as hg
from vision.observations import HandObservation, HandTrackingResult

STATUS_PAIR = "pair"  # two stacked hands used
STATUS_SINGLE = "single"  # one hand used, with its learned offset when known
STATUS_ACQUIRING = "acquiring"  # a candidate location, not yet confirmed
STATUS_GATED = "gated"  # hands present but none plausible: ignored
STATUS_LOST = "lost"  # no hands


@dataclass
class CompressionPointOptions:
    """Options of ``CompressionPointTracker``. Distances in palm sizes, times in ms."""

    anchor: str = "heel"  # "heel" (pushing part of the hand) | "palm" (palm centre)
    heel_fraction: float = hg.HEEL_FRACTION
    contact_max_palm: float = 0.8  # two anchors closer than this are a stacked pair
    gate_base_palm: float = 0.6  # always-allowed distance from the last point
    max_speed_palm_per_s: float = 6.0  # plus this per second since the last valid point (CPR peaks ~4.5)
    gate_max_palm: float = 1.2  # ... but never more: compressions move the hands < 1 palm, intruders are farther
    reacquire_after_ms: int = 1000  # no valid point for this long: search anew
    acquire_confirm_frames: int = 2  # a new location must persist this many frames
    offset_alpha: float = 0.3  # learning rate of the per-hand offsets to the pair mean
    min_confidence: float = 0.3  # below this the point is reported but not valid
    roi_px: tuple[float, float, float, float] | None = None  # (re)acquire only inside this region
    label_penalty_palm: float = 0.05  # hand-to-slot matching: handedness only breaks ties (it flickers when stacked)


@dataclass(frozen=True, eq=False)
class CompressionPoint:
    """The compression point of one frame.

    ``xy_px`` is the last known point when this frame has none (``valid`` is
    then False); NaN before the first acquisition. ``n_hands`` counts the hands
    used; ``n_rejected`` those present but gated out.
    """

    t_ms: int
    xy_px: np.ndarray
    confidence: float
    n_hands: int
    valid: bool
    status: str = STATUS_LOST
    n_rejected: int = 0
    palm_size_px: float = float("nan")  # smoothed palm size of the tracked hands
    anchors_px: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))  # (n, 2) anchors of the used hands
    landmarks_px: np.ndarray = field(default_factory=lambda: np.zeros((0, 21, 3)))  # (n, 21, 3) used hands
    world_landmarks_m: np.ndarray = field(default_factory=lambda: np.zeros((0, 21, 3)))  # (n, 21, 3) used hands

    @property
    def px_per_m_per_hand(self) -> np.ndarray:
        """(n,) image scale at each used hand from its world landmarks (pixels per metre)."""
        if self.n_hands == 0:
            return np.zeros(0)
        return np.atleast_1d(hg.px_per_m(self.landmarks_px, self.world_landmarks_m))

    @property
    def px_per_m(self) -> float:
        """Image scale at the hands (median over used hands): calibration's no-marker fallback; NaN without hands."""
        s = self.px_per_m_per_hand
        s = s[np.isfinite(s)]
        return float(np.median(s)) if s.size else float("nan")

    def to_dict(self) -> dict[str, Any]:
        def num(x: float) -> float | None:
            return float(x) if np.isfinite(x) else None

        return {
            "t_ms": int(self.t_ms),
            "xy_px": [num(v) for v in self.xy_px],
            "confidence": float(self.confidence),
            "n_hands": int(self.n_hands),
            "valid": bool(self.valid),
            "status": self.status,
            "n_rejected": int(self.n_rejected),
            "palm_size_px": num(self.palm_size_px),
            "px_per_m": num(self.px_per_m),
        }


@dataclass
class _Slot:
    """One tracked hand: its offset to the pair mean (the implied point is anchor + offset)."""

    offset: np.ndarray
    label: str
    has_offset: bool = False


@dataclass
class _Candidate:
    xy: np.ndarray
    count: int
    t_ms: int


class CompressionPointTracker:
    """Turn per-frame hand observations into one stable compression point."""

    def __init__(self, options: CompressionPointOptions | None = None) -> None:
        self.options = options or CompressionPointOptions()
        if self.options.anchor not in ("heel", "palm"):
            raise ValueError(f"anchor must be 'heel' or 'palm', not {self.options.anchor!r}")
        self.reset()

    def reset(self) -> None:
        self._xy: np.ndarray | None = None
        self._t_valid: int | None = None
        self._slots: list[_Slot] = []
        self._size: float | None = None
        self._cand: _Candidate | None = None

    # ---- per hand ---------------------------------------------------------
    def _anchor(self, h: HandObservation) -> np.ndarray:
        lm = h.landmarks_px[:, :2]
        if self.options.anchor == "palm":
            return hg.palm_centre(lm)
        return hg.heel_point(lm, self.options.heel_fraction)

    def _point(self, t_ms, xy, conf, used, anchors, status, n_rejected, size: float | None = None) -> CompressionPoint:
        """``size``: the palm size to report (default: the tracked one)."""
        size = self._size if size is None else size
        valid = status in (STATUS_PAIR, STATUS_SINGLE) and conf >= self.options.min_confidence
        if used:
            lms = np.stack([h.landmarks_px for h in used])
            world = np.stack([h.world_landmarks_m for h in used])
            anc = np.asarray(anchors, dtype=float).reshape(-1, 2)
        else:
            lms = world = np.zeros((0, 21, 3))
            anc = np.zeros((0, 2))
        return CompressionPoint(
            t_ms=int(t_ms),
            xy_px=np.array(xy, dtype=float) if xy is not None else np.full(2, np.nan),
            confidence=float(conf),
            n_hands=len(used),
            valid=bool(valid),
            status=status,
            n_rejected=int(n_rejected),
            palm_size_px=float(size) if size else float("nan"),
            anchors_px=anc,
            landmarks_px=lms,
            world_landmarks_m=world,
        )

    @staticmethod
    def _score(h: HandObservation) -> float:
        return float(h.score) if np.isfinite(h.score) else 0.5

    # ---- update -------------------------------------------------------------
    def update(self, result: HandTrackingResult) -> CompressionPoint:
        """Feed one frame's hands; returns that frame's compression point."""
        o = self.options
        t = int(result.t_ms)
        hands = list(result.hands)
        anchors = [self._anchor(h) for h in hands]
        sizes = [max(h.palm_size_px, 1.0) for h in hands]
        tracking = self._xy is not None and self._t_valid is not None and t - self._t_valid <= o.reacquire_after_ms
        if tracking:
            return self._track(t, hands, anchors, sizes)
        return self._acquire(t, hands, anchors, sizes)

    def _track(self, t: int, hands, anchors, sizes) -> CompressionPoint:
        o = self.options
        assert self._xy is not None and self._t_valid is not None and self._size is not None
        size = self._size
        dt_s = max(t - self._t_valid, 0) / 1000.0
        radius = size * min(o.gate_base_palm + o.max_speed_palm_per_s * dt_s, o.gate_max_palm)
        # Distance of each hand's implied point (anchor + best slot offset) from the current point.
        cands = []
        offsets = [s.offset for s in self._slots] or [np.zeros(2)]
        for i, a in enumerate(anchors):
            d = min(float(np.linalg.norm(a + off - self._xy)) for off in offsets)
            if d <= radius:
                cands.append((d, i))
        cands.sort()
        accepted = [i for _, i in cands[:2]]
        n_rejected = len(hands) - len(accepted)
        if not accepted:
            status = STATUS_GATED if hands else STATUS_LOST
            return self._point(t, self._xy, 0.0, [], [], status, n_rejected)
        pair = len(accepted) == 2 and np.linalg.norm(anchors[accepted[0]] - anchors[accepted[1]]) <= o.contact_max_palm * size
        if not pair:
            accepted = accepted[:1]  # two hands apart: the nearer one is ours
            n_rejected = len(hands) - 1
        slots = self._assign(accepted, hands, anchors)
        if pair:
            mean = (anchors[accepted[0]] + anchors[accepted[1]]) / 2.0
            for i, s in zip(accepted, slots):
                target = mean - anchors[i]
                s.offset = s.offset + o.offset_alpha * (target - s.offset)
                s.has_offset = True
        implied = [anchors[i] + s.offset for i, s in zip(accepted, slots)]
        xy = np.mean(implied, axis=0)
        for i, s in zip(accepted, slots):
            s.label = hands[i].handedness
        d = float(np.linalg.norm(xy - self._xy))
        self._xy = xy
        self._t_valid = t
        self._size = 0.8 * size + 0.2 * float(np.mean([sizes[i] for i in accepted]))
        quality = 1.0 if pair else (0.9 if slots[0].has_offset else 0.7)
        score = float(np.mean([self._score(hands[i]) for i in accepted]))
        conf = score * quality * (1.0 - 0.5 * min(d / max(radius, 1e-6), 1.0))
        used = [hands[i] for i in accepted]
        return self._point(t, xy, conf, used, [anchors[i] for i in accepted], STATUS_PAIR if pair else STATUS_SINGLE, n_rejected)

    def _assign(self, accepted: list[int], hands, anchors) -> list[_Slot]:
        """Match accepted hands to slots (nearest implied point, handedness as tie-break); new hands get new slots.

        A new slot starts with the offset that puts its implied point on the
        current point, so a second hand appearing does not make the point jump;
        the offsets then converge to the pair mean.
        """
        o = self.options
        size = self._size or 1.0
        assert self._xy is not None

        def cost(i: int, s: _Slot) -> float:
            # Where this slot's hand should be if it moved with the point: robust to stale anchors.
            c = float(np.linalg.norm(anchors[i] + s.offset - self._xy))
            if hands[i].handedness != s.label:
                c += o.label_penalty_palm * size
            return c

        out: list[_Slot | None] = [None] * len(accepted)
        free = list(self._slots)
        if len(accepted) == 2 and len(free) >= 2:
            a, b = free[0], free[1]
            if cost(accepted[0], a) + cost(accepted[1], b) <= cost(accepted[0], b) + cost(accepted[1], a):
                out = [a, b]
            else:
                out = [b, a]
        else:
            # Greedy: best (hand, slot) pairs first.
            pairs = sorted((cost(i, s), k, j) for k, i in enumerate(accepted) for j, s in enumerate(free))
            used_slots: set[int] = set()
            for _, k, j in pairs:
                if out[k] is None and j not in used_slots:
                    out[k] = free[j]
                    used_slots.add(j)
        for k, i in enumerate(accepted):
            if out[k] is None:
                s = _Slot(offset=self._xy - anchors[i], label=hands[i].handedness, has_offset=False)
                self._slots.append(s)
                out[k] = s
        if len(self._slots) > 2:  # keep the two most recently used
            keep = [s for s in out if s is not None]
            self._slots = keep + [s for s in self._slots if s not in keep][: 2 - len(keep)]
        return [s for s in out if s is not None]

    def _acquire(self, t: int, hands, anchors, sizes) -> CompressionPoint:
        o = self.options
        if not hands:
            self._cand = None
            return self._point(t, self._xy, 0.0, [], [], STATUS_LOST, 0)
        # Clusters: stacked pairs first (the CPR signature), then single hands.
        clusters: list[tuple[int, float, list[int]]] = []  # (priority, score, hand indices)
        n = len(hands)
        for i in range(n):
            for j in range(i + 1, n):
                s = 0.5 * (sizes[i] + sizes[j])
                if np.linalg.norm(anchors[i] - anchors[j]) <= o.contact_max_palm * s:
                    clusters.append((0, -(self._score(hands[i]) + self._score(hands[j])) / 2, [i, j]))
        for i in range(n):
            clusters.append((1, -self._score(hands[i]), [i]))
        if o.roi_px is not None:
            x0, y0, x1, y1 = o.roi_px
            clusters = [c for c in clusters if all(x0 <= anchors[i][0] <= x1 and y0 <= anchors[i][1] <= y1 for i in c[2])]
        if not clusters:
            self._cand = None
            return self._point(t, self._xy, 0.0, [], [], STATUS_GATED, n)
        clusters.sort(key=lambda c: (c[0], c[1]))
        idx = clusters[0][2]
        xy = np.mean([anchors[i] for i in idx], axis=0)
        size = float(np.mean([sizes[i] for i in idx]))
        if self._cand is not None and np.linalg.norm(xy - self._cand.xy) <= o.gate_base_palm * size + o.max_speed_palm_per_s * size * max(t - self._cand.t_ms, 0) / 1000.0:
            self._cand = _Candidate(xy, self._cand.count + 1, t)
        else:
            self._cand = _Candidate(xy, 1, t)
        used = [hands[i] for i in idx]
        score = float(np.mean([self._score(h) for h in used]))
        if self._cand.count < o.acquire_confirm_frames:
            return self._point(t, xy, 0.5 * score, used, [anchors[i] for i in idx], STATUS_ACQUIRING, n - len(idx),
                               size=size if self._size is None else self._size)
        # Confirmed: start a track here.
        self._xy = xy
        self._t_valid = t
        self._size = size
        self._cand = None
        self._slots = []
        for i in idx:
            self._slots.append(_Slot(xy - anchors[i], hands[i].handedness, has_offset=len(idx) == 2))
        pair = len(idx) == 2
        conf = score * (1.0 if pair else 0.7)
        return self._point(t, xy, conf, used, [anchors[i] for i in idx], STATUS_PAIR if pair else STATUS_SINGLE, n - len(idx))
