"""The sender's own $process-message endpoint (End-to-end-workflow/Asynchronous-Workflow):
a receiver's booking update is validated, acknowledged and passed on once."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp

from adapters.bars import BarsAdapter
from adapters.contract import BookingChange
from tests.bars_adapter.rig import SERVICE_ID, Rig, update_message
from tests.contract.builders import bookable, booking_request, call_context


async def test_update_is_acknowledged_and_passed_on_once(
    bars_rig: Rig, unused_tcp_port_factory: Callable[[], int]
) -> None:
    """A cancelled-at-the-receiver update reaches the listener once; a resend is only acked."""
    port = unused_tcp_port_factory()
    adapter = await bars_rig.make_adapter(callback={"port": port, "path": "/sender/FHIR/R4"})
    assert isinstance(adapter, BarsAdapter)
    heard: list[BookingChange] = []

    async def listener(name: str, change: BookingChange) -> None:
        heard.append(change)

    adapter.subscribe(listener)
    slot = (await adapter.search_slots(bookable(SERVICE_ID), call_context())).slots[0]
    booked = await adapter.book(booking_request(slot), call_context())
    appointment_id = booked.supplier_ref.rpartition("/")[2]
    raw = await bars_rig.doors.bars.get(f"/Appointment/{appointment_id}")
    message = update_message(await raw.json(content_type=None), "cancelled")
    url = f"http://127.0.0.1:{port}/sender/FHIR/R4/$process-message"
    async with aiohttp.ClientSession() as session:
        for _ in range(2):
            async with session.post(url, json=message, headers={"X-Request-Id": "r-1"}) as resp:
                assert resp.status == 200, await resp.text()
                assert (await resp.json(content_type=None))["resourceType"] == "OperationOutcome"
        async with session.post(url, data=b"{not json") as resp:
            assert resp.status == 400
            body = await resp.json(content_type=None)
            assert body["issue"][0]["details"]["coding"][0]["code"] == "REC_BAD_REQUEST"
    assert len(heard) == 1
    assert heard[0].booking.supplier_ref == booked.supplier_ref
    assert heard[0].booking.status.value == "cancelled"
