"""End-to-end accuracy on rendered clips: render, run the real CLI, compare with the truth.

Used by tests/test_analyze_accuracy.py (which asserts the issue's limits) and
runnable on its own to print the accuracy table of docs/calibration.md::

    python -m tests.render.accuracy            # from the repo root: all views and hand sizes (~4 min, 2 cores)
    python -m tests.render.accuracy side30 fallback-small --seed 8
    python -m tests.render.accuracy --all      # every hand family x view (tests/render/families.py), ~25 min
    python -m tests.render.accuracy stacked@side30 marker@vga --seed 5   # family@view cases
    python -m tests.render.accuracy "heel>stacked@side30"   # one hand, then two stacked after the breaths
"""
from __future__ import annotations

import json
import math
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .clips import (ANCHOR_ID, MARKER_MM, ViewSpec, anchor_view, render_calibration_clip, render_compression_clip,
                    render_family_clip)
from .families import FAMILIES, STATED_HFOV_DEG, VARIANTS, HandFamily
from .hand import HandSprite
from .scenario import Scenario, compression_scenario

VIEWS: dict[str, ViewSpec] = {
    "side30": ViewSpec("side30", 1280, 720, elevation_deg=30.0, azimuth_deg=0.0, distance_mm=900.0),
    "oblique45": ViewSpec("oblique45", 1280, 720, elevation_deg=45.0, azimuth_deg=45.0, distance_mm=900.0),
    "vga": ViewSpec("vga", 640, 480, elevation_deg=30.0, azimuth_deg=0.0, distance_mm=900.0),
    "anchor": anchor_view(),
    # probes beyond the table's views (FAMILY@VIEW only): toward the feet, steeper, from the other side
    "feet45": ViewSpec("feet45", 1280, 720, elevation_deg=45.0, azimuth_deg=-45.0, distance_mm=900.0),
    "steep60": ViewSpec("steep60", 1280, 720, elevation_deg=60.0, azimuth_deg=0.0, distance_mm=800.0),
    "farside30": ViewSpec("farside30", 1280, 720, elevation_deg=30.0, azimuth_deg=180.0, distance_mm=900.0),
    # ... and the side view at the frame rates of a phone (24 fps) and of a webcam in dim light (15 fps)
    "fps24": ViewSpec("fps24", 1280, 720, elevation_deg=30.0, azimuth_deg=0.0, distance_mm=900.0, fps=24.0),
    "fps15": ViewSpec("fps15", 1280, 720, elevation_deg=30.0, azimuth_deg=0.0, distance_mm=900.0, fps=15.0),
    # ... between them (20 fps: the watchers' median takes 3 frames there, as at 15) and below (12 fps)
    "fps20": ViewSpec("fps20", 1280, 720, elevation_deg=30.0, azimuth_deg=0.0, distance_mm=900.0, fps=20.0),
    "fps12": ViewSpec("fps12", 1280, 720, elevation_deg=30.0, azimuth_deg=0.0, distance_mm=900.0, fps=12.0),
    # ... a camera propped askew (rolled 15 deg), nearer (600 mm), farther (1300 mm) and lower (15 deg up)
    "roll15": ViewSpec("roll15", 1280, 720, elevation_deg=30.0, azimuth_deg=0.0, distance_mm=900.0, roll_deg=15.0),
    "near600": ViewSpec("near600", 1280, 720, elevation_deg=30.0, azimuth_deg=0.0, distance_mm=600.0),
    "far1300": ViewSpec("far1300", 1280, 720, elevation_deg=30.0, azimuth_deg=0.0, distance_mm=1300.0),
    "low15": ViewSpec("low15", 1280, 720, elevation_deg=15.0, azimuth_deg=0.0, distance_mm=900.0),
    # ... the moving camera beyond its one slow bob: the head going down with each compression (80 % of it, nodding
    # 0.6 deg per cm), a livelier head (bob 6 cm, sway 3 deg), and a dim headset camera's 15 fps
    "anchor-cpr": replace(anchor_view(), name="anchor-cpr", head_follow=0.8, head_nod_deg_per_cm=0.6),
    "anchor-lively": replace(anchor_view(), name="anchor-lively", bob_mm=60.0, sway_deg=3.0),
    # the same head over a floor of identical tiles (a pattern that repeats), or a plain one (session 35)
    "anchor-lively-tiles": replace(anchor_view(), name="anchor-lively-tiles", bob_mm=60.0, sway_deg=3.0, floor="tiles"),
    "anchor-lively-plain": replace(anchor_view(), name="anchor-lively-plain", bob_mm=60.0, sway_deg=3.0, floor="plain"),
    # ... and small tiles (12 mm), whose pattern repeats within the carry's reach (session 36)
    "anchor-lively-tiles12": replace(anchor_view(), name="anchor-lively-tiles12", bob_mm=60.0, sway_deg=3.0,
                                     floor="tiles12"),
    "anchor-fps15": replace(anchor_view(), name="anchor-fps15", fps=15.0),
}
TITLES = {
    "side30": "side view, 30 deg elevation, 1280x720",
    "oblique45": "45 deg off the side view, 45 deg elevation, 1280x720",
    "vga": "side view, 30 deg elevation, 640x480",
    "anchor": "moving camera (bob +-3 cm, sway +-1 deg) with anchor marker, 1280x720",
    "fallback": "no marker: hand-size fallback, 185 mm hand (side view 30 deg, 1280x720)",
    "fallback-small": "no marker: hand-size fallback, 165 mm hand",
    "fallback-large": "no marker: hand-size fallback, 205 mm hand",
    "fallback-oblique45": "no marker: hand-size fallback, 185 mm hand, 45 deg off the side view, 45 deg elevation",
}
# hand length (wrist to middle fingertip) of the rendered hand in each fallback case
FALLBACK_HANDS = {"fallback": 185.0, "fallback-small": 165.0, "fallback-large": 205.0, "fallback-oblique45": 185.0}
FALLBACK_VIEW = {"fallback-oblique45": "oblique45"}


