"""SQM/SRM from a legacy consumer through the booking service into the embedded diary."""

from __future__ import annotations

from adapters.domain import BookingStatus
from adapters.hl7_toolkit import scheduling
from tests.hl7_front_door.conftest import SERVICE_ID, Door
from tests.hl7_front_door.legacy import NHS_NUMBER, ZONE, ack_of, appointment


async def test_search_answers_sqr_with_one_sch_group_per_open_slot(door: Door) -> None:
    """SQM^S25 for a consumer service code is answered SQR^S25 AA, QAK OK, Open slots."""
    answer = await door.legacy.search()
    assert answer.message_type[:2] == ("SQR", "S25")
    assert ack_of(answer).code == "AA"
    qak = answer.first("QAK")
    assert qak is not None and qak.get(1) == "Q1" and qak.get(2) == "OK"
    slots = [scheduling.read_group(g, ZONE) for g in scheduling.groups(answer)]
    assert slots and all(s.status == "Open" and s.end > s.start for s in slots)
    assert {s.appointment_type for s in slots} == {"UTC-DEMO"}  # AIS-3: the service code
    msh = answer.msh
    assert (msh.get(3), msh.get(5), msh.get(6)) == ("UEC-GATEWAY", "CAS-APP", "CAS-NORTH")


async def test_national_service_id_is_accepted_as_the_service_code(door: Door) -> None:
    """QRF-1 may carry the national (DoS) service id itself instead of a local code."""
    answer = await door.legacy.search(SERVICE_ID)
    assert ack_of(answer).code == "AA" and scheduling.groups(answer)


async def test_book_then_cancel_round_trip(door: Door) -> None:
    """SRM^S01 books (SRR^S01 with SCH-2 the appointment id); SRM^S04 cancels it."""
    (offer,) = await door.legacy.offers()
    booked = await door.legacy.book(offer)
    assert booked.message_type[:2] == ("SRR", "S01") and ack_of(booked).code == "AA"
    group = appointment(booked)
    assert group.status == "Booked" and (group.start, group.end) == (offer.start, offer.end)
    stored = await door.service.read(group.filler_id)
    assert stored.booking.status is BookingStatus.BOOKED
    assert stored.booking.patient.nhs_number == NHS_NUMBER
    assert stored.booking.patient.name.family == "Smith"
    assert stored.booked_by == "A1001"
    assert group.pid is not None and group.pid.get(3, 1) == NHS_NUMBER

    cancelled = await door.legacy.cancel(group.filler_id)
    assert cancelled.message_type[:2] == ("SRR", "S04") and ack_of(cancelled).code == "AA"
    assert appointment(cancelled).status == "Cancelled"
    assert (await door.service.read(group.filler_id)).booking.status is BookingStatus.CANCELLED
    again = await door.legacy.offers(50)
    assert offer in again, "a cancelled slot is offered again"


async def test_duplicate_msh10_books_once_and_repeats_the_original_srr(door: Door) -> None:
    """A resent SRM^S01 (same MSH-10) answers the first SRR again; one appointment exists."""
    (offer,) = await door.legacy.offers()
    message = door.legacy.booking(offer)
    first = await door.legacy.send(message)
    second = await door.legacy.send(message)
    assert ack_of(first).code == ack_of(second).code == "AA"
    assert appointment(first).filler_id == appointment(second).filler_id
    assert "duplicate MSH-10" in ack_of(second).text
    held = await door.service.patient_appointments(NHS_NUMBER)
    assert len(held) == 1


async def test_resent_cancel_repeats_its_outcome(door: Door) -> None:
    """A resent SRM^S04 answers the cancellation already made, not an error."""
    (offer,) = await door.legacy.offers()
    booked = appointment(await door.legacy.book(offer))
    control = door.legacy.control_id()
    first = await door.legacy.cancel(booked.filler_id, control)
    second = await door.legacy.cancel(booked.filler_id, control)
    assert ack_of(first).code == ack_of(second).code == "AA"
    assert appointment(second).status == "Cancelled"
    versions = await door.service.store.versions(booked.filler_id)
    assert [v.version for v in versions] == [1, 2]


async def test_same_msh10_from_another_sending_application_is_not_a_duplicate(
    door: Door,
) -> None:
    """Ledger scope is MSH-3^MSH-4: another application's MSH-10 is its own."""
    first, second = await door.legacy.offers(2)
    control = door.legacy.control_id()
    assert ack_of(await door.legacy.book(first, control_id=control)).code == "AA"
    door.legacy.header = door.legacy.header.__class__(
        "CAS-OTHER", "CAS-NORTH", "UEC-GATEWAY", "GATEWAY", zone=ZONE
    )
    answer = await door.legacy.book(second, control_id=control)
    assert ack_of(answer).code == "AA"
    assert len(await door.service.patient_appointments(NHS_NUMBER)) == 2


async def test_booking_without_ais_is_routed_by_the_searched_schedule(door: Door) -> None:
    """An SRM in the PAS dialect (no AIS-3) books at the service whose schedule it names."""
    (offer,) = await door.legacy.offers()
    answer = await door.legacy.book(offer, service=None)
    assert ack_of(answer).code == "AA"
    stored = await door.service.read(appointment(answer).filler_id)
    assert stored.booking.service_id == SERVICE_ID


async def test_reused_msh10_with_other_content_repeats_the_outcome_with_a_warning(
    door: Door,
) -> None:
    """The same MSH-10 for a different slot books nothing new: original SRR plus ERR 205 W."""
    first, second = await door.legacy.offers(2)
    control = door.legacy.control_id()
    original = appointment(await door.legacy.book(first, control_id=control))
    answer = await door.legacy.book(second, control_id=control)
    assert appointment(answer).filler_id == original.filler_id
    warning = ack_of(answer).errors
    assert [(e.hl7_code, e.application_code) for e in warning] == [("205", "DUPLICATE_REJECTED")]
    assert len(await door.service.patient_appointments(NHS_NUMBER)) == 1
