"""``cpr-coach trainee ID``: the page from a folder of analysis JSON files, and its errors."""
from __future__ import annotations

import json
import re

import pytest

from coach.cli import main
from coach.learning import session_to_analysis
from coach.learning.simtrainee import simulate_trainee


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("sessions")
    run = simulate_trainee("fatigue", seed=3, sessions=3, duration_s=100.0, trainee_id="ana")
    for s in run.sessions:
        (d / f"{s.session.session_id}.json").write_text(json.dumps(session_to_analysis(s.session)))
    # a plain analyze-trace file in DIR/<id>/ (no trainee key) belongs to that trainee
    (d / "ben").mkdir()
    doc = session_to_analysis(run.sessions[0].session)
    for k in ("trainee", "started_at", "feedback_level"):
        doc.pop(k)
    (d / "ben" / "first.json").write_text(json.dumps(doc))
    (d / "notes.json").write_text(json.dumps({"about": "not a session"}))
    return d


def test_trainee_page_shows_curve_fatigue_patterns_mastery_and_next_date(data_dir, tmp_path, capsys):
    out = tmp_path / "ana.html"
    assert main(["trainee", "ana", "-o", str(out), "--data-dir", str(data_dir)]) == 0
    assert "3 session(s)" in capsys.readouterr().out
    page = out.read_text()
    assert len(re.findall(r"src='data:image/png;base64,[A-Za-z0-9+/=]{2000,}'", page)) == 2  # curve + fatigue
    assert "Learning" in page and "Practise next:" in page and "2026" in page
    assert "depth falls below 50 mm in the second minute" in page.lower()
    assert page.count("<tr>") == 1 + 3 and "http" not in page.replace("https://", "")  # self-contained
    out_b = tmp_path / "ben.html"
    assert main(["trainee", "ben", "-o", str(out_b), "--data-dir", str(data_dir)]) == 0
    assert out_b.read_text().count("<tr>") == 2


def test_trainee_without_sessions_and_bad_files(data_dir, tmp_path, capsys):
    out = tmp_path / "nobody.html"
    assert main(["trainee", "nobody", "-o", str(out), "--data-dir", str(data_dir)]) == 0
    assert "No sessions yet" in out.read_text()
    assert main(["trainee", "ana", "-o", str(out), "--data-dir", str(tmp_path / "missing")]) == 2
    assert "no such folder" in capsys.readouterr().err
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "broken.json").write_text("{not json")
    assert main(["trainee", "ana", "-o", str(out), "--data-dir", str(bad)]) == 2
    assert "broken.json" in capsys.readouterr().err
    (bad / "broken.json").write_text(json.dumps({"trainee": "ana", "summary": {}, "compressions": [{"index": 0}]}))
    assert main(["trainee", "ana", "-o", str(out), "--data-dir", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "broken.json" in err and "missing key" in err
