"""The core's fit windows and top weight against the stroke-shape families: the scan behind docs/core.md.

Why a script and not a test: it measures a trade-off (each setting helps one family and costs another), so
there is nothing to assert; it exists so the table in docs/core.md ("The fixed windows and the top weight
trade one family for another") can be re-checked after any change to the core or the simulator::

    python -m tests.core_shape_scan                       # from the repo root, the settings of the table
    python -m tests.core_shape_scan --seeds 20 "dict(top_vertex_weight=0.9)"
    python -m tests.core_shape_scan --fps 15 --seeds 20 "dict()" "dict(spike_turn_mm_s=0)"   # session 30's table

Each argument is a ``dict(...)`` of ``CoreOptions`` fields; ``dict()`` is today's core. Prints the depth
MAE (bias) in mm per family, clean (no measurement noise) and noisy (1 mm + tremor, spikes, dropouts), and on a
pure sinusoid built without the simulator (110 cpm, 52 mm; session 14); ``--fps`` the frame rate (30), ``--spikes``
single-frame spikes per second in the noisy sessions (the simulator's default, 0.03, when not given). A count that is
not exact is shown after the cell (``n+1``: one compression too many in all its sessions).
Needs the shared data for the ``template`` and ``mixed`` families (skipped without it).
"""
from __future__ import annotations

import argparse
import ast

import numpy as np

from coach.core import CoreOptions, analyze
from coach.core.simulator import SimOptions, simulate
from tests.core_fixed_shapes import sine_bias
from tests.core_helpers import CLEAN, match, real_templates

TABLE = ("dict()", "dict(fit_window_s=0.10)", "dict(fit_window_s=0.17)", "dict(top_vertex_weight=1.0)",
         "dict(fit_window_s=0.10, top_vertex_weight=1.0)", "dict(top_fit_window_s=0.04, top_vertex_weight=1.0)")


def _options(text: str) -> dict:
    node = ast.parse(text, mode="eval").body
    if not (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "dict" and not node.args):
        raise SystemExit(f"not a dict(...) of CoreOptions fields: {text}")
    return {k.arg: ast.literal_eval(k.value) for k in node.keywords}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("settings", nargs="*", default=list(TABLE))
    ap.add_argument("--seeds", type=int, default=12)
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--spikes", type=float, default=None, help="spikes per second in the noisy sessions")
    a = ap.parse_args(argv)
    families = ["cosine", "trapezoid", "asymmetric"]
    try:
        templates = real_templates()
        families += ["template", "mixed"]
    except BaseException as exc:  # pytest's skip when the shared data is absent
        print(f"template family skipped: {exc}")
        templates = ()
    sims = {}
    for fam in families:
        for clean in (True, False):
            kw = dict(shape=fam, fps=a.fps, **(CLEAN if clean else {}))
            if not clean and a.spikes is not None:
                kw["spike_rate_hz"] = a.spikes
            if fam in ("template", "mixed"):
                kw["templates"] = templates
            sims[fam, clean] = [simulate(SimOptions(seed=s, **kw)) for s in range(a.seeds)]
    print("setting: family clean/noisy depth MAE (bias), mm")
    for text in a.settings:
        opts = CoreOptions(**_options(text))
        cells = []
        for fam in families:
            for clean in (True, False):
                e, n_err = [], 0
                for sim in sims[fam, clean]:
                    res = analyze(sim.t_s, sim.height_mm, opts)
                    n_err += res.summary.compressions - len(sim.truth)
                    e += [m.depth_mm - c.depth_mm for c, m in match(sim.truth, res.compressions)]
                e = np.array(e)
                cells.append(f"{fam[:5]} {'clean' if clean else 'noisy'} {np.mean(np.abs(e)):.2f} ({np.mean(e):+.2f})"
                             + (f" n{n_err:+d}" if n_err else ""))
        for clean in (True, False):  # a pure sinusoid, built without the simulator (110 cpm, 52 mm)
            e = sine_bias(110.0, 52.0, a.fps, 0.0 if clean else 1.0, options=opts)
            cells.append(f"sine {'clean' if clean else 'noisy'} {np.mean(np.abs(e)):.2f} ({np.mean(e):+.2f})")
        print(f"{text}: " + ", ".join(cells), flush=True)


if __name__ == "__main__":
    main()
