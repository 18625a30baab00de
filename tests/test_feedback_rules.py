"""Feedback rules on hand-made sessions: prompts, hysteresis, priority, procedure, metronome."""
from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings, strategies as st

from coach.core.profiles import Band, load_profile
from coach.feedback import Coach, CoachOptions, Metronome, RunLatch
from coach.feedback.prompts import CATEGORIES

from feedback_helpers import Spec, build, drive, good, shown_runs

ADULT = load_profile("adult")
ON, OFF = ADULT.feedback.on_run, ADULT.feedback.off_run


def shallow(p=ADULT, **kw):
    return Spec(p.depth_mm.min - 8, p.rate_target_cpm, **kw)


def deep(p=ADULT, **kw):
    return Spec(p.depth_mm.max + 8, p.rate_target_cpm, **kw)


def compression_only_coach():
    return Coach(CoachOptions(profile="adult-compression-only"))


# ---------------------------------------------------------------- hysteresis
def test_run_latch_raises_after_on_run_and_clears_after_off_run():
    latch = RunLatch(4, 3)
    assert [latch.update(v) for v in ["low"] * 3] == [None] * 3
    assert latch.update("low") == "low"
    assert latch.update(None) == "low"  # no evidence changes nothing
    assert [latch.update("ok") for _ in range(2)] == ["low", "low"]
    assert latch.update("low") == "low"  # the ok-run restarts
    assert [latch.update("ok") for _ in range(3)] == ["low", "low", None]


def test_run_latch_switches_direction_only_after_a_full_run():
    latch = RunLatch(4, 3)
    for _ in range(4):
        latch.update("low")
    assert [latch.update("high") for _ in range(4)] == ["low", "low", "low", "high"]


def test_alternating_verdicts_never_raise_a_prompt():
    latch = RunLatch(4, 3)
    assert all(latch.update(v) is None for v in ["low", "ok"] * 50)


# ---------------------------------------------------------------- prompts
def test_push_harder_appears_on_the_4th_shallow_and_clears_on_the_3rd_good():
    specs = [good(ADULT)] * 8 + [shallow()] * 8 + [good(ADULT)] * 8
    tl = drive(Coach(CoachOptions(profile="adult-compression-only")), build(specs))
    runs = shown_runs(tl)
    assert runs == [("push_harder", 8 + ON, 16 + OFF - 1)]


@pytest.mark.parametrize(
    "spec, expected",
    [
        (Spec(ADULT.depth_mm.max + 8, ADULT.rate_target_cpm), "push_softer"),
        (Spec(ADULT.depth_mm.min - 8, ADULT.rate_target_cpm), "push_harder"),
        (Spec(55, ADULT.rate_cpm.min - 15), "push_faster"),
        (Spec(55, ADULT.rate_cpm.max + 15), "push_slower"),
        (Spec(55, ADULT.rate_target_cpm, recoil_mm=ADULT.recoil_residual_max_mm * 2), "release_fully"),
        (Spec(55, ADULT.rate_target_cpm, placement_mm=ADULT.placement_tolerance_mm * 2), "hands_to_centre"),
        (Spec(55, ADULT.rate_target_cpm, placement_mm=-ADULT.placement_tolerance_mm * 2), "hands_to_centre"),
    ],
)
def test_each_rule_maps_to_its_prompt(spec, expected):
    coach = compression_only_coach()
    drive(coach, build([good(ADULT)] * 3 + [spec] * (ON + 1)))
    assert coach.active is not None and coach.active.id == expected


def test_placement_prompt_says_which_way_to_move():
    coach = compression_only_coach()
    drive(coach, build([good(ADULT, placement_mm=ADULT.placement_tolerance_mm * 2)] * ON))
    assert coach.active.id == "hands_to_centre"
    assert coach.active.detail["move_toward"] == "feet"  # + is toward the head


def test_priority_depth_over_recoil_over_rate_over_placement():
    p = ADULT
    bad_all = Spec(p.depth_mm.min - 8, p.rate_cpm.max + 15, recoil_mm=p.recoil_residual_max_mm * 2,
                   placement_mm=p.placement_tolerance_mm * 2)
    coach = compression_only_coach()
    drive(coach, build([bad_all] * (ON + 1)))
    assert coach.active.id == "push_harder"
    assert set(v for k, v in coach.latched.items() if k not in ("elbows", "shoulders")) == {"low", "high"}  # all four latched
    # fix depth only: recoil is next, then rate, then placement
    fixed_depth = dataclasses.replace(bad_all, depth_mm=55)
    tl = drive(coach, build([bad_all] * (ON + 1) + [fixed_depth] * (OFF + 1)))
    assert tl[-1][1] == "release_fully"
    fixed_recoil = dataclasses.replace(fixed_depth, recoil_mm=0.0)
    tl = drive(coach, build([bad_all] * (ON + 1) + [fixed_recoil] * (OFF + 1)))
    assert tl[-1][1] == "push_slower"
    fixed_rate = dataclasses.replace(fixed_recoil, rate_cpm=p.rate_target_cpm)
    tl = drive(coach, build([bad_all] * (ON + 1) + [fixed_rate] * (OFF + 1)))
    assert tl[-1][1] == "hands_to_centre"
    assert [c for c in CATEGORIES] == ["pause", "depth", "recoil", "rate", "placement", "elbows", "shoulders"]


