"""Draw ``cpr.overlay`` primitives onto a BGR image with OpenCV (the monitor viewer).

Why sizes in fractions of the image height: the monitor sits about 2 m from the
trainee. On a 24" 1080p screen one pixel is ~0.28 mm, and text stays readable
at 2 m from about 20 mm cap height (~70 px). The prompt is drawn at ~9.5 % of
the height, the gauge and dial numbers at ~7 %, so they stay readable whatever
the output size. Colours carry meaning twice (colour + position/words), for
colour-blind trainees: green = in band, amber = off, red = urgent.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import cv2
import numpy as np

FONT = cv2.FONT_HERSHEY_DUPLEX
FONT_BOLD = cv2.FONT_HERSHEY_SIMPLEX


@dataclass(frozen=True)
class RenderStyle:
    ok: tuple[int, int, int] = (90, 210, 90)  # BGR green
    warn: tuple[int, int, int] = (0, 175, 255)  # amber
    alert: tuple[int, int, int] = (70, 70, 240)  # red
    neutral: tuple[int, int, int] = (200, 200, 200)
    text: tuple[int, int, int] = (255, 255, 255)
    marker: tuple[int, int, int] = (255, 230, 80)  # light cyan-blue: the live marker
    panel: tuple[int, int, int] = (25, 25, 25)
    panel_alpha: float = 0.62


def _px(img: np.ndarray, uv: Sequence[float]) -> tuple[int, int]:
    h, w = img.shape[:2]
    return int(round(uv[0] * w)), int(round(uv[1] * h))


def _panel(img: np.ndarray, p0: tuple[int, int], p1: tuple[int, int], style: RenderStyle) -> None:
    """Darken a rectangle so overlays stay legible over any video."""
    h, w = img.shape[:2]
    x0, y0 = max(0, min(p0[0], p1[0])), max(0, min(p0[1], p1[1]))
    x1, y1 = min(w, max(p0[0], p1[0])), min(h, max(p0[1], p1[1]))
    if x1 <= x0 or y1 <= y0:
        return
    roi = img[y0:y1, x0:x1]
    bg = np.empty_like(roi)
    bg[:] = style.panel
    cv2.addWeighted(roi, 1.0 - style.panel_alpha, bg, style.panel_alpha, 0.0, dst=roi)


def text_size(text: str, height_px: float, font: int = FONT) -> tuple[float, int, tuple[int, int]]:
    """(scale, thickness, (w, h)) so that the text's cap height is about ``height_px``."""
    (_, h1), _ = cv2.getTextSize("H", font, 1.0, 1)
    scale = max(0.3, height_px / h1)
    thick = max(1, int(round(height_px / 11)))
    (tw, th), _ = cv2.getTextSize(text, font, scale, thick)
    return scale, thick, (tw, th)


def put_text(img: np.ndarray, text: str, center: tuple[int, int], height_px: float, color, *,
             align: str = "center", backing: RenderStyle | None = None, font: int = FONT) -> tuple[int, int, int, int]:
    """Text with a dark outline (and optional backing panel); returns its box."""
    if not text:
        return (center[0], center[1], 0, 0)
    scale, thick, (tw, th) = text_size(text, height_px, font)
    x = center[0] - tw // 2 if align == "center" else center[0] if align == "left" else center[0] - tw
    y = center[1] + th // 2
    if backing is not None:
        pad = int(th * 0.45)
        _panel(img, (x - pad, y - th - pad), (x + tw + pad, y + pad), backing)
    # outline by offset copies: OpenCV 5 renders real fonts, where a thicker stroke is a wider weight
    r = max(1, int(round(height_px / 22)))
    for dx, dy in ((-r, 0), (r, 0), (0, -r), (0, r), (-r, -r), (r, r), (-r, r), (r, -r)):
        cv2.putText(img, text, (x + dx, y + dy), font, scale, (0, 0, 0), thick, cv2.LINE_AA)
    cv2.putText(img, text, (x, y), font, scale, color, thick, cv2.LINE_AA)
    return (x, y - th, tw, th)


def _colour(ok: bool | None, style: RenderStyle):
    return style.neutral if ok is None else (style.ok if ok else style.warn)


