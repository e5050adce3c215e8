"""``uec-gateway``: serve, mint a test token, check a configuration, purge old records."""

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

from gateway import config as config_module
from gateway import examples, reporting
from gateway.msgjournal import cli as msgjournal_cli
from gateway.policy import cli as policy_cli
from gateway.policy import report as border_report
from gateway.policy.report import BorderTables
from gateway.security import Scope
from gateway.security.tokens import mint_token
from gateway.selftest import cli as selftest_cli
from gateway.store import AuditEntry, PurgeCounts, StoreUnavailable, configured
from gateway.trace import cli as trace_cli

DEFAULT_CONFIG = Path("config/demo.yaml")


def _serve(args: argparse.Namespace) -> int:
    from gateway import _serve as serving  # imported here: it loads the whole application

    return serving.run(args.config, args.host, args.port, args.workers)


def _workers(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return count


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


def _check(args: argparse.Namespace) -> int:
    """Validate everything and print every problem as file:line:column: message."""
    from gateway import _checks
    from gateway.tls import checks as tls_checks

    problems, found = asyncio.run(_checks.problems(args.config, os.environ))
    for problem in problems:
        print(problem, file=sys.stderr)
    for warning in tls_checks.warnings(args.config, found):  # certificates ending soon
        print(warning, file=sys.stderr)
    if problems or found is None or found.settings is None:
        return 1
    print(
        f"{args.config}: OK ({len(found.settings.adapters)} adapter(s), "
        f"{len(found.settings.services)} route(s))"
    )
    return 0


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
) -> tuple[list[AuditEntry], BorderTables]:
    """The period's audit entries, and its cross-border tables (DNAs included)."""
    store = configured.build(settings)
    await store.open()
    try:
        entries = await store.audit_between(start, end)
        noshows, history = await border_report.dna_inputs(store, start, end)
        return entries, border_report.build(entries, noshows, history)
    finally:
        await store.close()


async def _migrate_store(settings: config_module.Settings) -> tuple[str, int]:
    store = configured.build(settings)
    await store.open()  # opening applies every migration not yet applied
    try:
        return settings.store.kind, await store.schema_version()
    finally:
        await store.close()


def _migrate(args: argparse.Namespace) -> int:
    """Bring the configured store's schema up to date and print its version."""
    settings = config_module.load(args.config)
    try:
        kind, version = asyncio.run(_migrate_store(settings))
    except StoreUnavailable as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"{kind} store at schema version {version}")
    return 0


async def _purge_store(settings: config_module.Settings, dry_run: bool) -> PurgeCounts:
    from gateway import retention  # imported here: it loads aiohttp

    cutoffs = retention.cutoffs(
        settings.retention, retention.now(), settings.journal.retention_days
    )
    store = configured.build(settings)
    await store.open()
    try:
        return await store.purge(cutoffs, dry_run=dry_run)
    finally:
        await store.close()


def _purge(args: argparse.Namespace) -> int:
    """Purge the records past the configured retention periods once and print the counts."""
    settings = config_module.load(args.config)
    try:
        found = asyncio.run(_purge_store(settings, args.dry_run))
    except StoreUnavailable as exc:
        print(exc, file=sys.stderr)
        return 1
    verb = "would purge" if args.dry_run else "purged"
    print(f"{settings.store.kind} store: {verb} {found.total} row(s)")
    for kind, count in found.as_dict().items():
        print(f"  {kind}: {count}")
    return 0


def _day(text: str) -> datetime:
    return datetime.combine(date.fromisoformat(text), time.min, tzinfo=UTC)


def _report(args: argparse.Namespace) -> int:
    """Print the fs_reporting.md metrics for [--from, --to] (whole UTC days), then the
    cross-border tables (gateway/policy/report.py)."""
    settings = config_module.load(args.config)
    start, end = _day(args.start), _day(args.end) + timedelta(days=1)
    entries, borders = asyncio.run(_report_entries(settings, start, end))
    report = reporting.build(entries, start, end)
    if args.json:
        print(
            json.dumps(
                {
                    "from": args.start,
                    "to": args.end,
                    "metrics": report.metrics,
                    "not_derivable": reporting.NOT_DERIVABLE,
                    "cross_border": border_report.as_json(borders),
                },
                indent=2,
            )
        )
    else:
        print(reporting.render_text(report))
        print(border_report.render_text(borders))
    return 0


#: Reference peers integrators can run: name -> module whose ``main(argv)`` runs it.
PEERS = {
    "bars-proxy": "gateway.bars_proxy.__main__",
    "bars-sender": "gateway.bars_sender.__main__",
    "hl7v2-pas": "adapters.hl7v2.peer.__main__",
    "rest-diary": "adapters.rest_diary.peer.__main__",
    "soap-diary": "adapters.soap_diary.peer.__main__",
    "registry": "gateway.registry.peer.__main__",
    "itk-receiver": "adapters.itk.peer.__main__",
    "itk-sender": "adapters.itk.peer.sender",
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
    serve.add_argument(
        "--workers",
        type=_workers,
        help="processes serving the port (default: server.workers, 1); more than one "
        "run under a supervisor, sharing every listener",
    )
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
        "simulate", help="run a reference peer (a supplier, e.g. an HL7 v2 PAS, or the registry)"
    )
    simulate.add_argument("peer", choices=sorted(PEERS))
    simulate.add_argument("peer_args", nargs=argparse.REMAINDER, help="the peer's own options")
    simulate.set_defaults(func=_simulate)

    migrate = sub.add_parser(
        "migrate", help="apply the store's schema migrations and print its schema version"
    )
    migrate.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    migrate.set_defaults(func=_migrate)

    purge = sub.add_parser(
        "purge", help="delete records past the retention periods (retention:) and print counts"
    )
    purge.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    purge.add_argument("--dry-run", action="store_true", help="count, delete nothing")
    purge.set_defaults(func=_purge)

    check = sub.add_parser("check-config", help="validate a configuration and its data files")
    check.add_argument("config", type=Path)
    check.set_defaults(func=_check)
    selftest_cli.add_parser(sub)
    trace_cli.add_parser(sub)  # the journey trace (docs/ops/trace.md)
    msgjournal_cli.add_parser(sub)
    policy_cli.add_parser(sub)  # policy explain (booking rules across borders)
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
