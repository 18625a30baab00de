"""The debrief's four plots, as matplotlib Figures (Agg, no pyplot state).

Why Figures and not PNGs: the HTML embeds their PNGs, and the tests read the data the figures
draw (line data, bars), so "the plot has data" is checked on the plot itself. Band limits come
from the profile (coach/data/guidelines.json), never from literals here. matplotlib is imported
inside the functions: importing the report costs nothing until a report is drawn.
"""
from __future__ import annotations

import io
import math
from typing import Any

from coach.core.profiles import Profile
from coach.core.types import INCOMPLETE_RECOIL, SessionResult

GOOD = "#2e8b57"
BAD = "#c0392b"
WARN = "#e67e22"
INK = "#222222"
BAND = "#2e8b57"


def _figure(height_in: float = 2.6):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.2, height_in), dpi=130, layout="constrained")  # ~680 px: sharp on a phone, no tiny type
    return fig, fig.add_subplot(1, 1, 1)


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#666666")
    ax.set_xticks([])
    ax.set_yticks([])


def _legend_below(ax, ncols: int) -> None:
    """Legend under the x label, so it never hides data."""
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.32), ncols=ncols, frameon=False, fontsize=9)


def depth_figure(result: SessionResult, profile: Profile):
    """Depth of every compression against the band; leaning (incomplete recoil) compressions marked."""
    fig, ax = _figure(3.0)
    comps = result.compressions
    ax.set_title("Depth per compression", loc="left")
    if not comps:
        _empty(ax, "no compressions")
        return fig
    idx = [c.index + 1 for c in comps]
    depth = [c.depth_mm for c in comps]
    ax.axhspan(profile.depth_mm.min, profile.depth_mm.max, color=BAND, alpha=0.15, lw=0,
               label=f"target {profile.depth_mm.min:g}-{profile.depth_mm.max:g} mm")
    ax.plot(idx, depth, color=INK, lw=0.8, marker="o", ms=3.2, label="depth", gid="depth")
    lean = [(c.index + 1, c.depth_mm) for c in comps if INCOMPLETE_RECOIL in c.flags]
    if lean:
        ax.scatter([x for x, _ in lean], [y for _, y in lean], s=46, facecolors="none", edgecolors=BAD, lw=1.4,
                   label=f"leaning ({len(lean)})", gid="leaning", zorder=3)
    lo = min(min(depth), profile.depth_mm.min) - 5
    hi = max(max(depth), profile.depth_mm.max) + 5
    ax.set_ylim(lo, hi)
    ax.invert_yaxis()  # deeper is lower, as the chest moves
    ax.set_xlabel("compression")
    ax.set_ylabel("depth (mm)")
    ax.grid(alpha=0.25)
    _legend_below(ax, 3)
    return fig


def rate_figure(result: SessionResult, profile: Profile, t0_s: float):
    """Instantaneous rate over the session's time against the band."""
    fig, ax = _figure(3.0)
    ax.set_title("Rate over time", loc="left")
    pts = [(c.t_bottom_s - t0_s, c.rate_cpm) for c in result.compressions if math.isfinite(c.rate_cpm)]
    if not pts:
        _empty(ax, "no rates (fewer than two compressions in a set)")
        return fig
    ax.axhspan(profile.rate_cpm.min, profile.rate_cpm.max, color=BAND, alpha=0.15, lw=0,
               label=f"target {profile.rate_cpm.min:g}-{profile.rate_cpm.max:g} /min")
    # one line per set, so ventilation pauses are gaps and not slopes
    by_set: dict[int, list[tuple[float, float]]] = {}
    for c in result.compressions:
        if math.isfinite(c.rate_cpm):
            by_set.setdefault(c.set_index, []).append((c.t_bottom_s - t0_s, c.rate_cpm))
    for k, (si, xy) in enumerate(sorted(by_set.items())):
        ax.plot([x for x, _ in xy], [y for _, y in xy], color=INK, lw=0.9, marker="o", ms=2.6,
                label="rate" if k == 0 else None, gid=f"rate-set-{si}")
    ys = [y for _, y in pts]
    ax.set_ylim(min(min(ys), profile.rate_cpm.min) - 10, max(max(ys), profile.rate_cpm.max) + 10)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("rate (/min)")
    ax.grid(alpha=0.25)
    _legend_below(ax, 2)
    return fig


