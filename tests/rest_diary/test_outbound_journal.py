"""What the gateway sends a REST supplier is journaled: sealed, with ids and codes only."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters.domain import utcnow
from adapters.rest_diary.peer import RunningPeer
from gateway.app import create_app
from gateway.config import load as load_config
from gateway.examples import booking_body
from gateway.http.exchange import STORE
from gateway.msgjournal.sink import MessageJournal
from tests.api.conftest import READ_SLOTS, SERVICE_ROOT_PATH, Consumer
from tests.rest_diary.conftest import KEY_ENV, MAPPINGS, MIU_SERVICE
from tests.rest_diary.test_end_to_end import CONFIG
from tests.stores import store_yaml

JOURNAL_KEY_ENV = "UEC_TEST_OUTBOUND_KEY"
KEY = base64.b64encode(bytes(range(32))).decode()


@pytest.fixture
async def consumer(
    tmp_path: Path,
    peer: RunningPeer,
    unused_tcp_port_factory: Callable[[], int],
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Consumer]:
    """A gateway routing to the REST peer, journaling with a key."""
    monkeypatch.setenv(JOURNAL_KEY_ENV, KEY)
    port = unused_tcp_port_factory()
    path = tmp_path / "gateway.yaml"
    text = CONFIG.format(
        port=port,
        root=SERVICE_ROOT_PATH,
        store=store_yaml(tmp_path / "gateway.sqlite3"),
        api=peer.api,
        mappings=MAPPINGS,
        key_env=KEY_ENV,
        service=MIU_SERVICE,
    )
    path.write_text(text + f"journal:\n  key_env: {JOURNAL_KEY_ENV}\n", encoding="utf-8")
    settings = load_config(path)
    client: TestClient[web.Request, web.Application] = TestClient(
        TestServer(create_app(settings, path), host="127.0.0.1", port=port)
    )
    await client.start_server()
    yield Consumer(client, settings)
    await client.close()


async def test_a_booking_journals_what_was_sent_sealed_and_without_patient_data(
    consumer: Consumer, peer: RunningPeer
) -> None:
    """The search and the booking sent to the supplier are journaled 'out': channel, route,
    target, request id, status; the booking's payload sealed, holding the patient only there."""
    began = utcnow() - timedelta(seconds=1)
    resp = await consumer.client.get(
        f"{SERVICE_ROOT_PATH}/Slot?service={MIU_SERVICE}&status=free",
        headers=consumer.headers(READ_SLOTS, "read:slot"),
    )
    bundle = await resp.json(content_type=None)
    slot = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Slot")
    body = booking_body(slot)
    assert (await consumer.book(body)).status == 201
    store = consumer.client.server.app[STORE]
    journal = MessageJournal(store, consumer.settings.journal)
    rows = []
    for _ in range(100):  # the rows are written beside the calls, just after them
        rows = await store.messages_between(began, utcnow() + timedelta(seconds=1), "out")
        if any(r.reason == "book" for r in rows):
            break
        await asyncio.sleep(0.02)
    ops = [(r.channel, r.route, r.reason, r.outcome) for r in rows]
    assert ("supplier.http", "acme-rest", "book", "sent") in ops
    assert any(op[2].startswith("search") for op in ops)
    (booked,) = [r for r in rows if r.reason == "book"]
    assert booked.sender == f"127.0.0.1:{peer.port}" and booked.reason_code.startswith("2")
    assert booked.sealed and booked.payload is not None
    patient = next(r for r in body["contained"] if r["resourceType"] == "Patient")
    nhs_number = patient["identifier"][0]["value"]
    for row in rows:
        assert nhs_number not in repr((row.sender, row.control_id, row.reason, row.reason_code))
        assert row.payload is None or nhs_number.encode() not in row.payload
    assert nhs_number.encode() in journal.payload(booked)  # the sealed request, as sent

