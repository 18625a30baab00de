"""CURVE: only clients on the station's allow-list receive anything; keys come from `keys generate`."""
from __future__ import annotations

import stat
import time

import pytest

from coach.cli import main as cli_main
from overlays.publisher import Publisher, PublisherError, PublisherOptions
from overlays.security import CurveClientOptions, CurveServerOptions, KeyFileError, generate_keys
from overlays.subscriber import Subscriber, SubscriberOptions

from overlay_helpers import ANY_PORT, core_state


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    base = tmp_path_factory.mktemp("keys")
    station = generate_keys(base / "station", ("monitor",), role="controller")
    rogue = generate_keys(base / "rogue", ("rogue",))  # a valid key pair the station never allowed
    return station, rogue


def _listen(pub: Publisher, sub: Subscriber, seconds: float) -> int:
    """Publish state for ``seconds`` while counting what ``sub`` receives."""
    n = 0
    deadline = time.monotonic() + seconds
    i = 0
    while time.monotonic() < deadline:
        i += 1
        pub.publish_state(core_state(t_s=float(i)), t_s=float(i))
        n += len(sub.drain())
        time.sleep(0.01)
    return n


def test_allowed_client_receives_and_others_receive_nothing(keys):
    station, rogue = keys
    server = CurveServerOptions(station.server_secret, station.allowed_dir)
    with Publisher(PublisherOptions(endpoint=ANY_PORT, curve=server, max_state_hz=1e9)) as pub:
        allowed = Subscriber(SubscriberOptions(connect=pub.endpoint, curve=CurveClientOptions(
            station.client_secrets[0], station.server_public)))
        plain = Subscriber(SubscriberOptions(connect=pub.endpoint))
        wrong_key = Subscriber(SubscriberOptions(connect=pub.endpoint, curve=CurveClientOptions(
            rogue.client_secrets[0], station.server_public)))
        try:
            n_allowed = _listen(pub, allowed, 1.5)
            n_plain = len(plain.drain()) + _listen(pub, plain, 0.3)
            n_wrong = len(wrong_key.drain()) + _listen(pub, wrong_key, 0.3)
        finally:
            for s in (allowed, plain, wrong_key):
                s.close()
    assert n_allowed > 50
    assert n_plain == 0
    assert n_wrong == 0


def test_key_files_are_private_and_checked(keys, tmp_path):
    station, _ = keys
    for secret in (station.server_secret, *station.client_secrets):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert sorted(p.name for p in (station.allowed_dir / "controllers").iterdir()) == ["monitor.key"]
    with pytest.raises(KeyFileError, match="exists; pass --force"):
        generate_keys(station.server_secret.parent, ("monitor",))
    with pytest.raises(PublisherError, match="holds no secret key"):
        Publisher(PublisherOptions(endpoint=ANY_PORT, curve=CurveServerOptions(station.server_public, station.allowed_dir)))
    with pytest.raises(PublisherError, match="does not exist"):
        Publisher(PublisherOptions(endpoint=ANY_PORT, curve=CurveServerOptions(tmp_path / "nope", station.allowed_dir)))


def test_keys_generate_command(tmp_path, capsys):
    assert cli_main(["keys", "generate", "--dir", str(tmp_path / "k"), "--client", "hud", "--client", "monitor"]) == 0
    out = capsys.readouterr().out
    assert "server.key_secret" in out and "--curve-allow" in out
    assert sorted(p.name for p in (tmp_path / "k" / "allowed" / "viewers").iterdir()) == ["hud.key", "monitor.key"]
    assert (tmp_path / "k" / "clients" / "hud.key_secret").is_file()
    assert cli_main(["keys", "generate", "--dir", str(tmp_path / "k")]) == 2  # refuses to overwrite
    assert "exists; pass --force" in capsys.readouterr().err


def test_encrypted_station_remote_and_hud_bridge(keys):
    """A whole station under CURVE: the allowed remote client and HUD bridge work, a plain one gets nothing."""
    from overlays.hud.server import HudOptions, HudThread
    from overlays.remote import RemoteClient, RemoteError

    from station_helpers import StationThread, wait_for

    station, _ = keys
    client_keys = CurveClientOptions(station.client_secrets[0], station.server_public)
    th = StationThread(duration_s=120.0, speed=1.0, frame_hz=0,
                       curve=CurveServerOptions(station.server_secret, station.allowed_dir)).start()
    hud = HudThread(HudOptions(connect=th.pub_endpoint, port=0, curve=client_keys))
    try:
        server = hud.start()
        with RemoteClient(th.remote_endpoint, curve=client_keys, timeout_s=3.0) as ok_client:
            assert ok_client.request("status")["ok"]
        with RemoteClient(th.remote_endpoint, timeout_s=1.0) as plain:
            with pytest.raises(RemoteError, match="no reply"):
                plain.request("status")
        assert wait_for(lambda: server.forwarded > 10, 5.0)  # the bridge decrypts like any allowed client
    finally:
        hud.stop()
        th.stop()