def timeline_figure(result: SessionResult, profile: Profile, t0_s: float, t_end_s: float,
                    events: list[dict[str, Any]] | None = None):
    """Sets (compressing), pauses (ventilation / hands-off; too long in red) and source gaps on one time axis."""
    fig, ax = _figure(2.2)
    ax.set_title("Timeline: sets, pauses, hands-off", loc="left")
    sets = [(s.start_s - t0_s, s.end_s - s.start_s) for s in result.sets]
    pauses = list(result.pauses)
    if not sets and not pauses:
        _empty(ax, "no compressions")
        return fig
    if sets:
        ax.broken_barh(sets, (1.1, 0.8), facecolors=GOOD, gid="sets")
    ok = [(p.start_s - t0_s, p.duration_s) for p in pauses if not p.too_long]
    bad = [(p.start_s - t0_s, p.duration_s) for p in pauses if p.too_long]
    if ok:
        ax.broken_barh(ok, (0.1, 0.8), facecolors="#9aa5b1", gid="pauses")
    if bad:
        ax.broken_barh(bad, (0.1, 0.8), facecolors=BAD, gid="pauses-too-long")
    for ev in events or ():
        if ev.get("event") in ("source_lost",) and math.isfinite(ev.get("t_s", math.nan)):
            ax.axvline(ev["t_s"] - t0_s, color=WARN, lw=1.2, ls="--")
    ax.set_yticks([0.5, 1.5], ["pauses", "sets"])
    ax.set_ylim(0, 2)
    ax.set_xlim(0, max(t_end_s - t0_s, 1.0))
    ax.set_xlabel("time (s)")
    ax.grid(axis="x", alpha=0.25)
    return fig


def ccf_figure(result: SessionResult, profile: Profile):
    """Chest compression fraction against the profile's minimum and goal."""
    fig, ax = _figure(1.8)
    ax.set_title("Compression fraction (CCF)", loc="left")
    ccf = result.summary.ccf
    if not result.compressions or not math.isfinite(ccf):
        _empty(ax, "no compressions")
        return fig
    pct = 100.0 * ccf
    color = GOOD if ccf >= profile.ccf_goal else (WARN if ccf >= profile.ccf_min else BAD)
    ax.barh([0], [pct], height=0.6, color=color, gid="ccf")
    ax.axvline(100 * profile.ccf_min, color=INK, lw=1.2, ls="--", gid="ccf-min")
    ax.axvline(100 * profile.ccf_goal, color=INK, lw=1.6, gid="ccf-goal")
    ax.text(100 * profile.ccf_min, 0.45, f" min {100 * profile.ccf_min:.0f} %", fontsize=9, va="bottom")
    ax.text(100 * profile.ccf_goal, -0.45, f" goal {100 * profile.ccf_goal:.0f} %", fontsize=9, va="top")
    ax.text(min(pct, 97.0), 0, f"{pct:.0f} % ", ha="right", va="center", color="white", fontsize=10, weight="bold")
    ax.set_xlim(0, 100)
    ax.set_ylim(-0.8, 0.8)
    ax.set_yticks([])
    ax.set_xlabel("time spent compressing (%)")
    return fig


def build_figures(result: SessionResult, profile: Profile, *, t0_s: float, t_end_s: float,
                  events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The four figures, by name (depth, rate, timeline, ccf)."""
    import matplotlib

    with matplotlib.rc_context({"font.size": 10.5, "axes.titlesize": 12, "axes.titleweight": "bold"}):
        return {
            "depth": depth_figure(result, profile),
            "rate": rate_figure(result, profile, t0_s),
            "timeline": timeline_figure(result, profile, t0_s, t_end_s, events),
            "ccf": ccf_figure(result, profile),
        }


def png_bytes(fig) -> bytes:
    """The figure as PNG (Agg)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi)
    return buf.getvalue()
