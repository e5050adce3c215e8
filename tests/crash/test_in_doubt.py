"""Row 14: a booking in doubt after a crash is resolved by the next resend, not after 120 s."""

from __future__ import annotations

import asyncio
import math
import signal
import time
import uuid
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from tests.crash._rig import REST_SERVICE, Consumer, Rig, booking_body, kill, slot_identifier
from tests.crash.conftest import LEASE_S

AN_HOUR = timedelta(hours=1)


async def _until(what: str, check: Any, timeout_s: float = 15.0) -> None:
    """Wait on the event loop until ``await check()`` is true."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        await asyncio.sleep(0.05)


async def _slow_bookings(rig: Rig, delay_s: float) -> None:
    """The peer's next booking takes ``delay_s`` before it is made and answered."""
    fault = {"mode": "slow", "operations": ["book"], "times": 1, "delay_s": delay_s}
    await rig.peer_json("PUT", "/_peer/fault", fault)


async def _stats(rig: Rig) -> dict[str, Any]:
    stats: dict[str, Any] = await rig.peer_json("GET", "/_peer/stats")
    return stats


async def _book_sent(rig: Rig) -> bool:
    return int((await _stats(rig))["requests"].get("book", 0)) >= 1


async def _leave_in_doubt(rig: Rig, consumer: Consumer) -> tuple[dict[str, Any], str, str]:
    """A booking the supplier made and the gateway died before hearing of; restarted after.

    Returns the booking body, its X-Request-ID and the slot's identifier.
    """
    slot = (await consumer.free_slots(REST_SERVICE, AN_HOUR))[0]
    body, request_id = booking_body(slot), str(uuid.uuid4())
    await _slow_bookings(rig, 1.0)
    first = asyncio.create_task(consumer.book(body, request_id))
    await _until("the booking to reach the supplier", lambda: _book_sent(rig))
    # Frozen, the gateway cannot read the supplier's answer; then it dies, never knowing it.
    assert rig.gateway.process is not None
    rig.gateway.process.send_signal(signal.SIGSTOP)

    async def supplier_booked() -> bool:
        return int((await _stats(rig))["appointments"]) == 1

    await _until("the supplier to finish the booking it was sent", supplier_booked)
    await kill(rig.gateway)
    with pytest.raises(aiohttp.ClientError):
        await first
    await rig.start_gateway()
    return body, request_id, slot_identifier(slot)


def _pointer(status: int, answer: Any, headers: Any) -> str | None:
    """The appointment an answer to a booking names: a 201, or a 409 pointing at one."""
    if status == 201:
        return str(answer["id"])
    if status == 409 and "Content-Location" in headers:
        return str(headers["Content-Location"].split("/")[-3])
    return None


async def _check_one_booking(rig: Rig, consumer: Consumer, appointment_id: str, slot: str) -> None:
    """The appointment reads back at version 1 for the slot; the supplier booked it once."""
    status, current, headers = await consumer.read(f"Appointment/{appointment_id}")
    assert (status, headers.get("ETag"), current["status"]) == (200, 'W/"1"', "booked")
    assert slot_identifier(current) == slot
    assert int((await _stats(rig))["appointments"]) == 1, "the supplier booked once, not twice"
    assert [a["id"] for a in await consumer.patient_appointments()] == [appointment_id]
    assert rig.gateway_events("claim_taken_over") == 1


async def test_a_resend_after_a_crash_mid_booking_gets_the_booking(
    rig: Rig, consumer: Consumer
) -> None:
    """Row 14: gateway SIGKILLed while the supplier books; a resend after restart gets it now."""
    body, request_id, slot = await _leave_in_doubt(rig, consumer)
    restarted = time.monotonic()
    status, answer, headers = await consumer.book(body, request_id)
    while status == 409 and "Retry-After" in headers:
        wait_s = int(headers["Retry-After"])
        assert 1 <= wait_s <= math.ceil(LEASE_S), headers
        await asyncio.sleep(wait_s)
        status, answer, headers = await consumer.book(body, request_id)

    # 201 when the resend resolved it; 409 + Content-Location when the restarted gateway did.
    appointment_id = _pointer(status, answer, headers)
    assert appointment_id is not None, answer
    assert time.monotonic() - restarted < LEASE_S + 5, "resolved within a lease, not 120 s"
    await _check_one_booking(rig, consumer, appointment_id, slot)
    again = await consumer.book(body, request_id)
    assert _pointer(*again) == appointment_id and again[0] == 409, again[1]


async def test_a_restarted_gateway_resolves_a_booking_nobody_resends(
    rig: Rig, consumer: Consumer
) -> None:
    """Row 14: after a crash mid-booking the restarted gateway records the supplier's booking."""
    body, request_id, slot = await _leave_in_doubt(rig, consumer)

    async def recorded() -> bool:
        return bool(await consumer.patient_appointments())

    await _until("the restarted gateway to record the booking", recorded, LEASE_S + 5)
    held = await consumer.patient_appointments()
    await _check_one_booking(rig, consumer, held[0]["id"], slot)
    assert rig.gateway_events("in_doubt_booked") == 1
    status, answer, headers = await consumer.book(body, request_id)
    assert (status, _pointer(status, answer, headers)) == (409, held[0]["id"]), answer


async def test_a_resend_while_the_booking_runs_is_told_when_to_retry(
    rig: Rig, consumer: Consumer
) -> None:
    """Row 14: while a live gateway books, a resend gets 409 with Retry-After; its lease holds."""
    slot = (await consumer.free_slots(REST_SERVICE, AN_HOUR))[0]
    body, request_id = booking_body(slot), str(uuid.uuid4())
    await _slow_bookings(rig, 3 * LEASE_S)
    first = asyncio.create_task(consumer.book(body, request_id))
    await _until("the booking to reach the supplier", lambda: _book_sent(rig))
    await asyncio.sleep(2 * LEASE_S)  # longer than a lease: only renewals keep the claim

    status, answer, headers = await consumer.book(body, request_id)

    assert status == 409, answer
    issue = answer["issue"][0]
    assert "still being processed" in issue["diagnostics"]
    assert "same X-Request-ID" in issue["diagnostics"]
    assert 1 <= int(headers["Retry-After"]) <= math.ceil(LEASE_S)
    booked_status, booked, _ = await first
    assert booked_status == 201, booked
    stats = await _stats(rig)
    assert (stats["requests"]["book"], stats["appointments"]) == (1, 1), "no takeover, one call"
    assert rig.gateway_events("claim_taken_over") == 0
