"""The benchmark's minimal same-work app answers as the gateway does, over a copy of its diary."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from benchmarks._constants import INCLUDES
from benchmarks._targets import copy_diary
from benchmarks.minimal import MinimalFixtures, create_app
from gateway.app import create_app as create_gateway
from gateway.config import load as load_config
from gateway.examples import booking_body
from tests.api.conftest import (
    SERVICE_ID,
    SERVICE_ROOT_PATH,
    Consumer,
    GatewayTestServer,
    write_config,
)

Client = TestClient[web.Request, web.Application]
QUERY = f"service={SERVICE_ID}{INCLUDES}"


def _entries(bundle: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """Each entry without the server's own address."""
    return [
        (e["fullUrl"].partition(SERVICE_ROOT_PATH)[2], e["resource"], e["search"])
        for e in bundle["entry"]
    ]


def _read(consumer: Consumer) -> dict[str, str]:
    return consumer.headers("organization/slot.read", "read:slot")


def _ids(bundle: dict[str, Any]) -> set[str]:
    return {e["resource"]["id"] for e in bundle["entry"]}


@pytest.fixture
async def pair(
    tmp_path: Path, unused_tcp_port_factory: Callable[[], int]
) -> AsyncIterator[tuple[Consumer, Client]]:
    """A gateway over the demo diary, and the minimal app over a copy of that diary file."""
    port = unused_tcp_port_factory()
    config = write_config(tmp_path, port, max_slots_per_page=1000)  # one page, as the minimal
    gateway = TestClient(
        GatewayTestServer(create_gateway(load_config(config), config), host="127.0.0.1", port=port)
    )
    await gateway.start_server()
    consumer = Consumer(gateway, load_config(config))
    resp = await consumer.client.get(f"{SERVICE_ROOT_PATH}/Slot?{QUERY}", headers=_read(consumer))
    assert resp.status == 200
    fixtures: MinimalFixtures = {
        "base_path": SERVICE_ROOT_PATH,
        "service_id": SERVICE_ID,
        "search_body": await resp.text(),
    }
    copy_diary(tmp_path / "embedded.sqlite3", tmp_path / "minimal.sqlite3")
    minimal_port = unused_tcp_port_factory()
    base = f"http://127.0.0.1:{minimal_port}{SERVICE_ROOT_PATH}"
    app = create_app(fixtures, tmp_path / "minimal.sqlite3", base)
    minimal = TestClient(TestServer(app, host="127.0.0.1", port=minimal_port))
    await minimal.start_server()
    yield consumer, minimal
    await minimal.close()
    await gateway.close()


async def _search(client: Client, headers: dict[str, str] | None = None) -> dict[str, Any]:
    resp = await client.get(f"{SERVICE_ROOT_PATH}/Slot?{QUERY}", headers=headers)
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/fhir+json;charset=utf-8"
    found: dict[str, Any] = json.loads(await resp.read())
    return found


async def test_search_gives_the_gateways_entries_in_its_order(
    pair: tuple[Consumer, Client],
) -> None:
    """A slot search answers the gateway's very slots and included resources, in order."""
    consumer, minimal = pair
    expected = await _search(consumer.client, _read(consumer))
    found = await _search(minimal)
    assert found["type"] == "searchset" and found["total"] == expected["total"]
    assert _entries(found) == _entries(expected)


async def test_book_then_cancel_answers_as_the_benchmark_checks(
    pair: tuple[Consumer, Client],
) -> None:
    """Booking is 201 with ETag and Location, the cancel 200; the copy alone holds the booking."""
    consumer, minimal = pair
    slot = next(e["resource"] for e in (await _search(minimal))["entry"])
    booked = await minimal.post(
        f"{SERVICE_ROOT_PATH}/Appointment", data=json.dumps(booking_body(slot))
    )
    assert booked.status == 201
    assert booked.headers["ETag"] == 'W/"1"'
    appointment = json.loads(await booked.read())
    assert booked.headers["Location"].endswith(f"/Appointment/{appointment['id']}/_history/1")
    assert appointment["status"] == "booked"
    assert appointment["contained"][-1]["identifier"] == slot["identifier"]
    assert slot["id"] not in _ids(await _search(minimal))
    assert slot["id"] in _ids(await _search(consumer.client, _read(consumer)))  # its own diary
    appointment["status"] = "cancelled"
    cancelled = await minimal.put(
        f"{SERVICE_ROOT_PATH}/Appointment/{appointment['id']}",
        data=json.dumps(appointment),
        headers={"If-Match": booked.headers["ETag"]},
    )
    assert cancelled.status == 200
    assert json.loads(await cancelled.read())["status"] == "cancelled"
    assert slot["id"] in _ids(await _search(minimal))
