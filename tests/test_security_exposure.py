"""Serving beyond loopback without CURVE is refused unless --insecure; endpoints are never shared or taken over."""
from __future__ import annotations

import time

import pytest

from coach.cli import main as cli_main
from overlays.endpoints import EndpointError, check_exposure, check_ipc_free
from overlays.publisher import Publisher, PublisherError, PublisherOptions
from overlays.subscriber import Subscriber, SubscriberOptions

from overlay_helpers import wait_connected


def test_check_exposure_refuses_exposed_plain_sockets_unless_insecure():
    eps = {"--publish": "tcp://0.0.0.0:5566", "--remote": "tcp://127.0.0.1:5565"}
    with pytest.raises(EndpointError, match=r"--publish tcp://0.0.0.0:5566 would be reachable .* --insecure"):
        check_exposure(eps, None, insecure=False)
    assert check_exposure(eps, object(), insecure=False) == []  # CURVE on: fine
    (warning,) = check_exposure(eps, None, insecure=True)
    assert "--insecure" in warning and "0.0.0.0:5566" in warning
    assert check_exposure({"--publish": "tcp://127.0.0.1:1", "--remote": "ipc:///tmp/x"}, None, False) == []


@pytest.mark.parametrize("a, b", [
    ("ipc:///tmp/cpr-same", "ipc:///tmp/cpr-same"),
    ("tcp://127.0.0.1:5600", "tcp://localhost:5600"),
    ("tcp://0.0.0.0:5600", "tcp://127.0.0.1:5600"),
])
def test_one_endpoint_for_two_sockets_is_refused(a, b):
    with pytest.raises(EndpointError, match="both use"):
        check_exposure({"--publish": a, "--remote": b}, None, insecure=True)
    assert check_exposure({"--publish": "tcp://127.0.0.1:0", "--remote": "tcp://127.0.0.1:0"}, None, False) == []


def test_simulate_beyond_loopback_without_curve_exits_with_one_line(capsys):
    rc = cli_main(["simulate", "--publish", "tcp://0.0.0.0:0", "--remote", "tcp://0.0.0.0:0", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1
    assert "without encryption" in err[0] and "--insecure" in err[0]
    rc = cli_main(["simulate", "--publish", "ipc:///tmp/cpr-sec-dup", "--remote", "ipc:///tmp/cpr-sec-dup", "--quiet"])
    assert rc == 2 and "both use" in capsys.readouterr().err


def test_simulate_with_insecure_serves_and_warns(capsys):
    rc = cli_main(["simulate", "--publish", "tcp://0.0.0.0:0", "--no-remote", "--insecure", "--duration", "2",
                   "--speed", "40", "--quiet", "--frame-hz", "0"])
    out = capsys.readouterr()
    assert rc == 0
    assert "warning: --insecure" in out.err and "session summary" in out.out


def test_a_live_ipc_path_is_not_taken_over(tmp_path, capsys):
    ep = f"ipc://{tmp_path / 'station.ipc'}"
    with Publisher(PublisherOptions(endpoint=ep, station_id="first")) as first, \
            Subscriber(SubscriberOptions(connect=ep)) as sub:
        wait_connected(first, sub)
        with pytest.raises(EndpointError, match="served by a running process"):
            check_ipc_free(ep)
        with pytest.raises(PublisherError, match="served by a running process"):
            Publisher(PublisherOptions(endpoint=ep, station_id="second"))
        rc = cli_main(["simulate", "--publish", ep, "--no-remote", "--quiet", "--duration", "1"])
        assert rc == 2 and "served by a running process" in capsys.readouterr().err
        # the first station still reaches its subscriber
        first.heartbeat(source_kind="test", source_name="t", tracker_status="ok", t_s=time.monotonic())
        m = sub.recv(2.0)
        assert m is not None and m.station == "first"
    # a stale socket file (a crashed station: nobody listens) is fine to take over
    import socket

    stale = tmp_path / "stale.ipc"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(stale))
    s.close()
    assert stale.exists()
    check_ipc_free(f"ipc://{stale}")
    with Publisher(PublisherOptions(endpoint=f"ipc://{stale}", station_id="third")) as third:
        assert third.endpoint == f"ipc://{stale}"
