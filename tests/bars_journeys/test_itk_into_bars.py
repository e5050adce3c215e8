"""A legacy 111 system's ITK report reaches a BaRS receiver as a servicerequest-request.

The report arrives at the consumer gateway's ITK door, becomes a canonical Referral,
and the ``bars`` adapter sends it on (``core/Core-Functionality-Requirements/
Referral-Sender``); with an HL7 v2 booking naming the CDA (ARQ-24), booking and
referral are linked at the receiver too, in either order.
"""

from __future__ import annotations

from adapters.hl7_toolkit.er7 import Message, Segment, comp
from gateway.http.exchange import STORE
from gateway.store import ReferralVersion, Store
from tests.bars_journeys.conftest import Chain
from tests.hl7_front_door.legacy import NHS_NUMBER, ack_of, appointment
from tests.itk import messages

#: A report whose patient has an NHS number (the BaRS receiver needs one) beside a local id.
SAMPLE = "adastra-itk-ooh-referral-dx06-itk-request.xml"


def _receiver_store(chain: Chain) -> Store:
    store: Store = chain.receiver.app[STORE]  # type: ignore[index]
    return store


async def _report(chain: Chain, body: bytes) -> int:
    chain.itk.clock.at = messages.created(body)
    resp = await chain.itk.send(body)
    return resp.status


async def _book(chain: Chain, document_id: str) -> str:
    """SRM^S01 for the first free slot an hour ahead, ARQ-24 naming the CDA."""
    (offer,) = await chain.hl7.offers()
    message = chain.hl7.booking(offer)
    arq = list(message.segments[1].fields)
    arq[24] = comp(document_id, "CAS")
    segments = list(message.segments)
    segments[1] = Segment(tuple(arq), segments[1].delimiters)
    answer = await chain.hl7.send(Message(tuple(segments)), wait_s=10)
    assert ack_of(answer).code == "AA", answer.to_er7()
    return appointment(answer).filler_id


async def _at_receiver(chain: Chain, sent: ReferralVersion) -> list[ReferralVersion]:
    nhs = sent.referral.patient.nhs_number
    assert nhs
    return await _receiver_store(chain).find_referrals_by_nhs_number(nhs)


async def test_an_itk_report_reaches_the_bars_receiver_once(chain: Chain) -> None:
    """ITK infrastructure ack, then the receiver holds one referral for that patient."""
    body = messages.sample(SAMPLE)
    assert await _report(chain, body) == 200
    sent = await chain.consumer_store.find_referral_by_document(messages.document_id(body))
    assert sent is not None
    received = await _at_receiver(chain, sent)
    assert len({v.referral_id for v in received}) == 1
    assert received[-1].referral.reason == sent.referral.reason
    assert await _report(chain, body) == 200, "a resend of the same tracking id is answered"
    assert len({v.referral_id for v in await _at_receiver(chain, sent)}) == 1
    posts = [s for s in await chain.seen() if s["path"] == "/$process-message"]
    assert len(posts) == 1, "the duplicate tracking id was not sent on again"


async def test_an_hl7_booking_then_its_itk_report_arrive_linked_at_the_bars_receiver(
    chain: Chain,
) -> None:
    """Booking first: the referral names the receiver's own Appointment, which it links to."""
    body = messages.sample(SAMPLE)
    document_id = messages.document_id(body)
    await _book(chain, document_id)
    assert await _report(chain, body) == 200
    sent = await chain.consumer_store.find_referral_by_document(document_id)
    assert sent is not None and sent.referral.appointment_id
    received = await _at_receiver(chain, sent)
    assert len({v.referral_id for v in received}) == 1
    linked = received[-1].referral.appointment_id
    assert linked is not None, "the receiver linked the referral to its appointment"
    held = await _receiver_store(chain).get(linked)
    assert held is not None and held.booking.status.value == "booked"


async def test_an_itk_report_then_its_hl7_booking_both_reach_the_bars_receiver(
    chain: Chain,
) -> None:
    """Report first: the receiver holds both and, told by a referral update, links them."""
    body = messages.sample(SAMPLE)
    document_id = messages.document_id(body)
    assert await _report(chain, body) == 200
    await _book(chain, document_id)
    sent = await chain.consumer_store.find_referral_by_document(document_id)
    assert sent is not None and sent.referral.appointment_id, "linked at the consumer gateway"
    assert len({v.referral_id for v in await _at_receiver(chain, sent)}) == 1
    held = await chain.receiver_service.patient_appointments(NHS_NUMBER)
    assert [v.booking.status.value for v in held] == ["booked"]
    received = await _at_receiver(chain, sent)
    assert received[-1].referral.appointment_id == held[0].appointment_id, (
        "the servicerequest-request update named the receiver's own Appointment"
    )
    versions = await _receiver_store(chain).referral_versions(received[-1].referral_id)
    assert [v.version for v in versions] == [1, 2], "the report once, then its link, once"
