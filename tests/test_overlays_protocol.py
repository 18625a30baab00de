"""Every topic, sent through a real PUB socket, validates against its shipped JSON Schema."""
from __future__ import annotations

import json
import math

import pytest
from jsonschema import Draft202012Validator

from coach.core.profiles import load_profile
from coach.feedback import Coach
from coach.feedback.prompts import PUSH_HARDER
from overlays.protocol import SCHEMA_NAMES, TOPICS, Message, ProtocolError, decode, encode, load_schema
from overlays.publisher import Publisher, PublisherOptions
from overlays.scene import SceneInputs, build_overlay, top_down_projector
from overlays.subscriber import Subscriber, SubscriberOptions

from overlay_helpers import ANY_PORT, compression, core_state, summary, wait_connected


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_shipped_schemas_are_valid_json_schema(name):
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    assert schema["title"] == name


def _publish_one_of_each(pub: Publisher) -> None:
    p = load_profile()
    pub.publish_session("start", profile=p.name, t_s=1.0)
    pub.publish_state(core_state(), tracker_fps=30.0, latency_ms=12.0, placement_mm=4.0, t_s=1.0)
    lost = core_state(t_s=1.2)
    lost = lost.__class__(**{**lost.__dict__, "height_mm": math.nan, "rate_cpm": math.nan, "phase": "lost"})
    pub.publish_state(lost, t_s=1.2)  # NaN travels as null and still validates
    pub.publish_compression(compression(), placement_mm=4.0)
    pub.publish_compression(compression(0, depth_mm=64.0, rate_cpm=math.nan))
    pub.publish_feedback(PUSH_HARDER.at(2.0, depth_mm=44.0, band_mm=[50.0, 60.0]), t_s=2.0)
    pub.publish_feedback(None, t_s=2.1)
    coach = Coach()
    cue = coach.metronome_cue(2.2).to_dict()
    ov = build_overlay(SceneInputs(2.2, p, 31.0, 52.0, 111.0, metronome=cue, prompt=PUSH_HARDER.to_dict(),
                                   count_text="12 / 30", procedure_phase="compressing", placement_mm=25.0),
                       project=top_down_projector())
    pub.publish_overlay(ov, t_s=2.2)
    pub.publish_overlay(build_overlay(SceneInputs(2.3, p)), t_s=2.3)  # nothing known yet: all nulls
    pub.publish_frame(b"\xff\xd8fake-jpeg\xff\xd9", width_px=640, height_px=360, t_s=2.4)
    pub.heartbeat(source_kind="simulator", source_name="seed 1", tracker_status="ok", tracker_fps=30.0, t_s=3.0)
    pub.publish_session("stop", profile=p.name, summary=summary(), t_s=4.0)


@pytest.mark.parametrize("transport", ["tcp", "ipc"])
def test_every_topic_validates_against_its_schema(transport, tmp_path):
    endpoint = ANY_PORT if transport == "tcp" else f"ipc://{tmp_path / 'pub.ipc'}"
    with Publisher(PublisherOptions(endpoint=endpoint, station_id="test-station")) as pub, \
            Subscriber(SubscriberOptions(connect=pub.endpoint)) as sub:
        wait_connected(pub, sub)
        _publish_one_of_each(pub)
        got: list[Message] = []
        while (m := sub.recv(0.5)) is not None:
            got.append(m)
    assert sub.bad == 0
    assert {m.topic for m in got} == set(TOPICS)
    validators = {t: Draft202012Validator(load_schema(t)) for t in TOPICS}
    for m in got:
        errors = sorted(validators[m.topic].iter_errors(m.payload), key=str)
        assert not errors, f"{m.topic}: {errors[0].message} at {list(errors[0].path)}"
        assert m.payload["station"] == "test-station"
        assert m.payload["v"] == 1
    # envelope details a client relies on
    states = [m for m in got if m.topic == "cpr.state"]
    assert states[1].payload["height_mm"] is None and states[1].payload["hands_visible"] is False
    assert [m.payload["seq"] for m in states] == [0, 1]
    frame = next(m for m in got if m.topic == "cpr.frame")
    assert frame.extra == (b"\xff\xd8fake-jpeg\xff\xd9",) and frame.payload["bytes"] == len(frame.extra[0])
    fb = [m.payload for m in got if m.topic == "cpr.feedback"]
    assert fb[0]["prompt"]["id"] == "push_harder" and fb[0]["priority"] == 1
    assert fb[1]["prompt"] is None and fb[1]["priority"] is None
    sessions = [m.payload for m in got if m.topic == "cpr.session"]
    assert [s["event"] for s in sessions] == ["start", "stop"]
    assert sessions[0]["session"] == sessions[1]["session"]
    assert sessions[1]["summary"]["compressions"] == 30 and sessions[1]["summary"]["time_to_first_s"] is None
    overlay = next(m.payload for m in got if m.topic == "cpr.overlay")
    kinds = {p["kind"] for p in overlay["primitives"]}
    assert kinds == {"depth_gauge", "rate_dial", "metronome", "placement_ring", "text"}
    for prim in overlay["primitives"]:
        assert "world" in prim and "image" in prim  # both coordinate spaces, always
    gauge = next(p for p in overlay["primitives"] if p["kind"] == "depth_gauge")
    assert gauge["band_mm"] == [load_profile().depth_mm.min, load_profile().depth_mm.max]


def test_payload_starts_with_the_topic_and_rejects_nan():
    raw = encode("cpr.state", {"height_mm": math.nan, "x": (1.0, math.inf)}, station="s", t_s=1.0, seq=0)
    assert raw.startswith(b'{"topic":"cpr.state","v":1,')
    assert json.loads(raw)["height_mm"] is None and json.loads(raw)["x"] == [1.0, None]
    with pytest.raises(ProtocolError, match="collides"):
        encode("cpr.state", {"seq": 3}, station="s", t_s=0.0, seq=0)
    with pytest.raises(ProtocolError, match="unknown topic"):
        encode("cpr.nope", {}, station="s", t_s=0.0, seq=0)


@pytest.mark.parametrize(
    "frames, reason",
    [
        ([b"cpr.state"], "expected"),
        ([b"cpr.state", b"\xff\xfe"], "not UTF-8"),
        ([b"cpr.state", b"[1, 2]"], "not a JSON object"),
        ([b"cpr.state", b'{"topic": "cpr.state", "v": 2}'], "version"),
        ([b"cpr.state", b'{"topic": "cpr.frame", "v": 1}'], "names topic"),
    ],
)
def test_decode_rejects_malformed_messages_with_a_reason(frames, reason):
    with pytest.raises(ProtocolError, match=reason):
        decode(frames)
