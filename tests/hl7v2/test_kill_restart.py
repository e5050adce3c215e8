"""Killing the PAS mid-booking and restarting it: no booking the gateway does not know about,
and none the consumer was told failed (issue: 'Done when', fourth point)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest_asyncio

from adapters.hl7v2.peer import Fault, FaultKind, PasPeer
from adapters.hl7v2.peer.diary import BOOKED
from gateway.examples import EXAMPLE_NHS_NUMBER as NHS_NUMBER
from gateway.examples import booking_body
from tests.hl7v2.gateway import PasConsumer, gateway_over

PATIENT_SEARCH = f"Appointment?patient:identifier=https://fhir.nhs.uk/Id/nhs-number|{NHS_NUMBER}"
OPTIONS = {
    "ack_timeout_s": 0.5,
    "time_budget_s": 2.5,
    "reconcile_interval_s": 0.2,
    "reconcile_after_s": 0,
}


@pytest_asyncio.fixture
async def pas(tmp_path: Path) -> AsyncIterator[list[PasPeer]]:
    """The running PAS peer (a list, so a test can replace it after a crash)."""
    peers = [await PasPeer.start(str(tmp_path / "pas.sqlite3"), horizon_days=2)]
    yield peers
    await peers[-1].close()


@pytest_asyncio.fixture
async def consumer(
    pas: list[PasPeer], tmp_path: Path, unused_tcp_port_factory: Callable[[], int]
) -> AsyncIterator[PasConsumer]:
    async with gateway_over(
        pas[0], tmp_path, unused_tcp_port_factory, timeout_s=4, **OPTIONS
    ) as gateway:
        yield gateway


async def _crash_once_booked(pas: list[PasPeer], tmp_path: Path) -> None:
    """Wait until the PAS has stored the booking, then kill it (nothing answered)."""
    peer = pas[0]
    for _ in range(100):
        if any(a.status == BOOKED for a in await peer.appointments()):
            break
        await asyncio.sleep(0.02)
    await peer.crash()


async def _restart(pas: list[PasPeer], tmp_path: Path) -> None:
    port = pas[0].port
    pas.append(await PasPeer.start(str(tmp_path / "pas.sqlite3"), port=port, horizon_days=2))


async def _listing(consumer: PasConsumer) -> list[dict[str, Any]]:
    body = await (await consumer.read(PATIENT_SEARCH)).json(content_type=None)
    return [e["resource"] for e in body.get("entry", [])]


async def test_pas_back_within_the_budget_books_and_the_gateway_knows(
    consumer: PasConsumer, pas: list[PasPeer], tmp_path: Path
) -> None:
    """Killed after storing, back 0.3 s later: the consumer gets 201 and both sides agree."""
    (slot,) = await consumer.free_slots()
    pas[0].inject(Fault(FaultKind.DROP_ACK, "SRM^S01"))
    booking = asyncio.create_task(consumer.book(booking_body(slot)))
    await _crash_once_booked(pas, tmp_path)
    await asyncio.sleep(0.3)
    await _restart(pas, tmp_path)
    resp = await asyncio.wait_for(booking, 10)
    assert resp.status == 201, await resp.text()
    appointment = await resp.json(content_type=None)
    live = [a for a in await pas[-1].appointments() if a.status == BOOKED]
    assert len(live) == 1 and live[0].start.isoformat() == appointment["start"].replace(
        ".000+00:00", "+00:00"
    )
    assert [a["id"] for a in await _listing(consumer)] == [appointment["id"]]


async def test_pas_back_too_late_the_consumer_is_told_and_the_booking_undone(
    consumer: PasConsumer, pas: list[PasPeer], tmp_path: Path
) -> None:
    """Back after the budget: 504 to the consumer, then the PAS booking is cancelled again."""
    (slot,) = await consumer.free_slots()
    pas[0].inject(Fault(FaultKind.DROP_ACK, "SRM^S01"))
    booking = asyncio.create_task(consumer.book(booking_body(slot)))
    await _crash_once_booked(pas, tmp_path)
    resp = await asyncio.wait_for(booking, 10)
    assert resp.status == 504, await resp.text()
    await _restart(pas, tmp_path)
    for _ in range(100):  # the reconciler runs every 0.2 s
        if not [a for a in await pas[-1].appointments() if a.status == BOOKED]:
            break
        await asyncio.sleep(0.05)
    assert [a.status for a in await pas[-1].appointments()] == ["Cancelled"]
    assert await _listing(consumer) == []
    assert slot["id"] in {s["id"] for s in await consumer.free_slots(50)}
