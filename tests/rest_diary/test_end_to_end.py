"""Search, book, read and cancel through the gateway's FHIR API into the REST diary peer."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters.rest_diary.peer import FaultSpec, Mode, RunningPeer
from gateway.app import create_app
from gateway.config import load as load_config
from gateway.examples import booking_body
from tests.api.conftest import READ_SLOTS, SERVICE_ROOT_PATH, Consumer
from tests.rest_diary.conftest import KEY_ENV, MAPPINGS, MIU_SERVICE
from tests.stores import store_yaml

CONFIG = """
server:
  host: 127.0.0.1
  port: {port}
  service_root: http://127.0.0.1:{port}{root}
  request_timeout_s: 5
security:
  ssp:
    enforcement: warn
    asid: "200000000115"
store:
  {store}
logging:
  format: json
adapters:
  - name: acme-rest
    kind: rest-diary
    options:
      base_url: {api}
      mappings: {mappings}
      auth: {{kind: api_key, key_env: {key_env}}}
services:
  - id: "{service}"
    adapter: acme-rest
"""


@pytest.fixture
async def consumer(
    tmp_path: Path, peer: RunningPeer, unused_tcp_port_factory: Callable[[], int]
) -> AsyncIterator[Consumer]:
    """A gateway on 127.0.0.1 whose only adapter is rest-diary, pointing at the peer."""
    port = unused_tcp_port_factory()
    path = tmp_path / "gateway.yaml"
    path.write_text(
        CONFIG.format(
            port=port,
            root=SERVICE_ROOT_PATH,
            tmp=tmp_path,
            store=store_yaml(tmp_path / "gateway.sqlite3"),
            api=peer.api,
            mappings=MAPPINGS,
            key_env=KEY_ENV,
            service=MIU_SERVICE,
        ),
        encoding="utf-8",
    )
    settings = load_config(path)
    client: TestClient[web.Request, web.Application] = TestClient(
        TestServer(create_app(settings), host="127.0.0.1", port=port)
    )
    await client.start_server()
    yield Consumer(client, settings)
    await client.close()


async def _search(consumer: Consumer) -> dict[str, Any]:
    resp = await consumer.client.get(
        f"{SERVICE_ROOT_PATH}/Slot?service={MIU_SERVICE}&status=free"
        "&_include=Slot:schedule&_include:recurse=Schedule:actor:Practitioner",
        headers=consumer.headers(READ_SLOTS, "read:slot"),
    )
    assert resp.status == 200, await resp.text()
    bundle: dict[str, Any] = await resp.json(content_type=None)
    return bundle


async def _statuses(peer: RunningPeer) -> list[tuple[str, str]]:
    async with peer.diary.conn.execute("SELECT ref, status FROM appointments") as cur:
        return [(str(r[0]), str(r[1])) for r in await cur.fetchall()]


async def test_book_read_and_cancel_reach_the_peer_diary(
    consumer: Consumer, peer: RunningPeer
) -> None:
    """A FHIR booking lands in the peer's diary once; the FHIR cancel cancels it there."""
    bundle = await _search(consumer)
    slots = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Slot"]
    kinds = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert slots and "Schedule" in kinds
    slot = slots[0]

    booked_resp = await consumer.book(booking_body(slot))
    assert booked_resp.status == 201, await booked_resp.text()
    booked = await booked_resp.json(content_type=None)
    assert await peer.diary.count_appointments(slot["identifier"][0]["value"]) == 1
    assert [s for _, s in await _statuses(peer)] == ["BOOKED"]

    read = await consumer.read(f"Appointment/{booked['id']}")
    assert read.status == 200
    assert (await read.json(content_type=None))["start"] == slot["start"]

    body = copy.deepcopy(booked)
    body["status"] = "cancelled"
    cancelled = await consumer.cancel(booked["id"], body, **{"If-Match": 'W/"1"'})
    assert cancelled.status == 200, await cancelled.text()
    assert [s for _, s in await _statuses(peer)] == ["CANCELLED"]
    again = await _search(consumer)
    assert slot["id"] in {e["resource"]["id"] for e in again["entry"]}


async def test_resent_x_request_id_books_once_in_the_peer(
    consumer: Consumer, peer: RunningPeer
) -> None:
    """The same booking sent twice with one X-Request-ID makes one appointment at the supplier."""
    bundle = await _search(consumer)
    slot = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Slot")
    first = await consumer.book(booking_body(slot), **{"X-Request-ID": "e2e-rest-once"})
    second = await consumer.book(booking_body(slot), **{"X-Request-ID": "e2e-rest-once"})
    assert first.status == 201 and second.status == 409
    assert await peer.diary.count_appointments() == 1


async def test_slot_taken_at_the_supplier_is_422(consumer: Consumer, peer: RunningPeer) -> None:
    """A slot booked at the supplier's own desk meanwhile gives the consumer 422 SLOT_NOT_FREE."""
    bundle = await _search(consumer)
    slot = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Slot")
    await peer.diary.conn.execute(
        "UPDATE slots SET state = 'BOOKED' WHERE id = ?", (slot["identifier"][0]["value"],)
    )
    resp = await consumer.book(booking_body(slot))
    assert resp.status == 422
    body = await resp.json(content_type=None)
    assert body["issue"][0]["details"]["coding"][0]["code"] == "SLOT_NOT_FREE"


async def test_supplier_down_is_500_transient_for_search_and_book(
    consumer: Consumer, peer: RunningPeer
) -> None:
    """search_slots.md, book_an_appointment.md: a supplier that is down gives 500, transient."""
    bundle = await _search(consumer)
    slot = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Slot")
    peer.fault(FaultSpec(mode=Mode.SERVER_ERROR))
    searched = await consumer.client.get(
        f"{SERVICE_ROOT_PATH}/Slot?service={MIU_SERVICE}",
        headers=consumer.headers(READ_SLOTS, "read:slot"),
    )
    booked = await consumer.book(booking_body(slot))
    for resp in (searched, booked):
        assert resp.status == 500, await resp.text()
        issue = (await resp.json(content_type=None))["issue"][0]
        assert issue["code"] == "transient"
        assert issue["details"]["coding"][0]["code"] == "SUPPLIER_UNAVAILABLE"
        assert issue["diagnostics"]
    assert await peer.diary.count_appointments() == 0
