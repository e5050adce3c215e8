"""The SIU listener over real MLLP: ACK codes, reasons, resends and the gateway callback."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest

from adapters.contract import BookingChange
from adapters.domain import BookingStatus, SlotQuery
from adapters.hl7_toolkit.er7 import parse
from adapters.hl7_toolkit.header import read_ack
from adapters.hl7_toolkit.mllp_client import MllpClient
from adapters.hl7v2 import Hl7v2Adapter
from adapters.hl7v2.peer import DeskPatient, PasPeer
from tests.contract.builders import call_context
from tests.hl7v2.helpers import SAMPLES, UTC_SERVICE
from tests.samples import absent

PATIENT = DeskPatient(
    "Okonkwo", "Ada", "F", date(1980, 1, 2), nhs_number="9434765919", mrn="M1", postcode="FB1 2CD"
)


async def _send(adapter: Hl7v2Adapter, text: str) -> tuple[str, str, str]:
    assert adapter.listen_address is not None
    client = MllpClient(*adapter.listen_address)
    control = parse(text).control_id
    try:
        answer = read_ack(await client.exchange(text.encode(), control, 5.0))
    finally:
        await client.close()
    first = answer.errors[0] if answer.errors else None
    return answer.code, first.hl7_code if first else "", answer.answered


async def test_desk_booking_is_acked_then_reported_once_even_if_resent(
    hl7: Hl7v2Adapter, peer: PasPeer
) -> None:
    """An SIU^S12 is ACKed AA, reported to the listener once, and a resend changes nothing."""
    changes: list[BookingChange] = []

    async def listener(name: str, change: BookingChange) -> None:
        changes.append(change)

    hl7.subscribe(listener)
    slot = (await hl7.search_slots(SlotQuery(service_id=UTC_SERVICE), call_context())).slots[0]
    schedule = "UTCNP" if slot.schedule_id == "pas-utc-nurse" else "UTCGP"
    filler = await peer.book_locally(schedule, slot.start, PATIENT)
    assert [c.reason for c in changes] == ["SIU^S12"]
    booking = changes[0].booking
    assert booking.supplier_ref == filler and booking.slot.id == slot.id
    assert booking.patient.nhs_number == "9434765919" and booking.patient.gender.value == "female"
    assert await hl7.get(filler, call_context()) == booking
    resend = peer.desk.siu("S12", (await peer.appointments())[0])
    text = resend.to_er7()
    assert (await _send(hl7, text))[0] == "AA"
    assert (await _send(hl7, text))[0] == "AA"
    assert len(changes) == 2  # the new MSH-10 once; its resend not again
    await peer.cancel_locally(filler)
    assert changes[-1].booking.status is BookingStatus.CANCELLED


async def test_unmapped_codes_are_refused_with_ae_103(hl7: Hl7v2Adapter, peer: PasPeer) -> None:
    """An SIU naming a schedule with no mapping row is ACKed AE with ERR-3 103, not applied."""
    slot = (await hl7.search_slots(SlotQuery(service_id=UTC_SERVICE), call_context())).slots[0]
    schedule = "UTCNP" if slot.schedule_id == "pas-utc-nurse" else "UTCGP"
    peer.notify_to(None)
    filler = await peer.book_locally(schedule, slot.start, PATIENT)
    text = peer.desk.siu("S12", (await peer.appointments())[0]).to_er7()
    code, err, _ = await _send(hl7, text.replace(f"|{schedule}^^L|", "|NOSUCH^^L|"))
    assert (code, err) == ("AE", "103")
    control = parse(text).control_id
    s16 = text.replace("SIU^S12^SIU_S12", "SIU^S16^SIU_S12").replace(control, "OTHERCONTROLID")
    code, err, _ = await _send(hl7, s16)
    assert (code, err) == ("AR", "201")
    code, err, _ = await _send(hl7, text.replace(f"|{schedule}^^L|", "|NOSUCH^^L|"))
    assert (code, err) == ("AE", "103"), "a resend is evaluated again, and is still unmapped"
    with pytest.raises(Exception, match="no booking"):
        await hl7.get(filler, call_context())


@pytest.mark.skipif(not (SAMPLES / "SIU_12.hl7").is_file(), reason=absent(SAMPLES / "SIU_12.hl7"))
async def test_the_adt_sample_is_rejected_over_the_wire(hl7: Hl7v2Adapter) -> None:
    """SIU_12.hl7 (really ADT^A60) sent to the listener is answered AR, ERR-3 200."""
    text = (SAMPLES / "SIU_12.hl7").read_text(encoding="utf-8").replace("\n", "\r")
    code, err, answered = await _send(hl7, text)
    assert (code, err, answered) == ("AR", "200", "MSG00001")


async def test_the_listener_survives_garbage(hl7: Hl7v2Adapter, peer: PasPeer) -> None:
    """A frame that is not HL7 is dropped without an answer; the next message is served."""
    assert hl7.listen_address is not None
    _reader, writer = await asyncio.open_connection(*hl7.listen_address)
    writer.write(b"\x0bnot hl7 at all\x1c\x0d" + b"\x0b" + b"x" * 10)
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    slot = (await hl7.search_slots(SlotQuery(service_id=UTC_SERVICE), call_context())).slots[0]
    schedule = "UTCNP" if slot.schedule_id == "pas-utc-nurse" else "UTCGP"
    await peer.book_locally(schedule, slot.start, PATIENT)
    assert peer.desk.acks[-1].code == "AA"
