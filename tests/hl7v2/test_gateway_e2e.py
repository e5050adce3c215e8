"""The FHIR API through a real gateway into the reference PAS peer, and back by SIU."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest_asyncio

from adapters.hl7v2.peer.diary import BOOKED, CANCELLED
from adapters.hl7v2.peer.server import DeskPatient, PasPeer
from gateway.examples import EXAMPLE_NHS_NUMBER as NHS_NUMBER
from gateway.examples import booking_body
from tests.hl7v2.gateway import PasConsumer, gateway_over

PATIENT_SEARCH = f"Appointment?patient:identifier=https://fhir.nhs.uk/Id/nhs-number|{NHS_NUMBER}"


@pytest_asyncio.fixture
async def consumer(
    peer: PasPeer, tmp_path: Path, unused_tcp_port_factory: Callable[[], int]
) -> AsyncIterator[PasConsumer]:
    """A national consumer of a gateway whose only adapter is the PAS over HL7 v2."""
    async with gateway_over(peer, tmp_path, unused_tcp_port_factory) as gateway:
        yield gateway


async def _json(resp: Any) -> Any:
    return await resp.json(content_type=None)


def _cancelled(appointment: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(appointment)
    body["status"] = "cancelled"
    return body


async def _free_ids(consumer: PasConsumer) -> set[str]:
    """Ids of every slot the gateway offers as free right now."""
    bundle = await _json(await consumer.search())
    return {
        e["resource"]["id"]
        for e in bundle.get("entry", [])
        if e["resource"]["resourceType"] == "Slot"
    }


async def _wait_for(check: Callable[[], Any], wait_s: float = 5.0) -> None:
    """Poll an async check until it is true (bounded)."""
    for _ in range(int(wait_s / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def test_search_book_read_patient_search_cancel_reach_the_pas(
    consumer: PasConsumer, peer: PasPeer
) -> None:
    """Every FHIR interaction reaches the PAS, and the PAS stores what the consumer booked."""
    (slot,) = await consumer.free_slots()
    resp = await consumer.book(booking_body(slot))
    assert resp.status == 201, await resp.text()
    booked = await _json(resp)
    (held,) = await peer.appointments()
    assert held.status == BOOKED and held.source == "gateway"
    assert held.start == datetime.fromisoformat(slot["start"])
    assert NHS_NUMBER in held.pid and "Chalmers" in held.pid
    read = await _json(await consumer.read(f"Appointment/{booked['id']}"))
    assert read["status"] == "booked" and read["start"] == booked["start"]
    listing = await _json(await consumer.read(PATIENT_SEARCH))
    assert [e["resource"]["id"] for e in listing["entry"]] == [booked["id"]]
    assert slot["id"] not in await _free_ids(consumer)
    resp = await consumer.cancel(booked["id"], _cancelled(booked), **{"If-Match": 'W/"1"'})
    assert resp.status == 200, await resp.text()
    (held,) = await peer.appointments()
    assert held.status == CANCELLED
    assert slot["id"] in await _free_ids(consumer)


async def test_pas_desk_changes_become_new_versions_and_leave_the_search(
    consumer: PasConsumer, peer: PasPeer
) -> None:
    """SIU S13/S15 move and cancel a FHIR booking; an S12 desk booking shows and is not offered."""
    offered = await consumer.free_slots(10)
    first = offered[0]
    second = next(
        s for s in offered if s["schedule"] == first["schedule"] and s["start"] != first["start"]
    )
    booked = await _json(await consumer.book(booking_body(first)))
    (held,) = await peer.appointments()
    await peer.move_locally(held.filler_id, datetime.fromisoformat(second["start"]))
    await _wait_for(lambda: _version_is(consumer, booked["id"], "2"))
    moved = await _json(await consumer.read(f"Appointment/{booked['id']}"))
    assert moved["status"] == "booked" and moved["start"] == second["start"]
    await peer.cancel_locally(held.filler_id)
    await _wait_for(lambda: _version_is(consumer, booked["id"], "3"))
    cancelled = await _json(await consumer.read(f"Appointment/{booked['id']}"))
    assert cancelled["status"] == "cancelled"

    desk = DeskPatient(
        "Okonkwo",
        "Ada",
        "F",
        date(1980, 1, 2),
        nhs_number=NHS_NUMBER,
        mrn="M123",
        postcode="FB1 2CD",
    )
    assert second["id"] in await _free_ids(consumer)
    schedule = "UTCNP" if "nurse" in second["schedule"]["reference"] else "UTCGP"
    assert second["schedule"]["reference"] in ("Schedule/pas-utc-nurse", "Schedule/pas-utc-gp")
    await peer.book_locally(schedule, datetime.fromisoformat(second["start"]), desk)
    assert peer.desk.acks[-1].code == "AA"
    # search_patient_appointments.md: the cancelled appointment is no longer listed.
    await _wait_for(lambda: _appointments_of_patient(consumer, 1))
    listing = await _json(await consumer.read(PATIENT_SEARCH))
    desk_made = [e["resource"] for e in listing["entry"]]
    assert len(desk_made) == 1 and desk_made[0]["id"] != booked["id"]
    assert desk_made[0]["status"] == "booked"
    assert desk_made[0]["start"] == second["start"]
    assert second["id"] not in await _free_ids(consumer)


async def _appointments_of_patient(consumer: PasConsumer, count: int) -> bool:
    """The gateway records a change just after the PAS has its ACK: poll for it."""
    listing = await _json(await consumer.read(PATIENT_SEARCH))
    return len(listing.get("entry", [])) == count


async def _version_is(consumer: PasConsumer, appointment_id: str, version: str) -> bool:
    body = await _json(await consumer.read(f"Appointment/{appointment_id}"))
    return bool(body["meta"]["versionId"] == version)


async def test_twenty_concurrent_bookings_of_one_slot_book_it_once(
    consumer: PasConsumer, peer: PasPeer
) -> None:
    """20 simultaneous FHIR bookings of one PAS slot: one 201, nineteen 422, one PAS appointment."""
    (slot,) = await consumer.free_slots()
    responses = await asyncio.gather(*(consumer.book(booking_body(slot)) for _ in range(20)))
    statuses = sorted(r.status for r in responses)
    assert statuses == [201] + [422] * 19, statuses
    live = [a for a in await peer.appointments() if a.status == BOOKED]
    assert len(live) == 1
    assert live[0].start == datetime.fromisoformat(slot["start"])