@dataclass
class Accuracy:
    name: str
    truth_count: int
    count: int
    matched: int
    depth_mae_mm: float
    depth_bias_mm: float
    depth_max_mm: float
    rate_mae_cpm: float
    mean_rate_err_cpm: float
    placement_err_mm: float
    mode: str
    height_scale: float = math.nan  # measured per-frame height against the true one, during compressions
    seconds: float = math.nan
    depth_uncertainty_mm: float = math.nan  # what the session stated (summary.depth_uncertainty_mm)

    def row(self) -> str:
        return (f"| {TITLES.get(self.name, self.name)} | {self.depth_mae_mm:.2f} | {self.depth_bias_mm:+.2f} | "
                f"{self.depth_max_mm:.2f} | {self.rate_mae_cpm:.2f} | {self.count}/{self.truth_count} |")


def match(measured: list[dict], truth, max_dt_s: float = 0.25) -> list[tuple[dict, object]]:
    """Pairs (measured, true) compressions by nearest bottom time, one-to-one."""
    pairs = []
    used: set[int] = set()
    for tc in truth:
        best, bd = None, max_dt_s
        for i, mc in enumerate(measured):
            d = abs(mc["t_bottom_s"] - tc.t_bottom_s)
            if i not in used and d < bd:
                best, bd = i, d
        if best is not None:
            used.add(best)
            pairs.append((measured[best], tc))
    return pairs


