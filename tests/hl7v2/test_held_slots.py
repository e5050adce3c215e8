"""A slot the gateway knows is booked (SIU^S12 from the PAS) is never offered free again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest_asyncio

from adapters.domain import utcnow
from adapters.hl7v2.peer.diary import BOOKED, CANCELLED, Appointment
from adapters.hl7v2.peer.server import DeskPatient, PasPeer
from tests.hl7v2.gateway import PasConsumer, gateway_over

NHS_NUMBER = "9434765919"
PATIENT = DeskPatient("Okonkwo", "Ada", "F", date(1980, 1, 2), nhs_number=NHS_NUMBER)
PATIENT_SEARCH = f"Appointment?patient:identifier=https://fhir.nhs.uk/Id/nhs-number|{NHS_NUMBER}"


@pytest_asyncio.fixture
async def consumer(
    peer: PasPeer, tmp_path: Path, unused_tcp_port_factory: Callable[[], int]
) -> AsyncIterator[PasConsumer]:
    """A national consumer of a gateway whose only adapter is the PAS over HL7 v2."""
    async with gateway_over(peer, tmp_path, unused_tcp_port_factory) as gateway:
        yield gateway


async def _slots(consumer: PasConsumer, status: str = "free") -> dict[str, dict[str, Any]]:
    """Slot id -> Slot of every slot offered from an hour from now, by status."""
    after = quote((utcnow() + timedelta(hours=1)).isoformat(timespec="seconds"))
    resp = await consumer.search(f"&status={status}&start=ge{after}")
    assert resp.status == 200, await resp.text()
    bundle: dict[str, Any] = await resp.json(content_type=None)
    return {
        e["resource"]["id"]: e["resource"]
        for e in bundle.get("entry", [])
        if e["resource"]["resourceType"] == "Slot"
    }


async def _tell(peer: PasPeer, trigger: str, item: Appointment) -> None:
    """The PAS sends ``trigger`` for ``item`` to the gateway's listener (real MLLP)."""
    peer.desk.outbox.append(peer.desk.siu(trigger, item))
    assert await peer.desk.flush() == 1 and peer.desk.acks[-1].code == "AA"


async def _recorded(consumer: PasConsumer, *statuses: str) -> None:
    """Wait until the patient's current appointments are exactly ``statuses`` (none: empty)."""
    for _ in range(100):
        listing = await (await consumer.read(PATIENT_SEARCH)).json(content_type=None)
        if [e["resource"]["status"] for e in listing.get("entry", [])] == list(statuses):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the patient search never showed {statuses}")


async def test_a_slot_booked_by_siu_is_not_offered_even_if_the_pas_lists_it_open(
    consumer: PasConsumer, peer: PasPeer
) -> None:
    """After SIU^S12 for a slot the PAS still lists as open, search shows it busy, not free."""
    slot = next(iter((await _slots(consumer)).values()))
    schedule = "UTCNP" if slot["schedule"]["reference"] == "Schedule/pas-utc-nurse" else "UTCGP"
    start = datetime.fromisoformat(slot["start"])
    # Booked in another PAS module: its slot list (the peer's diary) does not know yet.
    item = Appointment(
        "ELSEWHERE-1",
        "",
        schedule,
        start,
        datetime.fromisoformat(slot["end"]),
        BOOKED,
        PATIENT.pid_text(),
        "booked at another desk",
        "desk",
    )
    await _tell(peer, "S12", item)
    await _recorded(consumer, "booked")
    assert slot["id"] not in await _slots(consumer)
    assert (await _slots(consumer, "free,busy"))[slot["id"]]["status"] == "busy"
    await _tell(peer, "S15", replace(item, status=CANCELLED))
    await _recorded(consumer)  # a cancelled appointment leaves the current-appointments search
    assert slot["id"] in await _slots(consumer)
