"""Feedback on simulated sessions: the right prompt appears and clears, without flicker.

Two levels: the simulator's ground-truth compressions fed straight to the Coach
(the rules alone), and the whole station (analyzer -> Coach) on the simulated
height signal, where measurement noise could make prompts flicker.
"""
from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from coach.core.profiles import load_profile
from coach.core.simulator import simulate
from coach.feedback import Coach, CoachOptions
from coach.simsource import SimSourceOptions, sim_options_for, sim_samples
from coach.station import Station, StationOptions
from overlays.publisher import PublisherOptions

ADULT = load_profile("adult")
ON, OFF = ADULT.feedback.on_run, ADULT.feedback.off_run


def _feed_truth(coach: Coach, trace, fps: float = 30.0):
    """Drive the Coach with the trace's true compressions on the trace's own clock."""
    coach.start(float(trace.t_s[0]))
    pending = list(trace.truth)
    timeline = []
    for t in np.arange(trace.t_s[0], trace.t_s[-1], 1.0 / fps):
        while pending and pending[0].t_release_s <= t:
            c = pending.pop(0)
            i = int(np.searchsorted(trace.t_s, c.t_bottom_s))
            coach.on_compression(c, placement_mm=float(trace.placement_mm[min(i, len(trace.t_s) - 1)]))
        p = coach.on_time(float(t))
        timeline.append((float(t), None if p is None else p.id))
    return timeline


def _changes(timeline):
    out, last = [], object()
    for t, pid in timeline:
        if pid != last:
            out.append((t, pid))
            last = pid
    return out


@pytest.mark.parametrize("scenario, prompt", [("shallow", "push_harder"), ("deep", "push_softer"),
                                               ("slow", "push_faster"), ("fast", "push_slower"),
                                               ("leaning", "release_fully"), ("off-centre", "hands_to_centre")])
def test_each_scenario_raises_its_prompt_from_truth(scenario, prompt):
    opts = replace(sim_options_for(scenario, seed=3, duration_s=25.0, profile="adult-compression-only"))
    trace = simulate(opts)
    coach = Coach(CoachOptions(profile="adult-compression-only"))
    tl = _feed_truth(coach, trace)
    shown = {pid for _, pid in tl if pid}
    assert prompt in shown, (scenario, shown)
    # it appears only after on_run compressions of the session
    first = next(t for t, pid in tl if pid == prompt)
    n_before = sum(1 for c in trace.truth if c.t_release_s <= first)
    assert n_before >= ON


def test_good_session_stays_quiet_and_30_2_cycle_prompts_breaths():
    trace = simulate(sim_options_for("good", seed=5, duration_s=60.0, profile="adult"))
    coach = Coach(CoachOptions(profile="adult"))
    tl = _feed_truth(coach, trace)
    ch = _changes(tl)
    ids = [pid for _, pid in ch if pid]
    assert set(ids) <= {"give_breaths", "resume_compressions"}, ids
    n_sets = len({c.set_index for c in trace.truth})
    assert ids.count("give_breaths") >= n_sets - 1 >= 1
    # each breath prompt clears when compressions resume
    for (t, pid), (t2, nxt) in zip(ch, ch[1:]):
        if pid == "give_breaths":
            assert nxt in (None, "resume_compressions")


def _stitched(first, second):
    """Two simulated stretches back to back (the trainee corrects after a prompt)."""
    a, b = simulate(first), simulate(replace(second, t0_s=first.t0_s + first.duration_s + 0.05))
    return SimpleNamespace(
        t_s=np.concatenate([a.t_s, b.t_s]), height_mm=np.concatenate([a.height_mm, b.height_mm]),
        placement_mm=np.concatenate([a.placement_mm, b.placement_mm]),
        truth=a.truth + tuple(replace(c, index=c.index + len(a.truth), set_index=c.set_index + 100) for c in b.truth))


def test_push_harder_appears_and_clears_through_the_whole_station():
    """Analyzer + Coach on the noisy simulated signal: shallow stretch, then good; no flicker."""
    p = load_profile("adult-compression-only")
    shallow = sim_options_for("shallow", seed=11, duration_s=18.0, profile=p.name)
    good = sim_options_for("good", seed=12, duration_s=18.0, profile=p.name)
    trace = _stitched(shallow, good)
    st = Station(StationOptions(station_id="t", profile=p.name, remote=None, source_kind="simulator",
                                publisher=PublisherOptions(endpoint="tcp://127.0.0.1:0")))
    timeline = []
    try:
        for s in sim_samples(trace, SimSourceOptions(frame_hz=0)):
            st.process(s)
            a = st.coach.active
            timeline.append((s.t_s, None if a is None else a.id))
    finally:
        st.close()
    ch = _changes(timeline)
    t_switch = shallow.duration_s
    harder = [(t, pid) for t, pid in ch if pid == "push_harder"]
    assert harder and harder[0][0] < t_switch, ch  # raised during the shallow stretch
    cleared = [t for (t, pid), (_, prev) in zip(ch[1:], ch) if prev == "push_harder" and pid != "push_harder"]
    assert cleared and cleared[-1] > t_switch, ch  # and cleared once depth was good
    assert timeline[-1][1] is None or timeline[-1][1] != "push_harder"
    # no flicker: push_harder is shown once per stretch, never toggled on/off within it
    assert len(harder) <= 2, ch
    depth_changes = [pid for _, pid in ch if pid in ("push_harder", "push_softer")]
    assert len(depth_changes) <= 2, ch


QUALITY = ("push_harder", "push_softer", "release_fully", "push_faster", "push_slower", "hands_to_centre")


def test_realistic_sessions_do_not_flicker():
    """On realistic noisy sessions a quality prompt, once shown, is cleared only by off_run good compressions."""
    for seed in (1, 2):
        trace = simulate(sim_options_for("realistic", seed=seed, duration_s=40.0, profile="adult"))
        st = Station(StationOptions(station_id="t", profile="adult", remote=None, source_kind="simulator",
                                    publisher=PublisherOptions(endpoint="tcp://127.0.0.1:0")))
        spans = []  # (prompt id, compressions when shown, when it went, what replaced it)
        cur = None
        try:
            for s in sim_samples(trace, SimSourceOptions(frame_hz=0)):
                st.process(s)
                a = st.coach.active
                pid = None if a is None else a.id
                n = st.stats.compressions
                if cur is None or pid != cur[0]:
                    if cur is not None and cur[0] is not None:
                        spans.append((cur[0], cur[1], n, pid))
                    cur = (pid, n)
        finally:
            st.close()
        assert st.stats.compressions > 40
        for pid, n0, n1, nxt in spans:
            if pid in QUALITY and nxt is None:
                assert n1 - n0 >= OFF, (seed, spans)