def height_scale(out: dict, sc: Scenario) -> float:
    """Slope of the measured per-frame height against the true one over the compression range (true height
    -75..+5 mm, hands in view): 1.0 when the geometry's scale is right. Why: a depth bias that is a fixed
    share of the stroke is a scale error of the camera chain, not of the core."""
    tr = out.get("trace") or {}
    if not tr.get("t_s"):
        return math.nan
    t = np.asarray(tr["t_s"], float)
    h = np.array([math.nan if v is None else v for v in tr["height_mm"]], float)
    true = np.interp(t, sc.t_s, sc.height_mm)
    m = np.isfinite(h) & (np.interp(t, sc.t_s, sc.visible.astype(float)) > 0.99) & (true > -75.0) & (true < 5.0)
    if m.sum() < 20:
        return math.nan
    return float(np.polyfit(true[m], h[m], 1)[0])


def score(name: str, out: dict, sc: Scenario) -> Accuracy:
    comps = out["compressions"]
    pairs = match(comps, sc.truth)
    derr = np.array([m["depth_mm"] - t.depth_mm for m, t in pairs])
    rerr = np.array([m["rate_cpm"] - t.rate_cpm for m, t in pairs
                     if m["rate_cpm"] is not None and math.isfinite(t.rate_cpm)])
    true_rates = [t.rate_cpm for t in sc.truth if math.isfinite(t.rate_cpm)]
    mean_rate = out["summary"].get("mean_rate_cpm")
    place = out.get("placement", {}).get("median_axial_mm")
    return Accuracy(
        name=name,
        truth_count=len(sc.truth),
        count=len(comps),
        matched=len(pairs),
        depth_mae_mm=float(np.mean(np.abs(derr))) if derr.size else math.nan,
        depth_bias_mm=float(np.mean(derr)) if derr.size else math.nan,
        depth_max_mm=float(np.max(np.abs(derr))) if derr.size else math.nan,
        rate_mae_cpm=float(np.mean(np.abs(rerr))) if rerr.size else math.nan,
        mean_rate_err_cpm=(mean_rate - float(np.mean(true_rates))) if (mean_rate is not None and true_rates) else math.nan,
        placement_err_mm=(place - sc.placement_mm) if place is not None else math.nan,
        mode=out["calibration"]["mode"],
        height_scale=height_scale(out, sc),
        depth_uncertainty_mm=_num(out["summary"].get("depth_uncertainty_mm")),
    )


def _num(v) -> float:
    return math.nan if v is None else float(v)


@dataclass
class RenderedCase:
    view: ViewSpec
    scenario: Scenario
    calib_video: Path
    video: Path


def render_case(view: ViewSpec, workdir: Path, hands_dir: Path, seed: int = 3, hand_length_mm: float = 185.0,
                tag: str = "", shape: str = "cosine") -> RenderedCase:
    """Render the calibration and compression clips of one view (hand: wrist to middle fingertip)."""
    sprite = HandSprite.from_hands_jpg(Path(hands_dir), hand_length_mm=hand_length_mm)
    sc = compression_scenario(seed=seed, fps=view.fps, shape=shape)
    cal = workdir / f"{view.name}{tag}_calibration.mp4"
    vid = workdir / f"{view.name}{tag}_compressions.mp4"
    render_calibration_clip(cal, view, seconds=1.5)
    render_compression_clip(vid, view, sprite, sc.t_s, sc.height_mm, sc.placement_mm, sc.visible, truth=sc.truth)
    return RenderedCase(view, sc, cal, vid)


def family_view(view: ViewSpec, family: HandFamily) -> tuple[ViewSpec, float]:
    """(the view as rendered, the FOV the user states): a family's true lens replaces the view's."""
    if family.true_hfov_deg is None:
        return view, view.hfov_deg
    from dataclasses import replace

    return replace(view, hfov_deg=family.true_hfov_deg, name=f"{view.name}-{family.name}"), STATED_HFOV_DEG


