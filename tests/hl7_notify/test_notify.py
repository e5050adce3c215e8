"""Supplier-side changes of a booking made at the HL7 v2 door reach the consumer by SIU.

Issue 12 item 4 (BaRS core End-to-end-workflow/Asynchronous-Workflow: updates from the
receiver are passed to the legacy consumer where its door can carry it). The booking is
made over the door into the reference PAS peer; the PAS desk changes it (SIU to the
gateway's adapter); the consumer's own MLLP listener on 127.0.0.1 gets SIU^S13/S14/S15/S26.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from structlog.testing import capture_logs

from adapters.domain import BookingStatus
from adapters.hl7_toolkit import scheduling
from adapters.hl7_toolkit.gate import structure_problem
from gateway.hl7.notice import control_id
from tests.hl7_front_door.legacy import NHS_NUMBER, ZONE, ack_of, appointment
from tests.hl7_notify.conftest import SERVICE_CODE, Rig, wait_for


@dataclass(frozen=True)
class Made:
    appointment_id: str
    placer_id: str
    supplier_ref: str


async def _book(rig: Rig, facility: str = "CAS-NORTH", nth: int = 0) -> Made:
    legacy = rig.legacy(facility)
    offers = await legacy.offers(nth + 1, service=SERVICE_CODE)
    answer = await legacy.book(offers[nth], service=SERVICE_CODE)
    assert ack_of(answer).code == "AA", answer.to_er7()
    sch = appointment(answer)
    version = await rig.service.read(sch.filler_id)
    return Made(sch.filler_id, sch.placer_id, version.booking.supplier_ref)


async def _states(rig: Rig, made: Made) -> list[str]:
    return [n.state for n in await rig.notices(made.appointment_id)]


async def _settled(rig: Rig, made: Made, count: int) -> list[str]:
    async def done() -> bool:
        states = await _states(rig, made)
        return len(states) == count and "pending" not in states

    await wait_for(done)
    return await _states(rig, made)


async def test_each_supplier_change_reaches_the_consumer_as_the_right_siu(rig: Rig) -> None:
    """Moved, then cancelled at the PAS: S13 then S15 with the SRR's ids, answered AA."""
    await rig.consumer.start()
    made = await _book(rig)
    later = (await rig.legacy().offers(3, service=SERVICE_CODE))[2]
    await rig.peer.move_locally(made.supplier_ref, later.start)
    await wait_for(lambda: _count(rig, 1))
    await rig.peer.cancel_locally(made.supplier_ref)
    assert await _settled(rig, made, 2) == ["delivered"] * 2
    messages = rig.consumer.messages()
    assert [m.message_type[:2] for m in messages] == [("SIU", "S13"), ("SIU", "S15")]
    for version, message in enumerate(messages, start=2):
        msh = message.first("MSH")
        sch = message.first("SCH")
        pid = message.first("PID")
        assert msh is not None and sch is not None and pid is not None
        assert (msh.get(5), msh.get(6)) == ("CAS-APP", "CAS-NORTH")
        assert message.control_id == control_id(made.appointment_id, version)
        assert (sch.get(1, 1), sch.get(2, 1)) == (made.placer_id, made.appointment_id)
        assert pid.get(3, 1) == NHS_NUMBER
        assert not structure_problem(message.to_er7())
    moved = scheduling.read_group(scheduling.groups(messages[0])[0], ZONE)
    assert (moved.start, moved.status) == (later.start, "Booked")
    cancelled = scheduling.read_group(scheduling.groups(messages[1])[0], ZONE)
    assert cancelled.status == "Cancelled"


async def _count(rig: Rig, n: int) -> bool:
    return len(rig.consumer.received) >= n


async def test_a_no_show_at_the_pas_is_siu_s26_and_a_noshow_version(rig: Rig) -> None:
    """SIU^S26 from the PAS makes a noshow version and an SIU^S26 to the consumer."""
    await rig.consumer.start()
    made = await _book(rig)
    await rig.peer.no_show_locally(made.supplier_ref)
    assert await _settled(rig, made, 1) == ["delivered"]
    (message,) = rig.consumer.messages()
    assert message.message_type[:2] == ("SIU", "S26")
    sch = message.first("SCH")
    assert sch is not None and sch.get(25, 1) == "Noshow"
    assert (await rig.service.read(made.appointment_id)).booking.status is BookingStatus.NOSHOW


