"""Booking rules across borders at the HL7 v2 front door, over MLLP (mappings/policy/demo).

The consumer's organisation is the ODS code its sending facility (MSH-4) is configured
with: CAS-NORTH is A1001 (north east, the demo services' region), CAS-WEST B2001
(south west) and CAS-LONDON C3001 (London, named at the telephone service).
The out-of-area reason travels in ARQ-7.1; every slot is chosen from a live SQM search.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from adapters.domain import BookingStatus
from adapters.hl7_toolkit import scheduling
from adapters.hl7_toolkit.er7 import Message
from gateway.store import AuditEntry
from tests.hl7_front_door.conftest import Door, Start
from tests.hl7_front_door.legacy import ZONE, Legacy, Offer, ack_of, appointment
from tests.policy.files import CENTRE, LONDON_CAS, OUT_OF_AREA, PHONE, REASON, policy_folder

PHONE_CODE = "UTC-PHONE"  # services.csv of the demo front door tables
CONSUMERS = f"""    - sending_facility: CAS-WEST
      ods_code: {OUT_OF_AREA}
      name: West CAS
    - sending_facility: CAS-LONDON
      ods_code: {LONDON_CAS}
      name: London CAS
"""
Facility = Callable[[str], Legacy]


@pytest.fixture
async def started(start_door: Start, tmp_path: Path) -> Door:
    """The front door with the demo policy, both demo services and three facilities."""
    services = f'  - id: "{PHONE}"\n    adapter: diary\n'
    return await start_door(services=services, consumers=CONSUMERS, policy=policy_folder(tmp_path))


@pytest.fixture
async def facility(started: Door) -> AsyncIterator[Facility]:
    """Legacy systems sending as other facilities to the same listener; closed at the end."""
    opened: list[Legacy] = []

    def connect(name: str) -> Legacy:
        host, port = started.hl7_address
        opened.append(Legacy(host, port, facility=name))
        return opened[-1]

    yield connect
    for legacy in opened:
        await legacy.close()


def _err(answer: Message) -> tuple[str, str, str]:
    """MSA-1, ERR-3.1 and ERR-8 of an answer."""
    ack = ack_of(answer)
    err = answer.first("ERR")
    assert err is not None, answer.to_er7()
    return ack.code, err.get(3, 1), err.get(8)


async def _offered(legacy: Legacy, service: str = "UTC-DEMO") -> list[Offer]:
    """The first 50 free slots an SQM offers this facility from now (AA with none: not one)."""
    answer = await legacy.search(service)
    assert ack_of(answer).code == "AA", answer.to_er7()
    return [
        Offer(b.schedule, b.start, b.end)
        for b in (scheduling.read_group(g, ZONE) for g in scheduling.groups(answer))
    ]


async def _audited(door: Door, ods: str) -> list[AuditEntry]:
    """The facility's booking audit rows the policy decided, oldest first."""
    await door.flush_audit()
    entries = await door.service.store.audit_entries(100)
    found = [e for e in entries if e.organisation_ods == ods and e.policy_rule is not None]
    return sorted(found, key=lambda e: e.at)


async def test_an_out_of_area_facility_without_a_reason_is_ae_and_books_nothing(
    started: Door, facility: Facility
) -> None:
    """SRM^S01 from out of area without ARQ-7: AE 207, ERR-8 naming the rule; slot still free."""
    west = facility("CAS-WEST")
    (offer,) = await west.offers()
    code, hl7, text = _err(await west.book(offer))
    assert (code, hl7) == ("AE", "207")
    assert "'out_of_area.reason'" in text and CENTRE in text and REASON in text
    code, hl7, text = _err(await west.book(offer, reason="fancied-a-trip"))
    assert (code, hl7) == ("AE", "207") and "'fancied-a-trip'" in text
    assert offer in await _offered(west), "the slot is still free for the facility"
    assert offer in await _offered(started.legacy), "and for the north east"
    rows = await _audited(started, OUT_OF_AREA)
    assert [r.policy_rule for r in rows] == ["out_of_area.reason"] * 2
    assert all(r.front_door == "hl7v2" and r.appointment_id is None for r in rows)


