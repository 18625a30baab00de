"""``cpr-coach calibrate print-marker|camera|manikin``: the station's geometry.

print-marker  a true-scale PDF of the ArUco marker, with a ruler to check the print;
camera        intrinsics from chessboard or ChArUco photos (or a video of the board);
manikin       the manikin frame from the marker on the chest, averaged over many frames.

Heavy imports (cv2, the calibration package) happen inside the commands.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from coach.cli import CliError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("calibrate", help="print the marker, calibrate the camera and the manikin frame")
    csub = p.add_subparsers(dest="calibrate_command", metavar="STEP")
    csub.required = True

    pm = csub.add_parser("print-marker", help="write the ArUco marker as a true-scale PDF with a ruler",
                         description="Print the PDF at 100% (actual size) and check the ruler before use.")
    pm.add_argument("--mm", type=float, default=None, help="side of the black square in mm (default 120; 40 with --hand)")
    pm.add_argument("--dict", dest="dictionary", default="DICT_4X4_50", help="ArUco dictionary (default DICT_4X4_50)")
    pm.add_argument("--id", dest="marker_id", type=int, default=None,
                    help="marker id (default 0; use 1 for an anchor; 7 with --hand)")
    pm.add_argument("--hand", action="store_true",
                    help="the small hand tag (id 7, 40 mm) to wear on the back of the top hand or a wristband, "
                    "for `analyze --hand-marker-mm`")
    pm.add_argument("--paper", choices=("a4", "letter", "a3"), default="a4", help="paper size (default a4)")
    pm.add_argument("-o", "--output", required=True, metavar="PDF", help="where to write the PDF")
    pm.set_defaults(func=_print_marker)

    ca = csub.add_parser("camera", help="camera intrinsics from photos of a chessboard or ChArUco board",
                         description="Take 10-20 photos of a flat printed board from different angles, filling "
                         "different parts of the image, at the resolution you will film at.")
    src = ca.add_mutually_exclusive_group(required=True)
    src.add_argument("--images", nargs="+", metavar="PATH", help="image files and/or folders of images")
    src.add_argument("--source", metavar="VIDEO", help="a video of the board (every --every'th frame is used)")
    ca.add_argument("--every", type=int, default=15, metavar="N", help="with --source: use every N-th frame (default 15)")
    board = ca.add_mutually_exclusive_group(required=True)
    board.add_argument("--chessboard", metavar="COLSxROWS", help="chessboard INNER corners, e.g. 9x6")
    board.add_argument("--charuco", metavar="COLSxROWS", help="ChArUco board SQUARES, e.g. 7x5")
    ca.add_argument("--square-mm", type=float, required=True, help="side of one board square in mm (measure the print)")
    ca.add_argument("--charuco-marker-mm", type=float, help="ChArUco: side of the markers in the squares, mm")
    ca.add_argument("--dict", dest="dictionary", default="DICT_4X4_50", help="ChArUco: ArUco dictionary")
    ca.add_argument("--min-views", type=int, default=5, help="fewest usable photos (default 5)")
    ca.add_argument("-o", "--output", required=True, metavar="JSON", help="calibration file to write")
    ca.set_defaults(func=_camera)

    ma = csub.add_parser("manikin", help="the manikin frame from the marker lying on the chest",
                         description="Lay the marker on the lower half of the sternum, top edge toward the head, "
                         "fix the camera beside the manikin, and film a few seconds.")
    ma.add_argument("--source", required=True, metavar="VIDEO_OR_CAMERA", help="video file, image folder, camera index or stream URL")
    intr = ma.add_mutually_exclusive_group()
    intr.add_argument("--hfov", type=float, metavar="DEG", help="horizontal field of view of an uncalibrated camera")
    intr.add_argument("--camera", metavar="JSON", help="intrinsics from `calibrate camera` (or any calibration file)")
    ma.add_argument("--marker-mm", type=float, default=120.0, help="measured side of the printed black square (default 120)")
    ma.add_argument("--dict", dest="dictionary", default="DICT_4X4_50", help="ArUco dictionary (default DICT_4X4_50)")
    ma.add_argument("--id", dest="marker_id", type=int, default=0, help="marker id on the chest (default 0)")
    ma.add_argument("--anchor-id", type=int, metavar="ID", help="a static anchor marker beside the manikin (moving cameras)")
    ma.add_argument("--anchor-mm", type=float, help="side of the anchor's black square (default: --marker-mm)")
    ma.add_argument("--frames", type=int, default=120, help="good frames to average (default 120)")
    ma.add_argument("--min-frames", type=int, default=10, help="fewest good frames accepted (default 10)")
    ma.add_argument("--timeout", type=float, default=20.0, metavar="S", help="live sources: give up after S seconds (default 20)")
    ma.add_argument("-o", "--output", required=True, metavar="JSON", help="calibration file to write")
    ma.set_defaults(func=_manikin)


# ---------------------------------------------------------------------- print-marker


def _print_marker(args: argparse.Namespace) -> int:
    from calibration.marker_sheet import MarkerSheet, marker_pdf_bytes

    from calibration.handpoint import HAND_TAG_ID, HAND_TAG_MM

    if args.hand:
        args.marker_id = HAND_TAG_ID if args.marker_id is None else args.marker_id
        args.mm = HAND_TAG_MM if args.mm is None else args.mm
        if args.marker_id in (0, 1):
            raise CliError(f"--hand --id {args.marker_id}: ids 0 and 1 are the chest and anchor markers; "
                           f"the hand tag needs another (default {HAND_TAG_ID})")
    args.marker_id = 0 if args.marker_id is None else args.marker_id
    args.mm = 120.0 if args.mm is None else args.mm
    data = marker_pdf_bytes(MarkerSheet(args.dictionary, args.marker_id, args.mm, args.paper))
    out = Path(args.output)
    try:
        out.write_bytes(data)
    except OSError as exc:
        raise CliError(f"cannot write {out}: {exc.strerror or exc}") from None
    print(f"wrote {out}: {args.dictionary} id {args.marker_id}, black square {args.mm:g} mm, {args.paper.upper()}")
    print("print it at 100% (\"actual size\"), then check the ruler and the square with a real ruler")
    if args.hand:
        print(f"wear it flat on the back of the top hand or on a wristband, facing the camera; then "
              f"`cpr-coach analyze ... --hand-marker-mm {args.mm:g}`" +
              (f" --hand-marker-id {args.marker_id}" if args.marker_id != HAND_TAG_ID else ""))
    return 0


# ---------------------------------------------------------------------- camera


def _camera(args: argparse.Namespace) -> int:
    import cv2

    from calibration.camera import CharucoPattern, ChessboardPattern, calibrate_camera, image_files, parse_board_size
    from calibration.store import StationCalibration, save_calibration

    if args.chessboard:
        cols, rows = parse_board_size(args.chessboard)
        pattern = ChessboardPattern(cols, rows, args.square_mm)
    else:
        cols, rows = parse_board_size(args.charuco)
        if not args.charuco_marker_mm:
            raise CliError("--charuco needs --charuco-marker-mm (the side of the markers inside the squares)")
        pattern = CharucoPattern(cols, rows, args.square_mm, args.charuco_marker_mm, args.dictionary)
        pattern.board()  # validates the dictionary now
    if args.images:
        files = image_files(args.images)
        if not files:
            raise CliError(f"no images found in {' '.join(args.images)}")

        def gen():
            for f in files:
                img = cv2.imread(f)
                if img is None:
                    raise CliError(f"cannot read image {f}")
                yield f, img

        images = gen()
    else:
        images = _video_frames(args.source, args.every)
    res = calibrate_camera(images, pattern, min_views=args.min_views)
    c = res.intrinsics
    save_calibration(StationCalibration(c, None), args.output)
    print(f"board found in {len(res.used)} of {len(res.used) + len(res.rejected)} images"
          + (f" (not found: {', '.join(Path(r).name for r in res.rejected[:5])}{' ...' if len(res.rejected) > 5 else ''})" if res.rejected else ""))
    print(f"{c.width_px}x{c.height_px}: fx {c.fx_px:.1f} px, fy {c.fy_px:.1f} px, principal point "
          f"({c.cx_px:.1f}, {c.cy_px:.1f}), horizontal FOV {c.hfov_deg:.1f} deg, reprojection RMS {c.rms_px:.3f} px")
    if c.rms_px is not None and c.rms_px > 1.0:
        print("warning: reprojection error above 1 px: blurred photos, a bent board, or a wrong --square-mm?",
              file=sys.stderr)
    print(f"wrote {args.output}")
    return 0


def _video_frames(spec: str, every: int):
    from vision.sources import SourceError, open_source

    src = open_source(spec)
    with src:
        try:
            for fr in src:
                if fr.lost:
                    continue
                if fr.index % max(every, 1) == 0:
                    yield f"frame {fr.index}", fr.image
        except SourceError as exc:  # a truncated video: the frames before still calibrate
            print(f"warning: {exc}; using the frames read so far", file=sys.stderr)


# ---------------------------------------------------------------------- manikin


def load_intrinsics(args: argparse.Namespace, size_wh: tuple[int, int]):
    """Intrinsics for frames of ``size_wh`` from ``--camera FILE`` or ``--hfov DEG`` (CliError otherwise)."""
    from calibration.camera import CameraIntrinsics
    from calibration.store import load_calibration

    if getattr(args, "camera", None):
        cam = load_calibration(args.camera).camera
        return cam.scaled_to(*size_wh)
    if getattr(args, "hfov", None) is not None:
        return CameraIntrinsics.from_hfov(args.hfov, *size_wh)
    raise CliError("give the camera's intrinsics: --hfov DEG (its horizontal field of view, e.g. 60-78 for a webcam) "
                   "or --camera camera.json (from `cpr-coach calibrate camera`)")


def _check_stated_lens(cal, hfov_deg: float, tolerance: float = 0.03):
    """``--hfov`` is a statement about the lens; the marker's perspective measures it. When the two differ by
    more than ``tolerance`` in focal length, the measured one is used and the user is told (a 70 deg box
    figure on a 62 deg lens is +9 % of depth)."""
    from calibration.camera import CameraIntrinsics

    f = cal.marker_focal_px()
    if not math.isfinite(f) or abs(f / cal.intr.fx_px - 1.0) <= tolerance:
        return cal
    w, h = cal.intr.width_px, cal.intr.height_px
    measured = math.degrees(2.0 * math.atan(w / 2.0 / f))
    print(f"warning: the marker's perspective says the lens is {measured:.1f} deg wide, not {hfov_deg:g} deg: "
          f"using {measured:.1f} deg (pass --hfov {measured:.0f}, or `calibrate camera` for a measured lens)",
          file=sys.stderr)
    intr = CameraIntrinsics.from_hfov(measured, w, h)
    return cal.with_intrinsics(intr)


def _manikin(args: argparse.Namespace) -> int:
    from calibration.manikin import ManikinCalibrationOptions, ManikinCalibrator, MarkerSpec
    from calibration.markers import get_dictionary
    from calibration.store import StationCalibration, save_calibration
    from vision.sources import SourceError, open_source, require_frames

    if args.marker_mm <= 0:
        raise CliError(f"--marker-mm must be positive, got {args.marker_mm:g}")
    if args.frames < 1 or args.min_frames < 1:
        raise CliError(f"--frames and --min-frames must be at least 1, got {args.frames} and {args.min_frames}")
    get_dictionary(args.dictionary)
    marker = MarkerSpec(args.dictionary.upper(), args.marker_id, args.marker_mm)
    anchor = None
    if args.anchor_id is not None:
        anchor = MarkerSpec(args.dictionary.upper(), args.anchor_id, args.anchor_mm or args.marker_mm)
    opts = ManikinCalibrationOptions(marker=marker, anchor=anchor, max_frames=args.frames,
                                     min_frames=min(args.min_frames, args.frames))
    src = open_source(args.source)
    require_frames(src)
    cal = None
    t0 = time.monotonic()
    try:
        with src:
            for fr in src:
                if fr.lost:
                    if src.is_live and time.monotonic() - t0 > args.timeout:
                        break
                    continue
                if cal is None:
                    intr = load_intrinsics(args, fr.size_wh)
                    cal = ManikinCalibrator(intr, opts)
                cal.add_frame(fr.image)
                if cal.done or (src.is_live and time.monotonic() - t0 > args.timeout):
                    break
    except SourceError as exc:
        if cal is None:
            raise CliError(str(exc)) from None
        print(f"warning: {exc}; using the frames read so far", file=sys.stderr)
    if cal is None:
        raise CliError(f"no frames from {args.source}")
    if getattr(args, "camera", None) is None and args.hfov is not None:
        cal = _check_stated_lens(cal, args.hfov)
    res = cal.result()
    v = res.view
    print(f"marker {marker.dictionary} id {marker.marker_id} ({marker.size_mm:g} mm): used {res.frames_used} frames, "
          f"rejected {res.frames_rejected} of {cal.frames_seen}")
    print(f"reprojection error {res.reprojection_rms_px:.3f} px RMS; marker {res.marker_side_px:.0f} px per side")
    print(f"viewing angle: {v.elevation_deg:.1f} deg above the chest, {v.azimuth_from_side_deg:+.1f} deg from a side view "
          f"(+ toward the head), {v.distance_mm:.0f} mm away; height resolution {res.mm_per_px_z:.2f} mm/px")
    if res.anchor is not None:
        print(f"anchor id {res.anchor.marker.marker_id}: anchor->manikin from {res.anchor.frames_used} frames, "
              f"scatter {res.anchor.spread_mm:.1f} mm RMS")
    for w in res.warnings:
        print(f"warning: {w}", file=sys.stderr)
    save_calibration(StationCalibration(cal.intr, res), args.output)
    print(f"wrote {args.output}. Now remove the marker, rest the hands on the chest for 2 s, then start compressing.")
    return 0
