"""STU3 bookings over real sockets link referrals by their contained DocumentReference."""

from __future__ import annotations

import uuid
from typing import Any

from gateway.http.exchange import RUNTIME
from gateway.referrals import ReferralService
from tests.api.conftest import Consumer, booking_body
from tests.contract.builders import call_context
from tests.referrals._rig import SCOPE, new_referral


def _referrals(consumer: Consumer) -> ReferralService:
    runtime = consumer.client.app[RUNTIME]  # type: ignore[index]
    assert runtime.current is not None
    referrals: ReferralService = runtime.current.service.referrals
    return referrals


def _with_document(body: dict[str, Any], document_id: str) -> dict[str, Any]:
    (document,) = [c for c in body["contained"] if c["resourceType"] == "DocumentReference"]
    document["identifier"][0]["value"] = document_id
    return body


async def test_an_stu3_booking_then_a_referral_for_its_document_are_linked(
    consumer: Consumer,
) -> None:
    """A referral arriving after an STU3 booking for the same document links to that booking."""
    document_id = str(uuid.uuid4())
    (slot,) = await consumer.free_slots()
    resp = await consumer.book(_with_document(booking_body(slot), document_id))
    assert resp.status == 201, await resp.text()
    appointment_id = (await resp.json(content_type=None))["id"]

    made = await _referrals(consumer).create(
        new_referral(document_id=document_id),
        call_context(),
        scope=SCOPE,
        client_request_id=None,
    )

    assert made.referral.appointment_id == appointment_id
    linked = await _referrals(consumer).for_appointment(appointment_id)
    assert [v.referral_id for v in linked] == [made.referral_id]


async def test_a_referral_then_an_stu3_booking_naming_it_are_linked(consumer: Consumer) -> None:
    """An STU3 booking whose incomingReferral names a stored referral links it (version 2)."""
    referrals = _referrals(consumer)
    made = await referrals.create(
        new_referral(), call_context(), scope=SCOPE, client_request_id=None
    )
    (slot,) = await consumer.free_slots()
    body = booking_body(slot)
    body["incomingReferral"] = [{"reference": f"ReferralRequest/{made.referral_id}"}]

    resp = await consumer.book(body)

    assert resp.status == 201, await resp.text()
    appointment_id = (await resp.json(content_type=None))["id"]
    current = await referrals.read(made.referral_id)
    assert (current.version, current.referral.appointment_id) == (2, appointment_id)
