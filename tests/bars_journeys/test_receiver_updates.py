"""A BaRS receiver's own change to a booking reaches the legacy consumer that made it.

End-to-end-workflow/Asynchronous-Workflow: the receiver POSTs a booking-request update
(here: did-not-attend) to the sender's ``$process-message``; the consumer gateway's
``bars`` adapter acknowledges it, records it as the appointment's next version and the
HL7 v2 front door tells the legacy CAS by SIU^S26 at its own MLLP listener (issue 12,
"What to build" item 4).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest

from adapters.domain import BookingStatus
from gateway.http.exchange import SETTINGS
from tests.bars.conftest import Sender
from tests.bars_adapter.rig import update_message
from tests.bars_journeys.conftest import CALLBACK, Chain, start_chain
from tests.hl7_front_door.legacy import NHS_NUMBER, ack_of, appointment
from tests.hl7_notify.conftest import ConsumerEndpoint


@pytest.fixture
async def rig(
    tmp_path: Path, unused_tcp_port_factory: Callable[[], int]
) -> AsyncIterator[tuple[Chain, ConsumerEndpoint, str]]:
    """The chain with the adapter's update endpoint open and the CAS's SIU listener up."""
    callback, notify = unused_tcp_port_factory(), unused_tcp_port_factory()
    endpoint = ConsumerEndpoint(notify)
    await endpoint.start()
    async with start_chain(
        tmp_path, unused_tcp_port_factory, callback_port=callback, notify_port=notify
    ) as chain:
        yield chain, endpoint, f"http://127.0.0.1:{callback}{CALLBACK}/$process-message"
    await endpoint.stop()


async def _booked_at_the_receiver(chain: Chain) -> tuple[str, dict[str, object]]:
    """Book over HL7 v2; (the consumer's appointment id, the receiver's Appointment)."""
    (offer,) = await chain.hl7.offers()
    booked = await chain.hl7.book(offer)
    assert ack_of(booked).code == "AA", booked.to_er7()
    ours = appointment(booked).filler_id
    (held,) = await chain.receiver_service.patient_appointments(NHS_NUMBER)
    receiver = Sender(chain.receiver, chain.receiver.app[SETTINGS])  # type: ignore[index]
    resp = await receiver.get(f"/Appointment/{held.appointment_id}")
    assert resp.status == 200, await resp.text()
    return ours, await resp.json(content_type=None)


async def _until(check: Callable[[], object], wait_s: float = 8.0) -> None:
    for _ in range(int(wait_s / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def test_a_did_not_attend_update_is_a_noshow_version_and_siu_s26_to_the_cas(
    rig: tuple[Chain, ConsumerEndpoint, str],
) -> None:
    """A noshow update: 200 ack, one noshow version, one SIU^S26, however often resent."""
    chain, endpoint, url = rig
    ours, at_receiver = await _booked_at_the_receiver(chain)
    message = update_message(at_receiver, "noshow")
    headers = {"X-Request-Id": str(uuid.uuid4()), "X-Correlation-Id": str(uuid.uuid4())}
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json=message, headers=headers) as resp:
            assert resp.status == 200, await resp.text()
            body = await resp.json(content_type=None)
            assert body["resourceType"] == "OperationOutcome"
            assert resp.headers["X-Request-Id"] == headers["X-Request-Id"]
        await _until(lambda: endpoint.received)
        async with session.post(url, json=message, headers=headers) as resp:
            assert resp.status == 200, "a resent update is acknowledged again"
        # The same update under a new id (as after a restart forgot the ids seen): the
        # booking already says noshow, so no new version and no second SIU.
        again = {"X-Request-Id": str(uuid.uuid4())}
        async with session.post(url, json=message, headers=again) as resp:
            assert resp.status == 200

    versions = await chain.consumer_store.versions(ours)
    assert [v.booking.status for v in versions] == [BookingStatus.BOOKED, BookingStatus.NOSHOW]
    await asyncio.sleep(0.3)
    (siu,) = endpoint.messages()
    assert siu.message_type[:2] == ("SIU", "S26")
    sch = siu.first("SCH")
    assert sch is not None and sch.get(25, 1) == "Noshow"


async def test_an_update_from_an_unknown_receiver_is_400_and_changes_nothing(
    rig: tuple[Chain, ConsumerEndpoint, str],
) -> None:
    """An update whose MessageHeader.source names no configured receiver is refused."""
    chain, endpoint, url = rig
    ours, at_receiver = await _booked_at_the_receiver(chain)
    message = update_message(at_receiver, "cancelled")
    header = message["entry"][0]["resource"]  # type: ignore[index]
    header["source"] = {"endpoint": "https://fhir.nhs.uk/Id/dos-service-id|999"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=message, headers={"X-Request-Id": str(uuid.uuid4())}) as resp,
    ):
        assert resp.status == 400
        body = await resp.json(content_type=None)
        assert body["issue"][0]["details"]["coding"][0]["code"] == "REC_BAD_REQUEST"
    version = await chain.consumer_store.get(ours)
    assert version is not None and version.booking.status is BookingStatus.BOOKED
    assert endpoint.received == []
