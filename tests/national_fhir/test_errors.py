"""Every SSP and provider failure becomes the right typed error, through the real proxy."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest

from adapters import errors
from adapters.contract import SupplierAdapter
from adapters.domain import SlotQuery, utcnow
from adapters.national_fhir._outcomes import AccessRefused, ConflictPersisted, ProviderIncompatible
from tests.contract.builders import NHS_NUMBER, booking_request, call_context
from tests.national_fhir.conftest import SERVICE_ID, Rig
from tests.national_fhir.helpers import free_slot, outcome

E = type[errors.AdapterError]


def _bundle(kind: str | None) -> bytes:
    """A Bundle of one free future slot, of type ``kind`` (None: no type)."""
    start = utcnow().replace(microsecond=0) + timedelta(days=1)
    slot = {
        "resourceType": "Slot",
        "id": "s1",
        "schedule": {"reference": "Schedule/sch1"},
        "status": "free",
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=10)).isoformat(),
    }
    bundle: dict[str, Any] = {"resourceType": "Bundle", "entry": [{"resource": slot}]}
    if kind is not None:
        bundle["type"] = kind
    return json.dumps(bundle).encode()


SEARCH_CASES: list[tuple[int, bytes, E]] = [
    (403, outcome("forbidden", "ACCESS_DENIED"), AccessRefused),
    (404, outcome("not-found", "NO_RECORD_FOUND"), errors.ServiceNotFound),
    (415, outcome("not-supported", "UNSUPPORTED_MEDIA_TYPE"), ProviderIncompatible),
    (500, outcome("exception", "INTERNAL_SERVER_ERROR"), errors.SupplierUnavailable),
    (502, outcome("transient"), errors.SupplierUnavailable),
    (504, outcome("transient"), errors.SupplierTimeout),
    (200, b"{not json", errors.SupplierProtocolError),
    (200, b"<Bundle xmlns='http://hl7.org/fhir'/>", errors.SupplierProtocolError),
    (200, b'{"resourceType":"OperationOutcome"}', errors.SupplierProtocolError),
    # search_slots.md: results are a searchset Bundle; another type is not search results.
    *((200, _bundle(kind), errors.SupplierProtocolError) for kind in ("collection", None)),
]

BOOK_CASES: list[tuple[int, bytes, E]] = [
    (403, outcome("forbidden", "ACCESS_DENIED"), AccessRefused),
    (409, outcome("conflict"), errors.SlotUnavailable),
    (412, outcome("conflict", "PRECONDITION_FAILED"), ProviderIncompatible),
    (415, outcome("not-supported", "UNSUPPORTED_MEDIA_TYPE"), ProviderIncompatible),
    (422, outcome("conflict", "SLOT_NOT_FREE"), errors.SlotUnavailable),
    (422, outcome("not-found", "REFERENCE_NOT_FOUND"), errors.SlotNotFound),
    # book_an_appointment.md: a slot no longer free is a business-rule 422, said in words
    # under issue code processing, with or without the Spine code.
    (422, outcome("processing", diagnostics="Slot no longer available"), errors.SlotUnavailable),
    (
        422,
        outcome("processing", "SLOT_NOT_FREE", "Slot no longer available"),
        errors.SlotUnavailable,
    ),
    (
        422,
        outcome("processing", "INVALID_RESOURCE", "Appointment.contained.Slot is missing"),
        errors.BookingRejected,
    ),
    (
        422,
        outcome("value", "INVALID_NHS_NUMBER", f"NHS number {NHS_NUMBER}"),
        errors.BookingRejected,
    ),
    (500, outcome("exception"), errors.SupplierUnavailable),
    (502, outcome("transient"), errors.SupplierUnavailable),
    (504, outcome("transient"), errors.OutcomeUnknown),
    (201, b"{not json", errors.SupplierProtocolError),
]

READ_CASES: list[tuple[int, bytes, E]] = [
    (403, outcome("forbidden"), AccessRefused),
    (404, outcome("not-found", "NO_RECORD_FOUND"), errors.BookingNotFound),
    (500, b"", errors.SupplierUnavailable),
    (504, b"", errors.SupplierTimeout),
    (200, b'{"resourceType":"Appointment"}', errors.SupplierProtocolError),
]

CANCEL_CASES: list[tuple[int, bytes, E]] = [
    # cancel_an_appointment.md: 403 is a refused JWT, not a booking that cannot be cancelled.
    (403, outcome("forbidden", "ACCESS_DENIED"), AccessRefused),
    (412, outcome("conflict", "PRECONDITION_FAILED"), ProviderIncompatible),
    (409, outcome("conflict", "CONFLICT"), ConflictPersisted),
    (422, outcome("business-rule", "INVALID_RESOURCE"), errors.BookingNotCancellable),
    (500, outcome("exception"), errors.SupplierUnavailable),
    (504, b"", errors.OutcomeUnknown),
]


def _checked(exc: errors.AdapterError, status: int) -> None:
    """supplier_detail keeps status and codes for the log; never diagnostics text."""
    assert exc.supplier_detail is not None
    if status != 200 and status != 201:
        assert f"HTTP {status}" in exc.supplier_detail
    assert NHS_NUMBER not in f"{exc} {exc.supplier_detail}"


@pytest.mark.parametrize(("status", "payload", "expected"), SEARCH_CASES)
async def test_search_errors(rig: Rig, status: int, payload: bytes, expected: E) -> None:
    """A slot search answered with a failure raises the typed error of the table."""
    rig.ssp.inject(method="GET", path=r"/Slot\?", status=status, body=payload)
    with pytest.raises(expected) as caught:
        await rig.adapter.search_slots(SlotQuery(service_id=SERVICE_ID), call_context())
    _checked(caught.value, status)


@pytest.mark.parametrize(("status", "payload", "expected"), BOOK_CASES)
async def test_booking_errors(rig: Rig, status: int, payload: bytes, expected: E) -> None:
    """A booking answered with a failure raises the typed error of the table."""
    slot = await free_slot(rig.adapter)
    rig.ssp.inject(method="POST", status=status, body=payload)
    with pytest.raises(expected) as caught:
        await rig.adapter.book(booking_request(slot), call_context())
    _checked(caught.value, status)
    if status == 422 and b"INVALID_NHS_NUMBER" in payload:
        assert "INVALID_NHS_NUMBER" in str(caught.value.supplier_detail)


@pytest.mark.parametrize(("status", "payload", "expected"), READ_CASES)
async def test_read_errors(rig: Rig, status: int, payload: bytes, expected: E) -> None:
    """Reading a booking answered with a failure raises the typed error of the table."""
    booked = await rig.adapter.book(booking_request(await free_slot(rig.adapter)), call_context())
    rig.ssp.inject(method="GET", path="/Appointment/", status=status, body=payload)
    with pytest.raises(expected) as caught:
        await rig.adapter.get(booked.supplier_ref, call_context())
    _checked(caught.value, status)


@pytest.mark.parametrize(("status", "payload", "expected"), CANCEL_CASES)
async def test_cancel_errors(rig: Rig, status: int, payload: bytes, expected: E) -> None:
    """A cancel answered with a failure (on every round) raises the typed error of the table."""
    booked = await rig.adapter.book(booking_request(await free_slot(rig.adapter)), call_context())
    rig.ssp.inject(method="PUT", status=status, body=payload, times=10)
    with pytest.raises(expected) as caught:
        await rig.adapter.cancel(booked.supplier_ref, call_context())
    _checked(caught.value, status)


async def test_slow_provider_is_a_timeout_within_the_deadline(rig: Rig) -> None:
    """The SSP holding a search past ctx.deadline yields SupplierTimeout, promptly."""
    rig.ssp.inject(method="GET", path=r"/Slot\?", delay_s=1.0)
    loop = asyncio.get_running_loop()
    began = loop.time()
    with pytest.raises(errors.SupplierTimeout):
        await rig.adapter.search_slots(
            SlotQuery(service_id=SERVICE_ID), call_context(deadline_in=0.2)
        )
    assert loop.time() - began < 0.8


async def test_wrong_ssp_to_is_refused_by_the_provider(rig: Rig) -> None:
    """The provider enforces SSP headers: a wrong Ssp-To (another ASID) is 403 AccessRefused."""
    rig.directory.write_text(
        f"service_id,asid,service_root\n{SERVICE_ID},200000000999,{rig.provider_root}\n",
        encoding="utf-8",
    )
    adapter = await rig.make_adapter()
    try:
        with pytest.raises(AccessRefused):
            await adapter.search_slots(SlotQuery(service_id=SERVICE_ID), call_context())
    finally:
        await adapter.close()


async def test_unreachable_proxy_is_supplier_unavailable(rig: Rig, unused_tcp_port: int) -> None:
    """Nothing listening at the SSP URL: search and book raise SupplierUnavailable."""
    slot = await free_slot(rig.adapter)
    adapter: SupplierAdapter = await rig.make_adapter(
        ssp_url=f"http://127.0.0.1:{unused_tcp_port}", attempts=2
    )
    try:
        with pytest.raises(errors.SupplierUnavailable):
            await adapter.search_slots(SlotQuery(service_id=SERVICE_ID), call_context())
        with pytest.raises(errors.SupplierUnavailable):
            await adapter.book(booking_request(slot), call_context())
    finally:
        await adapter.close()
