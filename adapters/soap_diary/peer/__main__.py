"""``python -m adapters.soap_diary.peer --port N --db PATH [--fault SPEC]``: run the peer.

With ``--username``, requests need HTTP Basic credentials; the password comes
from the environment variable named by ``--password-env`` (default
SOAP_DIARY_PASSWORD), never from the command line.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

from adapters.diary_toolkit.peer.faults import parse_cli
from adapters.soap_diary.peer import start_peer


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m adapters.soap_diary.peer", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True, help="SQLite diary file (created and seeded)")
    parser.add_argument("--timezone", default="Europe/London")
    parser.add_argument("--days", type=int, default=7, help="days of slots to seed from today")
    parser.add_argument("--username", default=None)
    parser.add_argument("--password-env", default="SOAP_DIARY_PASSWORD")
    parser.add_argument(
        "--fault",
        type=parse_cli,
        default=None,
        help="MODE[:op,op][@times]; MODE is down, slow, 5xx, malformed, fault, slot-taken, "
        "lost-response, xxe, billion-laughs or oversized; ops are search, book, get, cancel, ping",
    )
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    basic = None
    if args.username:
        password = os.environ.get(args.password_env)
        if not password:
            raise SystemExit(f"--username: environment variable {args.password_env} is not set")
        basic = f"{args.username}:{password}"
    peer = await start_peer(
        args.db,
        host=args.host,
        port=args.port,
        timezone=args.timezone,
        days=args.days,
        basic=basic,
        fault=args.fault,
    )
    print(f"soap diary peer listening on {peer.endpoint}", flush=True)
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
