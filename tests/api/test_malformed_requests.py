"""Malformed FHIR requests found by fuzzing: each is a clear 4xx OperationOutcome, never a 500."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import ClientResponse

from tests.api.conftest import Consumer, booking_body


async def later_slot(consumer: Consumer) -> dict[str, Any]:
    """A free slot starting an hour from now or later (bookable at any hour)."""
    after = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    resp = await consumer.search(f"&start=ge{after}%2B00:00")
    assert resp.status == 200, await resp.text()
    bundle = await resp.json(content_type=None)
    slots = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Slot"]
    assert slots, "the demo diary offers slots an hour ahead"
    return dict(slots[0])


async def outcome_of(resp: ClientResponse, status: int) -> dict[str, Any]:
    """The response is ``status`` with an OperationOutcome body; that body."""
    text = await resp.text()
    assert resp.status == status, text
    assert resp.content_type == "application/fhir+json", text
    outcome: dict[str, Any] = json.loads(text)
    assert outcome["resourceType"] == "OperationOutcome", text
    assert outcome["issue"][0]["diagnostics"], text
    return outcome


async def test_row2_a_booked_description_that_looks_like_a_bad_instant_can_be_cancelled(
    consumer: Consumer,
) -> None:
    """Row 2: description "2019-13-45T25:61:61Z" is a string: booked, then cancelled, not 500."""
    body = booking_body(await later_slot(consumer))
    body["description"] = "2019-13-45T25:61:61Z"
    resp = await consumer.book(body)
    assert resp.status == 201, await resp.text()
    booked = await resp.json(content_type=None)
    assert booked["description"] == "2019-13-45T25:61:61Z"
    cancel = await consumer.cancel(
        booked["id"], {**booked, "status": "cancelled"}, **{"If-Match": 'W/"1"'}
    )
    assert cancel.status == 200, await cancel.text()
    assert (await cancel.json(content_type=None))["status"] == "cancelled"


async def test_row2_a_cancel_changing_description_to_a_bad_instant_is_422(
    consumer: Consumer,
) -> None:
    """Row 2: a cancel PUT whose description is "2019-13-45T25:61:61Z" is 422, still booked."""
    resp = await consumer.book(booking_body(await later_slot(consumer)))
    booked = await resp.json(content_type=None)
    changed = {**booked, "status": "cancelled", "description": "2019-13-45T25:61:61Z"}
    outcome = await outcome_of(
        await consumer.cancel(booked["id"], changed, **{"If-Match": 'W/"1"'}), 422
    )
    assert "only status may change" in outcome["issue"][0]["diagnostics"]
    still = await (await consumer.read(f"Appointment/{booked['id']}")).json(content_type=None)
    assert still["status"] == "booked"


async def _refused_booking(
    consumer: Consumer, slot: dict[str, Any], body: dict[str, Any], status: int
) -> str:
    """Book ``body``: ``status`` with an OperationOutcome; its diagnostics. The slot stays free."""
    outcome = await outcome_of(await consumer.book(body), status)
    assert (await consumer.book(booking_body(slot))).status == 201, "the refusal took nothing"
    return str(outcome["issue"][0]["diagnostics"])


async def test_row3_a_document_indexed_as_a_number_is_400(consumer: Consumer) -> None:
    """Row 3: a contained DocumentReference with "indexed": 12345 is 400 naming it, not 500."""
    slot = await later_slot(consumer)
    body = booking_body(slot)
    body["contained"][0]["indexed"] = 12345
    diagnostics = await _refused_booking(consumer, slot, body, 400)
    assert "indexed" in diagnostics


async def test_row4_a_contained_resource_type_that_is_no_type_is_400(consumer: Consumer) -> None:
    """Row 4: a contained resource with "resourceType": "#P1" is 400 naming it, not 500."""
    slot = await later_slot(consumer)
    body = booking_body(slot)
    body["contained"][1]["resourceType"] = "#P1"
    diagnostics = await _refused_booking(consumer, slot, body, 400)
    assert "#P1" in diagnostics and "contained" in diagnostics


async def test_row13_a_contained_slot_starting_at_number_zero_is_refused(
    consumer: Consumer,
) -> None:
    """Row 13: a contained Slot with "start": 0 is 400 (FHIR JSON instants are strings), not 201."""
    slot = await later_slot(consumer)
    body = booking_body(slot)
    body["contained"][2]["start"] = 0
    diagnostics = await _refused_booking(consumer, slot, body, 400)
    assert "contained[2].start" in diagnostics


async def test_a_cancel_whose_contained_resource_type_is_not_a_string_is_400(
    consumer: Consumer,
) -> None:
    """Found by fuzzing: a cancel PUT whose contained resourceType is null is 400, not 500."""
    booked = await (await consumer.book(booking_body(await later_slot(consumer)))).json()
    for kind in (None, 5, ["Patient"]):
        changed = copy.deepcopy({**booked, "status": "cancelled"})
        changed["contained"][0]["resourceType"] = kind
        outcome = await outcome_of(
            await consumer.cancel(booked["id"], changed, **{"If-Match": 'W/"1"'}), 400
        )
        assert "contained[0].resourceType" in outcome["issue"][0]["diagnostics"]
