"""One self-contained HTML page per trainee (plots embedded as base64 PNG, readable on a phone).

Why self-contained: the page is mailed or opened from a USB stick after a
course; it must need no server and no network. Plots are made here, at the
edge, with matplotlib's Agg backend (imported only when a page is built).
"""
from __future__ import annotations

import html
import io
import math

from coach.core.profiles import load_profile
from coach.learning import (
    SessionHistory, fatigue_profile, learning_curve, mastery_state, next_level, next_refresher, persistent_patterns,
    session_patterns,
)
from coach.report.html import png_data_uri

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;padding:8px;background:#f6f7f9;color:#1d232b;
max-width:760px;margin:auto;font-size:16px;line-height:1.4}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.15em;margin:1.2em 0 .4em}
.card{background:#fff;border-radius:10px;padding:10px 8px;margin:10px 0;box-shadow:0 1px 3px rgba(0,0,0,.08)}
.state{font-size:1.2em;font-weight:600}.mastered{color:#1b7f3b}.lapsed{color:#b3261e}.learning,.new{color:#8a5a00}
.ready-for-test{color:#1f5fae}
img{width:100%;height:auto}ul{padding-left:1.2em;margin:.3em 0}table{border-collapse:collapse;width:100%;font-size:.85em}td{white-space:nowrap}
td,th{padding:4px 3px;border-bottom:1px solid #e3e6ea;text-align:right}td:first-child,th:first-child{text-align:left}
.muted{color:#5f6b7a;font-size:.9em}.scroll{overflow-x:auto}
"""


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    _plt().close(fig)
    return png_data_uri(buf.getvalue())


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 12, "axes.titlesize": 13, "legend.fontsize": 11})
    return plt


_LEVEL_SHADE = {"full": "#ffffff", "errors": "#eef3fb", "set-summary": "#dde8f7", "none": "#c9dbf2"}


def _curve_plot(points, mastery_pct: float) -> str:
    """Two panels (phone-sized): the score and mastery share; then depth, rate, recoil and CCF.
    The background shade of each session shows its feedback level (darker = less feedback)."""
    plt = _plt()
    x = list(range(1, len(points) + 1))
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(5.2, 7.0), sharex=True)
    for ax in (a1, a2):
        for xi, p in zip(x, points):
            ax.axvspan(xi - 0.5, xi + 0.5, color=_LEVEL_SHADE.get(p.feedback_level, "#fff"), lw=0)
        ax.set_ylim(0, 105)
        ax.grid(alpha=.3)
    a1.plot(x, [p.score for p in points], "o-", lw=2.5, color="#1d232b", label="overall score")
    a1.plot(x, [p.pct_correct for p in points], "s-", lw=2.5, color="#1f5fae", label="% correct")
    a1.axhline(mastery_pct, color="#1b7f3b", lw=1.5, ls="--")
    a1.text(x[0] - 0.4, mastery_pct - 9, f"mastery {mastery_pct:g} %", color="#1b7f3b")
    a1.legend(loc="lower right")
    a1.set_ylabel("%")
    a2.plot(x, [p.pct_depth_ok for p in points], "o-", color="#c2410c", label="depth ok")
    a2.plot(x, [p.pct_rate_ok for p in points], "^-", color="#7c3aed", label="rate ok")
    a2.plot(x, [p.pct_recoil_ok for p in points], "v-", color="#0f766e", label="recoil ok")
    a2.plot(x, [p.ccf_pct for p in points], "d:", color="#6b7280", label="CCF")
    a2.legend(loc="lower right", ncol=2)
    a2.set_ylabel("%")
    a2.set_xlabel("session (shade: less feedback)")
    a2.set_xticks(x)
    fig.tight_layout()
    return _png(fig)


def _fatigue_plot(profiles, band, last: int = 5) -> str:
    """Mean depth per minute for the last ``last`` sessions, over the target band."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    ax.axhspan(band.min, band.max, color="#1b7f3b", alpha=.12, label=f"target {band.min:g}-{band.max:g} mm")
    n = len(profiles)
    shown = list(range(max(0, n - last), n))
    cmap = plt.get_cmap("viridis")
    for j, i in enumerate(shown):
        d = profiles[i].depth_mm_per_minute
        if d:
            ax.plot(range(1, len(d) + 1), d, "o-", color=cmap(j / max(len(shown) - 1, 1)), lw=2, label=f"session {i + 1}")
    ax.set_xlabel("minute of the session")
    ax.set_ylabel("mean depth (mm)")
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.grid(alpha=.3)
    ax.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=3, frameon=False)
    fig.tight_layout()
    return _png(fig)


def _fmt(x: float, spec: str = ".0f") -> str:
    return "–" if x is None or not math.isfinite(x) else format(x, spec)


def trainee_page(history: SessionHistory) -> str:
    """The whole page as one HTML string."""
    e = html.escape
    from coach.learning import load_learning_rules

    rules = load_learning_rules()
    tid = e(history.trainee_id)
    head = (f"<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport content='width=device-width,initial-scale=1'>"
            f"<title>CPR trainee {tid}</title><style>{_CSS}</style></head><body><h1>CPR practice: {tid}</h1>")
    if not history.sessions:
        return head + "<div class=card><p>No sessions yet. Start with full feedback.</p></div></body></html>"
    points = learning_curve(history)
    ms = mastery_state(history)
    nxt = next_level(history)
    ref = next_refresher(history)
    pats = persistent_patterns(history)
    prof = load_profile(history.sessions[-1].profile)
    fps = [fatigue_profile(s.compressions, load_profile(s.profile)) for s in history.sessions]
    parts = [head]
    due = ref.due.strftime("%a %d %b %Y") if ref.due else "now"
    parts.append(f"<div class=card><div class='state {e(ms.state)}'>{e(ms.state.replace('-', ' ').capitalize())}</div>"
                 f"<p>{e(ms.text)}</p><p><b>Practise next:</b> {e(due)} <span class=muted>({e(ref.reason)})</span></p>"
                 f"<p><b>Feedback next time:</b> {e(nxt.level)} <span class=muted>({e(nxt.reason)})</span></p></div>")
    parts.append("<div class=card><h2>What to work on</h2>")
    if pats:
        parts.append("<ul>" + "".join(f"<li>{e(p.text[0].upper() + p.text[1:])} <span class=muted>(in {p.sessions} of the last "
                                      f"{min(len(history), rules.patterns.sessions_recent)} sessions)</span></li>" for p in pats) + "</ul>")
    else:
        parts.append("<p>No persistent error pattern in the recent sessions.</p>")
    last = session_patterns(history.sessions[-1])
    if last:
        parts.append("<p class=muted>Last session: " + e("; ".join(p.text for p in last)) + ".</p>")
    parts.append("</div>")
    parts.append(f"<div class=card><h2>Learning curve</h2><img alt='learning curve' src='{_curve_plot(points, rules.mastery.pct_correct_min)}'>"
                 "<p class=muted>Overall score: mean of % depth, rate and recoil in target and CCF (capped at the goal). "
                 "% correct: compressions with all three right at once (the mastery measure).</p></div>")
    parts.append(f"<div class=card><h2>Fatigue: depth per minute</h2><img alt='fatigue profile' src='{_fatigue_plot(fps, prof.depth_mm)}'></div>")
    rows = []
    for i, (s, p, fp) in enumerate(zip(history.sessions, points, fps)):
        below = f"{fp.below_band_minute}" if fp.below_band_minute else "–"
        tired = f"{fp.fatigue_onset_s:.0f}" if fp.fatigued else "–"
        rows.append(f"<tr><td><b>{i + 1}</b> <span class=muted>{s.started_at.strftime('%d')}&nbsp;{e(s.started_at.strftime('%b'))}</span></td><td>{e(p.feedback_level)}</td><td>{_fmt(p.score)}</td>"
                    f"<td>{_fmt(p.pct_correct)}</td><td>{below}</td><td>{tired}</td></tr>")
    parts.append("<div class=card><h2>Sessions</h2><div class=scroll><table><tr><th>session</th><th>feedback</th><th>score</th>"
                 "<th>correct %</th><th>shallow min</th><th>tired s</th></tr>" + "".join(reversed(rows)) + "</table></div>"
                 "<p class=muted>Shallow min: first minute whose mean depth is below the band. Tired s: seconds after "
                 "the first compression when compliance fell 15 points below the session's first minute.</p></div>")
    parts.append("<p class=muted>Mastery: Anderson et al., Resuscitation 2019 (≥ 90 % correct compressions over two minutes, "
                 "without feedback, on two days). See docs/learning.md.</p></body></html>")
    return "".join(parts)
