"""A gateway serving HTTPS on its main listener (``server.tls``), and the certificates for it.

The certificates come from ``certs.py``: our CA signs the gateway's certificate and
the good client's; a rogue CA signs the stranger's. Gateways are real servers on
127.0.0.1 listening with the context ``serve`` builds (``listener_context``).
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.app import create_app
from gateway.config import load as load_config
from gateway.tls.listeners import listener_context
from tests.api.conftest import Consumer, GatewayTestServer, write_config
from tests.tls.certs import Authority, Issued, authority


@dataclass(frozen=True)
class Pki:
    """Our CA, a rogue one, and what each has issued."""

    ca: Authority
    rogue: Authority
    server: Issued
    client: Issued
    stranger: Issued

    def client_context(self, shown: Issued | None = None) -> ssl.SSLContext:
        """A client that trusts our CA and shows ``shown`` (no certificate when None)."""
        context = ssl.create_default_context(cafile=str(self.ca.ca_file))
        if shown is not None:
            context.load_cert_chain(str(shown.cert_file), str(shown.key_file))
        return context


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    """A fresh CA, a rogue CA, the gateway's certificate and two client certificates."""
    ca, rogue = authority(tmp_path / "pki", "ours"), authority(tmp_path / "pki", "rogue")
    return Pki(
        ca,
        rogue,
        ca.issue("gateway", server=True),
        ca.issue("consumer-111", server=False),
        rogue.issue("stranger", server=False),
    )


def add_server_tls(config: Path, tls: dict[str, Any], *, https_root: bool = True) -> Path:
    """``config`` with ``server.tls`` set to ``tls`` (and an https service root, if so)."""
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["server"]["tls"] = tls
    if https_root:
        root = data["server"]["service_root"]
        data["server"]["service_root"] = root.replace("http:", "https:")
    config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return config


def tls_options(pki: Pki, client_cert: str) -> dict[str, Any]:
    """``server.tls`` with our certificate, and our CA verifying clients unless ``none``."""
    options: dict[str, Any] = {
        "cert_file": str(pki.server.cert_file),
        "key_file": str(pki.server.key_file),
        "client_cert": client_cert,
    }
    if client_cert != "none":
        options["ca_file"] = str(pki.ca.ca_file)
    return options


Https = Callable[..., Awaitable[Callable[[ssl.SSLContext], Consumer]]]


@pytest.fixture
async def https(
    tmp_path: Path, pki: Pki, unused_tcp_port_factory: Callable[[], int]
) -> AsyncIterator[Https]:
    """Start an HTTPS gateway (``client_cert`` as asked); returns a maker of its consumers."""
    clients: list[TestClient[web.Request, web.Application]] = []
    servers: list[GatewayTestServer] = []

    async def start(client_cert: str = "none") -> Callable[[ssl.SSLContext], Consumer]:
        port = unused_tcp_port_factory()
        path = add_server_tls(write_config(tmp_path, port), tls_options(pki, client_cert))
        settings = load_config(path)
        server = GatewayTestServer(create_app(settings, path), host="127.0.0.1", port=port)
        servers.append(server)
        await server.start_server(ssl=listener_context(settings))

        def consumer(context: ssl.SSLContext) -> Consumer:
            connector = aiohttp.TCPConnector(ssl=context, force_close=True)
            client: TestClient[web.Request, web.Application] = TestClient(
                server, connector=connector
            )
            clients.append(client)
            return Consumer(client, settings)

        return consumer

    yield start
    for client in clients:
        await client.close()
    for server in servers:
        await server.close()
