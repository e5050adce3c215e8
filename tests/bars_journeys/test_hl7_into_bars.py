"""A legacy HL7 v2 consumer searches, books, cancels and rebooks at a BaRS receiver, unchanged.

legacy CAS -> MLLP -> consumer gateway (HL7 v2 front door -> ``bars`` adapter) -> mock
national proxy (token, headers, routing) -> receiver gateway's BaRS door -> embedded
diary. Issue 12 "Done when", and ``core/Appointment-StandardPattern/`` for what the
receiver must end up holding.
"""

from __future__ import annotations

from adapters.domain import BookingStatus
from adapters.hl7_toolkit import scheduling
from tests.bars_journeys.conftest import Chain
from tests.hl7_front_door.legacy import NHS_NUMBER, ZONE, ack_of, appointment


async def _held(chain: Chain) -> dict[str, list[object]]:
    """The receiver's appointments of the test patient: status -> starts."""
    held = await chain.receiver_service.patient_appointments(NHS_NUMBER)
    out: dict[str, list[object]] = {}
    for version in held:
        out.setdefault(version.booking.status.value, []).append(version.booking.start)
    return out


async def test_search_book_and_cancel_at_a_bars_receiver_over_hl7(chain: Chain) -> None:
    """SQR offers the receiver's slots; SRR books and cancels there; the receiver agrees."""
    search = await chain.hl7.search()
    offered = [scheduling.read_group(g, ZONE) for g in scheduling.groups(search)]
    assert ack_of(search).code == "AA" and offered, search.to_er7()
    (offer,) = await chain.hl7.offers()

    booked = await chain.hl7.book(offer)
    assert ack_of(booked).code == "AA", booked.to_er7()
    group = appointment(booked)
    assert group.status == "Booked" and group.filler_id
    held = await chain.receiver_service.patient_appointments(NHS_NUMBER)
    assert [v.booking.status for v in held] == [BookingStatus.BOOKED]
    assert (held[0].booking.start, held[0].booking.end) == (offer.start, offer.end)
    assert held[0].booked_by == "A1001", "NHSD-End-User-Organisation named the legacy CAS"

    cancelled = await chain.hl7.cancel(group.filler_id)
    assert ack_of(cancelled).code == "AA", cancelled.to_er7()
    assert appointment(cancelled).status == "Cancelled"
    assert await _held(chain) == {"cancelled": [offer.start]}

    seen = await chain.seen()
    assert {(s["method"], s["path"]) for s in seen} >= {("GET", "/Slot")}
    assert all(s["status"] is not None for s in seen)


async def test_every_call_through_the_proxy_carries_the_bars_headers(chain: Chain) -> None:
    """Each request the proxy saw had GUID ids and the sender's NHSD identity headers."""
    (offer,) = await chain.hl7.offers()
    assert ack_of(await chain.hl7.book(offer)).code == "AA"
    seen = await chain.seen()
    assert seen
    for request in seen:
        assert request["X-Request-Id"] and request["X-Correlation-Id"]
        headers = {k.lower() for k in request["headers"]}
        assert {"nhsd-end-user-organisation", "nhsd-requesting-software"} <= headers, request


async def test_a_resent_msh10_books_once_at_the_receiver(chain: Chain) -> None:
    """A resent SRM^S01 answers the same SRR; the receiver holds one booking."""
    (offer,) = await chain.hl7.offers()
    message = chain.hl7.booking(offer)
    first = appointment(await chain.hl7.send(message))
    second = appointment(await chain.hl7.send(message))
    assert first.filler_id == second.filler_id
    assert await _held(chain) == {"booked": [offer.start]}


async def test_a_slot_taken_at_the_receiver_is_ae_slot_not_free(chain: Chain) -> None:
    """The receiver's conflict for a taken slot reaches the legacy consumer as AE SLOT_NOT_FREE."""
    (offer,) = await chain.hl7.offers()
    assert ack_of(await chain.hl7.book(offer)).code == "AA"
    answer = ack_of(await chain.hl7.book(offer))
    assert answer.code == "AE" and answer.errors[0].application_code == "SLOT_NOT_FREE", answer
    assert await _held(chain) == {"booked": [offer.start]}


async def test_rebook_at_the_receiver_books_new_then_cancels_old(chain: Chain) -> None:
    """SRM^S03: the receiver ends with the new booking and the old one cancelled."""
    first, second = await chain.hl7.offers(2)
    old = appointment(await chain.hl7.book(first))
    moved = chain.hl7.booking(second, trigger="S03", appointment_id=old.filler_id)
    answer = await chain.hl7.send(moved)
    assert ack_of(answer).code == "AA", answer.to_er7()
    assert await _held(chain) == {"cancelled": [first.start], "booked": [second.start]}


async def test_an_answer_lost_after_the_receiver_booked_leaves_one_booking(chain: Chain) -> None:
    """The proxy drops the booking's answer (504) once the receiver booked: the adapter's retry
    with the same ids finds that booking; one booking, and a resend of the message gets it too."""
    (offer,) = await chain.hl7.offers()
    await chain.fault(fault="drop-after-forward", times=1, method="POST")
    message = chain.hl7.booking(offer)
    first = await chain.hl7.send(message, wait_s=10)
    assert ack_of(first).code == "AA", first.to_er7()
    assert await _held(chain) == {"booked": [offer.start]}
    again = await chain.hl7.send(message, wait_s=10)
    assert appointment(first).filler_id == appointment(again).filler_id
    assert await _held(chain) == {"booked": [offer.start]}
    posts = [s for s in await chain.seen() if s["method"] == "POST"]
    assert len({s["X-Request-Id"] for s in posts}) == 1, "every resend reused the first id"


async def test_a_connection_reset_after_the_receiver_booked_leaves_one_booking(
    chain: Chain,
) -> None:
    """The proxy closes the connection after forwarding the booking: one booking, answered AA."""
    (offer,) = await chain.hl7.offers()
    await chain.fault(fault="reset-after-forward", times=1, method="POST")
    answer = await chain.hl7.book(offer)
    assert ack_of(answer).code == "AA", answer.to_er7()
    assert await _held(chain) == {"booked": [offer.start]}
