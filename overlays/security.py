"""Optional CURVE encryption with two client allow-lists: viewers and controllers.

Why: trainee performance is personal data, and watching a session is not the
same right as stopping it. On localhost the default (no encryption, bound to
127.0.0.1) is fine; beyond it, a station encrypts every socket and accepts only
clients whose public key sits in its allow-list folder:

- a *viewer* key may subscribe (monitor, HUD bridge, headset, instructor page);
- a *controller* key may subscribe and also use the remote control.

Key layout made by ``cpr-coach keys generate --dir KEYS``::

    KEYS/server.key                     station public key  -> give to every client
    KEYS/server.key_secret              station secret key  -> stays on the station (0600)
    KEYS/allowed/viewers/NAME.key       viewer public keys  (subscribe only)
    KEYS/allowed/controllers/NAME.key   controller public keys (subscribe + remote)
    KEYS/clients/NAME.key_secret        client secret key   -> give to that client only (0600)

Folders are 0700, secret files 0600 from the moment they exist. Public keys
placed directly in ``KEYS/allowed/`` (the layout before roles) count as viewers.
Keys are ZeroMQ certificate files (zmq.auth), readable by any ZeroMQ binding.
"""
from __future__ import annotations

import datetime
import os
import re
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path

import zmq
import zmq.auth

ROLE_VIEWER = "viewer"
ROLE_CONTROLLER = "controller"
ROLES = (ROLE_VIEWER, ROLE_CONTROLLER)
ROLE_DIRS = {ROLE_VIEWER: "viewers", ROLE_CONTROLLER: "controllers"}
# ZAP domain of a server socket -> the role its peers need (a controller may do what a viewer may)
_ZAP_DOMAIN = {ROLE_VIEWER: "cpr-viewers", ROLE_CONTROLLER: "cpr-controllers"}
CLIENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


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
                 error: type[Exception], what: str, *, role: str = ROLE_VIEWER) -> None:
    """CURVE (when ``opts``) then bind; on a bad key or a taken address close ``sock`` and raise ``error``.

    Why one helper: the publisher and the remote must fail the same way (one line,
    no socket left half-open) whatever goes wrong before they serve. ``role``: the
    role a client needs on this socket (viewer for PUB, controller for the remote).
    An ``ipc://`` path a live process still serves is refused, never taken over.
    """
    from .endpoints import check_ipc_free

    try:
        check_ipc_free(endpoint)
        if opts is not None:
            ensure_authenticator(context, opts)
            apply_server(sock, opts)
            sock.zap_domain = _ZAP_DOMAIN[role].encode("ascii")
        sock.bind(endpoint)
    except ValueError as exc:  # a bad key file (KeyFileError) or a served ipc path (EndpointError)
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

    keys = allowed_keys(opts.allowed_clients_dir)
    with _AUTH_LOCK:
        auth = _AUTHENTICATORS.get(context)
        if auth is None:
            auth = ThreadAuthenticator(context)
            auth.start()
            _AUTHENTICATORS[context] = auth
        # one domain per role; a socket names its domain (serve_secure), so a viewer key opens no remote
        auth.certs[_ZAP_DOMAIN[ROLE_VIEWER]] = {k: True for k in keys[ROLE_VIEWER] | keys[ROLE_CONTROLLER]}
        auth.certs[_ZAP_DOMAIN[ROLE_CONTROLLER]] = {k: True for k in keys[ROLE_CONTROLLER]}
        auth.certs.pop("*", None)  # a socket without a domain is served by nobody
        return auth


def allowed_keys(allowed_dir: Path) -> dict[str, set[bytes]]:
    """Public keys (Z85) per role from an allow-list folder (see the module docstring)."""
    allowed = Path(allowed_dir)
    if not allowed.is_dir():
        raise KeyFileError(f"CURVE allow-list folder {allowed} does not exist")
    out: dict[str, set[bytes]] = {}
    for role in ROLES:
        out[role] = set()
        folders = [allowed / ROLE_DIRS[role]] + ([allowed] if role == ROLE_VIEWER else [])
        for folder in folders:
            for f in sorted(folder.glob("*.key")) if folder.is_dir() else ():
                public, _ = _load(f, need_secret=False)
                out[role].add(public)
    if not (out[ROLE_VIEWER] or out[ROLE_CONTROLLER]):
        raise KeyFileError(f"CURVE allow-list folder {allowed} holds no client public keys "
                           "(viewers/*.key, controllers/*.key)")
    return out


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


