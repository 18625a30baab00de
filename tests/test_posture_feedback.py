"""Posture coaching on a seeded session: bent elbows in the second set raise "Lock your elbows"
within 4 compressions and clear once they straighten; depth and pauses keep priority."""
from __future__ import annotations

import numpy as np

from coach.core.profiles import load_profile
from coach.feedback import Coach, CoachOptions
from coach.feedback.posture import PostureJudge, classify_elbow, summarize

from feedback_helpers import Spec, build, drive, good
from posture_helpers import camera_at, make_rescuer, observe

ADULT = load_profile("adult")
TH = ADULT.posture
ON, OFF = ADULT.feedback.on_run, ADULT.feedback.off_run
CAM = camera_at(30.0, 30.0)


def _session(n_per_set: int = 30):
    specs = [good(ADULT) for _ in range(n_per_set)]
    specs += [good(ADULT, gap_before_s=5.0, new_set=True)] + [good(ADULT) for _ in range(n_per_set - 1)]
    return build(specs)


def _posture_source(session, bent_from: int, bent_to: int, seed: int, bent_deg=(118.0, 124.0), offset_front_mm=0.0):
    """Pose frames of a rescuer whose elbows are bent from compression ``bent_from`` up to ``bent_to``."""
    rng = np.random.default_rng(seed)
    t_bent = session[bent_from][0].t_start_s
    t_straight = session[bent_to][0].t_start_s if bent_to < len(session) else float("inf")
    straight = make_rescuer((177.0, 175.0), offset_front_mm=offset_front_mm)
    bent = make_rescuer(bent_deg, offset_front_mm=offset_front_mm)

    def at(t_s: float):
        r = bent if t_bent <= t_s < t_straight else straight
        return observe(r, CAM, rng, t_ms=int(t_s * 1000))

    return at


def _first(timeline, pid, after_n=0):
    for t, p, n in timeline:
        if p == pid and n > after_n:
            return n
    return None


def test_bent_elbows_in_set_two_raise_lock_your_elbows_within_4_and_clear_when_straight():
    for seed in range(5):
        session = _session()
        bent_from, bent_to = 32, 44  # compressions (0-based) of the second set
        coach = Coach(CoachOptions(profile="adult"))
        tl = drive(coach, session, posture=_posture_source(session, bent_from, bent_to, seed))
        assert _first(tl, "lock_elbows") is not None, f"seed {seed}: never prompted"
        shown_at = _first(tl, "lock_elbows")
        # n counts compressions fed; the bent run starts with compression bent_from (the (bent_from+1)-th).
        assert bent_from + 1 < shown_at <= bent_from + 4, (seed, shown_at)
        assert all(p != "lock_elbows" for t, p, n in tl if n <= 30), "set 1 was straight"
        cleared = next(n for t, p, n in tl if n > shown_at and p != "lock_elbows")
        assert bent_to < cleared <= bent_to + OFF + 1, (seed, cleared)
        assert all(p != "lock_elbows" for t, p, n in tl if n >= cleared)
        assert all(p != "shoulders_over_hands" for t, p, n in tl)
        # Per set: share of compressions with locked elbows.
        s1, s2 = coach.posture.set_summary(0), coach.posture.set_summary(1)
        assert s1["locked_share"] == 1.0 and s1["judged"] >= 28
        assert abs(s2["locked_share"] - (30 - (bent_to - bent_from)) / 30) <= 2 / 30, s2
        assert s2["mean_shoulder_offset_mm"] < 30.0


def test_shoulders_behind_the_hands_prompt_and_direction():
    session = build([good(ADULT) for _ in range(12)])
    coach = Coach(CoachOptions(profile="adult-compression-only"))
    src = _posture_source(session, 0, 0, seed=11, offset_front_mm=-2.0 * TH.shoulder_offset_max_mm)
    tl = drive(coach, session, posture=src)
    shown = _first(tl, "shoulders_over_hands")
    assert shown is not None and shown <= ON + 1
    assert coach.active.id == "shoulders_over_hands"
    d = coach.active.detail
    assert d.get("move_shoulders") == "forward" and d["shoulder_offset_mm"] > TH.shoulder_offset_max_mm


def test_depth_outranks_posture():
    specs = [Spec(ADULT.depth_mm.min - 10, ADULT.rate_target_cpm) for _ in range(12)]
    session = build(specs)
    coach = Coach(CoachOptions(profile="adult-compression-only"))
    tl = drive(coach, session, posture=_posture_source(session, 0, 12, seed=2))
    assert coach.latched["elbows"] == "low"  # posture is latched underneath ...
    assert tl[-1][1] == "push_harder"  # ... but depth is shown


def test_no_pose_frames_means_no_posture_prompt_and_no_judgement():
    session = _session(10)
    coach = Coach(CoachOptions(profile="adult"))
    tl = drive(coach, session)
    assert all(p not in ("lock_elbows", "shoulders_over_hands") for _, p, _ in tl)
    assert coach.posture.session_summary()["session"]["judged"] == 0


def test_bands_and_acceptable_holds_the_latch():
    assert classify_elbow(TH.elbow_good_min_deg, TH) == "good"
    assert classify_elbow(TH.elbow_bent_below_deg - 0.1, TH) == "bent"
    assert classify_elbow((TH.elbow_good_min_deg + TH.elbow_bent_below_deg) / 2, TH) == "acceptable"
    assert summarize([]) == {"compressions": 0, "judged": 0, "locked_share": None, "mean_shoulder_offset_mm": None}
    j = PostureJudge(TH)
    rng = np.random.default_rng(0)
    for i in range(10):  # acceptable arms: judged, not locked
        j.add(observe(make_rescuer((145.0, 146.0)), CAM, rng), i * 0.1)
    cp = j.for_compression(0.5, 0.9, set_index=0)
    assert cp.elbow_class == "acceptable" and cp.elbows_locked is False and abs(cp.elbow_deg - 145.0) < 5


def test_infant_profiles_have_no_posture_coaching():
    for name in ("infant", "infant-2-rescuer"):
        coach = Coach(CoachOptions(profile=name))
        assert coach.profile.posture is None and coach.posture is None
        assert coach.on_posture(observe(make_rescuer((110.0, 110.0)), CAM, np.random.default_rng(0)), 1.0) is None
    assert load_profile("child").posture == TH
