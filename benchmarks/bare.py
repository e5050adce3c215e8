"""A bare aiohttp app answering the benchmark's requests with fixed, pre-serialised bytes.

It is the baseline the gateway is measured against: the same HTTP server
library, the same URLs and the same response bodies (captured from a real
gateway at start-up), but no authentication, no FHIR processing, no store and
no diary. It reads request bodies and gzips when asked, as the gateway does,
so the difference measured is the gateway's own work.

    python -m benchmarks.bare --port 8081 --fixtures fixtures.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TypedDict

from aiohttp import web
from aiohttp.typedefs import Handler

#: Response headers copied from the captured gateway responses (others are per-request).
KEPT_HEADERS = (
    "Content-Type",
    "Cache-Control",
    "ETag",
    "Location",
    "Content-Location",
    "Last-Modified",
)


class CannedResponse(TypedDict):
    """One captured gateway response: status, the headers worth replaying, the body text."""

    status: int
    headers: dict[str, str]
    body: str


class Fixtures(TypedDict):
    """What the bare app serves; written by the benchmark, read here once at start-up."""

    base_path: str
    search: CannedResponse
    book: CannedResponse
    cancel: CannedResponse


def load_fixtures(path: Path) -> Fixtures:
    data: Fixtures = json.loads(path.read_text(encoding="utf-8"))
    return data


def _handler(canned: CannedResponse, *, read_body: bool) -> Handler:
    status = canned["status"]
    headers = {k: v for k, v in canned["headers"].items() if k in KEPT_HEADERS}
    body = canned["body"].encode("utf-8")

    async def handle(request: web.Request) -> web.StreamResponse:
        if read_body:
            await request.read()
        response = web.Response(status=status, body=body, headers=headers)
        if "gzip" in request.headers.get("Accept-Encoding", "").lower():
            response.enable_compression(web.ContentCoding.gzip)
        return response

    return handle


async def health(_request: web.Request) -> web.Response:
    return web.json_response({"status": "pass"}, headers={"Cache-Control": "no-store"})


def create_app(fixtures: Fixtures) -> web.Application:
    base = fixtures["base_path"]
    app = web.Application()
    app.router.add_get(f"{base}/Slot", _handler(fixtures["search"], read_body=False))
    app.router.add_post(f"{base}/Appointment", _handler(fixtures["book"], read_body=True))
    app.router.add_put(f"{base}/Appointment/{{id}}", _handler(fixtures["cancel"], read_body=True))
    app.router.add_get("/health", health)
    return app


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.bare", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--fixtures", type=Path, required=True)
    args = parser.parse_args(argv)
    app = create_app(load_fixtures(args.fixtures))
    print(f"bare baseline on http://{args.host}:{args.port}", file=sys.stderr)
    # The same run_app settings as ``uec-gateway serve``: no access log.
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
