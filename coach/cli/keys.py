"""``cpr-coach keys generate``: CURVE keys for encrypted overlays, and the shared CURVE flags.

Why here: every networked command (simulate, view, hud, remote) takes the same
key flags; this module defines them once. Imports of zmq stay inside functions.
"""
from __future__ import annotations

import argparse
from pathlib import Path


def add_server_curve_args(p: argparse.ArgumentParser) -> None:
    """CURVE flags and ``--insecure`` for every command that serves a station (see ``serving_check``)."""
    g = p.add_argument_group("encryption (CURVE, for use beyond localhost)")
    g.add_argument("--curve-secret", type=Path, metavar="FILE", help="station secret key (KEYS/server.key_secret)")
    g.add_argument("--curve-allow", type=Path, metavar="DIR",
                   help="allow-list folder (KEYS/allowed: viewers/ subscribe, controllers/ also use the remote)")
    g.add_argument("--insecure", action="store_true",
                   help="serve beyond localhost WITHOUT encryption (refused otherwise: trainee data is personal)")


def serving_check(args: argparse.Namespace, endpoints: dict[str, str | None]):
    """CURVE options of a serving command after ``overlays.endpoints.check_exposure``; CliError on refusal.

    Every command that serves a station (simulate, run, demo, serve) calls this
    once before binding: exposed without CURVE needs ``--insecure``, no two
    sockets share an endpoint. Prints the --insecure warning line. Returns the
    CurveServerOptions (or None).
    """
    import sys

    from overlays.endpoints import check_exposure

    curve = server_curve(args)
    warnings = check_exposure(endpoints, curve, bool(getattr(args, "insecure", False)))
    for line in warnings:
        print(f"cpr-coach: {line}", file=sys.stderr)
    return curve


def add_client_curve_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("encryption (CURVE)")
    g.add_argument("--curve-secret", type=Path, metavar="FILE", help="this client's secret key (KEYS/clients/NAME.key_secret)")
    g.add_argument("--curve-server", type=Path, metavar="FILE", help="the station's public key (KEYS/server.key)")


def server_curve(args: argparse.Namespace):
    from coach.cli import CliError
    from overlays.security import CurveServerOptions

    if args.curve_secret is None and args.curve_allow is None:
        return None
    if args.curve_secret is None or args.curve_allow is None:
        raise CliError("CURVE needs both --curve-secret FILE and --curve-allow DIR")
    for path in (args.curve_secret, args.curve_allow):
        if not path.exists():
            raise CliError(f"{path} does not exist (make keys with: cpr-coach keys generate --dir KEYS)")
    return CurveServerOptions(args.curve_secret, args.curve_allow)


def client_curve(args: argparse.Namespace):
    from coach.cli import CliError
    from overlays.security import CurveClientOptions

    if args.curve_secret is None and args.curve_server is None:
        return None
    if args.curve_secret is None or args.curve_server is None:
        raise CliError("CURVE needs both --curve-secret FILE and --curve-server FILE")
    for path in (args.curve_secret, args.curve_server):
        if not path.is_file():
            raise CliError(f"{path} does not exist")
    return CurveClientOptions(args.curve_secret, args.curve_server)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("keys", help="CURVE keys for encrypted overlays")
    ks = p.add_subparsers(dest="keys_command", metavar="ACTION")
    ks.required = True
    g = ks.add_parser("generate", help="create a station key pair and client key pairs")
    g.add_argument("--dir", type=Path, default=Path("cpr-keys"), help="output folder (default: ./cpr-keys)")
    g.add_argument("--client", action="append", metavar="NAME",
                   help="a client name (repeatable; default: 'viewer' as a viewer and 'controller' as a controller)")
    g.add_argument("--role", choices=("viewer", "controller"), default="viewer",
                   help="role of the --client names: viewer (subscribe only, default) or controller (also the remote)")
    g.add_argument("--force", action="store_true", help="replace the station keys and empty the allow-lists")
    g.set_defaults(func=_generate)
    a = ks.add_parser("add", help="add client key pairs to an existing key folder")
    a.add_argument("--dir", type=Path, default=Path("cpr-keys"), help="key folder (default: ./cpr-keys)")
    a.add_argument("--client", action="append", metavar="NAME", required=True, help="a client name (repeatable)")
    a.add_argument("--role", choices=("viewer", "controller"), default="viewer", help="viewer (default) or controller")
    a.set_defaults(func=_add)


def _generate(args: argparse.Namespace) -> int:
    from coach.cli import CliError
    from overlays.security import KeyFileError, add_clients, generate_keys

    try:
        if args.client:
            keys = generate_keys(args.dir, tuple(args.client), force=args.force, role=args.role)
            secrets = keys.client_secrets
        else:  # one of each role
            keys = generate_keys(args.dir, ("viewer",), force=args.force, role="viewer")
            secrets = keys.client_secrets + add_clients(args.dir, ("controller",), "controller")
    except (KeyFileError, OSError) as exc:
        raise CliError(str(exc)) from None
    print(f"station secret key : {keys.server_secret}   (keep on the station)")
    print(f"station public key : {keys.server_public}   (give to every client)")
    print(f"allow-list folder  : {keys.allowed_dir}   (viewers/ subscribe only, controllers/ also the remote)")
    _print_secrets(secrets)
    print()
    print("station: cpr-coach simulate --publish tcp://0.0.0.0:5556 "
          f"--curve-secret {keys.server_secret} --curve-allow {keys.allowed_dir}")
    print(f"client : cpr-coach view --connect tcp://STATION:5556 --curve-secret {secrets[0]} "
          f"--curve-server {keys.server_public}")
    return 0


def _print_secrets(secrets) -> None:
    for s in secrets:
        print(f"client secret key  : {s}   (give to that client only)")


def _add(args: argparse.Namespace) -> int:
    from coach.cli import CliError
    from overlays.security import KeyFileError, add_clients

    try:
        secrets = add_clients(args.dir, tuple(args.client), args.role)
    except (KeyFileError, OSError) as exc:
        raise CliError(str(exc)) from None
    _print_secrets(secrets)
    return 0
