"""``cpr-coach analyze-trace``: good input and every bad input (the demo is tested in test_live_demo.py)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from coach.cli import main
from coach.core.simulator import SimOptions, simulate

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def good_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("trace") / "session.csv"
    simulate(SimOptions(seed=5, duration_s=45.0)).write_csv(path)
    return path


def run(args, capsys):
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def test_good_file_writes_the_json(good_csv, tmp_path, capsys):
    out_json = tmp_path / "sub" / "result.json"
    rc, out, err = run(["analyze-trace", good_csv, "--json", out_json], capsys)
    assert rc == 0 and err == ""
    doc = json.loads(out_json.read_text())
    s = doc["summary"]
    for key in ("compressions", "mean_rate_cpm", "mean_depth_mm", "ccf"):
        assert key in s
    assert s["compressions"] == len(doc["compressions"]) > 40
    c = doc["compressions"][1]
    assert {"t_s", "depth_mm", "rate_cpm", "duty_cycle", "recoil_residual_mm", "flags"} <= set(c)
    assert c["t_s"] == c["t_bottom_s"]
    assert doc["compressions"][0]["rate_cpm"] is None  # NaN is null in JSON
    assert all({"start_s", "end_s"} <= set(p) for p in doc["pauses"])
    assert [p["kind"] for p in doc["pauses"]][:2] == ["initial", "ventilation"]
    assert doc["profile"] == "adult" and doc["samples"] > 1000
    assert "compressions" in out and "CCF" in out and str(out_json) in out


def test_profile_option(good_csv, tmp_path, capsys):
    out_json = tmp_path / "child.json"
    rc, out, _ = run(["analyze-trace", good_csv, "--json", out_json, "--profile", "child"], capsys)
    assert rc == 0
    assert json.loads(out_json.read_text())["summary"]["profile"] == "child"
    with pytest.raises(SystemExit) as exc:
        main(["analyze-trace", str(good_csv), "--json", str(out_json), "--profile", "horse"])
    assert exc.value.code == 2


def test_empty_cells_are_missing_samples(tmp_path, capsys):
    path = tmp_path / "gaps.csv"
    path.write_text("t_s,height_mm\n0.0,1.0\n0.033,\n0.066,nan\n0.1,2.0\n")
    rc, _, err = run(["analyze-trace", path, "--json", tmp_path / "o.json"], capsys)
    assert rc == 0, err
    assert json.loads((tmp_path / "o.json").read_text())["samples"] == 4


BAD = {
    "no_header": ("0.0,1.0\n0.1,2.0\n", r"line 1: no header"),
    "wrong_header": ("time,height\n0.0,1.0\n", r"line 1: header is 'time,height'"),
    "non_numeric_time": ("t_s,height_mm\n0.0,1.0\nabc,2.0\n", r"line 3, column t_s: 'abc' is not a number"),
    "non_numeric_height": ("t_s,height_mm\n0.0,1.0\n0.1,1.0\n0.2,12mm\n", r"line 4, column height_mm: '12mm' is not a number"),
    "backwards_time": ("t_s,height_mm\n0.0,1.0\n0.2,1.0\n0.1,1.0\n", r"line 4, column t_s: time 0.1 goes backwards"),
    "repeated_time": ("t_s,height_mm\n0.0,1.0\n0.0,1.0\n", r"line 3, column t_s: time 0.0 repeats"),
    "missing_time": ("t_s,height_mm\n0.0,1.0\n,1.0\n", r"line 3, column t_s: missing time"),
    "infinite_time": ("t_s,height_mm\n0.0,1.0\ninf,1.0\n", r"line 3, column t_s: 'inf' is not a finite time"),
    "three_columns": ("t_s,height_mm\n0.0,1.0,7\n", r"line 2: expected 2 columns"),
    "empty_file": ("", r"empty file"),
    "blank_file": ("\n\n", r"empty file"),
    "header_only": ("t_s,height_mm\n", r"no samples after the header"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_line_naming_row_and_column(case, tmp_path, capsys):
    import re

    text, pattern = BAD[case]
    path = tmp_path / f"{case}.csv"
    path.write_text(text)
    out_json = tmp_path / "never.json"
    rc, out, err = run(["analyze-trace", path, "--json", out_json], capsys)
    assert rc == 2
    assert err.count("\n") == 1 and err.startswith("cpr-coach: error: ")
    assert str(path) in err
    assert re.search(pattern, err), err
    assert "Traceback" not in err
    assert not out_json.exists()


def test_missing_file_and_unwritable_output(tmp_path, good_csv, capsys):
    rc, _, err = run(["analyze-trace", tmp_path / "nope.csv", "--json", tmp_path / "o.json"], capsys)
    assert rc == 2 and "no such file" in err
    blocker = tmp_path / "file"
    blocker.write_text("x")
    rc, _, err = run(["analyze-trace", good_csv, "--json", blocker / "o.json"], capsys)
    assert rc == 2 and "cannot write" in err


def test_console_script_exit_code_and_no_heavy_imports(good_csv, tmp_path):
    """The real entry point: non-zero exit and one line on bad input; no MediaPipe/OpenCV/ZeroMQ import."""
    bad = tmp_path / "bad.csv"
    bad.write_text("0.0,1.0\n")
    proc = subprocess.run(
        [sys.executable, "-m", "coach.cli", "analyze-trace", str(bad), "--json", str(tmp_path / "o.json")],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "no header" in proc.stderr
    code = (
        "import sys; from coach.cli import main; "
        f"rc = main(['analyze-trace', {str(good_csv)!r}, '--json', {str(tmp_path / 'ok.json')!r}]); "
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('mediapipe', 'cv2', 'zmq')); "
        "print('HEAVY', heavy, rc)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert "HEAVY [] 0" in proc.stdout, proc.stdout + proc.stderr