def draw_depth_gauge(img: np.ndarray, g: Mapping[str, Any], style: RenderStyle) -> None:
    im = g.get("image")
    if not im:
        return
    H = img.shape[0]
    cx, cy = _px(img, im["center"])
    w, h = int(im["size"][0] * img.shape[1]), int(im["size"][1] * H)
    x0, y0 = cx - w // 2, cy - h // 2
    label_h = int(0.035 * H)
    num_h = int(0.09 * H)
    _panel(img, (x0 - w // 3, y0 - label_h * 2), (x0 + w + w // 6, y0 + h + num_h + int(label_h * 1.6)), style)
    put_text(img, "DEPTH", (cx, y0 - label_h), label_h, style.text)
    lo, hi = g["range_mm"]
    bmin, bmax = g["band_mm"]

    def y_of(mm: float) -> int:  # depth grows downward, like pushing the chest down
        f = (min(max(mm, lo), hi) - lo) / (hi - lo)
        return int(round(y0 + f * h))

    bar_x0, bar_x1 = x0 + w // 4, x0 + w - w // 4
    cv2.rectangle(img, (bar_x0, y0), (bar_x1, y0 + h), style.neutral, max(2, H // 360))
    cv2.rectangle(img, (bar_x0, y_of(bmin)), (bar_x1, y_of(bmax)), style.ok, -1)
    for mm in (bmin, bmax):  # band labels at the side
        put_text(img, f"{mm:.0f}", (bar_x0 - w // 5 - 4, y_of(mm)), 0.028 * H, style.text, align="right")
    value = g.get("value_mm")
    if value is not None:
        yv = y_of(max(0.0, value))
        t = max(4, H // 90)
        cv2.rectangle(img, (bar_x0 - w // 5, yv - t // 2), (bar_x1 + w // 5, yv + t // 2), style.marker, -1)
    last = g.get("last_mm")
    if last is not None:
        yl = y_of(last)
        s = max(8, H // 55)
        tri = np.array([[bar_x1 + 2, yl], [bar_x1 + 2 + s, yl - s // 2 - 2], [bar_x1 + 2 + s, yl + s // 2 + 2]], np.int32)
        cv2.fillPoly(img, [tri], style.text)
        colour = _colour(g.get("ok"), style)
        put_text(img, f"{last:.0f}", (cx, y0 + h + num_h // 2 + label_h // 2), num_h, colour)
    put_text(img, "mm", (cx, y0 + h + num_h + label_h), 0.028 * H, style.text)


def draw_rate_dial(img: np.ndarray, d: Mapping[str, Any], style: RenderStyle) -> None:
    im = d.get("image")
    if not im:
        return
    H = img.shape[0]
    c = _px(img, im["center"])
    r = int(min(im["size"][0] * img.shape[1], im["size"][1] * H) / 2)
    _panel(img, (c[0] - int(r * 1.5), c[1] - int(r * 1.75)), (c[0] + int(r * 1.5), c[1] + int(r * 1.6)), style)
    lo, hi = d["range_cpm"]
    start, sweep = 150.0, 240.0  # degrees (OpenCV: clockwise from +x)

    def ang(v: float) -> float:
        return start + sweep * (min(max(v, lo), hi) - lo) / (hi - lo)

    th = max(6, r // 7)
    cv2.ellipse(img, c, (r, r), 0, start, start + sweep, style.neutral, th, cv2.LINE_AA)
    b0, b1 = d["band_cpm"]
    cv2.ellipse(img, c, (r, r), 0, ang(b0), ang(b1), style.ok, th, cv2.LINE_AA)
    tgt = math.radians(ang(d["target_cpm"]))
    cv2.line(img, (int(c[0] + (r - th) * math.cos(tgt)), int(c[1] + (r - th) * math.sin(tgt))),
             (int(c[0] + (r + th) * math.cos(tgt)), int(c[1] + (r + th) * math.sin(tgt))), style.text, max(2, th // 3))
    v = d.get("value_cpm")
    colour = _colour(d.get("ok"), style)
    if v is not None:
        a = math.radians(ang(v))
        tip = (int(c[0] + (r - th) * math.cos(a)), int(c[1] + (r - th) * math.sin(a)))
        cv2.line(img, c, tip, style.marker, max(3, th // 2), cv2.LINE_AA)
        cv2.circle(img, c, max(4, th // 2), style.marker, -1, cv2.LINE_AA)
        put_text(img, f"{v:.0f}", (c[0], c[1] + int(r * 0.62)), 0.085 * H, colour)
    else:
        put_text(img, "--", (c[0], c[1] + int(r * 0.62)), 0.07 * H, style.neutral)
    put_text(img, "RATE /min", (c[0], c[1] - int(r * 1.45)), 0.032 * H, style.text)


def draw_metronome(img: np.ndarray, m: Mapping[str, Any], style: RenderStyle, t_s: float | None) -> None:
    im = m.get("image")
    if not im:
        return
    c = _px(img, im["center"])
    r = int(min(im["size"][0] * img.shape[1], im["size"][1] * img.shape[0]) / 2)
    if not m.get("active"):
        cv2.circle(img, c, r, style.neutral, max(2, r // 8), cv2.LINE_AA)
        return
    phase = m.get("phase") or 0.0
    period = m.get("period_s")
    nxt = m.get("next_beat_t_s")
    if t_s is not None and period and nxt is not None:  # animate locally between overlay messages
        phase = ((t_s - (nxt - period)) / period) % 1.0
    glow = max(0.0, 1.0 - phase / 0.35)  # a flash on the beat that fades over a third of the period
    rr = int(r * (0.75 + 0.35 * glow))
    col = tuple(int(n + (255 - n) * glow) for n in style.ok)
    cv2.circle(img, c, rr, col, -1, cv2.LINE_AA)
    cv2.circle(img, c, r, style.text, max(2, r // 10), cv2.LINE_AA)


def draw_placement(img: np.ndarray, p: Mapping[str, Any], style: RenderStyle) -> None:
    im = p.get("image")
    if not im or not any(im["size"]):
        return
    c = _px(img, im["center"])
    ax = (max(3, int(im["size"][0] * img.shape[1] / 2)), max(3, int(im["size"][1] * img.shape[0] / 2)))
    colour = _colour(p.get("ok"), style)
    th = max(3, img.shape[0] // 180)
    cv2.ellipse(img, c, ax, 0, 0, 360, colour, th, cv2.LINE_AA)
    cv2.drawMarker(img, c, colour, cv2.MARKER_CROSS, max(ax) // 2, th // 2 + 1, cv2.LINE_AA)
    hand = p.get("hand_image")
    if hand is not None:
        hp = _px(img, hand)
        cv2.circle(img, hp, max(5, th * 2), style.marker, -1, cv2.LINE_AA)
        if p.get("ok") is False:
            cv2.arrowedLine(img, hp, c, style.warn, th, cv2.LINE_AA, tipLength=0.25)


def draw_text(img: np.ndarray, t: Mapping[str, Any], style: RenderStyle) -> None:
    im = t.get("image")
    text = t.get("text") or ""
    if not im or not text:
        return
    H = img.shape[0]
    colour = {"alert": style.alert, "warn": style.warn, "ok": style.ok}.get(t.get("style", "info"), style.text)
    if t.get("role") == "prompt":
        colour = {"alert": (110, 110, 255), "warn": style.warn}.get(t.get("style"), style.text)
    put_text(img, text, _px(img, im["center"]), im["size"][1] * H, colour, backing=style)


def draw_posture(img: np.ndarray, posture: Mapping[str, Any], style: RenderStyle = RenderStyle()) -> np.ndarray:
    """The rescuer's arm lines (from ``cpr.state``'s ``posture``) over a letterboxed video frame, with
    each elbow's angle; an arm whose elbow is not measurable says "not visible" instead of a number."""
    arms, size = posture.get("arms_px"), posture.get("size_px")
    if not arms or not size:
        return img
    H, W = img.shape[:2]
    s = min(W / size[0], H / size[1])
    ox, oy = (W - int(size[0] * s)) // 2, (H - int(size[1] * s)) // 2
    colour = {"good": style.ok, "acceptable": style.warn, "bent": style.alert}.get(posture.get("elbow_class"), style.text)
    vis = posture.get("visibility") or [[1, 1, 1], [1, 1, 1]]
    angles = posture.get("elbow_deg_lr") or [None, None]
    th = max(2, H // 240)
    pts_px = [[(int(round(ox + x * s)), int(round(oy + y * s))) for x, y in pts] for pts in arms]
    # each label on the outer side of its elbow: seen from the side, the two elbows nearly coincide
    elbow_mid_x = sum(q[1][0] for q in pts_px) / max(1, len(pts_px))
    for arm, q in enumerate(pts_px):
        if min(vis[arm]) < 0.5:
            continue
        cv2.line(img, q[0], q[1], colour, th, cv2.LINE_AA)
        cv2.line(img, q[1], q[2], colour, th, cv2.LINE_AA)
        for c in q:
            cv2.circle(img, c, th + 2, colour, -1, cv2.LINE_AA)
        a = angles[arm] if arm < len(angles) else None
        label = "not visible" if a is None else f"{a:.0f} deg"
        left = q[1][0] <= elbow_mid_x
        put_text(img, label, (q[1][0] + (-4 if left else 4) * th, q[1][1] - 6 * th), 0.035 * H, colour,
                 align="right" if left else "left", backing=style)
    return img


def draw_overlay(img: np.ndarray, overlay: Mapping[str, Any], *, t_s: float | None = None,
                 live_depth_mm: float | None = None, style: RenderStyle = RenderStyle()) -> np.ndarray:
    """Draw every primitive in place; ``live_depth_mm`` (from cpr.state) moves the gauge marker
    between overlay messages, ``t_s`` animates the metronome. Returns ``img``."""
    for prim in overlay.get("primitives", ()):
        kind = prim.get("kind")
        try:
            if kind == "depth_gauge":
                g = dict(prim)
                if live_depth_mm is not None and g.get("value_mm") is not None:  # null: hands off, no marker
                    g["value_mm"] = live_depth_mm
                draw_depth_gauge(img, g, style)
            elif kind == "rate_dial":
                draw_rate_dial(img, prim, style)
            elif kind == "metronome":
                draw_metronome(img, prim, style, t_s)
            elif kind == "placement_ring":
                draw_placement(img, prim, style)
            elif kind == "text":
                draw_text(img, prim, style)
        except (KeyError, TypeError, ValueError, ZeroDivisionError, cv2.error):
            continue  # one malformed primitive never blanks the rest of the overlay
    return img
