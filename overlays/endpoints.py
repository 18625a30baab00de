"""Endpoint strings: checked once, with one-line errors that name the endpoint.

Why: a typo in ``--publish`` should fail at start with a clear message, not as
a ZMQError deep in a loop. ``tcp://HOST:0`` is accepted as "any free port"
(ZeroMQ spells it ``*``); the bound endpoint is read back from the socket.
"""
from __future__ import annotations

import ipaddress

SCHEMES = ("tcp://", "ipc://", "inproc://")


class EndpointError(ValueError):
    """A bad or unusable endpoint string."""


def check(endpoint: str, *, bind: bool) -> str:
    """Return the endpoint ZeroMQ should use; raise EndpointError if malformed."""
    if not isinstance(endpoint, str) or not endpoint.startswith(SCHEMES):
        raise EndpointError(f"endpoint {endpoint!r} must start with one of {', '.join(SCHEMES)}")
    if endpoint.startswith("tcp://"):
        hostport = endpoint[len("tcp://"):]
        host, sep, port = hostport.rpartition(":")
        if not sep or not host:
            raise EndpointError(f"endpoint {endpoint!r} needs HOST:PORT")
        if port in ("0", "*") and bind:
            return f"tcp://{host}:*"
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise EndpointError(f"endpoint {endpoint!r} has a bad port {port!r}")
    return endpoint


def is_loopback(endpoint: str) -> bool:
    """True for ipc/inproc and for tcp on a loopback address or 'localhost'."""
    if not endpoint.startswith("tcp://"):
        return True
    host = endpoint[len("tcp://"):].rpartition(":")[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # an interface name or a hostname: assume exposed
