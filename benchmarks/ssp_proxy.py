"""A pass-through Spine Secure Proxy for the benchmark's consumer leg.

    python -m benchmarks.ssp_proxy --port PORT --allowed PROVIDER_SERVICE_ROOT

The national FHIR adapter requires ``ssp_url`` and always calls
``<ssp_url>/<provider service root>/<FHIR path>`` (implementation_api.md), so the
chain needs a proxy. This one does what the SSP does on the wire and nothing
more: it checks the four ``Ssp-*`` headers are present (403 otherwise), strips
its own prefix, forwards to the one allowed provider root over keep-alive
connections, and returns the provider's answer byte for byte (no
decompression). It answers ``GET /health`` itself for start-up readiness.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator, Sequence

import aiohttp
from aiohttp import web

REQUIRED = ("Ssp-TraceID", "Ssp-From", "Ssp-To", "Ssp-InteractionID")
HOP_BY_HOP = frozenset({"host", "content-length", "transfer-encoding", "connection", "keep-alive"})
SESSION = web.AppKey("session", aiohttp.ClientSession)
ALLOWED = web.AppKey("allowed", str)


async def health(_request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def forward(request: web.Request) -> web.Response:
    target = request.raw_path[1:]
    allowed = request.app[ALLOWED]
    if any(not request.headers.get(h) for h in REQUIRED) or not target.startswith(allowed + "/"):
        return web.Response(
            status=403,
            body=b'{"resourceType":"OperationOutcome","issue":[{"severity":"error",'
            b'"code":"forbidden","details":{"coding":[{"code":"ACCESS_DENIED"}]}}]}',
            content_type="application/fhir+json",
        )
    body = await request.read()
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
    try:
        async with request.app[SESSION].request(
            request.method, target, headers=headers, data=body or None
        ) as answer:
            raw = await answer.read()
            back = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP}
            return web.Response(status=answer.status, body=raw, headers=back)
    except (aiohttp.ClientError, TimeoutError) as exc:
        return web.Response(status=502, text=f"proxy: {type(exc).__name__}")


def make_app(allowed: str) -> web.Application:
    app = web.Application(client_max_size=20_000_000)
    app[ALLOWED] = allowed.rstrip("/")

    async def session_context(app: web.Application) -> AsyncIterator[None]:
        app[SESSION] = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            auto_decompress=False,
            skip_auto_headers=("Accept-Encoding", "User-Agent", "Content-Type"),
            timeout=aiohttp.ClientTimeout(total=60),
        )
        yield
        await app[SESSION].close()

    app.cleanup_ctx.append(session_context)
    app.router.add_get("/health", health)
    app.router.add_route("*", "/{target:.*}", forward)
    return app


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ssp_proxy")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--allowed", required=True, help="the one provider service root")
    args = parser.parse_args(argv)
    web.run_app(make_app(args.allowed), host=args.host, port=args.port, print=None, access_log=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
