"""``uec-gateway simulate bars-proxy --port P --route SYSTEM|VALUE=URL --client ID:KID:PEM``.

Runs the mock national BaRS proxy and token endpoint until SIGINT/SIGTERM. Prints
``bars-proxy serving http://HOST:PORT`` on stderr once the port is bound; a bad
option or a port in use is one line on stderr and exit 1, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web
from pydantic import ValidationError

from gateway import logs
from gateway.bars_proxy.app import create_app
from gateway.bars_proxy.settings import API_ROOT, ClientTls, ProxySettings


class _Usage(ValueError):
    pass


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="uec-gateway simulate bars-proxy", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--public-url", help="how senders reach it (the JWT aud base)")
    parser.add_argument(
        "--route",
        action="append",
        default=[],
        metavar="SYSTEM|VALUE=URL",
        help="a target identifier and its receiver's BaRS service root (repeatable)",
    )
    parser.add_argument(
        "--client",
        action="append",
        default=[],
        metavar="CLIENT_ID:KID:PUBLIC_KEY_PEM_PATH",
        help="a registered application and one of its RSA public keys (repeatable)",
    )
    parser.add_argument("--token-lifetime-s", type=int, default=599)
    parser.add_argument("--receiver-timeout-s", type=float, default=30.0)
    parser.add_argument("--control", action="store_true", help="serve /_control/* (faults)")
    parser.add_argument("--cert", type=Path, help="client certificate shown to https receivers")
    parser.add_argument("--key", type=Path, help="the certificate's private key")
    parser.add_argument("--ca", type=Path, help="CA bundle that signed the receivers' certificates")
    parser.add_argument("--log-format", choices=("json", "console"), default="console")
    return parser


def _routes(values: list[str]) -> dict[str, str]:
    routes = {}
    for value in values:
        target, eq, url = value.partition("=")
        if not eq or not target or not url:
            raise _Usage(f"--route {value!r}: expected SYSTEM|VALUE=URL")
        routes[target] = url
    return routes


def _clients(values: list[str]) -> dict[str, dict[str, str]]:
    clients: dict[str, dict[str, str]] = {}
    for value in values:
        client, _, rest = value.partition(":")
        kid, _, path = rest.partition(":")
        if not client or not kid or not path:
            raise _Usage(f"--client {value!r}: expected CLIENT_ID:KID:PUBLIC_KEY_PEM_PATH")
        try:
            pem = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise _Usage(f"--client {value!r}: cannot read {path}: {exc.strerror}") from None
        clients.setdefault(client, {})[kid] = pem
    return clients


def settings_from(args: argparse.Namespace) -> ProxySettings:
    if (args.cert is None) != (args.key is None):
        raise _Usage("--cert and --key go together")
    tls = ClientTls(cert_file=args.cert, key_file=args.key, ca_file=args.ca) if args.cert else None
    return ProxySettings(
        host=args.host,
        port=args.port,
        public_url=args.public_url,
        routes=_routes(args.route),
        clients=_clients(args.client),
        token_lifetime_s=args.token_lifetime_s,
        receiver_timeout_s=args.receiver_timeout_s,
        control=args.control,
        tls=tls,
    )


async def serve(settings: ProxySettings) -> None:
    runner = web.AppRunner(create_app(settings), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.host, settings.port).start()
        print(f"bars-proxy serving http://{settings.host}:{settings.port}", file=sys.stderr)
        print(
            f"bars-proxy token endpoint {settings.token_url}, API {settings.base_url}{API_ROOT}",
            file=sys.stderr,
            flush=True,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = settings_from(args)
    except _Usage as exc:
        print(f"bars-proxy: {exc}", file=sys.stderr)
        return 1
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"]))
        print(f"bars-proxy: {where}: {first['msg']}", file=sys.stderr)
        return 1
    logs.configure(args.log_format)
    try:
        asyncio.run(serve(settings))
    except OSError as exc:
        print(f"bars-proxy: cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
