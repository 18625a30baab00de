"""``cpr-coach hud``: serve the headset HUD page and bridge the station's topics to it."""
from __future__ import annotations

import argparse
from pathlib import Path

from coach.cli.keys import add_client_curve_args, client_curve


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("hud", help="serve the headset HUD (web page + ZeroMQ->WebSocket bridge)")
    p.add_argument("--connect", default="tcp://127.0.0.1:5556", help="station PUB endpoint (default tcp://127.0.0.1:5556)")
    p.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default 127.0.0.1; 0.0.0.0 for a headset on the LAN)")
    p.add_argument("--port", type=int, default=8765, help="HTTP port (default 8765)")
    p.add_argument("--tls-cert", type=Path, help="PEM certificate: serve https/wss (WebXR needs it off localhost)")
    p.add_argument("--tls-key", type=Path, help="PEM private key for --tls-cert")
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="a host name the headset uses for this machine (repeatable; IP addresses are always accepted)")
    p.add_argument("--token", help="access token for the page and WebSocket beyond localhost (default: a random one, printed)")
    p.add_argument("--max-clients", type=int, default=64, help="WebSocket clients at once (default 64)")
    p.add_argument("--idle-timeout", type=float, default=60.0, help="close a WebSocket silent this many seconds (default 60)")
    add_client_curve_args(p)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import sys

    from coach.cli import CliError
    from overlays.endpoints import is_loopback
    from coach.cli.signals import graceful_signals
    from overlays.hud.server import HudOptions, run_hud

    if args.max_clients < 1 or not args.idle_timeout > 0:
        raise CliError("--max-clients must be >= 1 and --idle-timeout > 0")
    if args.token is not None and len(args.token) < 16:
        raise CliError("--token must have at least 16 characters")
    opts = HudOptions(connect=args.connect, host=args.host, port=args.port, curve=client_curve(args),
                      tls_cert=args.tls_cert, tls_key=args.tls_key, token=args.token,
                      allow_hosts=tuple(args.allow_host), max_clients=args.max_clients, idle_timeout_s=args.idle_timeout)
    if not is_loopback(f"tcp://{args.host}:{args.port}") and args.tls_cert is None:
        print("cpr-coach: warning: serving the HUD beyond localhost without TLS; headsets need https "
              "for WebXR (see docs/overlays.md)", file=sys.stderr)

    def ready(server) -> None:
        print(f"HUD at {server.url}  (bridging {args.connect}; Ctrl-C to stop)", flush=True)
        if server.token:
            print("  the token in this URL is the HUD's password: give it to the headset only", flush=True)

    with graceful_signals():
        run_hud(opts, ready)
    return 0
