"""Learning rules on seeded simulated trainees, run through the real StreamingAnalyzer and Coach.

The trainees (coach.learning.simtrainee) are built to improve, plateau, decay, slip once
after mastering, or tire from the second minute; the rules must report what was built.
"""
from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from coach.core.profiles import load_profile
from coach.feedback import Coach, CoachOptions
from coach.learning import (
    ERRORS, FULL, LEVELS, NONE, SET_SUMMARY, SessionHistory, coaching_plan, fatigue_profile, learning_curve, load_learning_rules,
    mastery_state, next_level, next_refresher, persistent_patterns, session_from_analysis, session_to_analysis,
    targeted_cues, trend_per_session,
)
from coach.learning.export import COMPRESSION_COLUMNS, SESSION_COLUMNS, compression_rows, session_rows
from coach.learning.simtrainee import run_session, simulate_trainee, skill_options

ADULT = load_profile("adult")
RULES = load_learning_rules()


@pytest.fixture(scope="module")
def runs():
    sessions = {"plateau": 8, "fatigue": 6}  # enough to show the construction; fewer keeps the test fast
    return {k: simulate_trainee(k, seed=1, sessions=sessions.get(k)) for k in ("improve", "plateau", "decay", "slip", "fatigue")}


def _pct(run):
    return [p.pct_correct for p in learning_curve(run.history)]


def test_improving_trainee_climbs_fades_to_no_feedback_and_masters(runs):
    r = runs["improve"]
    pct = _pct(r)
    assert pct[0] < RULES.fading.step_up_pct_correct_below
    assert trend_per_session(learning_curve(r.history.upto(5))) > 10.0
    assert min(pct[-4:]) >= RULES.mastery.pct_correct_min
    assert r.levels.index(NONE) > r.levels.index(SET_SUMMARY) > r.levels.index(ERRORS) > r.levels.index(FULL)
    st = mastery_state(r.history)
    assert st.state == "mastered" and st.qualifying_sessions >= RULES.mastery.sessions
    assert next_refresher(r.history).interval_days == RULES.refresher.interval_days


def test_plateau_trainee_stays_learning_with_feedback(runs):
    r = runs["plateau"]
    pct = _pct(r)[-6:]
    assert abs(trend_per_session(learning_curve(r.history), last=6)) < 5.0
    assert max(pct) < RULES.mastery.pct_correct_min
    assert NONE not in r.levels and SET_SUMMARY not in r.levels
    assert mastery_state(r.history).state == "learning"


def test_decaying_trainee_lapses_and_gets_more_feedback_and_an_early_refresher(runs):
    r = runs["decay"]
    pct = _pct(r)
    assert min(pct[:6]) >= RULES.mastery.pct_correct_min and max(pct[-3:]) < RULES.fading.step_up_pct_correct_below
    assert trend_per_session(learning_curve(r.history)) < -10.0
    assert mastery_state(r.history).state == "lapsed"
    i_none = r.levels.index(NONE)
    assert LEVELS.index(r.levels[-1]) < LEVELS.index(NONE) and i_none < len(r.levels) - 1  # stepped back up
    assert next_refresher(r.history).interval_days == RULES.refresher.interval_days_after_poor


def test_fading_steps_down_then_back_up_after_a_poor_session_and_prompts_fall(runs):
    r = runs["slip"]
    lv = r.levels
    firsts = [lv.index(x) for x in LEVELS]
    assert firsts == sorted(firsts)  # full -> errors -> set-summary -> none, in order
    poor = [i for i, p in enumerate(_pct(r)) if p < RULES.fading.step_up_pct_correct_below and lv[i] == NONE]
    assert poor, lv
    assert lv[poor[0] + 1] == SET_SUMMARY  # one level back up
    assert mastery_state(r.history.upto(poor[0])).state == "mastered"
    # live prompts per minute fall with the level (measured through the real Coach)
    by_level = {x: [s.prompts_per_min for s, l in zip(r.sessions, lv) if l == x] for x in LEVELS}
    mean = {x: sum(v) / len(v) for x, v in by_level.items()}
    assert mean[FULL] > mean[ERRORS] > mean[SET_SUMMARY] == mean[NONE] == 0.0, mean
    for s, l in zip(r.sessions, lv):
        sets = s.session.summary.sets
        if l == SET_SUMMARY:
            assert sets - 2 <= len(s.prompts) <= sets  # one summary per set that ends in breaths
        if l == NONE:
            assert s.prompts == []


def test_same_session_at_each_level_prompts_fall_strictly():
    opts = skill_options(0.7, seed=11, duration_s=90.0)
    got = {lv: run_session(opts, trainee_id="t", started_at=__import__("datetime").datetime(2026, 1, 1), feedback_level=lv)
           for lv in LEVELS}
    live = {lv: got[lv].prompts_per_min for lv in LEVELS}
    assert live[FULL] > live[ERRORS] > live[SET_SUMMARY] == live[NONE] == 0.0, live
    assert got[SET_SUMMARY].summaries_per_min > 0 and got[NONE].prompts == []
    assert {pid for _, pid in got[SET_SUMMARY].prompts} == {"set_summary"}


def test_fatigued_trainee_is_reported_and_warned_within_30_s(runs):
    r = runs["fatigue"]
    limit = RULES.fatigue.detect_within_s
    for s in r.sessions:
        onset = s.trace_extra["fatigue_onset_t_s"]
        assert 45.0 < onset - s.first_start_s < 75.0  # built to tire from the second minute
        fp = fatigue_profile(s.session.compressions, ADULT)
        assert fp.fatigued and 0.0 <= fp.fatigue_onset_s + s.first_start_s - onset <= limit
        assert fp.below_band_minute == 2
        warned = [t for t, pid in s.prompts if pid == "fatigue_warning"]
        if s.session.feedback_level == FULL:
            assert warned and 0.0 <= warned[0] - onset <= limit + 2.0  # the live prompt, at the compression's release
    texts = [p.text for p in persistent_patterns(r.history)]
    assert any("second minute" in t for t in texts), texts
    # no fatigue alarm for the improving trainee once it is good
    good = [s for s in runs["improve"].sessions[3:]]
    assert sum(fatigue_profile(s.session.compressions, ADULT).fatigued for s in good) <= 1


