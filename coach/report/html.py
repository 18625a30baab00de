"""The debrief as one self-contained HTML file: inline CSS, PNGs as base64, no external assets.

Why one file: an instructor mails it, opens it on a phone beside the manikin, or prints it; it
must look right offline and on a 400 px wide screen (a single fluid column, images at 100 % width).
"""
from __future__ import annotations

import base64
import math
from html import escape
from typing import Any

CSS = """
*{box-sizing:border-box}
body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;background:#f4f5f7}
main{max-width:780px;margin:0 auto;padding:14px}
h1{font-size:1.45em;margin:.2em 0 .1em}
h2{font-size:1.12em;margin:1.3em 0 .5em;border-bottom:2px solid #dde1e6;padding-bottom:.2em}
.sub{color:#555;font-size:.92em}
.card{background:#fff;border-radius:10px;padding:12px 14px;margin:10px 0;box-shadow:0 1px 3px rgba(0,0,0,.08)}
.warn{background:#fff4e5;border-left:5px solid #e67e22}
.note{background:#eef5ff;border-left:5px solid #3b7dd8}
.scores{display:grid;grid-template-columns:repeat(4,1fr);gap:10px}
.score{background:#fff;border-radius:10px;padding:10px;text-align:center;box-shadow:0 1px 3px rgba(0,0,0,.08)}
.score .v{font-size:1.8em;font-weight:700}
.score .k{color:#555;font-size:.85em}
.overall{grid-column:1/-1}
.overall .v{font-size:2.6em}
.good{color:#2e8b57}.mid{color:#b9770e}.bad{color:#c0392b}
ol.points{padding-left:1.3em;margin:.3em 0}
ol.points li{margin:.45em 0}
figure{margin:10px 0;background:#fff;border-radius:10px;padding:8px;box-shadow:0 1px 3px rgba(0,0,0,.08)}
figure img{width:100%;height:auto;display:block}
figcaption{font-size:.85em;color:#555;padding:4px 4px 0}
table{border-collapse:collapse;width:100%;background:#fff;border-radius:10px;overflow:hidden}
td,th{padding:6px 10px;border-bottom:1px solid #eceff2;text-align:left;vertical-align:top;font-size:.95em}
th{width:42%;color:#444;font-weight:600}
footer{color:#666;font-size:.8em;margin:24px 0 8px}
@media (max-width:560px){.scores{grid-template-columns:repeat(2,1fr)}}
@media (max-width:480px){body{font-size:15px}main{padding:10px}.score .v{font-size:1.5em}.overall .v{font-size:2.2em}}
"""


def png_data_uri(png: bytes) -> str:
    """A PNG as a ``data:`` URI, for an ``<img src>`` in a self-contained page."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _cls(pct: float) -> str:
    if not math.isfinite(pct):
        return ""
    return "good" if pct >= 80 else ("mid" if pct >= 60 else "bad")


def _pct(pct: float) -> str:
    return "n/a" if not math.isfinite(pct) else f"{pct:.0f} %"


def _rows(rows: list[tuple[str, str]]) -> str:
    return "<table>" + "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows) + "</table>"


def render_html(*, title: str, subtitle: str, banners: list[tuple[str, str]], score: Any,
                points: list[Any], images: dict[str, tuple[bytes, str]], figures_rows: list[tuple[str, str]],
                basis_rows: list[tuple[str, str]], footer: str,
                posture_rows: list[tuple[str, str]] | None = None) -> str:
    """The page. ``images``: name -> (PNG bytes, caption); ``banners``: (css class, text)."""
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body><main>",
        f"<h1>{escape(title)}</h1><div class='sub'>{escape(subtitle)}</div>",
    ]
    parts += [f"<div class='card {cls}'>{escape(text)}</div>" for cls, text in banners]
    parts.append("<h2>Score</h2><div class='scores'>")
    parts.append(f"<div class='score overall'><div class='v {_cls(score.overall_pct)}'>{_pct(score.overall_pct)}</div>"
                 "<div class='k'>overall</div></div>")
    for key, label in (("depth", "depth"), ("rate", "rate"), ("recoil", "recoil"), ("flow", "flow fraction")):
        v = score.metric(key)
        parts.append(f"<div class='score'><div class='v {_cls(v)}'>{_pct(v)}</div><div class='k'>{label}</div></div>")
    parts.append("</div>")
    parts.append("<h2>Coaching points</h2><div class='card'><ol class='points'>")
    parts += [f"<li>{escape(p.text)}</li>" for p in points]
    parts.append("</ol></div>")
    parts.append("<h2>The session</h2>")
    for name, (png, caption) in images.items():
        parts.append(f"<figure id='fig-{escape(name)}'><img alt='{escape(caption)}' src='{png_data_uri(png)}'>"
                     f"<figcaption>{escape(caption)}</figcaption></figure>")
    parts.append("<h2>Key figures</h2>" + _rows(figures_rows))
    if posture_rows:
        parts.append("<h2 id='posture'>Posture (advisory, not scored)</h2>" + _rows(posture_rows))
    parts.append("<h2>What the numbers rest on</h2>" + _rows(basis_rows))
    parts.append(f"<footer>{escape(footer)}</footer></main></body></html>")
    return "\n".join(parts)
