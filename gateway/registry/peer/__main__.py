"""``uec-gateway simulate registry --port N [--base /FHIR/R4] [--fault SPEC]``: run the peer."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from gateway.registry.peer import RegistryPeer, parse_cli


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="uec-gateway simulate registry", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--base", default="/FHIR/R4", help="path of the FHIR root ('' for /)")
    parser.add_argument(
        "--fault",
        type=parse_cli,
        default=None,
        help="MODE[:op,op][@times]; MODE is down, 503, 400, slow or lost-response; "
        "ops are create, read, update, delete, search",
    )
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    peer = await RegistryPeer.start(args.host, args.port, args.base, args.fault)
    print(f"registry peer listening on {peer.url}", flush=True)
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
