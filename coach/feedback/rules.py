"""Per-compression verdicts against the guideline profile.

Why verdicts and not prompts: a single compression is noisy evidence. Each
rule says only "low", "high", "ok" or None (no evidence, e.g. the first
compression of a set has no rate); the hysteresis turns runs of verdicts into
prompts. Every threshold comes from the Profile.
"""
from __future__ import annotations

import math

from coach.core.profiles import Profile
from coach.core.types import Compression

Verdict = str | None  # "low" | "high" | "ok" | None


def _band(value: float, lo: float, hi: float) -> Verdict:
    if value is None or not math.isfinite(value):
        return None
    if value < lo:
        return "low"
    if value > hi:
        return "high"
    return "ok"


def depth_verdict(c: Compression, p: Profile) -> Verdict:
    return _band(c.depth_mm, p.depth_mm.min, p.depth_mm.max)


def recoil_verdict(c: Compression, p: Profile) -> Verdict:
    r = c.recoil_residual_mm
    if r is None or not math.isfinite(r):
        return None
    return "high" if r > p.recoil_residual_max_mm else "ok"


def rate_verdict(c: Compression, p: Profile) -> Verdict:
    return _band(c.rate_cpm, p.rate_cpm.min, p.rate_cpm.max)


def placement_verdict(offset_mm: float | None, p: Profile) -> Verdict:
    """Hand offset along the body axis from the target point (+ toward the head)."""
    tol = p.placement_tolerance_mm
    return _band(offset_mm if offset_mm is not None else math.nan, -tol, tol)


def verdicts(c: Compression, p: Profile, placement_mm: float | None = None, posture=None) -> dict[str, Verdict]:
    """All per-compression verdicts, keyed by prompt category.

    ``posture`` is the compression's ``coach.feedback.posture.CompressionPosture``
    (None: no pose evidence, the posture latches hold).
    """
    from .posture import elbow_verdict, shoulder_verdict

    out = {
        "depth": depth_verdict(c, p),
        "recoil": recoil_verdict(c, p),
        "rate": rate_verdict(c, p),
        "placement": placement_verdict(placement_mm, p),
        "elbows": None,
        "shoulders": None,
    }
    if posture is not None and p.posture is not None:
        out["elbows"] = elbow_verdict(posture)
        out["shoulders"] = shoulder_verdict(posture, p.posture)
    return out