def render_family_case(view: ViewSpec, family: HandFamily, workdir: Path, hands_dir: Path, seed: int = 3,
                       sim_s: float = 15.0, per_set: int = 10, shape: str = "cosine",
                       family_after: HandFamily | None = None,
                       return_rest_s: tuple[float, float] = (0.2, 0.5), straight_in: bool = False,
                       start_rest_s: float = 2.5, depth_mm: float | None = None) -> RenderedCase:
    """Render the calibration clip and one hand family's compression clip (``sim_s`` of simulated CPR; the hands put
    back as ``family_after`` after the ventilation pause, if given, resting ``return_rest_s`` before compressing;
    ``straight_in``: no rest hold at the start either, see ``compression_scenario``; ``start_rest_s``: the rest
    before the first compression, the simulator's landing hold of 0.1-0.3 s added)."""
    rview, _ = family_view(view, family)
    sc = compression_scenario(seed=seed, fps=view.fps, sim_s=sim_s, per_set=per_set, shape=shape,
                              return_rest_s=return_rest_s, straight_in=straight_in, rest_s=start_rest_s, depth_mm=depth_mm)
    cal = workdir / f"{rview.name}_calibration.mp4"
    after = f"-then-{family_after.name}" if family_after is not None else ""
    vid = workdir / f"{rview.name}_{family.name}{after}_compressions.mp4"
    if not cal.exists():
        render_calibration_clip(cal, rview, seconds=1.5)
    render_family_clip(vid, rview, family, Path(hands_dir), sc.t_s, sc.height_mm, sc.placement_mm, sc.visible,
                       truth=sc.truth, family_after=family_after)
    return RenderedCase(rview, sc, cal, vid)


def run_family_case(view: ViewSpec, family: HandFamily, workdir: Path, hands_dir: Path, seed: int = 3,
                    sim_s: float = 15.0, per_set: int = 10, shape: str = "cosine",
                    family_after: HandFamily | None = None,
                    return_rest_s: tuple[float, float] = (0.2, 0.5), straight_in: bool = False,
                    start_rest_s: float = 2.5, depth_mm: float | None = None) -> tuple[RenderedCase, dict, "Accuracy"]:
    """Render, calibrate (telling the stated FOV), analyze (with the hand tag when the family wears one), score."""
    case = render_family_case(view, family, workdir, hands_dir, seed, sim_s, per_set, shape, family_after, return_rest_s,
                              straight_in, start_rest_s, depth_mm=depth_mm)
    _, told = family_view(view, family)
    station = calibrate_case(case, workdir, hfov_deg=told)
    extra = ["--hand-marker-mm", f"{family.tag_mm:g}"] if family.hand_marker else []
    after = f">{family_after.name}" if family_after is not None else ""
    out = analyze_case(case, workdir, station, tag=f"_{family.name}{after.replace('>', '-then-')}", extra=extra)
    return case, out, score(f"{family.name}{after}@{view.name}", out, case.scenario)


def run_cli(argv: list[str]) -> int:
    from coach.cli import main

    return main(argv)


def calibrate_case(case: RenderedCase, workdir: Path, hfov_deg: float | None = None) -> Path:
    """``calibrate manikin`` on the case's calibration clip, told ``hfov_deg`` (default: the true FOV)."""
    v = case.view
    hfov = v.hfov_deg if hfov_deg is None else hfov_deg
    station = workdir / f"{v.name}_{hfov:g}_station.json"
    if station.exists():
        return station
    argv = ["calibrate", "manikin", "--source", str(case.calib_video), "--hfov", f"{hfov:g}",
            "--marker-mm", f"{MARKER_MM:g}", "-o", str(station)]
    if v.anchor:
        argv += ["--anchor-id", str(ANCHOR_ID)]
    rc = run_cli(argv)
    if rc != 0:
        raise RuntimeError(f"calibrate manikin failed for {v.name} (exit {rc})")
    return station


def analyze_case(case: RenderedCase, workdir: Path, station: Path | None, tag: str = "",
                 extra: list[str] | None = None) -> dict:
    out = workdir / f"{case.view.name}{tag}_analysis.json"
    argv = ["analyze", str(case.video), "--json", str(out), "--no-progress", *(extra or [])]
    argv += ["--calibration", str(station)] if station is not None else ["--hfov", f"{case.view.hfov_deg:g}"]
    rc = run_cli(argv)
    if rc != 0:
        raise RuntimeError(f"analyze failed for {case.view.name}{tag} (exit {rc})")
    return json.loads(out.read_text())


