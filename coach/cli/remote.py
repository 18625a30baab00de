"""``cpr-coach remote CMD``: one request to a station's remote control, reply printed as JSON."""
from __future__ import annotations

import argparse
import json

from coach.cli.keys import add_client_curve_args, client_curve
from overlays.protocol import REMOTE_COMMANDS as COMMANDS  # stdlib only: registering stays cheap


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("remote", help="send a command to a station's remote control (REQ/REP)")
    p.add_argument("cmd", choices=COMMANDS)
    p.add_argument("profile", nargs="?", help="profile name for set-profile")
    p.add_argument("--connect", default="tcp://127.0.0.1:5555", help="remote endpoint (default tcp://127.0.0.1:5555)")
    p.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for the reply")
    add_client_curve_args(p)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from coach.cli import CliError
    from overlays.remote import RemoteClient

    if not args.timeout > 0:  # ZeroMQ reads a negative poll timeout as "wait forever"
        raise CliError(f"--timeout must be > 0 seconds, got {args.timeout:g}")
    if args.cmd == "set-profile" and not args.profile:
        raise CliError("set-profile needs a profile name, e.g. cpr-coach remote set-profile child")
    extra = {"profile": args.profile} if args.cmd == "set-profile" else {}
    with RemoteClient(args.connect, curve=client_curve(args), timeout_s=args.timeout) as client:
        reply = client.request(args.cmd, **extra)
    print(json.dumps(reply, indent=2))
    if not reply.get("ok"):
        raise CliError(f"{args.cmd}: {reply.get('error', 'failed')}")
    return 0
