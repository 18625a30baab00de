"""Endpoint strings: checked once, with one-line errors that name the endpoint.

Why: a typo in ``--publish`` should fail at start with a clear message, not as
a ZMQError deep in a loop. ``tcp://HOST:0`` is accepted as "any free port"
(ZeroMQ spells it ``*``); the bound endpoint is read back from the socket.
"""
from __future__ import annotations

import ipaddress
import os
import socket
from typing import Mapping

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


def check_ipc_free(endpoint: str) -> None:
    """Refuse to bind an ``ipc://`` path that a live process still serves.

    Why: libzmq unlinks and re-creates the socket file on bind, so a second
    station on the same path silently steals the first one's clients. A stale
    file (nobody listening: connection refused) is fine to take over.
    """
    if not endpoint.startswith("ipc://"):
        return
    path = endpoint[len("ipc://"):]
    if not path or path.startswith("@") or not os.path.exists(path):
        return  # abstract namespace or a new path
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(0.5)
    try:
        s.connect(path)
    except OSError:
        return  # refused or not a socket: a stale file libzmq may replace
    finally:
        s.close()
    raise EndpointError(f"endpoint {endpoint} is served by a running process (another station?); "
                        "stop it or choose another path")


def _same_place(a: str, b: str) -> bool:
    if a == b:
        return not a.endswith((":0", ":*"))  # "any free port" twice is two different ports
    if a.startswith("tcp://") and b.startswith("tcp://"):
        ha, _, pa = a[6:].rpartition(":")
        hb, _, pb = b[6:].rpartition(":")
        if pa != pb or pa in ("0", "*"):
            return False
        wild = ("*", "0.0.0.0", "[::]", "::")
        return ha in wild or hb in wild or (is_loopback(a) and is_loopback(b))
    return False


def check_exposure(endpoints: Mapping[str, str | None], curve: object | None, insecure: bool) -> list[str]:
    """The one start-up check of every command that serves a station (simulate, run, demo, serve).

    ``endpoints`` maps a flag name (``--publish``) to the endpoint it binds (None: not used).
    Raises EndpointError (one line) when two sockets would share an endpoint, or when
    one is reachable beyond this machine without CURVE (``curve`` None) and
    ``insecure`` is False. Returns the warning lines to print when ``insecure``
    lets an exposed, unencrypted station start.
    """
    used = [(flag, ep) for flag, ep in endpoints.items() if ep]
    for i, (fa, a) in enumerate(used):
        for fb, b in used[i + 1:]:
            if _same_place(a, b):
                raise EndpointError(f"{fa} and {fb} both use {a}: each socket needs its own endpoint")
    exposed = [f"{flag} {ep}" for flag, ep in used if not is_loopback(ep)]
    if not exposed or curve is not None:
        return []
    if not insecure:
        raise EndpointError(f"{', '.join(exposed)} would be reachable beyond this machine without encryption; "
                            "add --curve-secret/--curve-allow (cpr-coach keys generate), bind 127.0.0.1, "
                            "or pass --insecure to accept it")
    return [f"warning: --insecure: {', '.join(exposed)} reachable beyond this machine unencrypted: "
            "anyone on the network can watch and control this station"]
