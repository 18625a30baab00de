"""``cpr-coach keys generate``: CURVE keys for encrypted overlays, and the shared CURVE flags.

Why here: every networked command (simulate, view, hud, remote) takes the same
key flags; this module defines them once. Imports of zmq stay inside functions.
"""
from __future__ import annotations

import argparse
from pathlib import Path


def add_server_curve_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("encryption (CURVE, for use beyond localhost)")
    g.add_argument("--curve-secret", type=Path, metavar="FILE", help="station secret key (KEYS/server.key_secret)")
    g.add_argument("--curve-allow", type=Path, metavar="DIR", help="allow-list folder of client public keys (KEYS/allowed)")


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
    g.add_argument("--client", action="append", metavar="NAME", help="a client name (repeatable; default: 'client')")
    g.add_argument("--force", action="store_true", help="replace existing station keys")
    g.set_defaults(func=_generate)


def _generate(args: argparse.Namespace) -> int:
    from coach.cli import CliError
    from overlays.security import KeyFileError, generate_keys

    clients = tuple(args.client or ["client"])
    try:
        keys = generate_keys(args.dir, clients, force=args.force)
    except (KeyFileError, OSError) as exc:
        raise CliError(str(exc)) from None
    print(f"station secret key : {keys.server_secret}   (keep on the station)")
    print(f"station public key : {keys.server_public}   (give to every client)")
    print(f"allow-list folder  : {keys.allowed_dir}")
    for s in keys.client_secrets:
        print(f"client secret key  : {s}   (give to that client only)")
    print()
    print("station: cpr-coach simulate --publish tcp://0.0.0.0:5556 "
          f"--curve-secret {keys.server_secret} --curve-allow {keys.allowed_dir}")
    print(f"client : cpr-coach view --connect tcp://STATION:5556 --curve-secret {keys.client_secrets[0]} "
          f"--curve-server {keys.server_public}")
    return 0