def test_two_rescuer_profile_prompts_a_swap():
    opts = replace(skill_options(1.0, seed=5, duration_s=110.0, profile="child-2-rescuer", kind="fatigue"))
    s = run_session(opts, trainee_id="t", started_at=__import__("datetime").datetime(2026, 1, 1), feedback_level=FULL)
    ids = {pid for _, pid in s.prompts}
    assert "swap_rescuers" in ids and "fatigue_warning" not in ids


def test_targeted_cue_comes_before_the_pattern_usually_appears():
    from datetime import datetime, timedelta, timezone

    base = skill_options(1.0, seed=21, duration_s=128.0)
    lean = replace(base, lean_prob=0.35, lean_onset_min=1.0, lean_mm=(9.0, 12.0))
    t0 = datetime(2026, 2, 1, tzinfo=timezone.utc)
    past = [run_session(replace(lean, seed=21 + k), trainee_id="t", started_at=t0 + timedelta(days=k), feedback_level=FULL).session
            for k in range(2)]
    pats = persistent_patterns(SessionHistory.of("t", past))
    lean_pat = [p for p in pats if p.key == "lean"]
    assert lean_pat and "second minute" in lean_pat[0].text and 55.0 <= lean_pat[0].onset_s <= 90.0
    cues = targeted_cues(pats, ADULT)
    cue = [c for c in cues if c.key == "lean"][0]
    assert cue.at_s == lean_pat[0].onset_s - RULES.patterns.cue_lead_s
    s = run_session(replace(lean, seed=40), trainee_id="t", started_at=t0 + timedelta(days=3), feedback_level=FULL, cues=cues)
    shown = [t - s.first_start_s for t, pid in s.prompts if pid == cue.prompt_id]
    latched = [t - s.first_start_s for t, pid in s.prompts if pid == "release_fully"]
    assert shown and cue.at_s <= shown[0] < cue.at_s + RULES.patterns.cue_show_s
    assert not latched or shown[0] < latched[0]


def test_mastery_needs_different_days(runs):
    h = runs["improve"].history
    same_day = SessionHistory.of(h.trainee_id, [replace(s, started_at=h.sessions[-1].started_at) for s in h.sessions])
    assert mastery_state(same_day).state == "ready-for-test"
    new = coaching_plan(SessionHistory("nobody", ()), "adult")
    assert new.feedback_level == FULL and new.cues == () and new.mastery.state == "new" and new.refresher.due is None
    plan = coaching_plan(runs["fatigue"].history)
    assert [c.prompt_id for c in plan.cues] == ["cue_keep_depth"] and plan.cues[0].at_s == pytest.approx(55.0)


def test_analysis_json_round_trip_and_export_rows(runs):
    s = runs["fatigue"].sessions[0].session
    back = session_from_analysis(json.loads(json.dumps(session_to_analysis(s))), trainee_id="x", started_at=s.started_at)
    assert back.trainee_id == s.trainee_id and back.started_at == s.started_at and back.feedback_level == s.feedback_level
    assert len(back.compressions) == len(s.compressions) and back.summary.pct_depth_ok == pytest.approx(s.summary.pct_depth_ok)
    assert [c.depth_mm for c in back.compressions] == pytest.approx([c.depth_mm for c in s.compressions])
    h = runs["improve"].history
    rows = compression_rows(h.sessions)
    assert len(rows) == sum(len(x.compressions) for x in h.sessions) and set(rows[0]) == set(COMPRESSION_COLUMNS)
    srows = session_rows(h.sessions)
    assert [r["trainee"] for r in srows] == [h.trainee_id] * len(h) and set(srows[0]) == set(SESSION_COLUMNS)
    assert sum(r["meets_mastery"] for r in srows) >= 2
    assert sum(r["correct"] for r in rows if r["session"] == srows[-1]["session"]) / srows[-1]["compressions"] == \
        pytest.approx(srows[-1]["pct_correct"] / 100, abs=1e-3)


def test_feedback_level_is_validated_and_shown_on_the_overlay():
    from overlays.scene import SceneInputs, build_overlay

    with pytest.raises(ValueError, match="feedback_level"):
        CoachOptions(feedback_level="loud")
    plain = build_overlay(SceneInputs(t_s=0.0, profile=ADULT))
    assert "feedback_level" not in {p["id"] for p in plain["primitives"]}
    ov = build_overlay(SceneInputs(t_s=0.0, profile=ADULT, feedback_level=NONE))
    badge = [p for p in ov["primitives"] if p["id"] == "feedback_level"][0]
    assert badge["level"] == NONE and "no feedback" in badge["text"].lower()
    jsonschema = pytest.importorskip("jsonschema")
    from overlays.protocol import load_schema

    payload = {"topic": "cpr.overlay", "v": 1, "station": "s", "t_s": 0.0, "seq": 0, "session": None, **json.loads(json.dumps(ov))}
    jsonschema.validate(payload, load_schema("cpr.overlay"))
    coach = Coach(CoachOptions(feedback_level=SET_SUMMARY))
    assert coach.level == SET_SUMMARY and not coach.metronome_cue(1.0).active
    assert math.isfinite(coach.metronome_cue(1.0).period_s)
