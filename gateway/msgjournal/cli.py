"""``uec-gateway replay``: replay journaled messages, or shadow-replay a window of them.

``replay ID... --config FILE`` asks the running gateway (``POST /admin/replay`` on
``server.host:server.port``, or ``--url``) with the admin token from the variable
``server.admin_token_env``: the gateway's adapters, mapping and locks do the work, so a
replay is never raced by a second process. ``replay --shadow --since ISO --until ISO
--config CANDIDATE [--current FILE] [--json]`` runs in-process, reading the store the
candidate names and writing nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.config import Settings, load
from gateway.msgjournal.seal import KeyUnusable
from gateway.msgjournal.shadow import render_json, render_text, shadow
from gateway.msgjournal.sink import MessageJournal
from gateway.store import configured

#: Exit codes: all done, some message still not applied, the command could not run.
DONE, NOT_APPLIED, UNUSABLE = 0, 1, 2


def add_parser(sub: Any) -> None:
    """Add ``replay`` to the CLI's subparsers."""
    parser = sub.add_parser(
        "replay", help="replay journaled inbound messages, or shadow-replay a window of them"
    )
    parser.add_argument("ids", nargs="*", help="journal ids to replay")
    parser.add_argument("--config", type=Path, default=Path("config/gateway.yaml"))
    parser.add_argument("--url", help="the gateway's base URL (default: server.host:port)")
    parser.add_argument("--shadow", action="store_true", help="evaluate a window, change nothing")
    parser.add_argument("--since", type=_instant, help="window start, ISO-8601 (UTC if no zone)")
    parser.add_argument("--until", type=_instant, help="window end, ISO-8601 (exclusive)")
    parser.add_argument("--current", type=Path, help="shadow: the running configuration")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(func=main)


def _instant(text: str) -> datetime:
    found = datetime.fromisoformat(text)
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def main(args: argparse.Namespace) -> int:
    if args.shadow:
        if args.ids or args.since is None or args.until is None:
            print("replay --shadow takes --since and --until, and no ids", file=sys.stderr)
            return UNUSABLE
        return asyncio.run(_shadow(args))
    if not args.ids:
        print("replay needs journal ids (or --shadow with a window)", file=sys.stderr)
        return UNUSABLE
    return asyncio.run(_replay(args))


async def _shadow(args: argparse.Namespace) -> int:
    candidate = load(args.config)
    current = load(args.current) if args.current else None
    store = configured.build(candidate)
    try:
        journal = MessageJournal(store, candidate.journal)
    except KeyUnusable as exc:
        print(exc, file=sys.stderr)
        return UNUSABLE
    await store.open()
    try:
        found = await shadow(journal, candidate, current, args.since, args.until)
    finally:
        await store.close()
    print(render_json(found) if args.json else render_text(found))
    return DONE


def _url(settings: Settings, given: str | None) -> str:
    if given:
        return given.rstrip("/")
    host = settings.server.host
    return f"http://{'127.0.0.1' if host in ('0.0.0.0', '::', '') else host}:{settings.server.port}"


async def _replay(args: argparse.Namespace) -> int:
    import aiohttp  # imported here: the other subcommands need no HTTP client

    settings = load(args.config)
    name = settings.server.admin_token_env
    token = os.environ.get(name, "") if name else ""
    if not token:
        print("no admin token: set server.admin_token_env and that variable", file=sys.stderr)
        return UNUSABLE
    url = f"{_url(settings, args.url)}/admin/replay"
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, json={"ids": args.ids}, headers=headers) as resp,
        ):
            body = await resp.json(content_type=None)
            status = resp.status
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        print(f"the gateway at {url} did not answer: {type(exc).__name__}", file=sys.stderr)
        return UNUSABLE
    if status != 200:
        print(f"the gateway refused ({status}): {body.get('error', body)}", file=sys.stderr)
        return UNUSABLE
    results = body["results"]
    print(json.dumps(body, indent=2) if args.json else _text(results))
    settled = all(r["after"] in ("applied", "duplicate") for r in results)
    return DONE if settled else NOT_APPLIED


def _text(results: list[dict[str, str]]) -> str:
    lines = []
    for r in results:
        line = f"{r['id']}: {r['result']} {r['before'] or '-'} -> {r['after'] or '-'}"
        detail = " ".join(x for x in (r["reason_code"], r["reason"]) if x)
        lines.append(f"{line} {detail}".rstrip())
    return "\n".join(lines)
