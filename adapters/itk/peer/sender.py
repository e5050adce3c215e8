"""``uec-gateway simulate itk-sender --endpoint URL FILE``: send one ITK report and print the ack.

``FILE`` is a whole ITK SOAP request (e.g. a sample from ``shared/samples/itk-cda``),
sent as it is; or a bare CDA document (``ClinicalDocument``), or a referral as the
gateway's canonical JSON (``*.json``, rendered as an NHS 111 report by the CDA
toolkit), sent in a new DistributionEnvelope addressed to ``--address`` (repeatable)
with ``--interaction``, under ``--tracking-id`` (default: a new one).
The answer is printed (the infrastructure ack, or the fault's ToolkitErrorInfo).
Exit codes: 0 acknowledged, 1 refused or no ack, 2 the file or endpoint could not be used.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from pathlib import Path

import aiohttp

from adapters.cda_toolkit import render_report
from adapters.domain import Referral
from adapters.itk import _wire
from adapters.itk._options import NHS111_SERVICE
from adapters.itk.peer import wire
from adapters.itk_toolkit.distribution import Address
from adapters.itk_toolkit.names import DOS_ADDRESS_TYPE
from adapters.soap_toolkit.envelope import SoapVersion

DEFAULT_INTERACTION = "urn:nhs-itk:interaction:primaryOutofHourRecipientNHS111CDADocument-v2-0"


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="uec-gateway simulate itk-sender", description=__doc__)
    parser.add_argument("file", type=Path)
    parser.add_argument("--endpoint", required=True, help="the receiver's ITK endpoint URL")
    parser.add_argument("--address", action="append", default=[], help="ITK address (CDA only)")
    parser.add_argument("--interaction", default=DEFAULT_INTERACTION)
    parser.add_argument("--service", default=NHS111_SERVICE)
    parser.add_argument("--sender", default="urn:nhs-uk:addressing:ods:SENDER")
    parser.add_argument("--tracking-id", default=None)
    parser.add_argument("--timeout", type=float, default=30.0)
    return parser.parse_args(argv)


def _message(args: argparse.Namespace, raw: bytes) -> tuple[bytes, dict[str, str]]:
    """The SOAP to send and its HTTP headers (``ValueError`` if the file is neither kind)."""
    if args.file.suffix.lower() == ".json":
        raw = render_report(Referral.model_validate_json(raw))
    elif wire.file_kind(raw) == "soap":
        version, action = wire.action_of(raw)
        return raw, version.headers(action)
    if not args.address:
        raise ValueError("a bare CDA document needs at least one --address")
    addresses = tuple(
        Address(a) if a.startswith("urn:") else Address(a, DOS_ADDRESS_TYPE) for a in args.address
    )
    tracking = (args.tracking_id or str(uuid.uuid4())).upper()
    body = _wire.report(
        service=args.service,
        tracking_id=tracking,
        addresses=addresses,
        interaction=args.interaction,
        sender=args.sender,
        audit_identity=None,
        username=None,
        document=raw,
        endpoint=args.endpoint,
        reply_to=None,
        business_ack=False,
    )
    return body, SoapVersion.V11.headers(args.service)


async def _send(args: argparse.Namespace) -> int:
    try:
        raw = args.file.read_bytes()
        body, headers = _message(args, raw)
    except (OSError, ValueError) as exc:
        print(f"itk-sender: {exc}", file=sys.stderr)
        return 2
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.post(args.endpoint, data=body, headers=headers) as resp,
        ):
            answer = await resp.read()
            status = resp.status
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        print(f"itk-sender: {args.endpoint}: no answer ({type(exc).__name__})", file=sys.stderr)
        return 2
    summary = wire.describe_answer(status, answer)
    print(summary.text)
    if answer:
        print(answer.decode("utf-8", "replace"))
    return 0 if summary.acknowledged else 1


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(_send(_arguments(argv)))


if __name__ == "__main__":
    sys.exit(main())
