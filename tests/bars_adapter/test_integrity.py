"""Transactional integrity through the mock proxy's faults (core/Transactional-integrity/):
retries reuse the ids, nothing is resent after a 409, a lost answer never books twice,
a 401 gets one fresh token, and every error code maps by the one table."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from adapters import errors
from adapters.bars import CODES, BarsAdapter, Op
from adapters.bars._errors import REFINED
from adapters.domain import Slot, SlotQuery, SlotStatus
from tests.bars_adapter.rig import SENDER_ODS, SERVICE_ID, Rig
from tests.contract.builders import bookable, booking_request, call_context


async def _slot(adapter: BarsAdapter) -> Slot:
    return (await adapter.search_slots(bookable(SERVICE_ID), call_context())).slots[0]


async def _posts(rig: Rig) -> list[dict[str, Any]]:
    return [r for r in await rig.seen() if r["method"] == "POST"]


async def _held_at(adapter: BarsAdapter, slot: Slot, status: SlotStatus) -> list[Slot]:
    query = SlotQuery(
        service_id=SERVICE_ID,
        statuses=frozenset({status}),
        start_from=slot.start,
        start_to=slot.start,
    )
    found = await adapter.search_slots(query, call_context())
    return [s for s in found.slots if s.id == slot.id]


async def test_retried_send_reuses_both_ids_and_books(bars_rig: Rig) -> None:
    """Two 503 PROXY_UNAVAILABLE answers are retried with the same X-Request-Id/X-Correlation-Id."""
    adapter = await bars_rig.make_adapter()
    slot = await _slot(adapter)
    await bars_rig.fault(fault="unavailable", times=2, method="POST")
    booked = await adapter.book(booking_request(slot), call_context())
    posts = await _posts(bars_rig)
    assert [p["status"] for p in posts] == [503, 503, 200]
    assert len({p["X-Request-Id"] for p in posts}) == 1
    assert len({p["X-Correlation-Id"] for p in posts}) == 1
    assert booked.status.value == "booked"


async def test_no_resend_after_a_409(bars_rig: Rig) -> None:
    """A 409 REC_CONFLICT is final (Sender-responsibilities): one POST, SlotUnavailable."""
    adapter = await bars_rig.make_adapter()
    slot = await _slot(adapter)
    await bars_rig.fault(fault="status", status=409, code="REC_CONFLICT", times=5, method="POST")
    with pytest.raises(errors.SlotUnavailable):
        await adapter.book(booking_request(slot), call_context())
    assert len(await _posts(bars_rig)) == 1


@pytest.mark.parametrize("fault", ["drop-after-forward", "reset-after-forward"])
async def test_lost_answer_is_recovered_by_the_resend(bars_rig: Rig, fault: str) -> None:
    """The receiver booked but the answer was lost: the resend's 409 duplicate is followed."""
    adapter = await bars_rig.make_adapter()
    slot = await _slot(adapter)
    await bars_rig.fault(fault=fault, times=1, method="POST")
    booked = await adapter.book(booking_request(slot), call_context())
    assert booked.slot.id == slot.id
    assert len(await _held_at(adapter, slot, SlotStatus.BUSY)) == 1
    assert await adapter.get(booked.supplier_ref, call_context()) == booked


@pytest.mark.parametrize("fault", ["drop-after-forward", "reset-after-forward"])
async def test_lost_answers_past_every_retry_are_resolved_by_a_read(
    bars_rig: Rig, fault: str
) -> None:
    """Every answer lost: the patient's Appointments are read and the one booking found."""
    adapter = await bars_rig.make_adapter(attempts=2)
    slot = await _slot(adapter)
    await bars_rig.fault(fault=fault, times=2, method="POST")
    booked = await adapter.book(booking_request(slot), call_context())
    assert booked.slot.id == slot.id
    posts = await _posts(bars_rig)
    assert len(posts) == 2 and len({p["X-Request-Id"] for p in posts}) == 1
    assert len(await _held_at(adapter, slot, SlotStatus.BUSY)) == 1


async def test_timeouts_without_booking_are_outcome_unknown(bars_rig: Rig) -> None:
    """504 PROXY_TIMEOUT on every send (never forwarded), nothing found: OutcomeUnknown."""
    adapter = await bars_rig.make_adapter(attempts=2)
    slot = await _slot(adapter)
    await bars_rig.fault(fault="timeout", times=2, method="POST")
    with pytest.raises(errors.OutcomeUnknown):
        await adapter.book(booking_request(slot), call_context())
    assert await _held_at(adapter, slot, SlotStatus.FREE)


async def test_a_401_fetches_one_fresh_token(bars_rig: Rig) -> None:
    """401 SEND_UNAUTHORIZED: the token is dropped, a new one fetched and the send repeated."""
    adapter = await bars_rig.make_adapter()
    await _slot(adapter)
    await bars_rig.fault(fault="status", status=401, code="SEND_UNAUTHORIZED", times=1)
    await _slot(adapter)
    assert adapter._wire.tokens.fetched == 2
    gets = [r for r in await bars_rig.seen() if r["path"].endswith("/Slot")]
    assert [g["status"] for g in gets] == [200, 401, 200]


async def test_the_token_is_reused_while_good(bars_rig: Rig) -> None:
    """One token serves many requests (cached until shortly before it expires)."""
    adapter = await bars_rig.make_adapter()
    for _ in range(3):
        await _slot(adapter)
    assert adapter._wire.tokens.fetched == 1


async def test_headers_carry_target_and_identity(bars_rig: Rig) -> None:
    """NHSD-Target-Identifier names the DoS target; End-User-Organisation the caller's ODS code."""
    adapter = await bars_rig.make_adapter()
    await _slot(adapter)
    seen = (await bars_rig.seen())[-1]
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    target = json.loads(base64.b64decode(headers["nhsd-target-identifier"]))
    assert target["value"] == "2000099999"
    org = json.loads(base64.b64decode(headers["nhsd-end-user-organisation"]))
    assert org["identifier"][0]["value"] == "A91547"
    assert "nhsd-requesting-software" in headers
    assert SENDER_ODS != "A91547"


PROXY_CODES = [r for r in CODES if r.code.startswith(("REC_", "SEND_", "PROXY_"))]


@pytest.mark.parametrize("rule", PROXY_CODES, ids=[r.code for r in PROXY_CODES])
async def test_every_code_maps_by_the_table(bars_rig: Rig, rule: Any) -> None:
    """Each code (status fault) raises its table error; retried codes are resent, others not."""
    adapter = await bars_rig.make_adapter(attempts=3)
    await bars_rig.fault(fault="status", status=rule.status, code=rule.code, times=10, method="GET")
    expected = REFINED.get((Op.SEARCH, rule.code), rule.error)
    with pytest.raises(errors.AdapterError) as caught:
        await adapter.search_slots(bookable(SERVICE_ID), call_context())
    assert type(caught.value) is expected, caught.value
    sends = len([r for r in await bars_rig.seen() if r["path"].endswith("/Slot")])
    if rule.retried:
        assert sends == 3
    elif rule.status == 401:
        assert sends == 2  # one fresh token, then the answer stands
    else:
        assert sends == 1
