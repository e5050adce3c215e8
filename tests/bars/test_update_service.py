"""The booking service's update and reschedule (gateway/amend.py, gateway/changes.py) over the
real embedded diary and store: the new slot is booked, then the old one released."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters import errors as adapter_errors
from adapters.contract import BookingChange
from adapters.domain import BookingStatus, Coding, Slot, SlotQuery, SlotStatus
from adapters.embedded import EmbeddedAdapter
from gateway.changes import RescheduleTo
from gateway.config import ServiceRoute
from gateway.errors import ApiError, ErrorKind
from gateway.routing import Router
from gateway.service import BookingService
from gateway.store import AppointmentVersion
from gateway.store.sqlite import SqliteStore
from tests.contract.builders import booking_request, call_context
from tests.embedded.helpers import UTC_SERVICE, Clock, open_diary

REASON = (Coding(system="http://snomed.info/sct", code="165332000"),)


@dataclass
class Rig:
    service: BookingService
    diary: EmbeddedAdapter
    clock: Clock


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    """A booking service over the embedded diary and a SQLite store."""
    clock = Clock()
    diary = await open_diary(tmp_path / "diary.sqlite3", clock)
    store = SqliteStore(tmp_path / "gateway.sqlite3")
    await store.open()
    router = Router(
        {diary.name: diary}, {UTC_SERVICE: ServiceRoute(id=UTC_SERVICE, adapter=diary.name)}
    )
    service = BookingService(store, router, local_patient_system="urn:test:local", clock=clock)
    try:
        yield Rig(service, diary, clock)
    finally:
        await diary.close()
        await store.close()


def _ok(_: AppointmentVersion) -> None:
    return None


async def _free(rig: Rig, count: int) -> list[Slot]:
    query = SlotQuery(service_id=UTC_SERVICE, start_from=rig.clock.now + timedelta(hours=1))
    found = await rig.service.search(query, call_context())
    free = [s for s in found.slots if s.status is SlotStatus.FREE]
    assert len(free) >= count
    return free[:count]


async def _book(rig: Rig, slot: Slot) -> AppointmentVersion:
    return await rig.service.book(
        booking_request(slot),
        call_context(),
        scope="test",
        client_request_id=None,
        schedule_id=None,
    )


async def _statuses(rig: Rig, *slots: Slot) -> list[SlotStatus]:
    query = SlotQuery(
        service_id=UTC_SERVICE,
        statuses=frozenset(SlotStatus),
        start_from=rig.clock.now + timedelta(hours=1),
    )
    found = {s.id: s.status for s in (await rig.service.search(query, call_context())).slots}
    return [found[s.id] for s in slots]


async def _reschedule(
    rig: Rig, held: AppointmentVersion, to: Slot, **kw: Any
) -> AppointmentVersion:
    return await rig.service.reschedule(
        held.appointment_id,
        held.version,
        call_context(),
        _ok,
        slot=RescheduleTo(to.identifier, to.start, to.end),
        scope="test",
        client_request_id=kw.get("request_id"),
    )


async def test_a_reschedule_books_the_new_slot_and_frees_the_old(rig: Rig) -> None:
    """Version 2 names the new slot with the same patient and document; the old slot is free."""
    old, new = await _free(rig, 2)
    held = await _book(rig, old)
    moved = await _reschedule(rig, held, new)
    assert moved.version == 2 and moved.appointment_id == held.appointment_id
    assert moved.booking.slot.id == new.id and moved.booking.start == new.start
    assert moved.booking.patient == held.booking.patient
    assert moved.booking.document == held.booking.document
    assert moved.booking.status is BookingStatus.BOOKED
    assert await _statuses(rig, old, new) == [SlotStatus.FREE, SlotStatus.BUSY]


async def test_a_taken_slot_changes_nothing(rig: Rig) -> None:
    """The new slot already booked: SLOT_UNAVAILABLE, the booking and its slot stay as they were."""
    old, new = await _free(rig, 2)
    held = await _book(rig, old)
    await _book(rig, new)
    with pytest.raises(ApiError) as caught:
        await _reschedule(rig, held, new)
    assert caught.value.kind is ErrorKind.SLOT_UNAVAILABLE
    assert (await rig.service.read(held.appointment_id)).version == 1
    assert await _statuses(rig, old) == [SlotStatus.BUSY]


async def test_a_refused_release_undoes_the_new_booking(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The supplier refuses to cancel the old booking: the new one is cancelled again, the old
    one stands, and the error is the supplier's."""
    old, new = await _free(rig, 2)
    held = await _book(rig, old)
    real_cancel = rig.diary.cancel

    async def cancel(ref: str, ctx: Any, *, service_id: str | None = None) -> Any:
        if ref == held.booking.supplier_ref:
            raise adapter_errors.BookingNotCancellable("the desk has it")
        return await real_cancel(ref, ctx, service_id=service_id)

    monkeypatch.setattr(rig.diary, "cancel", cancel)
    with pytest.raises(ApiError):
        await _reschedule(rig, held, new)
    assert (await rig.service.read(held.appointment_id)).version == 1
    assert await _statuses(rig, old, new) == [SlotStatus.BUSY, SlotStatus.FREE]


async def test_a_reschedule_keeps_a_reason_and_an_update_sets_one(rig: Rig) -> None:
    """update() makes a version with the reason and calls no supplier; reschedule keeps it."""
    old, new = await _free(rig, 2)
    held = await _book(rig, old)
    updated = await rig.service.update(
        held.appointment_id,
        1,
        call_context(),
        _ok,
        reason=REASON,
        scope="test",
        client_request_id=None,
    )
    assert updated.version == 2 and updated.booking.reason == REASON
    assert updated.booking.supplier_ref == held.booking.supplier_ref
    moved = await _reschedule(rig, updated, new)
    assert moved.version == 3 and moved.booking.reason == REASON


async def test_a_stale_or_cancelled_appointment_is_not_rescheduled(rig: Rig) -> None:
    """Read before write: a stale version is VERSION_CONFLICT; a cancelled one BUSINESS_RULE."""
    old, new = await _free(rig, 2)
    held = await _book(rig, old)
    with pytest.raises(ApiError) as caught:
        await rig.service.reschedule(
            held.appointment_id,
            7,
            call_context(),
            _ok,
            slot=RescheduleTo(new.identifier, new.start, new.end),
            scope="test",
            client_request_id=None,
        )
    assert caught.value.kind is ErrorKind.VERSION_CONFLICT
    cancelled = await rig.service.cancel(
        held.appointment_id, 1, call_context(), _ok, scope="test", client_request_id=None
    )
    with pytest.raises(ApiError) as caught:
        await _reschedule(rig, cancelled, new)
    assert caught.value.kind is ErrorKind.BUSINESS_RULE
    assert await _statuses(rig, new) == [SlotStatus.FREE]


async def test_a_supplier_side_change_keeps_the_reason(rig: Rig) -> None:
    """A change the supplier reports (no reason in it) keeps the reason the gateway holds."""
    (slot,) = await _free(rig, 1)
    held = await _book(rig, slot)
    updated = await rig.service.update(
        held.appointment_id,
        1,
        call_context(),
        _ok,
        reason=REASON,
        scope="t",
        client_request_id=None,
    )
    moved = updated.booking.model_copy(update={"reason": (), "description": "changed at the desk"})
    await rig.service.apply_change(rig.diary.name, BookingChange(booking=moved, reason="update"))
    after = await rig.service.read(held.appointment_id)
    assert after.version == 3 and after.booking.reason == REASON
