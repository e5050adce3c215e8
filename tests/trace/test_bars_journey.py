"""The journey trace across doors: booked over STU3, cancelled over BaRS (real sockets)."""

from __future__ import annotations

import uuid
from typing import Any

from gateway.bars._message import Message
from gateway.bars._trace import note_message
from gateway.http.exchange import STORE
from gateway.trace import scope as trace_scope
from tests.api.conftest import booking_body
from tests.bars.conftest import Doors
from tests.bars.conftest import both_doors as both_doors
from tests.bars.conftest import doors as doors
from tests.bars.test_process_message_booking import NEW, example, post
from tests.trace.rig import flushed


async def test_a_booking_cancelled_over_the_other_door_is_one_journey(doors: Doors) -> None:
    """The BaRS cancel of an STU3 booking joins its journey through the appointment id,
    with the BaRS sender's X-Request-Id found there too."""
    slot = (await doors.bars.free_slots())[0]
    made = await doors.stu3.book(booking_body(slot))
    assert made.status == 201, await made.text()
    appointment: dict[str, Any] = await made.json(content_type=None)
    read = await doors.bars.get(f"/Appointment/{appointment['id']}")
    r4 = await read.json(content_type=None)
    request_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
    hdrs = {"X-Request-Id": request_id, "X-Correlation-Id": correlation_id}
    cancel = {**r4, "status": "cancelled"}
    done = await doors.bars.send("PUT", f"/Appointment/{r4['id']}", cancel, **hdrs)
    assert done.status == 200, await done.text()
    app = doors.stu3.client.app
    await flushed(app)
    journey = await app[STORE].find_journey(request_id)
    assert journey is not None
    assert journey == await app[STORE].find_journey(appointment["id"])
    kinds = [s.hop.kind for s in journey.hops]
    assert kinds[:2] == ["inbound.stu3.book", "supplier.book"]
    assert kinds[-1] == "supplier.cancel" and kinds[-2].startswith("inbound.bars.")
    bars_hop = journey.hops[-2].hop
    assert bars_hop.place == "bars" and bars_hop.outcome.startswith("200")
    assert bars_hop.ids["correlation_id"] == correlation_id
    assert bars_hop.ids["appointment_version"] == "2"


async def test_a_process_message_booking_is_found_by_its_message_header(doors: Doors) -> None:
    """A $process-message booking (the published BOOKREQ01) is traced from its MessageHeader's
    id (its urn:uuid), with the inbound BaRS hop and the supplier's booking."""
    slot = (await doors.bars.free_slots())[0]
    status, answer, _ = await post(doors.bars, example(NEW, slot))
    assert status == 200, answer
    app = doors.stu3.client.app
    await flushed(app)
    journey = await app[STORE].find_journey("c5957fdd-097b-409d-a406-49c52ceef2cd")
    assert journey is not None
    kinds = [s.hop.kind for s in journey.hops]
    assert kinds[0].startswith("inbound.bars.") and "supplier.book" in kinds
    assert journey.hops[0].hop.ids["bars_message_id"] == "c5957fdd-097b-409d-a406-49c52ceef2cd"


def test_the_journey_id_is_the_encounters_episode_of_care() -> None:
    """The Encounter's episodeOfCare reference (Journey-ID.page.md) is noted as bars_journey_id."""
    header = {"resourceType": "MessageHeader", "id": "hdr-1"}
    encounter = {
        "resourceType": "Encounter",
        "episodeOfCare": [{"reference": "EpisodeOfCare/d877b820-e72b-44d1-a627-195f54bfc606"}],
    }
    message = Message(
        bundle={"resourceType": "Bundle"},
        header=header,
        event="servicerequest-request",
        reason="new",
        entries={"urn:uuid:1": header, "urn:uuid:2": encounter},
    )
    with trace_scope.opened() as tx:
        note_message(message)
    assert tx.ids == {
        "bars_message_id": "hdr-1",
        "bars_journey_id": "d877b820-e72b-44d1-a627-195f54bfc606",
    }
