"""A REST diary supplier that goes down: the gateway's circuit opens, fails fast, and heals."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters.rest_diary.peer import PeerAuth, RunningPeer, start_peer
from gateway.app import create_app
from gateway.config import load as load_config
from gateway.examples import booking_body
from tests.api.conftest import READ_SLOTS, SERVICE_ROOT_PATH, Consumer
from tests.rest_diary.conftest import API_KEY, KEY_ENV, MAPPINGS, MIU_SERVICE
from tests.rest_diary.test_end_to_end import CONFIG
from tests.stores import store_yaml

FAILURES = 3
RESET_S = 1.0
CIRCUITS = f"""
circuits:
  default: {{failures: 5, reset_s: 30}}
  adapters:
    acme-rest: {{failures: {FAILURES}, reset_s: {RESET_S}}}
"""


class Supplier:
    """The reference peer, stoppable and restartable on the same port and diary."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.port = 0
        self.running: RunningPeer | None = None

    async def start(self) -> RunningPeer:
        auth = PeerAuth(kind="api_key", api_key=API_KEY)
        self.running = await start_peer(str(self.db), days=2, auth=auth, port=self.port)
        self.port = self.running.port
        return self.running

    async def stop(self) -> None:
        if self.running is not None:
            await self.running.stop()
            self.running = None


@pytest.fixture
async def supplier(tmp_path: Path) -> AsyncIterator[Supplier]:
    """The peer on a free 127.0.0.1 port with a fresh diary, stopped at the end."""
    made = Supplier(tmp_path / "peer.sqlite3")
    await made.start()
    yield made
    await made.stop()


@pytest.fixture
async def consumer(
    tmp_path: Path, supplier: Supplier, unused_tcp_port_factory: Callable[[], int]
) -> AsyncIterator[Consumer]:
    """A gateway on 127.0.0.1 routing to the peer, its circuit opening after 3 failures."""
    assert supplier.running is not None
    port = unused_tcp_port_factory()
    path = tmp_path / "gateway.yaml"
    text = CONFIG.format(
        port=port,
        root=SERVICE_ROOT_PATH,
        store=store_yaml(tmp_path / "gateway.sqlite3"),
        api=supplier.running.api,
        mappings=MAPPINGS,
        key_env=KEY_ENV,
        service=MIU_SERVICE,
    )
    path.write_text(text + CIRCUITS, encoding="utf-8")
    settings = load_config(path)
    client: TestClient[web.Request, web.Application] = TestClient(
        TestServer(create_app(settings), host="127.0.0.1", port=port)
    )
    await client.start_server()
    yield Consumer(client, settings)
    await client.close()


async def _slots(consumer: Consumer) -> tuple[int, list[dict[str, Any]]]:
    resp = await consumer.client.get(
        f"{SERVICE_ROOT_PATH}/Slot?service={MIU_SERVICE}&status=free&_include=Slot:schedule",
        headers=consumer.headers(READ_SLOTS, "read:slot"),
    )
    if resp.status != 200:
        return resp.status, []
    bundle = await resp.json(content_type=None)
    return 200, [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Slot"]


async def _circuit(consumer: Consumer) -> dict[str, Any]:
    resp = await consumer.client.get("/health")
    circuit: dict[str, Any] = (await resp.json())["circuits"]["acme-rest"]
    return circuit


async def test_stopped_supplier_opens_the_circuit_then_a_probe_closes_it(
    consumer: Consumer, supplier: Supplier
) -> None:
    """After 3 failures a stopped supplier is answered at once with 503 + Retry-After; once it
    is back and reset_s has passed, one booking probes it, the circuit closes, bookings work."""
    status, slots = await _slots(consumer)
    assert status == 200 and len(slots) >= 2
    await supplier.stop()
    for _ in range(FAILURES):
        status, _ = await _slots(consumer)
        assert status == 500  # the supplier itself failing: SUPPLIER_UNAVAILABLE
    assert (await _circuit(consumer))["state"] == "open"

    first = await consumer.book(booking_body(slots[0]))
    assert first.status == 503, await first.text()
    began = time.perf_counter()
    refused = await consumer.book(booking_body(slots[0]))
    elapsed = time.perf_counter() - began
    assert refused.status == 503, await refused.text()
    assert elapsed < 0.2  # the request budget is 5 s; nothing waits for the supplier
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= RESET_S + 1
    outcome = await refused.json(content_type=None)
    assert outcome["issue"][0]["code"] == "transient"

    await supplier.start()
    await asyncio.sleep(retry_after + 0.05)
    assert (await _circuit(consumer))["state"] == "half_open"
    probe = await consumer.book(booking_body(slots[0]))
    assert probe.status == 201, await probe.text()
    assert (await _circuit(consumer)) == {
        "state": "closed",
        "failures": 0,
        "opened_at": None,
        "retry_after_s": None,
    }
    after = await consumer.book(booking_body(slots[1]))
    assert after.status == 201, await after.text()