async def test_an_accepted_reason_in_arq7_books_and_is_audited_cross_border(
    started: Door, facility: Facility
) -> None:
    """ARQ-7.1 an accepted code: AA, booked, the audit row cross-border with the reason."""
    west = facility("CAS-WEST")
    (offer,) = await west.offers()
    answer = await west.book(offer, reason=REASON)
    assert ack_of(answer).code == "AA", answer.to_er7()
    booked = appointment(answer)
    assert booked.status == "Booked" and (booked.start, booked.end) == (offer.start, offer.end)
    assert offer not in await _offered(west), "the diary no longer offers it"
    (row,) = await _audited(started, OUT_OF_AREA)
    assert row.front_door == "hl7v2" and row.appointment_id == booked.filler_id
    assert row.cross_border is True and row.border_reason == REASON
    assert (row.consumer_region, row.provider_region) == ("south-west", "north-east")
    assert row.policy_rule == "book:any" and row.commissioner == "QOX"


async def test_only_the_groups_named_book_at_the_telephone_service(
    started: Door, facility: Facility
) -> None:
    """918999198888 books in-area and ods:C3001: CAS-WEST is offered nothing and gets AE."""
    west, london = facility("CAS-WEST"), facility("CAS-LONDON")
    assert await _offered(west, PHONE_CODE) == [], "no slot is offered to a facility not allowed"
    (offer,) = await started.legacy.offers(service=PHONE_CODE)
    code, hl7, text = _err(await west.book(offer, service=PHONE_CODE))
    assert (code, hl7) == ("AE", "207")
    assert "'book'" in text and PHONE in text and OUT_OF_AREA in text
    assert offer in await _offered(london, PHONE_CODE), "the refused slot is still free"
    answer = await london.book(offer, service=PHONE_CODE)
    assert ack_of(answer).code == "AA", answer.to_er7()
    (row,) = await _audited(started, LONDON_CAS)
    assert row.appointment_id == appointment(answer).filler_id
    assert row.policy_rule == f"book:ods:{LONDON_CAS}" and row.cross_border is True
    assert (row.consumer_region, row.commissioner) == ("london", "QMJ")
    assert row.border_reason is None, "this service asks no out-of-area reason"


async def test_another_region_cannot_cancel_a_booking_it_did_not_make(
    started: Door, facility: Facility
) -> None:
    """SRM^S04 from CAS-WEST for CAS-NORTH's booking: AE 207 naming 'cancel'; it stays booked."""
    west = facility("CAS-WEST")
    (offer,) = await started.legacy.offers()
    booked = appointment(await started.legacy.book(offer))
    code, hl7, text = _err(await west.cancel(booked.filler_id))
    assert (code, hl7) == ("AE", "207") and "'cancel'" in text and OUT_OF_AREA in text
    stored = await started.service.read(booked.filler_id)
    assert stored.booking.status is BookingStatus.BOOKED
    assert offer not in await _offered(started.legacy), "the slot is still taken"
    cancelled = await started.legacy.cancel(booked.filler_id)
    assert ack_of(cancelled).code == "AA", "the facility that booked may cancel"


async def test_a_rebook_moves_an_out_of_area_booking_without_asking_the_reason_again(
    started: Door, facility: Facility
) -> None:
    """SRM^S03 of CAS-WEST's own booking without ARQ-7: AA, the reason was given at booking."""
    west = facility("CAS-WEST")
    first, second = await west.offers(2)
    old = appointment(await west.book(first, reason=REASON))
    moved = west.booking(second, trigger="S03", appointment_id=old.filler_id, service=None)
    answer = await west.send(moved)
    assert ack_of(answer).code == "AA", answer.to_er7()
    new = appointment(answer)
    assert (await started.service.read(new.filler_id)).booking.status is BookingStatus.BOOKED
    assert (await started.service.read(old.filler_id)).booking.status is BookingStatus.CANCELLED


async def test_a_rebook_of_another_regions_booking_is_ae_before_anything_is_booked(
    started: Door, facility: Facility
) -> None:
    """SRM^S03 by CAS-WEST of CAS-NORTH's booking: AE naming 'cancel'; the new slot stays free."""
    west = facility("CAS-WEST")
    first, second = await started.legacy.offers(2)
    old = appointment(await started.legacy.book(first))
    moved = west.booking(
        second, trigger="S03", appointment_id=old.filler_id, service=None, reason=REASON
    )
    code, hl7, text = _err(await west.send(moved))
    assert (code, hl7) == ("AE", "207") and "'cancel'" in text
    assert second in await _offered(started.legacy), "the new slot was not booked"
    assert (await started.service.read(old.filler_id)).booking.status is BookingStatus.BOOKED
