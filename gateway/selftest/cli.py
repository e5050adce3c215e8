"""The ``selftest`` subcommand: options, then one line per check (or JSON) and the exit code."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from gateway.selftest._http import Options, TargetUnreachable
from gateway.selftest.report import render_json, render_text
from gateway.selftest.runner import run_selftest

#: Exit codes: every check passed, some failed, the run could not be made at all.
PASSED, FAILED, UNUSABLE = 0, 1, 2


def add_parser(sub: Any) -> None:
    """Add ``selftest`` to the CLI's subparsers."""
    parser = sub.add_parser(
        "selftest", help="run the NHS Booking API provider checks against an endpoint"
    )
    parser.add_argument("--target", required=True, help="the provider's service root URL")
    parser.add_argument("--service", required=True, help="national (DoS) service id to book at")
    parser.add_argument("--other-service", help="a second service id, for the service filter")
    parser.add_argument("--json", action="store_true", help="print a JSON report")
    parser.add_argument("--audience", help="JWT aud (default: the target)")
    parser.add_argument("--ods", default="A1001", help="requesting organisation ODS code")
    parser.add_argument("--algorithm", help="JWT alg: none (default) or e.g. HS256, RS256")
    parser.add_argument("--key-env", help="environment variable holding an HMAC secret")
    parser.add_argument("--key-file", type=Path, help="PEM private key to sign with")
    parser.add_argument("--kid", help="JWT header kid")
    parser.add_argument("--ssp-from", default="200000000359", help="Ssp-From ASID")
    parser.add_argument("--ssp-to", default="200000000115", help="Ssp-To ASID")
    parser.add_argument("--parallel", type=int, default=5, help="bookings sent at once")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    parser.set_defaults(func=main)


def _options(args: argparse.Namespace) -> Options:
    """Options from the arguments; ValueError for anything unusable."""
    if not args.target.startswith(("http://", "https://")):
        raise ValueError(f"--target must be an http(s) URL, not {args.target!r}")
    if args.parallel < 2:
        raise ValueError("--parallel must be at least 2")
    key, algorithm = None, args.algorithm or "none"
    if args.key_env:
        key = os.environ.get(args.key_env)
        if not key:
            raise ValueError(f"environment variable {args.key_env} is not set")
        algorithm = args.algorithm or "HS256"
    elif args.key_file:
        key = args.key_file.read_text(encoding="utf-8")
        algorithm = args.algorithm or "RS256"
    return Options(
        target=args.target,
        service=args.service,
        other_service=args.other_service,
        audience=args.audience,
        ods=args.ods,
        algorithm=algorithm,
        key=key,
        kid=args.kid,
        ssp_from=args.ssp_from,
        ssp_to=args.ssp_to,
        parallel=args.parallel,
        timeout_s=args.timeout,
    )


def main(args: argparse.Namespace) -> int:
    try:
        options = _options(args)
    except (ValueError, OSError) as exc:
        print(f"selftest: {exc}", file=sys.stderr)
        return UNUSABLE
    try:
        report = asyncio.run(run_selftest(options))
    except TargetUnreachable as exc:
        print(f"selftest: the target does not answer: {exc}", file=sys.stderr)
        return UNUSABLE
    print(render_json(report) if args.json else render_text(report))
    return FAILED if report.failed else PASSED
