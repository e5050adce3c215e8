"""Rebooking (S03), booking-only services, reporting and log hygiene at the HL7 door."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from structlog.testing import capture_logs

from adapters.domain import BookingStatus
from adapters.hl7_toolkit import scheduling
from gateway.cli import main
from tests.hl7_front_door.conftest import FAULTY_SERVICE, SERVICE_ID, Door, Start, faulty
from tests.hl7_front_door.legacy import NHS_NUMBER, Offer, ack_of, appointment


def far_future() -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)


async def test_reschedule_books_the_new_slot_then_cancels_the_old(door: Door) -> None:
    """SRM^S03 answers SRR AA for the new appointment and says the old one was cancelled."""
    first, second = await door.legacy.offers(2)
    old = appointment(await door.legacy.book(first))
    moved = door.legacy.booking(second, trigger="S03", appointment_id=old.filler_id, service=None)
    answer = await door.legacy.send(moved)
    ack = ack_of(answer)
    new = appointment(answer)
    assert ack.code == "AA" and new.filler_id != old.filler_id
    assert (new.start, new.status) == (second.start, "Booked")
    assert old.filler_id in ack.text and "cancelled" in ack.text
    assert any(e.application_code == "ORIGINAL_CANCELLED" for e in ack.errors)
    assert (await door.service.read(old.filler_id)).booking.status is BookingStatus.CANCELLED
    assert (await door.service.read(new.filler_id)).booking.status is BookingStatus.BOOKED
    again = await door.legacy.send(moved)
    assert appointment(again).filler_id == new.filler_id, "a resent S03 changes nothing"
    assert len(await door.service.patient_appointments(NHS_NUMBER)) == 2  # one each state


async def test_reschedule_reports_a_failed_cancel_beside_the_new_booking(door: Door) -> None:
    """If the old appointment cannot be cancelled, the answer is AE with the new booking."""
    first, second = await door.legacy.offers(2)
    old = appointment(await door.legacy.book(first))
    assert ack_of(await door.legacy.cancel(old.filler_id)).code == "AA"
    moved = door.legacy.booking(second, trigger="S03", appointment_id=old.filler_id)
    answer = await door.legacy.send(moved)
    ack = ack_of(answer)
    assert ack.code == "AE" and "NOT cancelled" in ack.text
    assert appointment(answer).status == "Booked"
    assert ack.errors[0].application_code == "INVALID_RESOURCE"


async def test_booking_only_service_is_reported_when_no_booking_was_made(
    start_door: Start, faulty_registered: None
) -> None:
    """dos_bookingonly.md: a failed booking at a requirebooking service says: no referral."""
    door = await start_door(**faulty("down", booking_only=True))
    answer = await door.legacy.search(FAULTY_SERVICE)
    ack = ack_of(answer)
    assert ack.code == "AE"
    notice = [e for e in ack.errors if e.application_code == "REQUIREBOOKING"]
    assert notice and "referral must not be sent" in notice[0].text
    err = answer.all("ERR")[-1]
    assert err.get(4) == "W"
    offer = Offer("sc1", far_future(), far_future() + timedelta(minutes=10))
    booked = ack_of(await door.legacy.book(offer, service=FAULTY_SERVICE))
    assert booked.code == "AE"
    assert "REQUIREBOOKING" in [e.application_code for e in booked.errors]


async def test_no_slots_at_a_booking_only_service_is_reported(start_door: Start) -> None:
    """An SQR with no slots (QAK NF) for a booking-only service carries the warning."""
    flag = '  - id: "918999198888"\n    adapter: diary\n    booking_only: true\n'
    door = await start_door(services=flag)
    far = datetime.now(UTC) + timedelta(days=300)
    answer = await door.legacy.search("UTC-PHONE", far, far + timedelta(days=1))
    qak = answer.first("QAK")
    assert ack_of(answer).code == "AA" and qak is not None and qak.get(2) == "NF"
    assert [e.application_code for e in ack_of(answer).errors] == ["REQUIREBOOKING"]
    ordinary = await door.legacy.search("UTC-DEMO", far, far + timedelta(days=1))
    assert not ack_of(ordinary).errors, "a service without the flag gets no warning"


async def test_report_counts_hl7_traffic(door: Door, capsys: pytest.CaptureFixture[str]) -> None:
    """Searches, bookings, a slot-taken failure and a cancel through HL7 are in the report."""
    far = datetime.now(UTC) + timedelta(days=300)
    await door.legacy.search("UTC-DEMO", far, far + timedelta(days=1))
    first, second = await door.legacy.offers(2)
    booked = appointment(await door.legacy.book(first))
    assert ack_of(await door.legacy.book(first)).code == "AE"
    assert ack_of(await door.legacy.book(second)).code == "AA"
    assert ack_of(await door.legacy.cancel(booked.filler_id)).code == "AA"
    await door.flush_audit()
    entries = await door.service.store.audit_entries()
    assert entries and {e.front_door for e in entries} == {"hl7v2"}
    assert {e.organisation_ods for e in entries} == {"A1001"}

    today = datetime.now(UTC).strftime("%Y-%m-%d")
    capsys.readouterr()
    argv = ["report", "--config", str(door.config), "--from", today, "--to", today, "--json"]
    assert await asyncio.to_thread(main, argv) == 0
    metrics = json.loads(capsys.readouterr().out)["metrics"]
    assert metrics["rep-cons-01"] == {SERVICE_ID: 2}
    assert metrics["rep-cons-02"] == {SERVICE_ID: 1}
    assert metrics["rep-cons-04"] == {SERVICE_ID: 1}
    assert metrics["rep-cons-06"] == {"SLOT_NOT_FREE": 1}
    assert metrics["rep-cons-09"] == {SERVICE_ID: 1}
    assert metrics["rep-prov-03"][SERVICE_ID] > 0


async def test_logs_carry_no_patient_data(door: Door) -> None:
    """A whole booking and a refused one leave no NHS number, name or payload in the logs."""
    with capture_logs() as logs:
        (offer,) = await door.legacy.offers()
        answer = await door.legacy.book(offer)
        await door.legacy.book(offer)
    assert scheduling.groups(answer)
    text = json.dumps(logs, default=str)
    for secret in (NHS_NUMBER, "Smith", "Jane", "LS1 1AA", "07700900123", "PID|"):
        assert secret not in text
    assert any(e["event"] == "hl7_message_handled" for e in logs)
