"""The real gateways of tests/api, and one started with a ``metrics:`` section of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from gateway.app import create_app
from gateway.config import load as load_config
from tests.api.conftest import (  # noqa: F401 (fixtures)
    Consumer,
    GatewayTestServer,
    consumer,
    gateway,
    write_config,
)

MetricsGateway = Callable[[str], Awaitable[Consumer]]


@pytest.fixture
async def metrics_gateway(
    tmp_path: Path, unused_tcp_port_factory: Callable[[], int]
) -> AsyncIterator[MetricsGateway]:
    """Start a gateway whose configuration ends with ``metrics_yaml`` (the admin token is
    read from ``UEC_TEST_ADMIN``)."""
    clients: list[TestClient] = []  # type: ignore[type-arg]

    async def start(metrics_yaml: str) -> Consumer:
        port = unused_tcp_port_factory()
        path = write_config(tmp_path, port, admin_token_env="UEC_TEST_ADMIN")
        path.write_text(path.read_text() + metrics_yaml, encoding="utf-8")
        settings = load_config(path)
        client = TestClient(GatewayTestServer(create_app(settings, path), port=port))
        await client.start_server()
        clients.append(client)
        return Consumer(client, settings)

    yield start
    for client in clients:
        await client.close()
