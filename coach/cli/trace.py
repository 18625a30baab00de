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
from typing import Iterator

from coach.cli import CliError

HEADER = ("t_s", "height_mm")


# ---------------------------------------------------------------- reading
CHUNK_ROWS = 65_536  # rows handed to the core at once: memory stays bounded whatever the file size
MAX_TIME_S = 1e7  # |t_s| beyond ~116 days is a unit or export error, not a session
MIN_STEP_S = 0.001  # samples closer than 1 ms: no camera or manikin export produces them
MAX_RECORDED_SAMPLES = 2_000_000  # beyond (about 18 h at 30 Hz), a recorded analysis keeps compressions, not samples
MAX_LISTED_COMPRESSIONS = 20_000  # beyond, the JSON keeps the summary and omits the per-compression list


def read_trace_csv(path: str | os.PathLike) -> tuple[list[float], list[float]]:
    """Read a whole ``t_s,height_mm`` CSV into two lists (small files; see ``iter_trace_chunks``)."""
    t_s: list[float] = []
    h_mm: list[float] = []
    for t, h in iter_trace_chunks(path):
        t_s.extend(t)
        h_mm.extend(h)
    return t_s, h_mm


def iter_trace_chunks(path: str | os.PathLike, chunk_rows: int = CHUNK_ROWS) -> Iterator[tuple[list[float], list[float]]]:
    """Yield ``(t_s, height_mm)`` chunks of a ``t_s,height_mm`` CSV; an empty height cell means missing (NaN).

    Why chunks: a multi-hour export is hundreds of MB; streaming it into the
    core keeps memory flat. Every problem raises CliError with one line naming
    the file, the line and the column: no header, wrong column count,
    non-numeric cells, missing, non-finite or absurd times (beyond ``MAX_TIME_S``),
    times that do not increase by at least ``MIN_STEP_S``, an empty file.
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
    prev_t: float | None = None
    samples = 0
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
                if abs(t) > MAX_TIME_S:
                    raise CliError(f"{p}: line {line}, column t_s: time {tc} s is beyond {MAX_TIME_S:g} s (wrong unit?)")
                if prev_t is not None and t - prev_t < MIN_STEP_S:
                    if t <= prev_t:
                        what = "goes backwards" if t < prev_t else "repeats"
                        raise CliError(f"{p}: line {line}, column t_s: time {tc} {what} (previous {prev_t!r})")
                    raise CliError(f"{p}: line {line}, column t_s: time {tc} is {t - prev_t:.3g} s after the previous; "
                                   f"samples must be at least {MIN_STEP_S * 1000:g} ms apart")
                if not hc or hc.lower() == "nan":
                    h = math.nan
                else:
                    h = _cell_number(hc, f"{p}: line {line}, column height_mm", "height")
                prev_t = t
                t_s.append(t)
                h_mm.append(h)
                if len(t_s) >= chunk_rows:
                    samples += len(t_s)
                    yield t_s, h_mm
                    t_s, h_mm = [], []
        except UnicodeDecodeError:
            raise CliError(f"{p}: not a text (UTF-8) CSV file") from None
        except csv.Error as exc:
            raise CliError(f"{p}: line {rows.line_num}: malformed CSV: {exc}") from None
    if header is None:
        raise CliError(f"{p}: empty file; expected the header 't_s,height_mm' and samples")
    if not t_s and not samples:
        raise CliError(f"{p}: no samples after the header")
    if t_s:
        yield t_s, h_mm


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
def run_analysis(csv_path: str | os.PathLike, json_path: str | os.PathLike, profile: str,
                 *, list_compressions: bool | None = None, chunk_rows: int = CHUNK_ROWS, on_chunk=None):
    """The analyze-trace job: stream the CSV into the core, write JSON. Returns (result, n_samples, omitted).

    The core's StreamingAnalyzer decides exactly what ``analyze`` would over the
    whole file (tests/test_reliability_trace.py holds them equal), in bounded
    memory. ``list_compressions``: True/False forces the per-compression list in
    the JSON; None lists it up to ``MAX_LISTED_COMPRESSIONS``. ``omitted``: how
    many compressions were left out of the JSON (0 when listed). ``on_chunk(t_s, height_mm)``
    sees every chunk as it is read (the session record keeps the samples).
    """
    from coach.core import CoreOptions, StreamingAnalyzer

    analyzer = StreamingAnalyzer(CoreOptions(profile=profile))
    n = 0
    for t, h in iter_trace_chunks(csv_path, chunk_rows):
        analyzer.push_many(t, h)
        if on_chunk is not None:
            on_chunk(t, h)
        n += len(t)
    result = analyzer.result()
    omitted = 0
    if list_compressions is False or (list_compressions is None and len(result.compressions) > MAX_LISTED_COMPRESSIONS):
        omitted = len(result.compressions)
        # the same document without the per-compression dicts (never built: they would double the peak memory)
        result_doc = {"summary": result.summary.to_dict(), "compressions_omitted": omitted,
                      "pauses": [p.to_dict() for p in result.pauses], "sets": [s.to_dict() for s in result.sets]}
    else:
        result_doc = result.to_dict()
    doc = {"input": str(csv_path), "samples": n, "profile": profile, **result_doc}
    write_json(json_path, doc)
    return result, n, omitted


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

    kept_t: list[float] = []
    kept_h: list[float] = []

    def keep(t, h) -> None:  # the record's samples, in bounded memory: beyond the cap only compressions are kept
        if not args.no_record and len(kept_t) < MAX_RECORDED_SAMPLES:
            kept_t.extend(t)
            kept_h.extend(h)

    result, n, omitted = run_analysis(args.file, args.json, args.profile,
                                      list_compressions=False if args.no_trace else None, on_chunk=keep)
    print(f"{args.file}: {n} samples, profile {args.profile}")
    for line in summary_lines(result):
        print("  " + line)
    print(f"  -> {args.json}")
    if omitted and not args.no_trace:
        print(f"  ({omitted} compressions: more than {MAX_LISTED_COMPRESSIONS}, so the JSON holds the summary, "
              "pauses and sets, not each compression)")
    if len(kept_t) < n:
        kept_t, kept_h = [], []
        if not args.no_record:
            print(f"  (more than {MAX_RECORDED_SAMPLES} samples: the session record keeps the compressions, not the samples)")
    record_analysis(args, result, source_kind="trace", source_name=str(args.file), profile=args.profile, t_s=kept_t,
                    height_mm=kept_h, calibration=calibration_info("trace", file=str(args.file)))
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
    a.add_argument("--no-trace", action="store_true",
                   help=f"leave the per-compression list out of the JSON (left out anyway beyond {MAX_LISTED_COMPRESSIONS})")
    a.set_defaults(func=_analyze_trace)


if __name__ == "__main__":  # pragma: no cover
    from coach.cli import main

    sys.exit(main(["analyze-trace", *sys.argv[1:]]))