_BANNER = "#   ZeroMQ CURVE {what} certificate (cpr-coach, {now})\n"


def _write_private(path: Path, text: str, mode: int) -> None:
    """Write ``text`` to ``path`` atomically; the file has ``mode`` from its first byte.

    Why: pyzmq writes then chmods, so a secret is world-readable for a moment;
    here the temporary file is created with the mode (O_EXCL, no umask widening).
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)  # the umask may have narrowed it; never wider than asked
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _write_keypair(public_file: Path, secret_file: Path, what: str) -> None:
    public, secret = zmq.curve_keypair()
    now = datetime.datetime.now().isoformat(timespec="seconds")
    pub_text = _BANNER.format(what=f"{what} public", now=now) + f'metadata\ncurve\n    public-key = "{public.decode()}"\n'
    sec_text = (_BANNER.format(what=f"{what} secret", now=now) + "#   DO NOT PROVIDE THIS FILE TO OTHER USERS\n"
                f'metadata\ncurve\n    public-key = "{public.decode()}"\n    secret-key = "{secret.decode()}"\n')
    _write_private(secret_file, sec_text, 0o600)
    _write_private(public_file, pub_text, 0o644)


def _private_dir(d: Path) -> None:
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o700)  # whatever the umask: nobody else may add a key to an allow-list


def _check_names(clients: tuple[str, ...]) -> None:
    for name in clients:
        if not isinstance(name, str) or not CLIENT_NAME.fullmatch(name) or name == "server":
            raise KeyFileError(f"bad client name {name!r}: use 1-64 letters, digits, '-' or '_' (not 'server')")
    seen: set[str] = set()
    for name in clients:
        if name in seen:
            raise KeyFileError(f"client name {name!r} given twice")
        seen.add(name)


def _existing_client(key_dir: Path, name: str) -> Path | None:
    allowed = key_dir / "allowed"
    for p in (key_dir / "clients" / f"{name}.key_secret", allowed / f"{name}.key",
              *(allowed / d / f"{name}.key" for d in ROLE_DIRS.values())):
        if p.exists():
            return p
    return None


def add_clients(key_dir: Path, clients: tuple[str, ...], role: str = ROLE_VIEWER) -> tuple[Path, ...]:
    """Add client key pairs with ``role`` to an existing key folder; a name already there is refused."""
    key_dir = Path(key_dir)
    if role not in ROLES:
        raise KeyFileError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    _check_names(clients)
    if not (key_dir / "server.key_secret").is_file():
        raise KeyFileError(f"{key_dir} holds no station keys; make them with: cpr-coach keys generate --dir {key_dir}")
    for name in clients:
        if (old := _existing_client(key_dir, name)) is not None:
            raise KeyFileError(f"client {name!r} exists ({old}); pick another name or regenerate with --force")
    allowed = key_dir / "allowed" / ROLE_DIRS[role]
    for d in (key_dir, key_dir / "allowed", allowed, key_dir / "clients"):
        _private_dir(d)
    out = []
    for name in clients:
        secret = key_dir / "clients" / f"{name}.key_secret"
        _write_keypair(allowed / f"{name}.key", secret, f"client '{name}' ({role})")
        out.append(secret)
    return tuple(out)


def generate_keys(key_dir: Path, clients: tuple[str, ...] = ("client",), *, force: bool = False,
                  role: str = ROLE_VIEWER) -> GeneratedKeys:
    """Create a station key pair and one key pair per client name, all with ``role``.

    ``force`` replaces the station keys *and* empties the allow-lists and client
    secrets: old clients must not keep access to a station whose keys changed.
    """
    key_dir = Path(key_dir)
    if role not in ROLES:
        raise KeyFileError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    _check_names(clients)
    server_secret = key_dir / "server.key_secret"
    if server_secret.exists() and not force:
        raise KeyFileError(f"{server_secret} exists; pass --force to replace the station keys")
    if force:
        allowed = key_dir / "allowed"
        for old in [*allowed.glob("*.key"), *(f for d in ROLE_DIRS.values() for f in (allowed / d).glob("*.key")),
                    *(key_dir / "clients").glob("*.key_secret")]:
            old.unlink()
    _private_dir(key_dir)
    server_public = key_dir / "server.key"
    _write_keypair(server_public, server_secret, "station")
    secrets = add_clients(key_dir, clients, role)
    return GeneratedKeys(server_public, server_secret, key_dir / "allowed", secrets)
