"""``cpr-coach analyze VIDEO --calibration station.json --json OUT.json``: offline, the full path.

Frames -> hands (MediaPipe, or ONNX Runtime with --backend onnx) -> compression point -> height in mm (calibration)
-> the core. The JSON has the ``analyze-trace`` schema (summary, compressions,
pauses, sets) plus the per-frame height trace, the geometry mode and the rest
baseline. A progress bar is drawn on a terminal (stderr), nothing elsewhere.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from pathlib import Path
from typing import TextIO

from coach.cli import CliError


def register(sub: argparse._SubParsersAction) -> None:
    from coach.cli.models import add_backend_arguments, add_model_arguments
    from coach.cli.sessions import add_record_arguments

    p = sub.add_parser("analyze", help="analyse a CPR video: hands -> depth (mm) -> compressions, rate, pauses",
                       description="Analyse a video filmed by a calibrated camera (see `cpr-coach calibrate`). "
                       "Rest the hands on the chest for about 2 s before the first compression: that is the "
                       "depth baseline.")
    p.add_argument("video", metavar="VIDEO", help="video file (or a folder of frames)")
    p.add_argument("--calibration", metavar="JSON", help="station calibration from `cpr-coach calibrate manikin`")
    p.add_argument("--hfov", type=float, metavar="DEG",
                   help="no calibration file: the camera's horizontal FOV; depth then comes from the hand's size "
                   "(larger error, see docs/calibration.md)")
    p.add_argument("--json", metavar="OUT", help="write the results (and the per-frame trace) here")
    p.add_argument("--profile", default="adult", help="guideline profile (default adult)")
    p.add_argument("--no-rest", action="store_true", help="do not wait for a resting hold; the core tracks the baseline")
    p.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames")
    p.add_argument("--no-floor-carry", action="store_true",
                   help="moving camera: where the anchor marker is not found, leave the frame without a pose instead of "
                        "carrying it by the floor's texture around the marker (for a floor that may mislead it)")
    p.add_argument("--hand-marker-mm", type=float, metavar="MM",
                   help="the trainee wears the hand tag (`calibrate print-marker --hand`) with this black-square size: "
                   "depth from the tag when it is seen (the most accurate mode; needs --calibration)")
    p.add_argument("--hand-marker-id", type=int, default=None, metavar="ID",
                   help="the hand tag's id in DICT_4X4_50 (default 7)")
    prog = p.add_mutually_exclusive_group()
    prog.add_argument("--progress", dest="progress", action="store_true", default=None, help="always draw the progress bar")
    prog.add_argument("--no-progress", dest="progress", action="store_false", help="never draw it")
    add_model_arguments(p)
    add_record_arguments(p)
    add_backend_arguments(p)
    p.set_defaults(func=_analyze)


class FrameProgress:
    """One redrawn line on a terminal: frames done, %, fps, ETA. Silent when not enabled."""

    def __init__(self, label: str, total: int | None, enabled: bool, stream: TextIO | None = None,
                 min_interval_s: float = 0.2) -> None:
        self.stream = stream or sys.stderr
        self.label = label
        self.total = total
        self.enabled = enabled
        self.min_interval_s = min_interval_s
        self._last = -1.0
        self.width = 28

    def update(self, done: int, elapsed_s: float, force: bool = False) -> None:
        if not self.enabled or (not force and elapsed_s - self._last < self.min_interval_s):
            return
        self._last = elapsed_s
        fps = done / elapsed_s if elapsed_s > 0 else 0.0
        if self.total:
            frac = min(done / self.total, 1.0)
            fill = int(round(frac * self.width))
            eta = (self.total - done) / fps if fps > 0 else float("nan")
            eta_s = f"ETA {eta:4.0f} s" if math.isfinite(eta) else "ETA    ? s"
            text = f"\r{self.label} [{'#' * fill}{'-' * (self.width - fill)}] {frac * 100:5.1f}% {done}/{self.total} frames {fps:5.1f} fps {eta_s}"
        else:
            text = f"\r{self.label} {done} frames {fps:5.1f} fps"
        self.stream.write(text)
        self.stream.flush()

    def close(self, done: int, elapsed_s: float) -> None:
        if self.enabled:
            self.update(done, elapsed_s, force=True)
            self.stream.write("\n")
            self.stream.flush()


def result_to_json(res, *, video: str, calibration: str | None, station, size_wh, fps, profile: str) -> dict:
    """The analyze-trace document (input, samples, profile, summary, compressions, pauses, sets)
    plus the per-frame trace and the geometry, rest and placement sections."""
    from coach.core.types import json_safe

    out = {"input": video, "samples": res.frames, "profile": profile, **res.session.to_dict()}
    out["summary"] = {**out["summary"], "depth_uncertainty_mm": res.depth_uncertainty_mm}
    man = station.manikin if station is not None else None
    rest = res.rest
    out.update(
        {
            "source": {"video": video, "frames": res.frames, "fps": fps, "size_wh": list(size_wh) if size_wh else None,
                       "frames_with_hands": res.frames_with_point, "frames_lost": res.frames_lost,
                       "processing_s": res.wall_s},
            "calibration": {
                "file": calibration,
                "mode": res.mode,
                "rest_height_mm": res.rest_height_mm,
                "rest": None if rest is None else {"t_start_s": rest.t_start_s, "t_end_s": rest.t_end_s,
                                                   "samples": rest.samples, "spread": rest.spread,
                                                   "at_recoil_tops": res.rest_at_tops},
                "elevation_deg": None if man is None else man.view.elevation_deg,
                "azimuth_from_side_deg": None if man is None else man.view.azimuth_from_side_deg,
                "distance_mm": None if man is None else man.view.distance_mm,
                "marker": None if man is None else man.marker.to_dict(),
                "depth_uncertainty_mm": res.depth_uncertainty_mm,
                "tracked_point_mm": None if res.tracked_point_mm is None else list(res.tracked_point_mm),
                "hand_tag_frames": res.hand_tag_frames,
                "level_drift_mm": res.level_drift_mm,
                "tracker_re_references": res.tracker_re_references,
                "rest_drop_mm": res.rest_drop_mm,
                "relocations": res.relocations,
                "tops_lean_mm": res.tops_lean_mm,
                "tops_raised_mm": res.tops_raised_mm,
                "tops_above_mm": res.tops_above_mm,
                "tops_unchecked": res.tops_unchecked,
                "tops_settled_mm": res.tops_settled_mm,
                "stroke_shape_bias_mm": res.stroke_shape_bias_mm,
            },
            "live": {"feedback_delay_s": res.feedback_delay_stats_s(),
                     "feedback_delays_s": [list(x) for x in res.feedback_delays_s],
                     "about": "stream time from each compression's release to the frame that gave it out, as the "
                              "live coach would have: (release s, delay s) each"},
            "placement": {"median_axial_mm": res.placement_mm,
                          "about": "hand position along the body axis while compressing, + toward the head, "
                                   "0 = where the marker's centre was"},
            "trace": res.trace(),
            "warnings": res.warnings,
        }
    )
    return json_safe(out)


def _hand_tag(args: argparse.Namespace, station):
    """The worn hand tag's spec from --hand-marker-mm/--hand-marker-id (None: no tag). Needs a manikin calibration."""
    if args.hand_marker_mm is None and args.hand_marker_id is None:
        return None
    from calibration.handpoint import HAND_TAG_ID, HAND_TAG_MM, HandTagSpec

    if station is None or station.manikin is None:
        raise CliError("--hand-marker-mm needs --calibration with a manikin calibration (the tag's motion is "
                       "measured in the manikin frame)")
    tag_mm = HAND_TAG_MM if args.hand_marker_mm is None else args.hand_marker_mm
    if not (5.0 <= tag_mm <= 200.0):
        raise CliError(f"--hand-marker-mm must be 5..200 mm, got {tag_mm:g}")
    tag = HandTagSpec(marker_id=HAND_TAG_ID if args.hand_marker_id is None else args.hand_marker_id, size_mm=tag_mm)
    if tag.marker_id == station.manikin.marker.marker_id:
        raise CliError(f"--hand-marker-id {tag.marker_id} is the chest marker's id: print the hand tag "
                       "with `calibrate print-marker --hand`")
    return tag