async def test_a_consumer_that_is_down_gets_the_notice_once_it_comes_up(rig: Rig) -> None:
    """Retried with backoff while the consumer is down; delivered once, when it listens."""
    made = await _book(rig)
    await rig.peer.cancel_locally(made.supplier_ref)

    async def tried_twice() -> bool:
        found = await rig.notices(made.appointment_id)
        return bool(found) and found[0].attempts >= 2 and found[0].state == "pending"

    await wait_for(tried_twice)
    await rig.consumer.start()
    assert await _settled(rig, made, 1) == ["delivered"]
    await asyncio.sleep(0.5)
    assert len(rig.consumer.received) == 1


async def test_a_notice_pending_at_shutdown_is_delivered_after_a_restart(rig: Rig) -> None:
    """The outbox is durable: a gateway stopped with the notice pending sends it on restart."""
    made = await _book(rig)
    await rig.peer.cancel_locally(made.supplier_ref)
    await wait_for(lambda: _attempted(rig, made))
    await rig.stop_gateway()
    await rig.consumer.start()
    await rig.start_gateway()
    assert await _settled(rig, made, 1) == ["delivered"]
    (message,) = rig.consumer.messages()
    assert message.control_id == control_id(made.appointment_id, 2)


async def _attempted(rig: Rig, made: Made) -> bool:
    found = await rig.notices(made.appointment_id)
    return bool(found) and found[0].attempts >= 1


async def test_ae_is_retried_with_the_same_message_until_accepted(rig: Rig) -> None:
    """AE, AE, then AA: three sends of byte-identical SIU (same MSH-10), then delivered."""
    rig.consumer.answers = ["AE", "AE", "AA"]
    await rig.consumer.start()
    made = await _book(rig)
    await rig.peer.cancel_locally(made.supplier_ref)
    assert await _settled(rig, made, 1) == ["delivered"]
    assert len(rig.consumer.received) == 3
    assert len(set(rig.consumer.received)) == 1


async def test_ar_is_logged_and_dropped_without_a_resend(rig: Rig) -> None:
    """AR: the notice is refused as sent, logged once and never sent again."""
    rig.consumer.answers = ["AR"]
    await rig.consumer.start()
    made = await _book(rig)
    with capture_logs() as logs:
        await rig.peer.cancel_locally(made.supplier_ref)
        assert await _settled(rig, made, 1) == ["refused"]
        await asyncio.sleep(0.6)
    assert len(rig.consumer.received) == 1
    assert [e["event"] for e in logs].count("hl7_notice_refused") == 1


async def test_a_consumer_without_an_endpoint_gets_nothing_and_its_next_read_shows_it(
    rig: Rig,
) -> None:
    """No notify endpoint: nothing is sent, the entry is held and the next read has the change."""
    await rig.consumer.start()
    made = await _book(rig, facility="CAS-SOUTH")
    await rig.peer.cancel_locally(made.supplier_ref)
    assert await _settled(rig, made, 1) == ["held"]
    assert rig.consumer.received == []
    current = await rig.service.read(made.appointment_id)
    assert current.version == 2 and current.booking.status is BookingStatus.CANCELLED


async def test_the_consumers_own_cancel_is_not_echoed_back(rig: Rig) -> None:
    """Only supplier-side changes are told: the consumer's own SRM^S04 makes no notice."""
    await rig.consumer.start()
    made = await _book(rig)
    answer = await rig.legacy().cancel(made.appointment_id)
    assert ack_of(answer).code == "AA", answer.to_er7()
    await asyncio.sleep(0.5)
    assert await rig.notices(made.appointment_id) == []
    assert rig.consumer.received == []


async def test_no_patient_data_in_the_notice_logs(rig: Rig) -> None:
    """The outbox worker's log lines hold ids and codes, never the patient's NHS number."""
    await rig.consumer.start()
    made = await _book(rig)
    with capture_logs() as logs:
        await rig.peer.cancel_locally(made.supplier_ref)
        await _settled(rig, made, 1)
    assert any(e["event"] == "hl7_notice_delivered" for e in logs)
    assert NHS_NUMBER not in repr(logs)
