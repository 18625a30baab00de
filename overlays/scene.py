"""Overlay render primitives for ``cpr.overlay``, in two coordinate spaces.

Why primitives and not pixels: a monitor draws over video, a headset draws
world-locked beside the hands, a web page draws on black. The station decides
*what* to show (gauge, dial, metronome, ring, text and their values); each
client decides *how*. Every primitive carries:

- ``image``: normalised image coordinates (0..1 across width and height, origin
  top-left) — ``center`` [u, v] and ``size`` [w, h] — or null when the point
  is not in view;
- ``world``: manikin-frame metres — ``center_m`` [x, y, z], unit vectors
  ``right`` and ``up`` spanning the primitive's plane, and ``size_m`` [w, h].

The manikin frame (as calibration/manikin.py defines it): origin at the
compression target (centre of the chest, lower half of the sternum) on the chest
surface at rest; +x toward the head along the body axis, +z up out of the chest,
+y = z × x (right-handed: for a supine manikin that is the manikin's right). Metres.

This module knows no feedback rules: its inputs are plain values, so the
overlays layer stays independent of the coach.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from coach.core.profiles import Profile

from .protocol import json_num

Vec3 = tuple[float, float, float]
Projector = Callable[[Vec3], "tuple[float, float] | None"]


@dataclass(frozen=True)
class SceneInputs:
    """What the overlay shows now (plain values; NaN/None where unknown)."""

    t_s: float
    profile: Profile
    displacement_mm: float = math.nan  # live: rest baseline minus height (> 0 compressed)
    last_depth_mm: float = math.nan
    rate_cpm: float = math.nan
    metronome: Mapping[str, Any] | None = None  # MetronomeCue.to_dict()
    prompt: Mapping[str, Any] | None = None  # Prompt.to_dict()
    count_text: str | None = None  # "12 / 30"
    procedure_phase: str | None = None
    hands_off_s: float | None = None
    placement_mm: float | None = None  # hand offset along the body axis (+ toward the head)
    hands_visible: bool = True
    feedback_level: str | None = None  # adaptive coaching level (full/errors/set-summary/none); None: not shown


@dataclass(frozen=True)
class SceneLayout:
    """Where primitives go. Image values are normalised; world values metres."""

    aspect: float = 16 / 9  # width / height of the image the normalised layout assumes
    rescuer_side: str = "right"  # the manikin's side the rescuer kneels at ("right" = +y)
    panel_offset_m: float = 0.28  # from the body axis to the panels, beyond the chest
    panel_lift_m: float = 0.12  # panel centres above the chest surface
    gauge_size_m: tuple[float, float] = (0.06, 0.20)
    dial_radius_m: float = 0.07
    text_height_m: float = 0.035
    # image layout: centre (u, v), size (w, h)
    gauge_image: tuple[float, float, float, float] = (0.075, 0.52, 0.075, 0.56)
    dial_image: tuple[float, float, float] = (0.885, 0.36, 0.17)  # u, v, diameter as a fraction of height
    metronome_image: tuple[float, float, float] = (0.885, 0.68, 0.07)
    prompt_image: tuple[float, float, float] = (0.5, 0.1, 0.095)  # u, v, text height (fraction of height)
    status_image: tuple[float, float, float] = (0.5, 0.25, 0.055)
    count_image: tuple[float, float, float] = (0.885, 0.87, 0.075)
    level_image: tuple[float, float, float] = (0.075, 0.9, 0.04)  # feedback-level badge under the gauge
    ring_image_default: tuple[float, float] = (0.5, 0.62)  # when no projector knows the chest


def top_down_projector(center: tuple[float, float] = (0.5, 0.62), span_m: tuple[float, float] = (1.6, 0.9)) -> Projector:
    """A camera looking straight down at the chest, head at the top of the image.

    Looking down (-z) with the head (+x) up the image, the image's right is -y
    (the manikin's left, as when facing someone). Used by the simulator (whose
    synthetic frames are drawn the same way) and whenever no calibration
    provides a real projection.
    """

    def project(p: Vec3) -> tuple[float, float]:
        x, y, _ = p
        return (center[0] - y / span_m[0], center[1] - x / span_m[1])

    return project


def depth_range_mm(p: Profile) -> tuple[float, float]:
    """Gauge scale: 0 to a third beyond the band's top, rounded up to 10 mm."""
    return (0.0, math.ceil(p.depth_mm.max * 4 / 3 / 10) * 10)


def rate_range_cpm(p: Profile) -> tuple[float, float]:
    """Dial scale: the band plus 1.5 band widths either side."""
    w = p.rate_cpm.max - p.rate_cpm.min
    return (max(0.0, p.rate_cpm.min - 1.5 * w), p.rate_cpm.max + 1.5 * w)


