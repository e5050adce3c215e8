"""``uec-gateway``: serve, mint a test token, check a configuration."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from aiohttp import web

from adapters import registry
from gateway import config as config_module
from gateway import examples, logs, reporting
from gateway.security import Scope, load_keys
from gateway.security.tokens import mint_token
from gateway.selftest import cli as selftest_cli
from gateway.store import AuditEntry
from gateway.store.sqlite import SqliteStore

DEFAULT_CONFIG = Path("config/demo.yaml")


def _serve(args: argparse.Namespace) -> int:
    settings = config_module.load(args.config)
    logs.configure(settings.logging.format, settings.logging.level)
    from gateway.app import create_app  # imported here: building the app reads key files

    app = create_app(settings, args.config)
    host = args.host or settings.server.host
    port = args.port or settings.server.port
    print(
        f"uec-gateway serving {settings.server.service_root} on http://{host}:{port}",
        file=sys.stderr,
    )
    web.run_app(app, host=host, port=port, print=None, access_log=None)
    return 0


def _token(args: argparse.Namespace) -> int:
    audience = args.audience
    if audience is None:
        audience = config_module.load(args.config).server.service_root
    print(
        mint_token(
            scope=args.scope,
            audience=audience,
            organisation_ods=args.ods,
            lifetime_s=args.lifetime,
            key=os.environ.get(args.key_env) if args.key_env else None,
            algorithm=args.algorithm,
        )
    )
    return 0


async def _check_adapters(
    path: Path, marks: config_module.Marks, settings: config_module.Settings
) -> list[str]:
    """Check every adapter's options and mapping tables (registry.check)."""
    problems = []
    for index, item in enumerate(settings.adapters):
        found = config_module.where(marks, ("adapters", index))
        at = f"{path}:{found[0]}:{found[1]}" if found else str(path)
        try:
            await registry.check(item.kind, item.name, item.options, settings.base_dir)
        except Exception as exc:  # report every problem, whatever raised it
            problems.append(f"{at}: adapter '{item.name}': {exc}")
    return problems


def _check_front_door(
    path: Path, marks: config_module.Marks, settings: config_module.Settings
) -> list[str]:
    """The HL7 front door's tables, when the front door is configured."""
    door = settings.hl7_front_door
    if door is None:
        return []
    from gateway.hl7.tables import load_tables

    try:
        load_tables(settings.resolve(door.mappings))
    except (ValueError, OSError) as exc:
        found = config_module.where(marks, ("hl7_front_door", "mappings"))
        at = f"{path}:{found[0]}:{found[1]}" if found else str(path)
        return [f"{at}: hl7_front_door: {exc}"]
    return []


def _check(args: argparse.Namespace) -> int:
    """Validate everything and print every problem as file:line:column: message."""
    try:
        settings, marks = config_module.load_checked(args.config)
    except config_module.ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    problems = config_module.missing_secrets(args.config, marks, settings, os.environ)
    try:
        load_keys(settings.security.jwt, settings.base_dir, os.environ)
    except config_module.ConfigError as exc:
        problems.extend(p for p in exc.problems if "is not set" not in p)
    problems.extend(asyncio.run(_check_adapters(args.config, marks, settings)))
    problems.extend(_check_front_door(args.config, marks, settings))
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(
            f"{args.config}: OK ({len(settings.adapters)} adapter(s), "
            f"{len(settings.services)} route(s))"
        )
    return 1 if problems else 0


def _example_booking(args: argparse.Namespace) -> int:
    try:
        searchset = json.load(sys.stdin)
        slot = examples.first_free_slot(searchset)
    except (json.JSONDecodeError, ValueError, AttributeError) as exc:
        print(f"expected a Slot search Bundle on stdin: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(examples.booking_body(slot, nhs_number=args.nhs_number or None), indent=2))
    return 0


async def _report_entries(
    settings: config_module.Settings, start: datetime, end: datetime
) -> list[AuditEntry]:
    store = SqliteStore(settings.resolve(settings.store.path))
    await store.open()
    try:
        return await store.audit_between(start, end)
    finally:
        await store.close()


def _day(text: str) -> datetime:
    return datetime.combine(date.fromisoformat(text), time.min, tzinfo=UTC)


def _report(args: argparse.Namespace) -> int:
    """Print the fs_reporting.md metrics for [--from, --to] (whole UTC days)."""
    settings = config_module.load(args.config)
    start, end = _day(args.start), _day(args.end) + timedelta(days=1)
    report = reporting.build(asyncio.run(_report_entries(settings, start, end)), start, end)
    if args.json:
        print(
            json.dumps(
                {
                    "from": args.start,
                    "to": args.end,
                    "metrics": report.metrics,
                    "not_derivable": reporting.NOT_DERIVABLE,
                },
                indent=2,
            )
        )
    else:
        print(reporting.render_text(report))
    return 0


#: Reference peers integrators can run: name -> module whose ``main(argv)`` runs it.
PEERS = {
    "hl7v2-pas": "adapters.hl7v2.peer.__main__",
    "rest-diary": "adapters.rest_diary.peer.__main__",
    "soap-diary": "adapters.soap_diary.peer.__main__",
}


def _simulate(args: argparse.Namespace) -> int:
    """Run a reference supplier peer; the remaining arguments are the peer's own."""
    module = importlib.import_module(PEERS[args.peer])
    code: int = module.main(args.peer_args)
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="uec-gateway", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gateway")
    serve.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=_serve)

    token = sub.add_parser(
        "token", help="print a standard-conformant test JWT (fs_authentication.md)"
    )
    token.add_argument("--scope", required=True, choices=[s.value for s in Scope])
    token.add_argument(
        "--config", type=Path, default=DEFAULT_CONFIG, help="audience = its service_root"
    )
    token.add_argument("--audience", help="overrides the configured service root")
    token.add_argument("--ods", default="A1001", help="requesting organisation ODS code")
    token.add_argument("--lifetime", type=int, default=300)
    token.add_argument(
        "--algorithm", default="none", help="none (unsigned, as the standard says) or HS256"
    )
    token.add_argument("--key-env", help="environment variable holding the HS256 secret")
    token.set_defaults(func=_token)

    example = sub.add_parser(
        "example-booking",
        help="read a Slot search Bundle on stdin; print a booking for its first free slot",
    )
    example.add_argument("--nhs-number", default=examples.EXAMPLE_NHS_NUMBER, help="'' for none")
    example.set_defaults(func=_example_booking)

    report = sub.add_parser("report", help="print the booking metrics of fs_reporting.md")
    report.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    report.add_argument("--from", dest="start", required=True, help="first day, YYYY-MM-DD (UTC)")
    report.add_argument("--to", dest="end", required=True, help="last day, YYYY-MM-DD (UTC)")
    report.add_argument("--json", action="store_true")
    report.set_defaults(func=_report)

    simulate = sub.add_parser(
        "simulate", help="run a reference supplier peer (e.g. an HL7 v2 PAS) for testing"
    )
    simulate.add_argument("peer", choices=sorted(PEERS))
    simulate.add_argument("peer_args", nargs=argparse.REMAINDER, help="the peer's own options")
    simulate.set_defaults(func=_simulate)

    check = sub.add_parser("check-config", help="validate a configuration and its data files")
    check.add_argument("config", type=Path)
    check.set_defaults(func=_check)
    selftest_cli.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except config_module.ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
