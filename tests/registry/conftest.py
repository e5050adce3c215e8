"""A reference registry peer and gateways that keep pointers in it, all on 127.0.0.1.

Gateways are the real app on a real port (tests/api's server), over the
embedded demo diary (both doors) or the HL7 v2 PAS peer; the registry is
``gateway.registry.peer`` on its own port, or a port nobody listens on (down).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from adapters.hl7v2.peer.server import PasPeer
from gateway.app import create_app
from gateway.config import Settings
from gateway.config import load as load_config
from gateway.registry.peer import RegistryPeer
from tests.api.conftest import Consumer, GatewayTestServer
from tests.api.conftest import write_config as write_embedded
from tests.bars.conftest import Sender, bars_section
from tests.hl7v2.gateway import PasConsumer
from tests.hl7v2.gateway import write_config as write_pas

CUSTODIAN = "RX1"
PRODUCT = "P.GH7-4TY"
NHS = "https://fhir.nhs.uk/Id/nhs-number"


def registry_section(url: str, *, stuck_after: int = 3, enabled: bool = True) -> str:
    """A ``registry:`` section with quick retries, so outage tests stay short."""
    return f"""
registry:
  enabled: {str(enabled).lower()}
  url: {url}
  custodian_ods: {CUSTODIAN}
  product_id: {PRODUCT}
  use_case: a1t1
  connect_timeout_s: 0.5
  request_timeout_s: 1
  lease_s: 5
  poll_interval_s: 0.05
  concurrency: 2
  retry: {{first_delay_s: 0.05, max_delay_s: 0.2, stuck_after_attempts: {stuck_after}}}
"""


async def eventually(check: Callable[[], Awaitable[bool]], wait_s: float = 10.0) -> None:
    """Poll ``check`` on the event loop until it is true (bounded)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while not await check():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def pointers_of(peer: RegistryPeer, appointment_id: str) -> list[dict[str, Any]]:
    """The pointers ``peer`` holds to ``appointment_id`` (by its BaRS-Identifier)."""
    return [
        p for p in peer.pointers() if any(i["value"] == appointment_id for i in p["identifier"])
    ]


@pytest.fixture
async def registry() -> AsyncIterator[RegistryPeer]:
    """A reference registry on a free port of 127.0.0.1."""
    peer = await RegistryPeer.start()
    yield peer
    await peer.stop()


@dataclass
class Gateway:
    """One running gateway, through its doors, and its app (for /health)."""

    client: TestClient[web.Request, web.Application]
    settings: Settings
    stu3: Consumer
    bars: Sender

    async def close(self) -> None:
        await self.client.close()


Start = Callable[..., Awaitable[Gateway]]


@pytest.fixture
async def gateway(
    tmp_path: Path, unused_tcp_port_factory: Callable[[], int]
) -> AsyncIterator[Start]:
    """Start gateways over the embedded demo diary, both doors, keeping pointers at ``url``."""
    started: list[Gateway] = []

    async def start(
        url: str, folder: Path | None = None, admin_token_env: str = "", **registry: Any
    ) -> Gateway:
        port = unused_tcp_port_factory()
        path = write_embedded(folder or tmp_path, port, admin_token_env=admin_token_env)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(bars_section(port, "918999198999"))
            handle.write(registry_section(url, **registry))
        settings = load_config(path)
        server = GatewayTestServer(create_app(settings, path), host="127.0.0.1", port=port)
        client = TestClient(server)
        await client.start_server()
        running = Gateway(client, settings, Consumer(client, settings), Sender(client, settings))
        started.append(running)
        return running

    yield start
    for running in started:
        await running.close()


@pytest.fixture
async def pas() -> AsyncIterator[PasPeer]:
    """A PAS peer with a fresh diary (in its own folder), two days of slots."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        peer = await PasPeer.start(str(Path(folder) / "pas.sqlite3"), horizon_days=2)
        yield peer
        await peer.close()


@pytest.fixture
async def pas_gateway(
    pas: PasPeer,
    registry: RegistryPeer,
    tmp_path: Path,
    unused_tcp_port_factory: Callable[[], int],
) -> AsyncIterator[PasConsumer]:
    """A gateway over the PAS peer (its SIU listener told to the peer), keeping pointers."""
    port, listen = unused_tcp_port_factory(), unused_tcp_port_factory()
    path = write_pas(tmp_path, port, pas.port, listen)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(registry_section(registry.url))
    settings = load_config(path)
    client = TestClient(GatewayTestServer(create_app(settings), host="127.0.0.1", port=port))
    await client.start_server()
    pas.notify_to(("127.0.0.1", listen))
    try:
        yield PasConsumer(client, settings)
    finally:
        await client.close()
