"""Optional CURVE encryption with a client key allow-list.

Why: trainee performance is personal data. On localhost the default (no
encryption, bound to 127.0.0.1) is fine; beyond it, a station encrypts every
socket and accepts only clients whose public key sits in its allow-list folder.

Key layout made by ``cpr-coach keys generate --dir KEYS``::

    KEYS/server.key            station public key   -> give to every client
    KEYS/server.key_secret     station secret key   -> stays on the station (0600)
    KEYS/allowed/NAME.key      client public keys   -> the station's allow-list
    KEYS/clients/NAME.key_secret  client secret key -> give to that client only (0600)

Keys are ZeroMQ certificate files (zmq.auth), readable by any ZeroMQ binding.
"""
from __future__ import annotations

import os
import shutil
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path

import zmq
import zmq.auth


class KeyFileError(ValueError):
    """A key file or folder is missing or unreadable (one-line reason)."""


@dataclass(frozen=True)
class CurveServerOptions:
    """Station side: its secret certificate and the folder of allowed client public keys."""

    secret_key_file: Path
    allowed_clients_dir: Path


@dataclass(frozen=True)
class CurveClientOptions:
    """Client side: its own secret certificate and the station's public key."""

    secret_key_file: Path
    server_public_file: Path


def _load(path: Path, need_secret: bool) -> tuple[bytes, bytes | None]:
    path = Path(path)
    if not path.is_file():
        raise KeyFileError(f"CURVE key file {path} does not exist")
    try:
        public, secret = zmq.auth.load_certificate(str(path))
    except (OSError, ValueError) as exc:
        raise KeyFileError(f"CURVE key file {path} is not a ZeroMQ certificate: {exc}") from None
    if need_secret and not secret:
        raise KeyFileError(f"CURVE key file {path} holds no secret key (use the .key_secret file)")
    return public, secret


def apply_server(sock: zmq.Socket, opts: CurveServerOptions) -> None:
    """Make ``sock`` a CURVE server (call before bind)."""
    public, secret = _load(opts.secret_key_file, need_secret=True)
    sock.curve_secretkey = secret
    sock.curve_publickey = public
    sock.curve_server = True


def apply_client(sock: zmq.Socket, opts: CurveClientOptions) -> None:
    """Make ``sock`` a CURVE client of the given station (call before connect)."""
    public, secret = _load(opts.secret_key_file, need_secret=True)
    server_public, _ = _load(opts.server_public_file, need_secret=False)
    sock.curve_secretkey = secret
    sock.curve_publickey = public
    sock.curve_serverkey = server_public


def serve_secure(context: zmq.Context, sock: zmq.Socket, endpoint: str, opts: CurveServerOptions | None,
                 error: type[Exception], what: str) -> None:
    """CURVE (when ``opts``) then bind; on a bad key or a taken address close ``sock`` and raise ``error``.

    Why one helper: the publisher and the remote must fail the same way (one line,
    no socket left half-open) whatever goes wrong before they serve.
    """
    try:
        if opts is not None:
            ensure_authenticator(context, opts)
            apply_server(sock, opts)
        sock.bind(endpoint)
    except ValueError as exc:
        sock.close(0)
        raise error(str(exc)) from None
    except zmq.ZMQError as exc:
        sock.close(0)
        raise error(f"cannot bind {what} to {endpoint}: {exc}") from None


def connect_secure(sock: zmq.Socket, opts: CurveClientOptions | None, error: type[Exception]) -> None:
    """CURVE client keys (when ``opts``), or close ``sock`` and raise ``error`` naming the key file."""
    if opts is None:
        return
    try:
        apply_client(sock, opts)
    except ValueError as exc:
        sock.close(0)
        raise error(str(exc)) from None


_AUTHENTICATORS: "weakref.WeakKeyDictionary[zmq.Context, object]" = weakref.WeakKeyDictionary()
_AUTH_LOCK = threading.Lock()


def ensure_authenticator(context: zmq.Context, opts: CurveServerOptions):
    """Start (once per context) the ZAP handler that enforces the allow-list.

    Why once: ZeroMQ allows one ZAP handler per context, and the publisher and
    the remote of a station share a context. Returns the ThreadAuthenticator;
    it stops with ``stop_authenticator(context)`` or when the context is closed.
    """
    from zmq.auth.thread import ThreadAuthenticator

    allowed = Path(opts.allowed_clients_dir)
    if not allowed.is_dir():
        raise KeyFileError(f"CURVE allow-list folder {allowed} does not exist")
    if not any(allowed.glob("*.key")):
        raise KeyFileError(f"CURVE allow-list folder {allowed} holds no client public keys (*.key)")
    with _AUTH_LOCK:
        auth = _AUTHENTICATORS.get(context)
        if auth is None:
            auth = ThreadAuthenticator(context)
            auth.start()
            _AUTHENTICATORS[context] = auth
        auth.configure_curve(domain="*", location=str(allowed))
        return auth


def stop_authenticator(context: zmq.Context) -> None:
    """Stop the context's ZAP handler, if one runs (before closing the context)."""
    with _AUTH_LOCK:
        auth = _AUTHENTICATORS.pop(context, None)
    if auth is not None:
        auth.stop()


def term_context(context: zmq.Context) -> None:
    """Terminate a server's own context: its ZAP handler first (its socket would keep ``term`` waiting)."""
    stop_authenticator(context)
    context.term()


@dataclass(frozen=True)
class GeneratedKeys:
    server_public: Path
    server_secret: Path
    allowed_dir: Path
    client_secrets: tuple[Path, ...]


def generate_keys(key_dir: Path, clients: tuple[str, ...] = ("client",), *, force: bool = False) -> GeneratedKeys:
    """Create a station key pair and one key pair per client name (see the module docstring)."""
    key_dir = Path(key_dir)
    for name in clients:
        if not name or any(ch in name for ch in "/\\") or name.startswith(".") or name == "server":
            raise KeyFileError(f"bad client name {name!r}: use letters, digits, '-' or '_'")
    server_secret = key_dir / "server.key_secret"
    if server_secret.exists() and not force:
        raise KeyFileError(f"{server_secret} exists; pass --force to replace the station keys")
    allowed = key_dir / "allowed"
    client_dir = key_dir / "clients"
    for d in (key_dir, allowed, client_dir):
        d.mkdir(parents=True, exist_ok=True)
    pub, sec = zmq.auth.create_certificates(str(key_dir), "server")
    os.chmod(sec, 0o600)
    secrets = []
    for name in clients:
        cpub, csec = zmq.auth.create_certificates(str(client_dir), name)
        os.chmod(csec, 0o600)
        shutil.move(cpub, allowed / Path(cpub).name)  # the public half joins the allow-list
        secrets.append(Path(csec))
    return GeneratedKeys(Path(pub), Path(sec), allowed, tuple(secrets))
