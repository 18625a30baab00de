"""Large traces stream through the core in chunks (same answer as batch); absurd times and tiny videos are refused."""
from __future__ import annotations

import json

import numpy as np
import pytest

from coach.cli import main as cli_main
from coach.cli import trace as trace_cli
from coach.core import CoreOptions, analyze
from coach.core.simulator import SimOptions, simulate


@pytest.fixture(scope="module")
def sim_csv(tmp_path_factory):
    p = tmp_path_factory.mktemp("trace") / "sim.csv"
    simulate(SimOptions(seed=11, duration_s=90.0, fps=30.0)).write_csv(p)
    return p


@pytest.mark.parametrize("chunk_rows", [37, 1000, 65_536])
def test_streamed_analysis_equals_batch(sim_csv, tmp_path, chunk_rows):
    t, h = trace_cli.read_trace_csv(sim_csv)
    batch = analyze(t, h, CoreOptions()).to_dict()
    result, n, omitted = trace_cli.run_analysis(sim_csv, tmp_path / "out.json", "adult", chunk_rows=chunk_rows)
    assert n == len(t) and omitted == 0
    assert json.dumps(result.to_dict(), sort_keys=True) == json.dumps(batch, sort_keys=True)
    assert len(result.compressions) > 50


def test_reader_yields_bounded_chunks(sim_csv):
    sizes = [len(t) for t, _ in trace_cli.iter_trace_chunks(sim_csv, chunk_rows=500)]
    assert max(sizes) == 500 and len(sizes) > 4


def test_no_trace_and_the_size_rule(sim_csv, tmp_path, capsys, monkeypatch):
    out = tmp_path / "a.json"
    assert cli_main(["analyze-trace", str(sim_csv), "--json", str(out), "--no-trace"]) == 0
    doc = json.loads(out.read_text())
    assert "compressions" not in doc and doc["compressions_omitted"] == doc["summary"]["compressions"] > 0
    monkeypatch.setattr(trace_cli, "MAX_LISTED_COMPRESSIONS", 10)
    capsys.readouterr()
    assert cli_main(["analyze-trace", str(sim_csv), "--json", str(out)]) == 0
    assert "more than 10" in capsys.readouterr().out
    assert "compressions" not in json.loads(out.read_text())
    monkeypatch.setattr(trace_cli, "MAX_LISTED_COMPRESSIONS", 10_000)
    assert cli_main(["analyze-trace", str(sim_csv), "--json", str(out)]) == 0
    assert len(json.loads(out.read_text())["compressions"]) > 10


@pytest.mark.parametrize("rows, says", [
    ("0.0,200\n0.033,199\n1e308,198\n", "line 4, column t_s: time 1e308 s is beyond"),
    ("0.0,200\n1e-12,199\n", "line 3, column t_s: time 1e-12 is 1e-12 s after the previous; samples must be at least 1 ms apart"),
    ("-2e7,200\n", "line 2, column t_s: time -2e7 s is beyond"),
])
def test_absurd_times_are_refused_with_file_and_line(tmp_path, capsys, rows, says):
    p = tmp_path / "bad.csv"
    p.write_text("t_s,height_mm\n" + rows)
    assert cli_main(["analyze-trace", str(p), "--json", str(tmp_path / "o.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(p) in err and says in err


def test_a_video_smaller_than_32x32_is_refused_in_one_line(tmp_path, capsys):
    import cv2

    from vision.sources import SourceError
    from vision.file_source import VideoFileSource

    p = tmp_path / "tiny.avi"
    w = cv2.VideoWriter(str(p), cv2.VideoWriter_fourcc(*"MJPG"), 30, (1, 1))
    for i in range(5):
        w.write(np.full((1, 1, 3), 40 * i, np.uint8))
    w.release()
    with pytest.raises(SourceError, match="1x1 pixels; a video must be at least 32x32"):
        VideoFileSource(p)
    assert cli_main(["analyze", str(p), "--hfov", "60"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "at least 32x32" in err and "Assertion" not in err
