"""An ITK report and the STU3 booking whose DocumentReference names its CDA become one journey."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Consumer, booking_body
from tests.itk import messages
from tests.itk.conftest import Sender


def _booking(slot: dict[str, Any], document_id: str) -> dict[str, Any]:
    body = booking_body(slot)
    (document,) = [c for c in body["contained"] if c["resourceType"] == "DocumentReference"]
    document["identifier"][0]["value"] = document_id
    return body


async def _book(sender: Sender, document_id: str) -> str:
    consumer = Consumer(sender.client, sender.settings)
    (slot,) = await consumer.free_slots()
    resp = await consumer.book(_booking(slot, document_id))
    assert resp.status == 201, await resp.text()
    appointment_id: str = (await resp.json(content_type=None))["id"]
    return appointment_id


async def test_a_booking_then_its_itk_report_are_linked(sender: Sender) -> None:
    """The report arriving after the booking that names its CDA is stored linked to it."""
    body = messages.sample()
    appointment_id = await _book(sender, messages.document_id(body))
    sender.clock.at = messages.created(body)
    assert (await sender.send(body)).status == 200
    stored = await sender.store.find_referral_by_document(messages.document_id(body))
    assert stored is not None and stored.referral.appointment_id == appointment_id


async def test_an_itk_report_then_its_booking_are_linked(sender: Sender) -> None:
    """The report arriving first is linked (a new version) when the booking naming it comes."""
    body = messages.sample()
    sender.clock.at = messages.created(body)
    assert (await sender.send(body)).status == 200
    appointment_id = await _book(sender, messages.document_id(body))
    stored = await sender.store.find_referral_by_document(messages.document_id(body))
    assert stored is not None
    assert (stored.version, stored.referral.appointment_id) == (2, appointment_id)