def _panel_frame(layout: SceneLayout) -> tuple[Vec3, Vec3, Vec3]:
    """(base point, right, up) of the panel row: beyond the chest, facing the rescuer.

    A rescuer kneeling at the manikin's right (+y) faces -y, so their right is
    toward the feet (-x); kneeling at the left, their right is toward the head.
    """
    if layout.rescuer_side == "left":
        return ((0.0, layout.panel_offset_m, 0.0), (1.0, 0.0, 0.0), (0.0, 0.0, 1.0))
    return ((0.0, -layout.panel_offset_m, 0.0), (-1.0, 0.0, 0.0), (0.0, 0.0, 1.0))


def _world(center: Vec3, right: Vec3, up: Vec3, size: Sequence[float]) -> dict[str, Any]:
    return {"center_m": [round(c, 4) for c in center], "right": list(right), "up": list(up), "size_m": [round(s, 4) for s in size]}


def _image(center: Sequence[float] | None, size: Sequence[float]) -> dict[str, Any] | None:
    if center is None:
        return None
    return {"center": [round(float(center[0]), 4), round(float(center[1]), 4)], "size": [round(float(s), 4) for s in size]}


def build_overlay(inputs: SceneInputs, layout: SceneLayout = SceneLayout(), project: Projector | None = None) -> dict[str, Any]:
    """The ``cpr.overlay`` body: a list of primitives (see the module docstring)."""
    p = inputs.profile
    base, right, up = _panel_frame(layout)
    lift = layout.panel_lift_m

    def at(across_m: float, height_m: float) -> Vec3:
        """A point of the panel row: ``across_m`` along the rescuer's right, ``height_m`` up."""
        return tuple(round(b + across_m * r + height_m * u, 4) for b, r, u in zip(base, right, up))  # type: ignore[return-value]
    prims: list[dict[str, Any]] = []

    # depth gauge: toward the rescuer's left of the panel row
    gu, gv, gw, gh = layout.gauge_image
    last_ok = None if not math.isfinite(inputs.last_depth_mm) else p.depth_mm.contains(inputs.last_depth_mm)
    # during breaths or a pause the hands are off the chest: no live marker (it would read the hand at the head)
    hands_off = inputs.procedure_phase in ("breaths", "paused")
    prims.append({
        "id": "depth",
        "kind": "depth_gauge",
        "value_mm": None if hands_off else json_num(inputs.displacement_mm),
        "last_mm": json_num(inputs.last_depth_mm),
        "band_mm": [p.depth_mm.min, p.depth_mm.max],
        "range_mm": list(depth_range_mm(p)),
        "ok": last_ok,
        "image": _image((gu, gv), (gw, gh)),
        "world": _world(at(-0.13, lift), right, up, layout.gauge_size_m),
    })

    # rate dial
    du, dv, dd = layout.dial_image
    rate_ok = None if not math.isfinite(inputs.rate_cpm) else p.rate_cpm.contains(inputs.rate_cpm)
    prims.append({
        "id": "rate",
        "kind": "rate_dial",
        "value_cpm": json_num(inputs.rate_cpm),
        "band_cpm": [p.rate_cpm.min, p.rate_cpm.max],
        "target_cpm": p.rate_target_cpm,
        "range_cpm": list(rate_range_cpm(p)),
        "ok": rate_ok,
        "image": _image((du, dv), (dd / layout.aspect, dd)),
        "world": _world(at(0.05, lift + 0.03), right, up, (2 * layout.dial_radius_m, 2 * layout.dial_radius_m)),
    })

    # metronome pulse
    m = dict(inputs.metronome or {})
    mu, mv, md = layout.metronome_image
    prims.append({
        "id": "metronome",
        "kind": "metronome",
        "active": bool(m.get("active", False)),
        "rate_cpm": json_num(m.get("rate_cpm", p.rate_target_cpm)),
        "period_s": json_num(m.get("period_s", 60.0 / p.rate_target_cpm)),
        "phase": json_num(m.get("phase", 0.0)),
        "beat": int(m.get("beat", 0)),
        "next_beat_t_s": json_num(m.get("next_beat_t_s")),
        "image": _image((mu, mv), (md / layout.aspect, md)),
        "world": _world(at(0.16, lift - 0.04), right, up, (0.03, 0.03)),
    })

    # hand-placement target ring, flat on the chest at the target point
    tol_m = p.placement_tolerance_mm / 1000.0
    off = json_num(inputs.placement_mm)
    if project is not None:
        c_img = project((0.0, 0.0, 0.0))
        ex, ey = project((tol_m, 0.0, 0.0)), project((0.0, tol_m, 0.0))
        if c_img is not None and ex is not None and ey is not None:
            # the tolerance circle's extent in the image (an ellipse under perspective)
            ring_size = (2 * max(abs(ey[0] - c_img[0]), abs(ex[0] - c_img[0])),
                         2 * max(abs(ex[1] - c_img[1]), abs(ey[1] - c_img[1])))
        else:
            ring_size = (0.0, 0.0)
        hand_img = project((off / 1000.0, 0.0, 0.0)) if off is not None else None
    else:
        c_img = layout.ring_image_default
        ring_size = (0.08 / layout.aspect, 0.08)
        hand_img = None
    hand_world = [round(off / 1000.0, 4), 0.0, 0.0] if off is not None else None
    prims.append({
        "id": "placement",
        "kind": "placement_ring",
        "offset_mm": off,
        "tolerance_mm": p.placement_tolerance_mm,
        "ok": None if off is None else abs(off) <= p.placement_tolerance_mm,
        "hands_visible": bool(inputs.hands_visible),
        "hand_image": None if hand_img is None else [round(hand_img[0], 4), round(hand_img[1], 4)],
        "hand_world_m": hand_world,
        "image": _image(c_img, ring_size),
        # flat on the chest, drawn as seen from above with the head at the top: up = +x, right = -y
        "world": _world((0.0, 0.0, 0.0), (0.0, -1.0, 0.0), (1.0, 0.0, 0.0), (2 * tol_m, 2 * tol_m)),
    })

    # text: the prompt, a status line and the set count
    pr = inputs.prompt
    tu, tv, th = layout.prompt_image
    prims.append({
        "id": "prompt",
        "kind": "text",
        "role": "prompt",
        "text": "" if pr is None else str(pr.get("text", "")),
        "prompt_id": None if pr is None else pr.get("id"),
        "priority": None if pr is None else pr.get("priority"),
        "style": "info" if pr is None else ("alert" if pr.get("priority", 9) <= 1 else "warn"),
        "image": _image((tu, tv), (0.0, th)),
        "world": _world(at(0.0, lift + 0.22), right, up, (0.0, 1.6 * layout.text_height_m)),
    })
    su, sv, sh = layout.status_image
    status, status_style = _status_text(inputs)
    prims.append({
        "id": "status",
        "kind": "text",
        "role": "status",
        "text": status,
        "style": status_style,
        "image": _image((su, sv), (0.0, sh)),
        "world": _world(at(0.0, lift + 0.17), right, up, (0.0, layout.text_height_m)),
    })
    cu, cv, ch = layout.count_image
    prims.append({
        "id": "count",
        "kind": "text",
        "role": "count",
        "text": inputs.count_text or "",
        "style": "info",
        "image": _image((cu, cv), (0.0, ch)),
        "world": _world(at(0.05, lift - 0.07), right, up, (0.0, layout.text_height_m)),
    })
    if inputs.feedback_level is not None:  # so the trainee knows how much help to expect
        lu, lv, lh = layout.level_image
        prims.append({
            "id": "feedback_level",
            "kind": "text",
            "role": "feedback_level",
            "level": inputs.feedback_level,
            "text": _LEVEL_TEXT.get(inputs.feedback_level, inputs.feedback_level),
            "style": "info",
            "image": _image((lu, lv), (0.0, lh)),
            "world": _world(at(-0.13, lift - 0.13), right, up, (0.0, 0.7 * layout.text_height_m)),
        })
    return {
        "primitives": prims,
        "aspect": layout.aspect,
        "manikin_frame": "origin: compression target on the chest surface; +x head, +z out of the chest, +y = z x x (manikin's right); metres",
    }


_LEVEL_TEXT = {"full": "Feedback: full", "errors": "Feedback: errors only", "set-summary": "Feedback: after each set",
               "none": "Test: no feedback"}


def _status_text(inputs: SceneInputs) -> tuple[str, str]:
    """(text, style) of the status line under the prompt."""
    if not inputs.hands_visible:
        return "Hands not visible", "warn"
    ph = inputs.procedure_phase
    if ph in ("breaths", "paused") and inputs.hands_off_s:
        return f"Hands off {inputs.hands_off_s:.0f} s", "info"
    if ph == "compressing" and inputs.prompt is None:
        return "Good compressions", "ok"
    return "", "info"


__all__ = ["Projector", "SceneInputs", "SceneLayout", "build_overlay", "depth_range_mm", "rate_range_cpm", "top_down_projector"]
