"""The journey trace of an ITK report and the STU3 booking naming its CDA (real sockets)."""

from __future__ import annotations

from gateway.trace.recorder import TRACE
from tests.itk import messages
from tests.itk.conftest import Sender
from tests.itk.conftest import itk_gateway as itk_gateway
from tests.itk.conftest import sender as sender
from tests.itk.test_door_links import _book


async def test_a_report_then_its_booking_are_one_journey(sender: Sender) -> None:
    """The booking whose DocumentReference names the report's CDA joins the report's
    journey: found from the tracking id, the CDA id and the appointment id alike."""
    body = messages.sample()
    sender.clock.at = messages.created(body)
    assert (await sender.send(body)).status == 200
    appointment_id = await _book(sender, messages.document_id(body))
    await sender.app[TRACE].flush()
    found = [
        await sender.store.find_journey(value)
        for value in (messages.tracking_id(body), messages.document_id(body), appointment_id)
    ]
    assert found[0] is not None and found[0] == found[1] == found[2]
    kinds = [s.hop.kind for s in found[0].hops]
    assert kinds[0] == "inbound.itk.report" and "inbound.stu3.book" in kinds
    report = found[0].hops[0].hop
    assert report.outcome == "referral_created" and report.ids["referral_id"]


async def test_a_booking_then_its_report_are_one_journey(sender: Sender) -> None:
    """A report arriving after the booking that names its CDA continues the booking's journey."""
    body = messages.sample()
    appointment_id = await _book(sender, messages.document_id(body))
    sender.clock.at = messages.created(body)
    assert (await sender.send(body)).status == 200
    await sender.app[TRACE].flush()
    journey = await sender.store.find_journey(messages.tracking_id(body))
    assert journey is not None and journey == await sender.store.find_journey(appointment_id)
    assert [s.hop.kind for s in journey.hops][-1] == "inbound.itk.report"
