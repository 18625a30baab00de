"""Posture on the wire: cpr.state / cpr.compression / cpr.feedback carry it and still validate (v1),
a Station fed pose frames publishes them over real sockets, and the viewer draws the arm lines."""
from __future__ import annotations

import numpy as np
from jsonschema import Draft202012Validator

from coach.core.profiles import load_profile
from coach.feedback.prompts import LOCK_ELBOWS, SHOULDERS_OVER
from coach.station import Sample, Station, StationOptions
from overlays.protocol import load_schema
from overlays.publisher import PublisherOptions
from overlays.render import RenderStyle, draw_posture
from overlays.subscriber import Subscriber, SubscriberOptions
from vision.pose import ArmLandmarks
from vision.posture_worker import PostureResult

from overlay_helpers import ANY_PORT, compression, core_state, wait_connected
from posture_helpers import camera_at, make_rescuer, observe

CAM = camera_at(30.0, 30.0)


def _result(angles, t_ms: int, seed: int = 0) -> PostureResult:
    r = make_rescuer(angles)
    m = observe(r, CAM, np.random.default_rng(seed), t_ms=t_ms)
    arms = ArmLandmarks(t_ms, CAM.project(r.arms_m), (r.arms_m - r.hips_m) @ CAM.rotation.T, np.full((2, 3), 0.9), (1280, 720))
    return PostureResult(t_ms, arms, m, 12.0)


def _valid(topic: str, payload: dict) -> None:
    errors = sorted(Draft202012Validator(load_schema(topic)).iter_errors(payload), key=str)
    assert not errors, f"{topic}: {errors[0].message} at {list(errors[0].path)}"


def test_station_publishes_posture_on_state_and_compression_and_they_validate():
    opts = StationOptions(station_id="posture-test", publisher=PublisherOptions(endpoint=ANY_PORT), remote=None)
    with Station(opts) as st, Subscriber(SubscriberOptions(connect=st.publisher.endpoint)) as sub:
        wait_connected(st.publisher, sub)
        t = 1.0
        # a simulated chest: 110 cpm, 55 mm, hands bent at 120 deg; pose frames at 10 Hz
        for k in range(200):
            t = 1.0 + k / 30.0
            if k % 3 == 0:
                st.on_posture(_result((120.0, 124.0), int(t * 1000), seed=k))
            h = 0.0 if t < 2.0 else -27.5 * (1 - np.cos(2 * np.pi * (t - 2.0) * 110 / 60))
            st.process(Sample(t_s=t, height_mm=float(h)))
        got = []
        while (m := sub.recv(0.5)) is not None:
            got.append(m)
    states = [m.payload for m in got if m.topic == "cpr.state" and "posture" in m.payload]
    comps = [m.payload for m in got if m.topic == "cpr.compression"]
    fbs = [m.payload for m in got if m.topic == "cpr.feedback" and m.payload["prompt"]]
    assert states and comps
    for p in states[-3:]:
        _valid("cpr.state", p)
        assert p["posture"]["elbow_class"] == "bent" and len(p["posture"]["arms_px"]) == 2
    for c in comps:
        _valid("cpr.compression", c)
    judged = [c for c in comps if c.get("posture")]
    assert judged and all(c["posture"]["elbows_locked"] is False for c in judged)
    assert any(f["prompt"]["id"] == "lock_elbows" for f in fbs)
    for f in fbs:
        _valid("cpr.feedback", f)


def test_posture_prompts_validate_on_cpr_feedback():
    from overlays.messages import feedback_body

    th = load_profile().posture
    for p, detail in [(LOCK_ELBOWS, {"elbow_deg": 120.0, "good_min_deg": th.elbow_good_min_deg}),
                      (SHOULDERS_OVER, {"shoulder_offset_mm": 150.0, "move_shoulders": "forward"})]:
        body = {"topic": "cpr.feedback", "v": 1, "station": "s", "t_s": 1.0, "seq": 0,
                **feedback_body(p.at(1.0, **detail), session="x")}
        _valid("cpr.feedback", body)
        assert body["priority"] == p.priority and p.priority > 4  # after depth, pause, recoil, rate, placement


def test_state_without_posture_is_unchanged():
    from overlays.messages import state_body

    body = state_body(core_state(), hands_visible=True)
    assert "posture" not in body


def test_viewer_draws_arm_lines_and_says_not_visible():
    style = RenderStyle()
    img = np.zeros((360, 640, 3), np.uint8)
    res = _result((120.0, 124.0), 0)
    posture = {**res.to_dict(), "elbow_class": "bent"}
    draw_posture(img, posture, style)
    # the elbow of each arm (scaled from 1280x720 to 640x360) is painted in the alert colour
    for arm in range(2):
        x, y = (res.arms.image_px[arm, 1] / 2).astype(int)
        patch = img[max(0, y - 3):y + 4, max(0, x - 3):x + 4].reshape(-1, 3)
        assert (patch == np.array(style.alert, np.uint8)).all(axis=1).any()
    blank = np.zeros_like(img)
    draw_posture(blank, {**posture, "elbow_deg_lr": [None, None]}, style)  # "not visible" labels, no crash
    assert blank.any()
    untouched = np.zeros_like(img)
    draw_posture(untouched, {"found": False}, style)
    assert not untouched.any()
