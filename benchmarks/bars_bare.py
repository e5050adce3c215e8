"""The BaRS leg's bare baseline: fixed, pre-serialised answers at the BaRS door's URLs.

Like ``benchmarks.bare`` for the STU3 door: the same server library and the same
response bytes (captured from the gateway's BaRS door at start-up), no header
checks, no FHIR processing, no store, no diary. ``$process-message`` answers a
cancellation (its body holds ``"cancelled"``) with the captured cancel answer and
anything else with the captured booking answer; the body is read, as the gateway
reads it.

    python -m benchmarks.bars_bare --port 8082 --fixtures bars-fixtures.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TypedDict

from aiohttp import web

from benchmarks.bare import KEPT_HEADERS, CannedResponse, health


class BarsFixtures(TypedDict):
    base_path: str
    search: CannedResponse
    book: CannedResponse
    cancel: CannedResponse


def _response(canned: CannedResponse) -> tuple[int, dict[str, str], bytes]:
    headers = {k: v for k, v in canned["headers"].items() if k in KEPT_HEADERS}
    return canned["status"], headers, canned["body"].encode("utf-8")


def create_app(fixtures: BarsFixtures) -> web.Application:
    base = fixtures["base_path"]
    search, book, cancel = (_response(fixtures[k]) for k in ("search", "book", "cancel"))

    async def slots(_request: web.Request) -> web.Response:
        status, headers, body = search
        return web.Response(status=status, body=body, headers=headers)

    async def process_message(request: web.Request) -> web.Response:
        raw = await request.read()
        status, headers, body = cancel if b'"cancelled"' in raw else book
        return web.Response(status=status, body=body, headers=headers)

    app = web.Application()
    app.router.add_get(f"{base}/Slot", slots)
    app.router.add_post(f"{base}/$process-message", process_message)
    app.router.add_get("/health", health)
    return app


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.bars_bare", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--fixtures", type=Path, required=True)
    args = parser.parse_args(argv)
    fixtures: BarsFixtures = json.loads(args.fixtures.read_text(encoding="utf-8"))
    print(f"bare BaRS baseline on http://{args.host}:{args.port}", file=sys.stderr)
    web.run_app(create_app(fixtures), host=args.host, port=args.port, print=None, access_log=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
