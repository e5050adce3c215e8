"""``uec-gateway simulate bars-sender [options] COMMAND …``: a BaRS sender on the command line.

Prints the receiver's answer to the journey's last request as JSON on stdout
(``request``, ``status``, the mirrored ids, ``body``), each earlier step as one line on
stderr; exits 0 on a 2xx answer, 1 on any other, 2 if it could not ask at all.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp

from adapters.bars_toolkit.headers import Target
from gateway.bars_sender import journeys
from gateway.bars_sender._http import Answer, Sender, Tls
from gateway.examples import EXAMPLE_NHS_NUMBER

DEFAULT_BASE = "http://127.0.0.1:8080/bars/FHIR/R4"


def _common(parser: argparse.ArgumentParser, *, again: bool = False) -> None:
    """The sender's options; ``again`` repeats them on a command (given there, they win)."""

    def add(*names: str, **kwargs: Any) -> None:
        if again:
            kwargs["default"] = argparse.SUPPRESS
            kwargs["help"] = argparse.SUPPRESS
        parser.add_argument(*names, **kwargs)

    add("--base", default=DEFAULT_BASE, help="the receiver's service root")
    add(
        "--target",
        default="https://fhir.nhs.uk/Id/dos-service-id|2000099999",
        help="NHSD-Target-Identifier as system|value (a bare value is a DoS id)",
    )
    add("--ods", default="A1001", help="the sender's ODS code")
    add("--receiver-ods", default="X26", help="the receiver Organization's ODS code")
    add("--format", choices=("json", "xml"), default="json")
    add("--cert", type=Path, help="client certificate (PEM) for mTLS")
    add("--key", type=Path, help="the certificate's private key (PEM)")
    add("--ca", type=Path, help="CA bundle that signed the receiver's certificate")
    add("--timeout", type=float, default=32.0, help="seconds per request")
    add(
        "--dry-run",
        action="store_true",
        help="print the write (headers and body, status 0) instead of sending it",
    )


def _window(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lead-minutes", type=float, default=60.0, help="earliest slot, from now")
    parser.add_argument("--days", type=float, default=3.0, help="how far the search looks")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="uec-gateway simulate bars-sender", description=__doc__)
    _common(parser)
    sub = parser.add_subparsers(dest="command", required=True)
    _window(sub.add_parser("search", help="GET /Slot with the BaRS parameters"))
    book = sub.add_parser("book", help="search, then book its first bookable slot")
    _window(book)
    book.add_argument("--message", action="store_true", help="$process-message booking-request")
    book.add_argument("--nhs-number", default=EXAMPLE_NHS_NUMBER)
    sub.add_parser("read", help="GET /Appointment/{id}").add_argument("id")
    cancel = sub.add_parser("cancel", help="read, then cancel that version")
    cancel.add_argument("id")
    cancel.add_argument("--message", action="store_true", help="a booking-request cancellation")
    refer = sub.add_parser("refer", help="send a servicerequest-request (a referral)")
    refer.add_argument("--nhs-number", default=EXAMPLE_NHS_NUMBER)
    refer.add_argument("--appointment", help="the id of a booking here it goes with")
    send = sub.add_parser("send", help="send a message file (XML or JSON) to $process-message")
    send.add_argument("file", type=Path)
    send.add_argument("--fresh", action="store_true", help="new ids and times; a live slot")
    send.add_argument("--nhs-number", help="replace the patient's NHS number")
    _window(send)
    commands = [c for c in sub.choices.values()]
    for command in commands:
        _common(command, again=True)
    return parser


def _window_of(args: argparse.Namespace) -> journeys.Window:
    return journeys.Window(lead=timedelta(minutes=args.lead_minutes), days=args.days)


async def _journey(sender: Sender, args: argparse.Namespace) -> Answer:
    ods = args.receiver_ods
    match args.command:
        case "search":
            return await journeys.search(sender, _window_of(args))
        case "book":
            return await journeys.book(
                sender,
                _window_of(args),
                message=args.message,
                nhs_number=args.nhs_number,
                receiver_ods=ods,
            )
        case "read":
            return await journeys.read(sender, args.id)
        case "cancel":
            return await journeys.cancel(sender, args.id, message=args.message, receiver_ods=ods)
        case "refer":
            return await journeys.refer(
                sender,
                nhs_number=args.nhs_number,
                appointment_id=args.appointment,
                receiver_ods=ods,
            )
        case _:
            return await journeys.send(
                sender,
                args.file,
                fresh=args.fresh,
                window=_window_of(args),
                nhs_number=args.nhs_number,
            )


async def run(args: argparse.Namespace) -> Answer:
    tls = Tls(args.cert, args.key, args.ca)
    connector = aiohttp.TCPConnector(ssl=tls.context() or True)
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        sender = Sender(
            session,
            args.base,
            Target.parse(args.target),
            ods=args.ods,
            xml=args.format == "xml",
            dry_run=args.dry_run,
        )
        try:
            return await _journey(sender, args)
        finally:
            for step in sender.sent[:-1]:
                print(f"{step.method} {step.path} -> {step.status}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        answer = asyncio.run(run(args))
    except journeys.JourneyError as exc:
        print(f"bars-sender: {exc}", file=sys.stderr)
        if exc.answer is not None:
            print(json.dumps(exc.answer.report(), indent=2))
        return 1
    except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
        print(f"bars-sender: could not ask {args.base}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(answer.report(), indent=2))
    return 0 if answer.ok else 1


if __name__ == "__main__":
    sys.exit(main())
