"""``uec-gateway policy explain``: the booking policy's answer for one consumer and service
(gateway/policy/explain.py), read from the policy folder the configuration names."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from adapters.domain import utcnow
from gateway import config as config_module
from gateway.policy import explain as explaining
from gateway.policy.engine import Policy, SlotFacts
from gateway.policy.model import PolicyError

DEFAULT_CONFIG = Path("config/demo.yaml")
#: Bad arguments, an unreadable configuration or policy (as argparse exits on bad options).
USAGE = 2


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO-8601 date and time") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no UTC offset: add one (Z, +01:00) so the slot is one instant"
        )
    return value


def _minutes(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of minutes (1 or more)")
    return int(text)


def add_parser(sub: Any) -> None:
    """The ``policy`` subcommand (``policy explain``) on the CLI's subparsers."""
    policy = sub.add_parser("policy", help="booking rules across borders (gateway/policy/)")
    actions = policy.add_subparsers(dest="policy_command", required=True)
    explain = actions.add_parser(
        "explain",
        help="what the policy lets one consumer (ODS code) do at one service, and with a slot",
    )
    explain.add_argument("--service", required=True, help="national service id")
    explain.add_argument("--ods", required=True, help="the consumer organisation's ODS code")
    explain.add_argument(
        "--slot-start",
        type=_instant,
        help="a slot's start, ISO-8601 with offset: each release rule's verdict on it now",
    )
    explain.add_argument("--slot-minutes", type=_minutes, default=10, help="the slot's length")
    explain.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    explain.add_argument("--json", action="store_true")
    explain.set_defaults(func=run_explain)


def _policy(config: Path) -> Policy:
    settings = config_module.load(config)
    if settings.policy is None:
        return Policy()
    return Policy.load(settings.resolve(settings.policy.folder))


def run_explain(args: argparse.Namespace) -> int:
    try:
        policy = _policy(args.config)
    except (config_module.ConfigError, PolicyError) as exc:
        print(f"policy explain: {exc}", file=sys.stderr)
        return USAGE
    slot = None
    if args.slot_start is not None:
        end = args.slot_start + timedelta(minutes=args.slot_minutes)
        slot = SlotFacts(start=args.slot_start, end=end)
    found = explaining.explain(policy, args.service, args.ods, slot, utcnow())
    print(json.dumps(found, indent=2) if args.json else explaining.render_text(found))
    return 0
