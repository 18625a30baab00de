"""``cpr-coach analyze-trace``: a chest-height trace (CSV) through the core.

Why here and not in the core: reading files, naming rows in error messages and
printing summaries are edge concerns; the core takes arrays. Only numpy and the
core are imported, so the command starts fast (no MediaPipe, OpenCV or ZeroMQ).
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
from pathlib import Path

from coach.cli import CliError

HEADER = ("t_s", "height_mm")


# ---------------------------------------------------------------- reading
def read_trace_csv(path: str | os.PathLike) -> tuple[list[float], list[float]]:
    """Read a ``t_s,height_mm`` CSV; an empty height cell means missing (NaN).

    Every problem raises CliError with one line naming the file, the line and
    the column: no header, wrong column count, non-numeric cells, missing or
    non-finite times, times that do not increase, an empty file.
    """
    p = Path(path)
    try:
        fh = open(p, "r", encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise CliError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise CliError(f"{p}: is a directory, not a CSV file") from None
    except OSError as exc:
        raise CliError(f"{p}: cannot read: {exc.strerror or exc}") from None
    t_s: list[float] = []
    h_mm: list[float] = []
    with fh:
        try:
            rows = csv.reader(fh)
            header = None
            for row in rows:
                line = rows.line_num
                if header is None:
                    if not row or all(not c.strip() for c in row):
                        continue  # leading blank lines
                    cells = tuple(c.strip().lower() for c in row)
                    if cells != HEADER:
                        if _is_number(row[0]):
                            raise CliError(f"{p}: line {line}: no header; the first line must be 't_s,height_mm'")
                        raise CliError(f"{p}: line {line}: header is {','.join(row)!r}; expected 't_s,height_mm'")
                    header = cells
                    continue
                if not row or all(not c.strip() for c in row):
                    continue  # blank lines
                if len(row) != 2:
                    raise CliError(f"{p}: line {line}: expected 2 columns (t_s,height_mm), found {len(row)}")
                tc, hc = row[0].strip(), row[1].strip()
                if not tc:
                    raise CliError(f"{p}: line {line}, column t_s: missing time")
                t = _cell_number(tc, f"{p}: line {line}, column t_s", "time")
                if t_s and t <= t_s[-1]:
                    what = "goes backwards" if t < t_s[-1] else "repeats"
                    raise CliError(f"{p}: line {line}, column t_s: time {tc} {what} (previous {t_s[-1]!r})")
                if not hc or hc.lower() == "nan":
                    h = math.nan
                else:
                    h = _cell_number(hc, f"{p}: line {line}, column height_mm", "height")
                t_s.append(t)
                h_mm.append(h)
        except UnicodeDecodeError:
            raise CliError(f"{p}: not a text (UTF-8) CSV file") from None
        except csv.Error as exc:
            raise CliError(f"{p}: line {rows.line_num}: malformed CSV: {exc}") from None
    if header is None:
        raise CliError(f"{p}: empty file; expected the header 't_s,height_mm' and samples")
    if not t_s:
        raise CliError(f"{p}: no samples after the header")
    return t_s, h_mm


def _cell_number(cell: str, where: str, what: str) -> float:
    """A finite number, or CliError ``where: 'cell' is not a number`` / ``... is not a finite <what>``."""
    try:
        x = float(cell)
    except ValueError:
        raise CliError(f"{where}: {cell!r} is not a number") from None
    if not math.isfinite(x):
        raise CliError(f"{where}: {cell!r} is not a finite {what}")
    return x


def _is_number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


# ---------------------------------------------------------------- analysis
def run_analysis(csv_path: str | os.PathLike, json_path: str | os.PathLike, profile: str, trace=None):
    """The analyze-trace job: read (unless ``trace`` = (t_s, height_mm) was read already), analyze, write JSON.
    Returns (result, n_samples)."""
    from coach.core import CoreOptions, analyze
    from coach.core.profiles import ProfileError

    t, h = read_trace_csv(csv_path) if trace is None else trace
    try:
        options = CoreOptions(profile=profile)
        result = analyze(t, h, options)
    except ProfileError as exc:
        raise CliError(str(exc)) from None
    doc = {
        "input": str(csv_path),
        "samples": len(t),
        "profile": profile,
        **result.to_dict(),
    }
    write_json(json_path, doc)
    return result, len(t)


def write_json(path: str | os.PathLike, doc: dict, indent: int = 2) -> None:
    """Write ``doc`` atomically (temp file + rename): a failed write never leaves half a file. Errors -> CliError."""
    p = Path(path)
    try:
        if p.parent and not p.parent.exists():
            p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_text(json.dumps(doc, indent=indent, allow_nan=False) + "\n", encoding="utf-8")
        os.replace(tmp, p)
    except OSError as exc:
        raise CliError(f"{p}: cannot write: {exc.strerror or exc}") from None


def _fmt(x: float, spec: str = ".1f", unit: str = "") -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:{spec}}{unit}"


def summary_lines(result) -> list[str]:
    """A short human summary (the JSON has everything)."""
    s = result.summary
    lines = [
        f"compressions    {s.compressions} in {s.sets} set(s) over {_fmt(s.duration_s, '.1f', ' s')}",
        f"rate             mean {_fmt(s.mean_rate_cpm, '.1f')} cpm, median {_fmt(s.median_rate_cpm, '.1f')} cpm,"
        f" in target {_fmt(s.pct_rate_ok, '.0f', ' %')}",
        f"depth            mean {_fmt(s.mean_depth_mm, '.1f')} mm, median {_fmt(s.median_depth_mm, '.1f')} mm,"
        f" in target {_fmt(s.pct_depth_ok, '.0f', ' %')}",
        f"recoil           complete {_fmt(s.pct_recoil_ok, '.0f', ' %')}, mean residual {_fmt(s.mean_recoil_residual_mm, '.1f', ' mm')}",
        f"flow fraction    CCF {_fmt(100 * s.ccf, '.0f', ' %')} ({s.ccf_rating or 'n/a'}), hands-off {_fmt(s.hands_off_s, '.1f', ' s')},"
        f" first compression after {_fmt(s.time_to_first_s, '.1f', ' s')}",
    ]
    long = [p for p in result.pauses if p.too_long]
    lines.append(
        f"pauses           {len(result.pauses)} ("
        + ", ".join(f"{p.kind} {p.duration_s:.1f} s{' TOO LONG' if p.too_long else ''}" for p in result.pauses)
        + ")"
        if result.pauses
        else "pauses           none"
    )
    if long:
        lines.append(f"                 {len(long)} pause(s) longer than the profile allows")
    return lines


def _analyze_trace(args: argparse.Namespace) -> int:
    from coach.cli.sessions import record_analysis
    from coach.records import calibration_info

    t, h = read_trace_csv(args.file)
    result, n = run_analysis(args.file, args.json, args.profile, trace=(t, h))
    print(f"{args.file}: {n} samples, profile {args.profile}")
    for line in summary_lines(result):
        print("  " + line)
    print(f"  -> {args.json}")
    record_analysis(args, result, source_kind="trace", source_name=str(args.file), profile=args.profile, t_s=t,
                    height_mm=h, calibration=calibration_info("trace", file=str(args.file)))
    return 0


# ---------------------------------------------------------------- registration
def register(sub: argparse._SubParsersAction) -> None:
    from coach.cli.sessions import add_record_arguments
    from coach.core.profiles import profile_names

    names = profile_names()
    a = sub.add_parser(
        "analyze-trace",
        help="analyze a chest-height trace (CSV t_s,height_mm) and write the session as JSON",
        description="Analyze a chest-height trace: compressions, rate, depth, recoil, pauses, CCF.",
    )
    a.add_argument("file", help="CSV with the header t_s,height_mm (empty height cell = missing)")
    a.add_argument("--json", required=True, metavar="OUT.json", help="where to write the result")
    a.add_argument("--profile", default="adult", choices=names, help="guideline profile (default: adult)")
    add_record_arguments(a)
    a.set_defaults(func=_analyze_trace)


if __name__ == "__main__":  # pragma: no cover
    from coach.cli import main

    sys.exit(main(["analyze-trace", *sys.argv[1:]]))