def test_pause_outranks_depth_and_resume_clears_on_the_next_compression():
    coach = compression_only_coach()
    warn = ADULT.feedback.pause_warn_s
    specs = [shallow()] * (ON + 1) + [shallow(gap_before_s=warn + 1.0)]
    tl = drive(coach, build(specs))
    ids = [pid for _, pid, _ in tl]
    assert "resume_compressions" in ids
    first_resume = next(t for t, pid, _ in tl if pid == "resume_compressions")
    last_release = build(specs)[ON][0].t_release_s
    assert first_resume - last_release == pytest.approx(warn, abs=1 / 30 + 1e-9)
    assert tl[-1][1] == "push_harder"  # the pause prompt cleared; depth still latched


def test_thresholds_come_from_the_profile_not_literals():
    custom = dataclasses.replace(ADULT, depth_mm=Band(30.0, 40.0))
    coach = Coach(profile=dataclasses.replace(custom, ratio=None))
    drive(coach, build([Spec(45.0, ADULT.rate_target_cpm)] * ON))  # fine for adults, too deep here
    assert coach.active.id == "push_softer"
    assert coach.active.detail["band_mm"] == [30.0, 40.0]


def test_start_prompt_when_no_compression_follows_session_start():
    coach = compression_only_coach()
    coach.start(0.0)
    assert coach.on_time(ADULT.feedback.pause_warn_s - 0.1) is None
    assert coach.on_time(ADULT.feedback.pause_warn_s + 0.1).id == "start_compressions"


# ---------------------------------------------------------------- procedure
@pytest.mark.parametrize("profile", ["adult", "child-2-rescuer", "infant-2-rescuer"])
def test_breath_prompt_at_the_profiles_ratio_then_resume_then_new_set(profile):
    p = load_profile(profile)
    n = p.ratio.compressions
    warn = p.feedback.pause_warn_s
    specs = [good(p)] * n + [good(p, gap_before_s=warn + 2.0, new_set=True)] + [good(p)] * 3
    coach = Coach(CoachOptions(profile=profile))
    tl = drive(coach, build(specs))
    ids = [pid for _, pid, _ in tl]
    first_breath = next(i for i, (_, pid, _) in enumerate(tl) if pid == "give_breaths")
    assert tl[first_breath][2] == n  # exactly at the ratio's last compression
    assert tl[first_breath - 1][1] is None
    text = next(pid for pid in ids if pid == "give_breaths")
    assert text and coach.profile.ratio.breaths == 2
    resume_at = next(t for t, pid, _ in tl if pid == "resume_compressions")
    release_n = build(specs)[n - 1][0].t_release_s
    assert resume_at - release_n == pytest.approx(warn, abs=1 / 30 + 1e-9)
    assert tl[-1][1] is None  # compressions resumed: cleared
    st = coach.procedure_state
    assert (st.set_index, st.set_count, st.cycles) == (1, 4, 1)
    assert st.last_hands_off_s > warn
    assert st.count_text == f"4 / {n}"


def test_breath_prompt_text_uses_the_ratio():
    coach = Coach(CoachOptions(profile="adult"))
    drive(coach, build([good(ADULT)] * ADULT.ratio.compressions), tail_s=0.1)
    assert coach.active.id == "give_breaths"
    assert coach.active.text == f"Give {ADULT.ratio.breaths} breaths"


def test_compression_only_profile_never_asks_for_breaths():
    p = load_profile("adult-compression-only")
    assert p.ratio is None
    coach = Coach(CoachOptions(profile=p.name))
    specs = [good(p)] * 70 + [good(p, gap_before_s=p.feedback.pause_warn_s + 1)] + [good(p)] * 5
    tl = drive(coach, build(specs))
    ids = {pid for _, pid, _ in tl}
    assert "give_breaths" not in ids
    assert "resume_compressions" in ids
    assert coach.procedure_state.count_text.isdigit()


def test_metronome_runs_at_the_target_rate_and_rests_during_breaths():
    m = Metronome(ADULT.rate_target_cpm, t0_s=2.0)
    assert m.period_s == pytest.approx(60.0 / ADULT.rate_target_cpm)
    assert len(m.beats_between(2.0, 62.0)) == pytest.approx(ADULT.rate_target_cpm, abs=1)
    cue = m.cue(2.0 + 2.5 * m.period_s)
    assert (cue.beat, cue.phase) == (2, pytest.approx(0.5))
    assert cue.next_beat_t_s == pytest.approx(2.0 + 3 * m.period_s)
    coach = Coach(CoachOptions(profile="adult"))
    tl = drive(coach, build([good(ADULT)] * ADULT.ratio.compressions), tail_s=2.0)
    assert not coach.metronome_cue(tl[-1][0]).active  # breaths: silent


# ---------------------------------------------------------------- no flicker (property)
@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["good", "shallow", "deep", "slow", "fast"]), min_size=5, max_size=80))
def test_no_flicker_on_any_sequence(kinds):
    """A prompt needs on_run off-target compressions to appear and stays >= off_run unless outranked."""
    p = ADULT
    make = {
        "good": good(p),
        "shallow": shallow(),
        "deep": deep(),
        "slow": Spec(55, p.rate_cpm.min - 15),
        "fast": Spec(55, p.rate_cpm.max + 15),
    }
    coach = compression_only_coach()
    session = build([make[k] for k in kinds])
    tl = drive(coach, session, tail_s=0.2)
    runs = shown_runs(tl)
    for i, (pid, first_n, last_n) in enumerate(runs):
        # raised only after a run of on_run matching compressions
        want = {"push_harder": "shallow", "push_softer": "deep", "push_faster": "slow", "push_slower": "fast"}[pid]
        assert kinds[first_n - ON:first_n] == [want] * ON
        ended_early = i + 1 < len(runs) and runs[i + 1][1] == last_n  # replaced by another prompt
        at_end = last_n == len(kinds)
        if not ended_early and not at_end:
            shown_for = last_n - first_n + 1
            assert shown_for >= OFF
