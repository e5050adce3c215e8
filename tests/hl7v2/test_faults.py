"""Every fault of the PAS peer, through real sockets: down, slow, NAK, dropped/garbled/late ACK.

The adapter under test answers within ack_timeout_s=1 and time_budget_s=3
(tests/hl7v2/helpers.py), so each test is bounded to a few seconds.
"""

from __future__ import annotations

import time

import pytest
from structlog.testing import capture_logs

from adapters import errors
from adapters.domain import BookingStatus, Slot, SlotQuery
from adapters.hl7v2 import Hl7v2Adapter
from adapters.hl7v2._journal import COMPENSATED, CONFIRMED, UNKNOWN
from adapters.hl7v2.peer import Fault, FaultKind, PasPeer
from adapters.hl7v2.peer.diary import BOOKED, CANCELLED
from tests.contract.builders import booking_request, call_context
from tests.hl7v2.helpers import PHONE_SERVICE, UTC_SERVICE


async def _slot(adapter: Hl7v2Adapter, index: int = 0) -> Slot:
    result = await adapter.search_slots(SlotQuery(service_id=UTC_SERVICE), call_context())
    return result.slots[index]


async def _live(peer: PasPeer) -> list[str]:
    return [a.filler_id for a in await peer.appointments() if a.status == BOOKED]


async def test_pas_down_is_unavailable_and_the_adapter_reconnects(
    hl7: Hl7v2Adapter, peer: PasPeer
) -> None:
    """Refused connections are SupplierUnavailable (500 at the FHIR door); once back, calls work."""
    slot = await _slot(hl7)
    await peer.go_down()
    with pytest.raises(errors.SupplierUnavailable):
        await hl7.search_slots(SlotQuery(service_id=UTC_SERVICE), call_context())
    with pytest.raises(errors.SupplierUnavailable):
        await hl7.book(booking_request(slot), call_context())
    assert (await hl7.health()).ok is False
    await peer.come_up()
    assert (await hl7.health()).ok is True
    booked = await hl7.book(booking_request(slot), call_context())
    assert await _live(peer) == [booked.supplier_ref]


async def test_slow_pas_times_out_within_the_callers_deadline(
    hl7: Hl7v2Adapter, peer: PasPeer
) -> None:
    """A slow answer is SupplierTimeout, and a short caller deadline is honoured."""
    peer.inject(Fault(FaultKind.SLOW, "SQM", times=0, delay_s=2.0))
    began = time.monotonic()
    with pytest.raises(errors.SupplierTimeout):
        await hl7.search_slots(SlotQuery(service_id=UTC_SERVICE), call_context(deadline_in=0.4))
    assert time.monotonic() - began < 0.6
    with pytest.raises(errors.SupplierTimeout):
        await hl7.search_slots(SlotQuery(service_id=UTC_SERVICE), call_context())


async def test_nak_is_unavailable_books_nothing_and_may_be_retried(
    hl7: Hl7v2Adapter, peer: PasPeer
) -> None:
    """MSA AR (ERR 207) is SupplierUnavailable; the PAS holds nothing; a retry books once."""
    slot = await _slot(hl7)
    ctx = call_context()
    peer.inject(Fault(FaultKind.NAK, "SRM^S01"))
    with pytest.raises(errors.SupplierUnavailable):
        await hl7.book(booking_request(slot), ctx)
    assert await _live(peer) == []
    booked = await hl7.book(booking_request(slot), ctx)
    assert await _live(peer) == [booked.supplier_ref]


@pytest.mark.parametrize("kind", [FaultKind.DROP_ACK, FaultKind.GARBLED, FaultKind.DISCONNECT])
async def test_a_lost_answer_is_looked_up_before_resending(
    hl7: Hl7v2Adapter, peer: PasPeer, kind: FaultKind
) -> None:
    """Dropped, garbled or cut-off answers: the adapter asks the PAS and books exactly once."""
    slot = await _slot(hl7)
    peer.inject(Fault(kind, "SRM^S01"))
    ctx = call_context()
    booked = await hl7.book(booking_request(slot), ctx)
    assert booked.status is BookingStatus.BOOKED
    assert await _live(peer) == [booked.supplier_ref]
    assert "SQM^S25" in peer.received[peer.received.index("SRM^S01") :]
    attempt = await hl7.link.journal.attempt(ctx.request_id)
    assert attempt is not None and attempt.state == CONFIRMED