def _analyze(args: argparse.Namespace) -> int:
    from calibration.store import load_calibration
    from coach.cli.models import onnx_options_from_args, resolve_model_path
    from coach.core.profiles import load_profile
    from coach.pipeline import Pipeline, PipelineOptions, run
    from vision.sources import SourceOptions, open_source

    load_profile(args.profile)
    if args.max_frames is not None and args.max_frames < 1:
        raise CliError(f"--max-frames must be at least 1, got {args.max_frames}")
    if not args.calibration and args.hfov is None:
        raise CliError("give --calibration station.json (from `cpr-coach calibrate manikin`), or --hfov DEG to "
                       "measure from the hand's own size without a marker (larger error)")
    station = None
    if args.calibration:
        station = load_calibration(args.calibration)
    if args.json:
        out_dir = Path(args.json).resolve().parent
        if not out_dir.is_dir():
            raise CliError(f"cannot write {args.json}: folder {out_dir} does not exist")
    # a truncated file: analyse the frames it has and say so (nothing already recorded is lost)
    src = open_source(args.video, SourceOptions(on_truncated="warn"))
    with src:
        size = src.size_wh
        if size is None:
            raise CliError(f"{args.video}: cannot tell the frame size (analyze reads video files and image folders)")
        if station is not None and args.hfov is not None:
            print("note: --hfov is ignored, the calibration file has the camera", file=sys.stderr)
        opts = PipelineOptions(profile=args.profile, use_rest_baseline=not args.no_rest,
                               floor_carry=not args.no_floor_carry)
        hand_tag = _hand_tag(args, station)
        pipe = Pipeline.from_calibration(station, size, model_path=resolve_model_path(args), options=opts,
                                         hfov_deg=args.hfov, source_name=args.video,
                                         calibration_name=args.calibration or "the calibration",
                                         backend=args.backend, onnx_options=onnx_options_from_args(args),
                                         hand_tag=hand_tag)
        tracker = pipe.tracker
        enabled = sys.stderr.isatty() if args.progress is None else bool(args.progress)
        total = getattr(src, "frames_expected", None)
        if args.max_frames:
            total = min(total, args.max_frames) if total else args.max_frames
        bar = FrameProgress(f"analyze {Path(args.video).name}", total, enabled)
        count = [0]
        t0 = time.monotonic()

        def on_frame(step, elapsed_s):
            count[0] += 1
            bar.update(count[0], elapsed_s)

        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=r".* ends early: ", category=RuntimeWarning)  # said below
                res = run(src, pipe, time.monotonic, on_frame=on_frame, max_frames=args.max_frames)
        finally:
            bar.close(count[0], time.monotonic() - t0)
            tracker.close()
        if getattr(src, "truncated", False):
            res.warnings.append(f"{args.video} ends early: decoded {src.frames_read} of {src.frames_expected} frames "
                                "(truncated or corrupt file); the frames it has were analysed")
        fps = src.fps
    from coach.cli.trace import summary_lines, write_json

    print(f"{args.video}: {res.frames} frames, hands in {res.frames_with_point}, geometry: {res.mode}"
          + (f", rest {res.rest_height_mm:.1f} mm above the chest" if res.rest_height_mm is not None else ", no rest hold")
          + (" (at the first strokes' recoil tops: no rest hold was seen)" if res.rest_at_tops else "")
          + f", profile {args.profile}")
    for line in summary_lines(res.session):
        print("  " + line)
    if math.isfinite(res.depth_uncertainty_mm):
        how = {"hand-size": "no marker: the hand's size", "anchor": "anchor marker"}.get(res.mode, "marker")
        if res.hand_tag_frames:
            how += f", hand tag in {res.hand_tag_frames} frames"
        elif res.tracked_point_mm is not None:
            how += ", hands located at rest"
            if res.relocations:
                how += f" and again after {res.relocations} pause(s)"
        if res.level_drift_mm >= 0.1:  # say why a statement is wide: the tracker kept re-anchoring on a noisy trace
            how += (f"; the trace's level drifts {res.level_drift_mm:.1f} mm (1 s.d.) over "
                    f"{res.tracker_re_references} tracker re-references")
        if res.rest_drop_mm > 0:  # say why: a lower rest after a pause, or a lean, that the session cannot tell apart
            how += (f"; after a pause the tops came back {res.rest_drop_mm:.1f} mm lower with strokes as long: "
                    "hands put back otherwise, or leaning")
        if res.tops_lean_mm > 0:  # a rest taken at recoil tops, which may have leaned
            said = []
            if res.tops_above_mm > 0:
                said.append(f"a later top came back {res.tops_above_mm:.1f} mm above them")
            if res.tops_raised_mm > 0:
                said.append(f"later tops rose {res.tops_raised_mm:.1f} mm, and the rest with them")
            if res.tops_unchecked:  # (no full recoil of the same hands was seen: the lean is the most there could be)
                said.append("nothing compared them with the same hands at full recoil: rest the hands still on the "
                            "chest before compressing to measure it")
            elif res.tops_above_mm < res.tops_lean_mm and res.tops_raised_mm == 0:
                said.append("as this trainee leaned before")
            seen = "; ".join(said)
            how += (f"; with no rest hold (at the start or after a pause) the hands were located at the first "
                    f"strokes' recoil tops, which may lean "
                    f"{res.tops_lean_mm:.1f} mm ({seen})")
        if res.tops_settled_mm > 0:  # a rest taken at recoil tops that later tops never came back up to
            how += (f"; the set's tops settled {res.tops_settled_mm:.1f} mm below the rest taken at its first recoil "
                    "tops, and it was lowered to them: the compressions before read up to that much deep")
        if res.stroke_shape_bias_mm:  # a stroke shape the core's fits read off (pooled bottoms and tops)
            how += (f"; this trainee's stroke shape reads depths about {abs(res.stroke_shape_bias_mm):.1f} mm "
                    f"{'deep' if res.stroke_shape_bias_mm > 0 else 'shallow'}")
        print(f"  depth uncertainty ±{res.depth_uncertainty_mm:.1f} mm ({how})")
    fb = res.feedback_delay_stats_s()
    if math.isfinite(fb["median"]):  # what a live coach would have shown when (held frames wait for a rest)
        print(f"  live feedback    each compression out {fb['median']:.2f} s after its release (median; "
              f"95 % within {fb['p95']:.2f} s, at most {fb['max']:.2f} s)")
    if math.isfinite(res.placement_mm):
        print(f"  hand placement   {res.placement_mm:+.0f} mm along the body axis from the marked point (+ toward the head)")
    for w in res.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if args.json:
        data = result_to_json(res, video=args.video, calibration=args.calibration, station=station, size_wh=size, fps=fps,
                              profile=args.profile)
        write_json(args.json, data, indent=1)
        print(f"  -> {args.json}")
    _record(args, res, station)
    return 0


def _record(args: argparse.Namespace, res, station) -> None:
    """The analysed video as a recorded session (unless --no-record): samples, compressions, summary, geometry."""
    from coach.cli.sessions import record_analysis
    from coach.records import calibration_info

    tr = res.trace()
    record_analysis(args, res.session, source_kind="video", source_name=str(args.video), profile=args.profile,
                    t_s=tr["t_s"], height_mm=tr["height_mm"], hands_visible=[bool(n) for n in tr["n_hands"]],
                    calibration=calibration_info(res.mode, file=args.calibration, station=station,
                                                depth_uncertainty_mm=res.depth_uncertainty_mm),
                    rest_height_mm=res.core_rest_height_mm, rest_moves=res.rest_moves)