def _shared_data_dir() -> Path:
    """Where tests/conftest.py looks for the shared data: $CPR_TEST_DATA or <repo>/../shared/data."""
    import os

    env = os.environ.get("CPR_TEST_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "data"


FAMILY_VIEWS = ("side30", "oblique45", "vga")


# Variants whose views differ from "the side view and one other": the stacks' extremes (20 and 45 mm toward the
# camera) at every view, and the rescuer square beside the chest only at 45/45 (a side view sees it as the default)
VARIANT_VIEWS = {"stacked-near": FAMILY_VIEWS, "stacked-far": FAMILY_VIEWS,
                 "stacked-across": ("oblique45",), "heel-across": ("oblique45",), "stacked-far-across": ("oblique45",),
                 "marker-across": ("oblique45",)}


def all_family_cases() -> list[str]:
    """Every hand family x view, then the variants (geometry beyond the defaults) on the side view and one other."""
    cases = [f"{f}@{v}" for f in FAMILIES for v in FAMILY_VIEWS]
    other = {f: FAMILY_VIEWS[i % len(FAMILY_VIEWS)] for i, f in enumerate(VARIANTS)}  # (each variant: one other view)
    for f in VARIANTS:
        views = VARIANT_VIEWS.get(f) or tuple(dict.fromkeys(("side30", other[f])))
        cases += [f"{f}@{v}" for v in views]
    return cases


def family_row(a: Accuracy) -> str:
    fam, view = a.name.split("@")
    covered = "yes" if abs(a.depth_bias_mm) <= a.depth_uncertainty_mm else "NO"
    return (f"| {fam} | {view} | {a.mode} | {a.depth_mae_mm:.2f} | {a.depth_bias_mm:+.2f} | {a.depth_max_mm:.2f} | "
            f"{a.count}/{a.truth_count} | {a.mean_rate_err_cpm:+.2f} | {a.rate_mae_cpm:.2f} | "
            f"±{a.depth_uncertainty_mm:.2f} | {covered} | {a.height_scale:.4f} |")


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m tests.render.accuracy", description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help=f"cases (default: the views and hand sizes): {', '.join([*VIEWS, *FALLBACK_HANDS])}, "
                    f"or FAMILY@VIEW with FAMILY in {', '.join([*FAMILIES, *VARIANTS])} and VIEW any of the views (the table's: "
                    f"{', '.join(FAMILY_VIEWS)}; anchor: a moving camera) "
                    "(FAMILY>FAMILY2@VIEW: the hands put back as FAMILY2 after the ventilation pause)")
    ap.add_argument("--all", action="store_true", help="every hand family x view (and the geometry variants)")
    ap.add_argument("--seed", type=int, default=3, help="simulator seed of the compression waveform (default 3)")
    ap.add_argument("--sim-s", type=float, default=15.0, help="seconds of simulated CPR per family clip (default 15)")
    ap.add_argument("--shape", default="cosine", choices=("cosine", "trapezoid", "asymmetric", "template", "mixed"),
                    help="stroke shape of the waveform (default cosine; template: real strokes from the shared data)")
    ap.add_argument("--return-rest-s", default="0.2,0.5", metavar="LO,HI",
                    help="seconds the hands rest on the chest after the pause before compressing, drawn in LO-HI "
                         "(default 0.2,0.5; the filmed rescuers: 0,0.07)")
    ap.add_argument("--straight-in", action="store_true",
                    help="no rest hold at the start either: the hands on the chest from the first frame, compressing "
                         "after 0.1 s (hand family cases)")
    ap.add_argument("--start-rest-s", type=float, default=2.5, metavar="S",
                    help="seconds the hands rest on the chest before the first compression (default 2.5; the "
                         "simulator's landing hold of 0.1-0.3 s comes on top; hand family cases)")
    ap.add_argument("--depth-mm", type=float, default=None, metavar="MM",
                    help="the trainee's mean compression depth (default: the simulator's, mid-band; hand family cases)")
    args = ap.parse_args(argv)
    try:
        lo, hi = (float(x) for x in args.return_rest_s.split(","))
    except ValueError:
        ap.error(f"--return-rest-s: expected LO,HI in seconds, got {args.return_rest_s!r}")
    names = args.names or ([] if args.all else [*VIEWS, *FALLBACK_HANDS])
    if args.all:
        names = [*names, *all_family_cases()]
    seed = args.seed
    hands = _shared_data_dir() / "hands"
    rows, frows = [], []
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        cases: dict[str, RenderedCase] = {}
        for name in names:
            t0 = time.monotonic()
            if "@" in name:
                fam, view = name.split("@")
                fam, _, fam2 = fam.partition(">")  # FAMILY>FAMILY2: the hands put back otherwise after the pause
                family = FAMILIES.get(fam) or VARIANTS.get(fam)
                after = (FAMILIES.get(fam2) or VARIANTS.get(fam2)) if fam2 else None
                if family is None or view not in VIEWS or (fam2 and after is None):
                    ap.error(f"unknown case {name}")
                _, _, acc = run_family_case(VIEWS[view], family, work, hands, seed=seed, sim_s=args.sim_s, shape=args.shape,
                                            family_after=after, return_rest_s=(lo, hi), straight_in=args.straight_in,
                                            start_rest_s=args.start_rest_s, depth_mm=args.depth_mm)
                frows.append(acc)
            else:
                fallback = name in FALLBACK_HANDS
                key = {"fallback": "side30", "fallback-oblique45": "oblique45"}.get(name, name)
                if key not in cases:
                    if fallback:
                        view = VIEWS[FALLBACK_VIEW.get(name, "side30")]
                        cases[key] = render_case(view, work, hands, seed=seed, hand_length_mm=FALLBACK_HANDS[name], tag=name,
                                                 shape=args.shape)
                    else:
                        cases[key] = render_case(VIEWS[key], work, hands, seed=seed, shape=args.shape)
                case = cases[key]
                if fallback:
                    out = analyze_case(case, work, None, tag="_fallback")
                else:
                    out = analyze_case(case, work, calibrate_case(case, work))
                acc = score(name, out, case.scenario)
                rows.append(acc)
            acc.seconds = time.monotonic() - t0
            print(f"{acc.name}: depth MAE {acc.depth_mae_mm:.2f} mm (bias {acc.depth_bias_mm:+.2f}, max {acc.depth_max_mm:.2f}), "
                  f"stated uncertainty ±{acc.depth_uncertainty_mm:.2f} mm, "
                  f"rate MAE {acc.rate_mae_cpm:.2f} cpm, session rate error {acc.mean_rate_err_cpm:+.2f} cpm, "
                  f"count {acc.count}/{acc.truth_count}, placement error {acc.placement_err_mm:+.1f} mm, "
                  f"height scale {acc.height_scale:.4f}, mode {acc.mode}, {acc.seconds:.0f} s", flush=True)
    if rows:
        print()
        print("| view | depth MAE (mm) | depth bias (mm) | worst (mm) | rate MAE (cpm) | count | stated (mm) |")
        print("|---|---|---|---|---|---|---|")
        for r in rows:
            print(r.row() + f" ±{r.depth_uncertainty_mm:.2f} |")
    if frows:
        print()
        print("| family | view | mode | depth MAE (mm) | bias (mm) | worst (mm) | count | session rate err (cpm) | "
              "rate MAE (cpm) | stated (mm) | |bias| <= stated | height scale |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for r in frows:
            print(family_row(r))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
