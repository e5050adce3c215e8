"""Injected faults (POST /_control/faults): each kind answers as the shared interface says,
so a sender's retry rules (Transactional-integrity/Sender-responsibilities) can be tested."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest

from tests.bars.conftest import appointment_body
from tests.bars_proxy.conftest import Recorded, Routed


async def _code(resp: aiohttp.ClientResponse) -> str:
    body: dict[str, Any] = await resp.json(content_type=None)
    code: str = body["issue"][0]["details"]["coding"][0]["code"]
    return code


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ("timeout", 504, "PROXY_TIMEOUT"),
        ("rate-limit", 429, "SEND_TOO_MANY_REQUESTS"),
        ("unavailable", 503, "PROXY_UNAVAILABLE"),
        ("unknown-target", 404, "PROXY_NOT_FOUND"),
        ("server-error", 500, "PROXY_SERVER_ERROR"),
    ],
)
async def test_an_error_fault_answers_without_forwarding(
    recorded: Recorded, fault: str, status: int, code: str
) -> None:
    """The fault's status and code, ids mirrored, fhir+json; the receiver hears nothing."""
    proxy = recorded.proxy
    await proxy.fault(fault=fault)
    headers = proxy.bars_headers()
    resp = await proxy.call("GET", "/Slot", **headers)
    assert (resp.status, await _code(resp)) == (status, code)
    assert resp.content_type == "application/fhir+json"
    assert resp.headers["X-Request-Id"] == headers["X-Request-Id"]
    assert recorded.receiver.heard == []
    if fault == "rate-limit":
        assert resp.headers["Retry-After"] == "1"
    assert (await proxy.call("GET", "/Slot")).status == 200  # times defaults to 1


@pytest.mark.parametrize(
    ("status", "code", "retry_after"),
    [
        (408, "REC_TIMEOUT", None),
        (409, "REC_CONFLICT", None),
        (429, "REC_TOO_MANY_REQUESTS", 3),
        (500, "PROXY_TOO_MANY_REQUESTS", None),
        (503, "REC_SERVICE_UNAVAILABLE", 2),
        (403, "SEND_FORBIDDEN", None),
    ],
)
async def test_a_status_fault_produces_any_code(
    recorded: Recorded, status: int, code: str, retry_after: int | None
) -> None:
    """{"fault": "status", ...} answers that status and code (and Retry-After), not forwarded."""
    proxy = recorded.proxy
    await proxy.fault(fault="status", status=status, code=code, retry_after=retry_after)
    resp = await proxy.call("POST", "/$process-message", body={"resourceType": "Bundle"})
    assert (resp.status, await _code(resp)) == (status, code)
    assert resp.headers.get("Retry-After") == (str(retry_after) if retry_after else None)
    assert recorded.receiver.heard == []


async def test_a_fault_spoils_only_matching_requests_times_times(recorded: Recorded) -> None:
    """method/path select the requests; times=2 spoils two of them, then they pass."""
    proxy = recorded.proxy
    await proxy.fault(fault="unavailable", times=2, method="POST", path="/Appointment")
    assert (await proxy.call("GET", "/Appointment/1")).status == 200  # another method
    assert (await proxy.call("POST", "/Slot", body={})).status == 200  # another path
    statuses = [(await proxy.call("POST", "/Appointment", body={})).status for _ in range(3)]
    assert statuses == [503, 503, 200]


async def test_delete_clears_the_queued_faults(recorded: Recorded) -> None:
    """DELETE /_control/faults: nothing left to spoil the next request."""
    proxy = recorded.proxy
    await proxy.fault(fault="timeout", times=5)
    assert len(await proxy.control("GET", "/faults")) == 1
    await proxy.control("DELETE", "/faults")
    assert (await proxy.call("GET", "/Slot")).status == 200


async def test_slow_waits_then_forwards(recorded: Recorded) -> None:
    """slow with delay_s: the receiver's answer, at least delay_s later."""
    proxy = recorded.proxy
    await proxy.fault(fault="slow", delay_s=0.4)
    started = time.monotonic()
    resp = await proxy.call("GET", "/Slot")
    assert resp.status == 200
    assert time.monotonic() - started >= 0.4
    assert len(recorded.receiver.heard) == 1


async def test_a_bad_fault_is_refused_with_a_clear_error(recorded: Recorded) -> None:
    """An unknown fault, a status fault without code, or no JSON: 400 naming the problem."""
    url = f"{recorded.proxy.url}/_control/faults"
    session = recorded.proxy.session
    for body in (b'{"fault": "gremlins"}', b'{"fault": "status", "status": 409}', b"{"):
        async with session.post(url, data=body) as resp:
            assert resp.status == 400
            assert (await resp.json())["error"]


async def test_drop_after_forward_books_but_answers_504(routed: Routed) -> None:
    """The receiver books, the sender gets 504 PROXY_TIMEOUT: the lost answer."""
    proxy, door = routed.proxy, routed.doors.bars
    (slot,) = await door.free_slots()
    await proxy.fault(fault="drop-after-forward", method="POST", path="/Appointment")
    resp = await proxy.call("POST", "/Appointment", body=appointment_body(slot))
    assert (resp.status, await _code(resp)) == (504, "PROXY_TIMEOUT")
    assert slot["id"] not in await door.offered()
    again = await door.book(slot)
    assert again.status == 409  # the slot is booked: the receiver did the work


async def test_reset_after_forward_books_and_closes_the_connection(routed: Routed) -> None:
    """The receiver books, then the connection closes with no answer at all."""
    proxy, door = routed.proxy, routed.doors.bars
    (slot,) = await door.free_slots()
    await proxy.fault(fault="reset-after-forward")
    with pytest.raises(aiohttp.ClientError):
        await proxy.call("POST", "/Appointment", body=appointment_body(slot))
    assert slot["id"] not in await door.offered()
    (seen,) = [r for r in await proxy.control("GET", "/requests") if r["method"] == "POST"]
    assert (seen["status"], seen["fault"], seen["forwarded"]) == (None, "reset-after-forward", True)


async def test_control_is_off_unless_asked_for(start_proxy: Any) -> None:
    """control=False: /_control/faults is no endpoint (404), so no fault can be queued."""
    proxy = await start_proxy(control=False)
    async with proxy.session.post(f"{proxy.url}/_control/faults", json={"fault": "timeout"}) as r:
        assert r.status == 404
