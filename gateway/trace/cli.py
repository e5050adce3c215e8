"""``uec-gateway trace ID`` and ``uec-gateway trace --verify [ID]``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from gateway import config as config_module
from gateway.store import StoreUnavailable, configured
from gateway.store.trace import AmbiguousId, Journey
from gateway.trace.view import Verified, journey_json, journey_text, verify_from

DEFAULT_CONFIG = Path("config/demo.yaml")


def add_parser(sub: Any) -> None:
    """The ``trace`` subcommand on the CLI's subparsers."""
    trace = sub.add_parser(
        "trace",
        help="print the whole journey any one id finds (--verify: check the hash chains)",
    )
    trace.add_argument("id", nargs="?", help="any id the gateway saw, or a journey id")
    trace.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    trace.add_argument("--json", action="store_true", help="the journey as JSON")
    trace.add_argument(
        "--verify",
        action="store_true",
        help="check every journey's hash chain (or ID's); exit 1 naming the first broken entry",
    )
    trace.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.id is None and not args.verify:
        print("trace: give an ID, or --verify", file=sys.stderr)
        return 2
    settings = config_module.load(args.config)
    try:
        return asyncio.run(_run(settings, args))
    except StoreUnavailable as exc:
        print(exc, file=sys.stderr)
        return 1
    except AmbiguousId as exc:
        print(f"{exc}; ask for one of them by its journey id", file=sys.stderr)
        return 1


async def _run(settings: config_module.Settings, args: argparse.Namespace) -> int:
    store = configured.build(settings)
    await store.open()
    try:
        if args.verify:
            return _report_verified(await verify_from(store, args.id), args.id)
        return _print_journey(await store.find_journey(args.id), args.json)
    finally:
        await store.close()


def _report_verified(verified: Verified | None, value: str | None) -> int:
    if verified is None:
        print(f"no journey has id {value!r}", file=sys.stderr)
        return 1
    print(verified.describe(), file=sys.stdout if verified.broken is None else sys.stderr)
    return 0 if verified.broken is None else 1


def _print_journey(journey: Journey | None, as_json: bool) -> int:
    if journey is None:
        print("no journey has this id", file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps(journey_json(journey), indent=2))
    else:
        print(journey_text(journey))
    return 0
