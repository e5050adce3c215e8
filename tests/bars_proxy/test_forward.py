"""Forwarding to a real receiver: the gateway's own BaRS door over the embedded demo diary
(End-to-end-workflow/Routing); answers come back unchanged, ids echoed."""

from __future__ import annotations

import json
from typing import Any

from tests.bars.conftest import appointment_body
from tests.bars_proxy.conftest import Routed


async def test_metadata_comes_back_unchanged(routed: Routed) -> None:
    """GET /metadata through the proxy is byte-for-byte the receiver's answer, ids mirrored."""
    proxy = routed.proxy
    headers = proxy.bars_headers()
    resp = await proxy.call("GET", "/metadata", **headers)
    assert resp.status == 200
    through = await resp.read()
    assert resp.headers["X-Request-Id"] == headers["X-Request-Id"]
    assert resp.headers["X-Correlation-Id"] == headers["X-Correlation-Id"]
    direct = await routed.doors.bars.get("/metadata")
    assert direct.status == 200
    assert resp.content_type == direct.content_type
    mine, theirs = json.loads(through), await direct.json(content_type=None)
    assert theirs["resourceType"] == "CapabilityStatement"
    mine.pop("meta"), theirs.pop("meta")  # only lastUpdated (the moment of answering) differs
    assert mine == theirs


async def test_a_slot_search_and_booking_go_through(routed: Routed) -> None:
    """Search (query kept) then POST /Appointment: 201 from the receiver, which holds it."""
    proxy = routed.proxy
    slot = await routed.doors.bars.free_slots()
    resp = await proxy.call("POST", "/Appointment", body=appointment_body(slot[0]))
    assert resp.status == 201, await resp.text()
    booked: dict[str, Any] = await resp.json(content_type=None)
    read = await routed.doors.bars.get(f"/Appointment/{booked['id']}")
    assert read.status == 200
    assert (await read.json(content_type=None))["status"] == "booked"
    assert resp.headers.get("ETag")
