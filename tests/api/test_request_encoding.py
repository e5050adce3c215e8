"""Request bodies whose Content-Encoding cannot be undone are malformed input, not server errors."""

from __future__ import annotations

import gzip
import json

from tests.api.conftest import Consumer, booking_body


async def test_body_sent_as_gzip_that_is_not_gzip_is_400(consumer: Consumer) -> None:
    """Content-Encoding gzip on a plain body: 400 BAD_REQUEST, connection closed, nothing booked."""
    slot = (await consumer.free_slots())[0]
    plain = json.dumps(booking_body(slot)).encode()
    resp = await consumer.book(plain, **{"Content-Encoding": "gzip"})
    assert resp.status == 400, await resp.text()
    # The unread rest of the body spoils the connection: the client is told not to reuse it.
    assert resp.headers.get("Connection") == "close"
    outcome = await resp.json(content_type=None)
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["details"]["coding"][0]["code"] == "BAD_REQUEST"
    assert "cannot be decoded" in outcome["issue"][0]["diagnostics"]
    resp = await consumer.book(gzip.compress(plain), **{"Content-Encoding": "gzip"})
    assert resp.status == 201, "the slot was not taken, and the next request is answered"
