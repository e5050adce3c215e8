"""A real gateway on 127.0.0.1 with its ITK door, and a legacy 111 sender posting SOAP to it.

The door's clock is injected (``Clock``): each sample is sent "when it was
written" (its WS-Security Created), so the samples' old timestamps stay valid.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient

from adapters.soap_toolkit.envelope import SoapVersion
from gateway.app import create_app
from gateway.config import Settings
from gateway.config import load as load_config
from gateway.http.exchange import STORE
from gateway.itk.door import CLOCK
from gateway.store import Store
from tests.api.conftest import ROOT, GatewayTestServer, write_config

ITK_PATH = "/itk"
DEMO_TABLES = ROOT / "mappings" / "itk" / "demo"


def itk_section(mappings: Path = DEMO_TABLES) -> str:
    return f"""
itk:
  path: {ITK_PATH}
  mappings: {mappings}
  ods_code: UECGW
"""


@dataclass
class Clock:
    """The door's clock; ``at`` None is the wall clock."""

    at: datetime | None = None

    def __call__(self) -> datetime:
        return self.at or datetime.now(UTC)


@dataclass
class Sender:
    """A legacy 111 system posting ITK SOAP to the gateway's door."""

    client: TestClient[web.Request, web.Application]
    settings: Settings
    app: web.Application
    clock: Clock = field(default_factory=Clock)

    @property
    def store(self) -> Store:
        return self.app[STORE]

    async def send(
        self, body: bytes, version: SoapVersion = SoapVersion.V11, content_type: str | None = None
    ) -> ClientResponse:
        headers = version.headers("urn:nhs-itk:services:201005:SendNHS111Report-v2-0")
        if content_type is not None:
            headers["Content-Type"] = content_type
        return await self.client.post(ITK_PATH, data=body, headers=headers)


Start = Callable[..., Awaitable[Sender]]


@pytest.fixture
async def itk_gateway(
    tmp_path: Path, unused_tcp_port_factory: Callable[[], int]
) -> AsyncIterator[Start]:
    """Start gateways (real sockets) over the embedded demo diary with the ITK door."""
    clients: list[TestClient[web.Request, web.Application]] = []

    async def start(
        folder: Path | None = None, mappings: Path = DEMO_TABLES, policy: Path | None = None
    ) -> Sender:
        port = unused_tcp_port_factory()
        path = write_config(folder or tmp_path, port)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(itk_section(mappings))
            if policy is not None:  # booking rules across borders (gateway/policy/)
                handle.write(f"policy:\n  folder: {policy}\n")
        settings = load_config(path)
        app = create_app(settings, path)
        clock = Clock()
        now: Callable[[], datetime] = clock
        app[CLOCK] = now
        client = TestClient(GatewayTestServer(app, host="127.0.0.1", port=port))
        await client.start_server()
        clients.append(client)
        return Sender(client, settings, app, clock)

    yield start
    for client in clients:
        await client.close()


@pytest.fixture
async def sender(itk_gateway: Start) -> Sender:
    return await itk_gateway()
