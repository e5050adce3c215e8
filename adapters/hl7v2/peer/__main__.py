"""Run the reference PAS peer: ``python -m adapters.hl7v2.peer --port 2575 [options]``.

The gateway CLI lives in ``gateway/``; the subcommand proposed for it is
``uec-gateway simulate hl7v2-pas`` calling ``adapters.hl7v2.peer.__main__.main``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from adapters.hl7v2.peer.diary import DEFAULT_DIARY
from adapters.hl7v2.peer.faults import Fault
from adapters.hl7v2.peer.server import PasPeer


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"'{text}' is not HOST:PORT")
    return host, int(port)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m adapters.hl7v2.peer",
        description="A reference PAS speaking HL7 v2 scheduling over MLLP, with its own diary.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2575, help="MLLP port (0: any free port)")
    parser.add_argument(
        "--database", default="var/pas-peer.sqlite3", help="SQLite diary file, or :memory:"
    )
    parser.add_argument(
        "--diary",
        type=Path,
        default=DEFAULT_DIARY,
        help="CSV of the PAS's schedules (default: the demo diary)",
    )
    parser.add_argument("--horizon-days", type=int, default=7)
    parser.add_argument("--version", default="2.5", help="HL7 version in MSH-12")
    parser.add_argument("--timezone", default="Europe/London")
    parser.add_argument("--notify", type=_address, help="HOST:PORT of the gateway's SIU listener")
    parser.add_argument("--booking-answer", choices=("srr", "ack-then-siu"), default="srr")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        type=Fault.parse,
        help="kind[:message_type[:times[:delay_s]]], e.g. drop-ack:SRM^S01:1 "
        "or slow:*:0:2.5 (times 0 = always); repeatable",
    )
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    peer = await PasPeer.start(
        args.database,
        host=args.host,
        port=args.port,
        diary=args.diary,
        horizon_days=args.horizon_days,
        version=args.version,
        timezone=args.timezone,
        notify=args.notify,
        booking_answer=args.booking_answer,
    )
    for fault in args.fault:
        peer.inject(fault)
    print(f"PAS peer listening on {args.host}:{peer.port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await peer.close()


def main(argv: Sequence[str] | None = None) -> int:
    asyncio.run(serve(parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
