"""PostgreSQL briefly unavailable (issue 13 item 7): requests fail fast with a transient
OperationOutcome, nothing is half-written, and the same request sent again books once.

The gateway's store reaches the shared local server through a TCP forwarder the test
cuts (every connection dropped, new ones refused) and restores; the embedded diary
stays up, so the supplier is reachable throughout.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from yarl import URL

from adapters.embedded import PgTarget
from gateway.app import create_app
from gateway.config import load as load_config
from tests.api.conftest import Consumer, GatewayTestServer, booking_body
from tests.embedded.pg import fresh_schema
from tests.pg import PG_DSN
from tests.replicas.conftest import _config
from tests.replicas.tcp_proxy import TcpProxy


@pytest.fixture
async def outage(
    tmp_path: Path, unused_tcp_port_factory: Callable[[], int]
) -> AsyncIterator[tuple[Consumer, TcpProxy]]:
    """A gateway whose store is behind a forwarder the test controls."""
    upstream = URL(PG_DSN)
    proxy = TcpProxy(unused_tcp_port_factory(), (upstream.host or "", upstream.port or 5432))
    await proxy.start()
    async with fresh_schema() as store:
        via = PgTarget(str(upstream.with_port(proxy.port)), schema=store.schema)
        port = unused_tcp_port_factory()
        path = _config(tmp_path, port, tmp_path / "embedded.sqlite3", via, ("", ""))
        settings = load_config(path)
        client = TestClient(GatewayTestServer(create_app(settings, path), port=port))
        await client.start_server()
        try:
            yield Consumer(client, settings), proxy
        finally:
            await client.close()
            await proxy.close()


def _bookings(tmp_path: Path) -> int:
    with sqlite3.connect(tmp_path / "embedded.sqlite3") as db:
        return int(db.execute("SELECT count(*) FROM bookings").fetchone()[0])


async def test_a_booking_while_the_store_is_away_is_503_transient_then_books_once(
    outage: tuple[Consumer, TcpProxy], tmp_path: Path
) -> None:
    """Store cut: 503 transient with Retry-After, fast, nothing at the supplier; restored:
    the same X-Request-ID books, once."""
    consumer, proxy = outage
    first, second = await consumer.free_slots(2)
    assert (await consumer.book(booking_body(first))).status == 201
    await proxy.cut()
    request_id = str(uuid.uuid4())
    began = time.monotonic()
    resp = await consumer.book(booking_body(second), **{"X-Request-ID": request_id})
    assert time.monotonic() - began < 6, "fails fast, not after the whole request budget"
    assert resp.status == 503, await resp.text()
    outcome = await resp.json(content_type=None)
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "transient"
    assert resp.headers["Retry-After"] == "1"
    assert _bookings(tmp_path) == 1, "nothing reached the supplier"

    await proxy.restore()
    again = await consumer.book(booking_body(second), **{"X-Request-ID": request_id})
    assert again.status == 201, await again.text()
    assert _bookings(tmp_path) == 2
