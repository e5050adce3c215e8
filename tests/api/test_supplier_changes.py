"""Changes made at the supplier's end become new versions of the gateway's appointments."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters import registry
from adapters.contract import BookingChange
from adapters.domain import Booking, BookingStatus, Slot, SlotStatus, utcnow
from gateway.http.exchange import RUNTIME
from tests.api.conftest import Gateway
from tests.api.faulty_supplier import SERVICE, FaultySupplier
from tests.contract.builders import sample_patient


@pytest.fixture
def faulty_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """Register the test supplier as adapter kind 'faulty'."""
    monkeypatch.setitem(registry.ADAPTERS, "faulty", "tests.api.faulty_supplier:create")


def _booking(status: BookingStatus, minutes: int = 60) -> Booking:
    """A booking as a supplier would report it."""
    start = utcnow().replace(microsecond=0) + timedelta(minutes=minutes)
    slot = Slot(
        id="s9",
        schedule_id="sc1",
        identifier="s9",
        status=SlotStatus.BUSY,
        start=start,
        end=start + timedelta(minutes=10),
    )
    return Booking(
        supplier_ref="PAS-42",
        status=status,
        slot=slot,
        service_id=SERVICE,
        start=slot.start,
        end=slot.end,
        description="booked at the desk",
        patient=sample_patient(),
        created=utcnow(),
    )


async def test_desk_booking_then_desk_cancel_are_versions(
    gateway: Gateway, faulty_registered: None
) -> None:
    """A booking made at the supplier appears in the patient index; its cancel is version 2."""
    consumer = await gateway(extra_adapters="faulty:ok")
    runtime = consumer.client.app[RUNTIME]  # type: ignore[index]
    supplier = runtime.current.adapters["faulty"]
    assert isinstance(supplier, FaultySupplier)
    booked = _booking(BookingStatus.BOOKED)
    await supplier.tell(BookingChange(booking=booked, reason="SIU^S12"))
    nhs = sample_patient().nhs_number
    listing = await consumer.read(
        f"Appointment?patient:identifier=https://fhir.nhs.uk/Id/nhs-number|{nhs}"
    )
    entries = (await listing.json(content_type=None))["entry"]
    assert len(entries) == 1 and entries[0]["resource"]["status"] == "booked"
    appointment_id = entries[0]["resource"]["id"]
    await supplier.tell(BookingChange(booking=booked, reason="SIU^S14 (no change)"))
    cancelled = booked.model_copy(update={"status": BookingStatus.CANCELLED})
    await supplier.tell(BookingChange(booking=cancelled, reason="SIU^S15"))
    current = await (await consumer.read(f"Appointment/{appointment_id}")).json(content_type=None)
    assert current["status"] == "cancelled" and current["meta"]["versionId"] == "2"
    first = await (await consumer.read(f"Appointment/{appointment_id}/_history/1")).json(
        content_type=None
    )
    assert first["status"] == "booked"
