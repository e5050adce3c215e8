"""Retry safety (fs_xti.md) and version-aware cancels (cancel_an_appointment.md), for real."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from adapters.domain import BookingStatus
from adapters.errors import BookingNotCancellable, OutcomeUnknown
from tests.contract.builders import NHS_NUMBER, booking_request, call_context
from tests.national_fhir.conftest import Rig
from tests.national_fhir.helpers import body, free_slot, outcome

PATIENT_SEARCH = f"/Appointment?patient:identifier=https://fhir.nhs.uk/Id/nhs-number|{NHS_NUMBER}"


async def _appointments_at_provider(rig: Rig) -> list[dict[str, Any]]:
    bundle = await rig.provider_json(PATIENT_SEARCH)
    return [e["resource"] for e in bundle.get("entry", [])]


async def test_lost_booking_answer_is_recovered_without_a_second_booking(rig: Rig) -> None:
    """The SSP drops the 201; the resend reuses X-Request-ID, gets 409 and follows its pointer."""
    slot = await free_slot(rig.adapter)
    rig.ssp.inject(method="POST", path=r"/Appointment$", drop_after_forward=True)
    ctx = call_context()
    booking = await rig.adapter.book(booking_request(slot), ctx)

    posts = rig.ssp.requests("POST")
    assert [p.headers["X-Request-ID"] for p in posts] == [ctx.request_id, ctx.request_id]
    assert [status for method, _, status, _ in rig.ssp.answers if method == "POST"] == [201, 409]
    stored = await _appointments_at_provider(rig)
    assert len(stored) == 1
    assert booking.supplier_ref == f"{rig.provider_root}/Appointment/{stored[0]['id']}"
    assert booking.status is BookingStatus.BOOKED and booking.slot.id == slot.id
    assert rig.ssp.requests("GET", rf"/Appointment/{stored[0]['id']}$"), "pointer not followed"


async def test_retry_after_a_restart_finds_the_first_booking(rig: Rig) -> None:
    """A fresh adapter (no memory of the search) retrying the same request id books nothing new."""
    slot = await free_slot(rig.adapter)
    ctx = call_context()
    first = await rig.adapter.book(booking_request(slot), ctx)
    restarted = await rig.make_adapter()
    try:
        again = await restarted.book(booking_request(slot), ctx)
        assert again == first
    finally:
        await restarted.close()
    assert len(await _appointments_at_provider(rig)) == 1


async def test_booking_timeout_is_outcome_unknown_and_the_retry_recovers(rig: Rig) -> None:
    """A POST in flight at the deadline is OutcomeUnknown; a later retry finds the booking."""
    slot = await free_slot(rig.adapter)
    rig.ssp.inject(method="POST", path=r"/Appointment$", delay_s=0.6)
    ctx = call_context(deadline_in=0.2)
    with pytest.raises(OutcomeUnknown):
        await rig.adapter.book(booking_request(slot), ctx)
    await rig.ssp.wait_until(lambda: any(a[0] == "POST" for a in rig.ssp.answers))
    retry = call_context(ctx.request_id, deadline_in=5)
    booking = await rig.adapter.book(booking_request(slot), retry)
    stored = await _appointments_at_provider(rig)
    assert len(stored) == 1 and booking.supplier_ref.endswith(stored[0]["id"])


async def test_cancel_reads_first_and_puts_only_the_status_change_with_if_match(rig: Rig) -> None:
    """cancel_an_appointment.md: GET the latest, change only status, PUT with If-Match."""
    booked = await rig.adapter.book(booking_request(await free_slot(rig.adapter)), call_context())
    appointment_id = booked.supplier_ref.rpartition("/")[2]
    before = len(rig.ssp.seen)
    cancelled = await rig.adapter.cancel(booked.supplier_ref, call_context())
    assert cancelled.status is BookingStatus.CANCELLED
    steps = [(s.method, s.target.rpartition("/")[2]) for s in rig.ssp.seen[before:]]
    assert steps == [("GET", appointment_id), ("PUT", appointment_id)]
    put = rig.ssp.seen[-1]
    assert put.headers["If-Match"] == 'W/"1"'
    version_1 = await rig.provider_json(f"/Appointment/{appointment_id}/_history/1")
    assert body(put) == {**version_1, "status": "cancelled"}


async def test_conflict_on_cancel_is_read_again_and_retried(rig: Rig) -> None:
    """A 409 to the PUT makes the adapter re-read and PUT again, with the same X-Request-ID."""
    booked = await rig.adapter.book(booking_request(await free_slot(rig.adapter)), call_context())
    rig.ssp.inject(method="PUT", status=409, body=outcome("conflict", "CONFLICT"))
    before = len(rig.ssp.seen)
    cancelled = await rig.adapter.cancel(booked.supplier_ref, call_context())
    assert cancelled.status is BookingStatus.CANCELLED
    steps = [s.method for s in rig.ssp.seen[before:]]
    assert steps == ["GET", "PUT", "GET", "PUT"]
    puts = rig.ssp.requests("PUT")
    assert len({p.headers["X-Request-ID"] for p in puts}) == 1
    assert all(p.headers["If-Match"] == 'W/"1"' for p in puts)


async def test_a_real_concurrent_cancel_wins_and_ours_is_not_cancellable(rig: Rig) -> None:
    """Someone cancels between our read and our PUT: the provider's 409 leads to a re-read."""
    booked = await rig.adapter.book(booking_request(await free_slot(rig.adapter)), call_context())
    rig.ssp.inject(method="PUT", delay_s=0.4)  # hold our PUT in the proxy
    ours = asyncio.create_task(rig.adapter.cancel(booked.supplier_ref, call_context()))
    await rig.ssp.wait_until(lambda: bool(rig.ssp.requests("PUT")))
    other = await rig.make_adapter()
    try:
        await other.cancel(booked.supplier_ref, call_context())
    finally:
        await other.close()
    with pytest.raises(BookingNotCancellable):
        await ours
    assert [a[2] for a in rig.ssp.answers if a[0] == "PUT"] == [200, 409]


async def test_lost_cancel_answer_is_recognised_as_done(rig: Rig) -> None:
    """The SSP drops the 200 to the PUT; the resend's 409 'used before' means it was cancelled."""
    booked = await rig.adapter.book(booking_request(await free_slot(rig.adapter)), call_context())
    rig.ssp.inject(method="PUT", drop_after_forward=True)
    cancelled = await rig.adapter.cancel(booked.supplier_ref, call_context())
    assert cancelled.status is BookingStatus.CANCELLED
    assert [a[2] for a in rig.ssp.answers if a[0] == "PUT"] == [200, 409]
