"""``uec-gateway simulate itk-receiver --port N [options]``: run the ITK receiver peer.

It stores each report once per tracking id (in memory, and under ``--store DIR`` if
given), answers the infrastructure ack, and posts a business ack when the report asks
for one: posted to ``--ack-url`` or the report's ``wsa:ReplyTo`` (``--business-acks post``),
in the SOAP Header of the synchronous answer (``sync``), or never (``none``).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from adapters.itk.peer import start_receiver
from adapters.itk.peer.faults import parse_cli


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="uec-gateway simulate itk-receiver", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--store", type=Path, default=None, help="folder to write reports to")
    parser.add_argument("--ack-url", default=None, help="where business acks go (else ReplyTo)")
    parser.add_argument(
        "--business-acks",
        choices=("post", "sync", "none"),
        default="post",
        help="post: its own message to --ack-url or ReplyTo; sync: in the answer's SOAP Header",
    )
    parser.add_argument("--address", default="urn:nhs-uk:addressing:ods:RECEIVER")
    parser.add_argument(
        "--fault",
        type=parse_cli,
        default=None,
        help="MODE[:code][@times]; MODE is no-ack, fault (code: a ToolkitErrorInfo code), "
        "slow, lost-response, down or business-nack",
    )
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    peer = await start_receiver(
        host=args.host,
        port=args.port,
        store=args.store,
        fault=args.fault,
        ack_url=args.ack_url,
        business_acks=args.business_acks,
        address=args.address,
    )
    print(f"itk receiver listening on {peer.endpoint}", flush=True)
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
