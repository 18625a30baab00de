"""``cpr-coach trainee ID``: the page from the session records store, and its errors."""
from __future__ import annotations

import re

import numpy as np
import pytest

from coach.cli import main
from coach.learning.simtrainee import simulate_trainee
from coach.records import SessionStore
from coach.trainee.data import load_trainee_sessions, record_trainee_session


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("sessions")
    store = SessionStore(d)
    run = simulate_trainee("fatigue", seed=3, sessions=3, duration_s=100.0, trainee_id="ana")
    for s in run.sessions:
        record_trainee_session(store, s.session)
    # ben's one session: a trace analysed offline with --trainee (the analyze-trace path into the store)
    trace = d / "ben.csv"
    t = np.arange(0.0, 30.0, 1 / 30)
    trace.write_text("t_s,height_mm\n" + "".join(f"{x:.4f},{-27.5 * (1 - np.cos(2 * np.pi * x * 110 / 60)):.3f}\n"
                                                  for x in t))
    assert main(["analyze-trace", str(trace), "--json", str(d / "ben.json"), "--data-dir", str(d),
                 "--trainee", "ben"]) == 0
    return d


def test_store_round_trip_keeps_what_the_rules_read(data_dir):
    run = simulate_trainee("fatigue", seed=3, sessions=3, duration_s=100.0, trainee_id="ana")
    got = load_trainee_sessions("ana", data_dir).sessions
    assert [s.session_id for s in got] == [s.session.session_id for s in run.sessions]
    for a, b in zip(got, (s.session for s in run.sessions)):
        assert (a.trainee_id, a.started_at, a.feedback_level, a.profile) == (b.trainee_id, b.started_at, b.feedback_level,
                                                                              b.profile)
        assert len(a.compressions) == len(b.compressions) and a.summary.compressions == b.summary.compressions
        np.testing.assert_allclose([c.depth_mm for c in a.compressions], [c.depth_mm for c in b.compressions])
        np.testing.assert_allclose(a.placement_mm, b.placement_mm, equal_nan=True)


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
    assert "no such session records folder" in capsys.readouterr().err
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "sessions.sqlite").write_text("not a database at all, just text" * 100)
    assert main(["trainee", "ana", "-o", str(out), "--data-dir", str(bad)]) == 2
    assert "sessions.sqlite" in capsys.readouterr().err
