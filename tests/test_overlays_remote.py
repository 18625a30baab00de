"""Remote control (REQ/REP) against a running simulated station: commands and fuzzing."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from jsonschema import Draft202012Validator

from overlays.protocol import load_schema
from overlays.remote import CommandError, RemoteClient, RemoteError, parse_request

from station_helpers import StationThread, wait_for

REPLY = Draft202012Validator(load_schema("remote.reply"))


@pytest.fixture(scope="module")
def station():
    th = StationThread(duration_s=600.0, speed=1.0, frame_hz=0).start()
    yield th
    th.stop()


@pytest.fixture(scope="module")
def client(station):
    with RemoteClient(station.remote_endpoint, timeout_s=3.0) as c:
        yield c


def _valid(reply: dict) -> dict:
    errors = list(REPLY.iter_errors(reply))
    assert not errors, errors[0].message
    return reply


def test_commands_drive_the_session(client):
    assert wait_for(lambda: client.request("status")["running"], 5.0)  # autostart at the first sample
    st = _valid(client.request("status"))
    assert st["ok"] and st["running"] and st["profile"] == "adult" and st["station"] == "sim-test"
    r = _valid(client.request("start"))
    assert not r["ok"] and "already running" in r["error"]
    r = _valid(client.request("set-profile", profile="child"))
    assert not r["ok"] and "stop the session" in r["error"]
    stop = _valid(client.request("stop"))
    assert stop["ok"] and stop["summary"]["profile"] == "adult" and stop["session"] == st["session"]
    assert not _valid(client.request("stop"))["ok"]
    r = _valid(json.loads(client.send_raw(b"set-profile infant-2-rescuer")))  # the plain-text form
    assert r["ok"] and r["profile"] == "infant-2-rescuer"
    bad = _valid(client.request("set-profile", profile="martian"))
    assert not bad["ok"] and "unknown profile 'martian'" in bad["error"]
    started = _valid(client.request("start"))
    assert started["ok"] and started["profile"] == "infant-2-rescuer" and started["session"] != st["session"]
    snap = _valid(client.request("snapshot"))
    assert snap["ok"] and snap["running"] and snap["profile"] == "infant-2-rescuer"
    assert snap["state"] is not None and "displacement_mm" in snap["state"]
    assert snap["procedure"]["ratio_compressions"] == 15
    assert {p["kind"] for p in snap["overlay"]["primitives"]} >= {"depth_gauge", "rate_dial"}


@pytest.mark.parametrize(
    "raw, reason",
    [
        ([b"\xff\xfe\x00"], "not UTF-8"),
        ([b""], "empty request"),
        ([b"{nope"], "not valid JSON"),
        ([b"[1,2]"], "must be an object"),
        ([b'{"cmd": 3}'], 'string "cmd"'),
        ([b"reboot"], "unknown command"),
        ([b"status", b"extra"], "one frame"),
        ([b"x" * 70_000], "exceeds"),
        ([b"set-profile"], "usage"),
    ],
)
def test_malformed_requests_get_an_error_reply(client, raw, reason):
    reply = _valid(json.loads(client.send_raw(raw)))
    assert reply["ok"] is False and reason in reply["error"]


def test_oversized_requests_get_an_error_reply_and_huge_frames_are_dropped(station):
    from overlays.remote import MAX_FRAME_BYTES

    with RemoteClient(station.remote_endpoint, timeout_s=3.0) as big:
        reply = _valid(json.loads(big.send_raw(b"x" * 300_000)))  # over the request cap: still a reply
        assert reply["ok"] is False and "exceeds" in reply["error"]
    with RemoteClient(station.remote_endpoint, timeout_s=1.0) as rogue:
        with pytest.raises(RemoteError, match="no reply"):
            rogue.send_raw(b"x" * (MAX_FRAME_BYTES + 1))  # beyond MAXMSGSIZE: libzmq drops the peer
    with RemoteClient(station.remote_endpoint, timeout_s=3.0) as c:
        assert c.request("status")["ok"]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
REQUESTS = st.one_of(
    st.binary(max_size=300).map(lambda b: [b]),
    st.lists(st.binary(max_size=40), min_size=2, max_size=3),
    JSON.map(lambda v: [json.dumps(v).encode()]),
    st.fixed_dictionaries({"cmd": st.sampled_from(["status", "snapshot", "set-profile", "reboot", ""])},
                          optional={"profile": JSON}).map(lambda d: [json.dumps(d).encode()]),
    st.text(max_size=60).map(lambda s: [s.encode("utf-8", "surrogatepass")]),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(REQUESTS)
def test_fuzzed_requests_always_get_a_reply(client, frames):
    reply = _valid(json.loads(client.send_raw(frames)))
    assert isinstance(reply["ok"], bool)


def test_server_still_answers_after_fuzzing(client, station):
    assert _valid(client.request("status"))["ok"]
    assert station.station.remote.served > 100


def test_parse_request_text_and_json_forms():
    assert parse_request([b"status"]) == ("status", {})
    assert parse_request([b" set-profile child \n"]) == ("set-profile", {"profile": "child"})
    assert parse_request([b'{"cmd": "set-profile", "profile": "child"}']) == ("set-profile", {"profile": "child"})
    with pytest.raises(CommandError):
        parse_request([b"status now"])


def test_a_peer_that_is_not_a_station_gives_a_one_line_error(capsys):
    import threading

    import zmq

    from coach.cli import main as cli_main

    ctx = zmq.Context()
    rep = ctx.socket(zmq.REP)
    rep.setsockopt(zmq.LINGER, 0)
    rep.bind("tcp://127.0.0.1:*")
    endpoint = rep.getsockopt_string(zmq.LAST_ENDPOINT)

    def answer() -> None:  # some other REP service on that port
        if rep.poll(5000):
            rep.recv()
            rep.send(b"hello, I am a printer")

    th = threading.Thread(target=answer)
    th.start()
    try:
        assert cli_main(["remote", "status", "--connect", endpoint]) == 2
    finally:
        th.join()
        rep.close(0)
        ctx.term()
    err = capsys.readouterr().err.strip()
    assert err.startswith("cpr-coach: error:") and "not a cpr-coach remote control" in err and "\n" not in err


def test_remote_command_refuses_a_timeout_that_would_wait_forever(capsys):
    from coach.cli import main as cli_main

    assert cli_main(["remote", "status", "--connect", "tcp://127.0.0.1:9", "--timeout", "-1"]) == 2
    assert "--timeout must be > 0" in capsys.readouterr().err
