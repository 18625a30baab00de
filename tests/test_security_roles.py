"""Two roles under CURVE: a viewer key may subscribe, only a controller key may use the remote."""
from __future__ import annotations

import pytest

from overlays.remote import RemoteClient, RemoteError
from overlays.security import CurveClientOptions, CurveServerOptions, add_clients, generate_keys
from overlays.subscriber import Subscriber, SubscriberOptions

from station_helpers import StationThread


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    base = tmp_path_factory.mktemp("roles")
    gen = generate_keys(base, ("headset",), role="viewer")
    (controller,) = add_clients(base, ("instructor",), "controller")
    return gen, gen.client_secrets[0], controller


def test_viewer_subscribes_but_cannot_control_and_controller_can(keys):
    gen, viewer_secret, controller_secret = keys
    viewer = CurveClientOptions(viewer_secret, gen.server_public)
    controller = CurveClientOptions(controller_secret, gen.server_public)
    th = StationThread(duration_s=120.0, speed=1.0, frame_hz=0,
                       curve=CurveServerOptions(gen.server_secret, gen.allowed_dir)).start()
    try:
        for who in (viewer, controller):  # both roles receive the topics
            with Subscriber(SubscriberOptions(connect=th.pub_endpoint, curve=who)) as sub:
                assert sub.recv(5.0) is not None
        with RemoteClient(th.remote_endpoint, curve=viewer, timeout_s=1.0) as c:
            with pytest.raises(RemoteError, match="no reply"):  # the ZAP handler refuses the viewer key
                c.request("stop")
        with RemoteClient(th.remote_endpoint, curve=controller, timeout_s=3.0) as c:
            reply = c.request("status")
            assert reply["ok"] is True and reply["running"] is True
        assert th.station.remote.served == 1  # only the controller's request reached the station
    finally:
        th.stop()


def test_allow_lists_are_separate_folders(keys):
    gen, _, _ = keys
    assert [p.name for p in (gen.allowed_dir / "viewers").iterdir()] == ["headset.key"]
    assert [p.name for p in (gen.allowed_dir / "controllers").iterdir()] == ["instructor.key"]
