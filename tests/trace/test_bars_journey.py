"""The journey trace across doors: booked over STU3, cancelled over BaRS (real sockets)."""

from __future__ import annotations

import uuid
from typing import Any

from gateway.http.exchange import STORE
from tests.api.conftest import booking_body
from tests.bars.conftest import Doors
from tests.bars.conftest import both_doors as both_doors
from tests.bars.conftest import doors as doors
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