async def test_a_late_ack_is_never_matched_to_the_next_message(
    hl7: Hl7v2Adapter, peer: PasPeer
) -> None:
    """An answer held back until the next message arrives is discarded, not taken for it."""
    peer.inject(Fault(FaultKind.LATE_ACK, "SQM"))
    with capture_logs() as events, pytest.raises(errors.SupplierTimeout):
        await hl7.search_slots(SlotQuery(service_id=UTC_SERVICE), call_context())
    with capture_logs() as events:
        phone = await hl7.search_slots(SlotQuery(service_id=PHONE_SERVICE), call_context())
    assert phone.slots and set(phone.services) == {PHONE_SERVICE}
    assert hl7.link.client.late_answers == 1
    assert [e["event"] for e in events].count("late_ack_discarded") == 1


async def test_a_late_booking_answer_is_discarded_and_the_booking_found(
    hl7: Hl7v2Adapter, peer: PasPeer
) -> None:
    """SRR held back past the ACK timeout: the lookup finds the booking; one appointment."""
    slot = await _slot(hl7)
    peer.inject(Fault(FaultKind.LATE_ACK, "SRM^S01"))
    booked = await hl7.book(booking_request(slot), call_context())
    assert await _live(peer) == [booked.supplier_ref]
    assert hl7.link.client.late_answers == 1


async def test_unknown_outcome_is_reported_then_cancelled_when_confirmed_late(
    hl7: Hl7v2Adapter, peer: PasPeer
) -> None:
    """No answers at all: OutcomeUnknown (not failed); the booking found later is cancelled."""
    slot = await _slot(hl7)
    ctx = call_context(deadline_in=1.5)
    peer.inject(Fault(FaultKind.DROP_ACK, "*", times=0))
    with pytest.raises(errors.OutcomeUnknown):
        await hl7.book(booking_request(slot), ctx)
    attempt = await hl7.link.journal.attempt(ctx.request_id)
    assert attempt is not None and attempt.state == UNKNOWN
    (held,) = await peer.appointments()
    assert held.status == BOOKED
    peer.faults.clear()
    assert await hl7.reconcile() == 1
    (held,) = await peer.appointments()
    assert held.status == CANCELLED
    attempt = await hl7.link.journal.attempt(ctx.request_id)
    assert attempt is not None and attempt.state == COMPENSATED
    events = await hl7.link.journal.events("unconfirmed_booking_cancelled")
    assert events == [("unconfirmed_booking_cancelled", attempt.placer_id, held.filler_id)]


async def test_a_retry_after_an_unknown_outcome_gets_the_booking(
    hl7: Hl7v2Adapter, peer: PasPeer
) -> None:
    """Retrying the same request id after OutcomeUnknown returns the booking the PAS made."""
    slot = await _slot(hl7)
    ctx = call_context(deadline_in=1.5)
    peer.inject(Fault(FaultKind.DROP_ACK, "*", times=0))
    with pytest.raises(errors.OutcomeUnknown):
        await hl7.book(booking_request(slot), ctx)
    peer.faults.clear()
    booked = await hl7.book(booking_request(slot), ctx)
    assert await _live(peer) == [booked.supplier_ref]
    assert await hl7.reconcile() == 0
    assert await _live(peer) == [booked.supplier_ref]


async def test_cancel_with_a_lost_answer_is_confirmed_by_lookup(
    hl7: Hl7v2Adapter, peer: PasPeer
) -> None:
    """A cancel whose SRR is dropped is checked with the PAS and reported cancelled."""
    booked = await hl7.book(booking_request(await _slot(hl7)), call_context())
    peer.inject(Fault(FaultKind.DROP_ACK, "SRM^S04"))
    cancelled = await hl7.cancel(booked.supplier_ref, call_context())
    assert cancelled.status is BookingStatus.CANCELLED
    assert await _live(peer) == []
