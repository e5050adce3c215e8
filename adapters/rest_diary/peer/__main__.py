"""``python -m adapters.rest_diary.peer --port N --db PATH [--fault SPEC]``: run the peer.

Secrets come from the environment: ``--api-key-env`` and ``--client-secret-env``
name the variables (defaults REST_DIARY_API_KEY and REST_DIARY_CLIENT_SECRET).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

from adapters.diary_toolkit.peer.faults import parse_cli
from adapters.rest_diary.peer import start_peer
from adapters.rest_diary.peer.app import PeerAuth


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m adapters.rest_diary.peer", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True, help="SQLite diary file (created and seeded)")
    parser.add_argument("--timezone", default="Europe/London")
    parser.add_argument("--days", type=int, default=7, help="days of slots to seed from today")
    parser.add_argument("--auth", choices=("none", "api_key", "oauth2"), default="none")
    parser.add_argument("--api-key-env", default="REST_DIARY_API_KEY")
    parser.add_argument("--client-id", default="gateway")
    parser.add_argument("--client-secret-env", default="REST_DIARY_CLIENT_SECRET")
    parser.add_argument("--token-ttl", type=float, default=300.0)
    parser.add_argument(
        "--fault",
        type=parse_cli,
        default=None,
        help="MODE[:op,op][@times]; MODE is down, slow, 5xx, malformed, fault, "
        "slot-taken or lost-response; ops are search, book, get, cancel, ping, token",
    )
    return parser.parse_args(argv)


def _auth(args: argparse.Namespace) -> PeerAuth:
    key = os.environ.get(args.api_key_env) if args.auth == "api_key" else None
    secret = os.environ.get(args.client_secret_env) if args.auth == "oauth2" else None
    if args.auth != "none" and not (key or secret):
        variable = args.api_key_env if args.auth == "api_key" else args.client_secret_env
        raise SystemExit(f"--auth {args.auth}: environment variable {variable} is not set")
    return PeerAuth(
        kind=args.auth,
        api_key=key,
        client_id=args.client_id,
        client_secret=secret,
        token_ttl_s=args.token_ttl,
    )


async def _serve(args: argparse.Namespace) -> None:
    peer = await start_peer(
        args.db,
        host=args.host,
        port=args.port,
        timezone=args.timezone,
        days=args.days,
        auth=_auth(args),
        fault=args.fault,
    )
    print(f"rest diary peer listening on {peer.api}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await peer.stop()


def main(argv: list[str] | None = None) -> int:
    asyncio.run(_serve(_arguments(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
