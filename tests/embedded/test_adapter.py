"""Behaviour of the embedded diary beyond the shared contract."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from structlog.testing import capture_logs

from adapters.contract import Capability, SupplierAdapter
from adapters.domain import Booking, Patient, SlotStatus, SupportingDocument
from adapters.embedded import EmbeddedAdapter, PgTarget
from adapters.embedded._edge import guarded
from adapters.errors import (
    AdapterError,
    BookingNotCancellable,
    BookingNotFound,
    BookingRejected,
    OutcomeUnknown,
    SlotMismatch,
    SlotUnavailable,
    SupplierTimeout,
    SupplierUnavailable,
)
from adapters.registry import create as create_adapter
from tests.contract.builders import booking_request, call_context
from tests.embedded.helpers import (
    DEMO,
    OOH_SERVICE,
    UTC_SERVICE,
    Clock,
    all_slots,
    first_free,
    open_diary,
)
from tests.embedded.pg import DSN, Where, fresh_schema, raw, require_postgres


@pytest_asyncio.fixture
async def diary(where: Where) -> AsyncIterator[EmbeddedAdapter]:
    adapter = await open_diary(where, Clock())
    yield adapter
    await adapter.close()


async def test_registry_builds_the_embedded_adapter(tmp_path: Path) -> None:
    """The registry's "embedded" alias builds an adapter with every capability, REFERRAL too."""
    options = {"database": "diary.sqlite3", "data_dir": str(DEMO), "log_name": "demo"}
    adapter = await create_adapter("embedded", "demo", options, tmp_path)
    try:
        assert isinstance(adapter, SupplierAdapter)
        assert adapter.capabilities == frozenset(Capability)
        assert adapter.serves(UTC_SERVICE) and adapter.serves(OOH_SERVICE)
        assert (tmp_path / "diary.sqlite3").exists()
    finally:
        await adapter.close()


async def test_registry_builds_a_postgres_diary_from_dsn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Options dsn, password_env and schema build a diary whose tables are in that schema."""
    monkeypatch.setenv("UEC_TEST_DIARY_PASSWORD", "unused-under-trust-auth")
    async with fresh_schema() as target:
        options = {
            "dsn": target.dsn,
            "password_env": "UEC_TEST_DIARY_PASSWORD",
            "schema": target.schema,
            "data_dir": str(DEMO),
            "horizon_days": 2,
        }
        adapter = await create_adapter("embedded", "demo", options, tmp_path)
        try:
            assert adapter.capabilities == frozenset(Capability)
            assert (await adapter.health()).ok
        finally:
            await adapter.close()
        tables = await raw(
            target,
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ?",
            target.schema,
        )
    assert {t for (t,) in tables} == {"slots", "bookings", "referrals", "diary_version"}


async def test_first_service_offers_at_least_fifty_slots_a_day(diary: EmbeddedAdapter) -> None:
    """The urgent treatment centre has 50+ free face-to-face slots on a full day."""
    slots = await all_slots(diary)
    per_day: dict[object, int] = {}
    for slot in slots:
        per_day[slot.start.date()] = per_day.get(slot.start.date(), 0) + 1
        assert slot.delivery_channel is not None and slot.delivery_channel.value == "In-person"
    assert max(per_day.values()) >= 50


@pytest.mark.parametrize(
    ("start_shift", "end_shift"),
    [(-5, 0), (0, 5), (5, -5 - 10)],
    ids=["starts-early", "ends-late", "ends-before-start"],
)
async def test_times_outside_the_slot_are_a_mismatch(
    diary: EmbeddedAdapter, start_shift: int, end_shift: int
) -> None:
    """A booking whose start/end fall outside its slot raises SlotMismatch and books nothing."""
    slot = await first_free(diary)
    request = booking_request(
        slot,
        start=slot.start + timedelta(minutes=start_shift),
        end=slot.end + timedelta(minutes=end_shift),
    )
    with pytest.raises(SlotMismatch):
        await diary.book(request, call_context())
    assert await first_free(diary) == slot


async def test_a_part_of_the_slot_may_be_booked(diary: EmbeddedAdapter) -> None:
    """Start and end within the slot are accepted and returned as requested."""
    slot = await first_free(diary)
    request = booking_request(slot, start=slot.start + timedelta(minutes=2))
    booked = await diary.book(request, call_context())
    assert booked.start == request.start and booked.slot.start == slot.start


async def test_slot_may_be_named_by_id_or_identifier(diary: EmbeddedAdapter) -> None:
    """book() accepts the slot's id as well as its identifier UUID."""
    slot = await first_free(diary)
    booked = await diary.book(booking_request(slot, slot_id=slot.id), call_context())
    assert booked.slot.identifier == slot.identifier


async def test_a_started_slot_cannot_be_booked_or_cancelled(where: Where) -> None:
    """Once a slot's start has passed it is unavailable, and its booking is not cancellable."""
    clock = Clock()
    diary = await open_diary(where, clock)
    try:
        first, second = (await all_slots(diary))[:2]
        booked = await diary.book(booking_request(first), call_context())
        clock.now = second.start + timedelta(minutes=1)
        with pytest.raises(SlotUnavailable):
            await diary.book(booking_request(second), call_context())
        with pytest.raises(BookingNotCancellable):
            await diary.cancel(booked.supplier_ref, call_context())
    finally:
        await diary.close()


async def test_a_new_local_day_tops_up_the_horizon(where: Where) -> None:
    """A long-running diary adds the next day's slots when the local date changes."""
    clock = Clock()
    diary = await open_diary(where, clock, horizon_days=2)
    try:
        last_before = (await all_slots(diary))[-1].start
        clock.advance(timedelta(days=1))
        last_after = (await all_slots(diary))[-1].start
    finally:
        await diary.close()
    assert last_after - last_before == timedelta(days=1)


async def test_deadline_passing_while_waiting_times_out(diary: EmbeddedAdapter) -> None:
    """A deadline that expires while the diary is busy raises SupplierTimeout, booking nothing."""
    slot = await first_free(diary)
    held = 0
    while not diary._lock.locked():  # other calls hold every connection of the diary
        await diary._lock.acquire()
        held += 1
    try:
        with pytest.raises(SupplierTimeout):
            await diary.book(booking_request(slot), call_context(deadline_in=0.05))
    finally:
        for _ in range(held):
            diary._lock.release()
    assert await first_free(diary) == slot


async def test_two_processes_sharing_a_file_book_once(tmp_path: Path) -> None:
    """Two diaries on one SQLite file (separate connections and locks) book a slot once."""
    path = tmp_path / "diary.sqlite3"
    left, right = await open_diary(path, Clock()), await open_diary(path, Clock())
    try:
        slot = await first_free(left)
        outcomes = await asyncio.gather(
            *(side.book(booking_request(slot), call_context()) for side in (left, right) * 10),
            return_exceptions=True,
        )
    finally:
        await left.close()
        await right.close()
    assert sum(isinstance(o, Booking) for o in outcomes) == 1
    assert sum(isinstance(o, SlotUnavailable) for o in outcomes) == 19


async def test_patient_and_document_are_stored_as_json(
    diary: EmbeddedAdapter, where: Where
) -> None:
    """The booking's patient and document are pydantic JSON in the diary's own database."""
    request = booking_request(await first_free(diary))
    booked = await diary.book(request, call_context())
    ((patient, document),) = await raw(
        where, "SELECT patient, document FROM bookings WHERE supplier_ref = ?", booked.supplier_ref
    )
    assert Patient.model_validate_json(patient) == request.patient
    assert SupportingDocument.model_validate_json(document) == request.document


async def test_database_failures_become_supplier_unavailable(
    diary: EmbeddedAdapter, where: Where
) -> None:
    """A broken database surfaces as SupplierUnavailable with the driver's error as cause."""
    slot = await first_free(diary)
    await raw(where, "DROP TABLE bookings")
    with pytest.raises(SupplierUnavailable) as caught:
        await diary.book(booking_request(slot), call_context())
    assert isinstance(caught.value.__cause__, sqlite3.Error | asyncpg.PostgresError)
    with pytest.raises(SupplierUnavailable):
        await diary.get("any", call_context())
    # The failed transaction was rolled back: the slot is still free.
    assert await first_free(diary) == slot


async def test_unopenable_database_is_supplier_unavailable(tmp_path: Path) -> None:
    """A database path that cannot be opened fails create with SupplierUnavailable."""
    (tmp_path / "taken").mkdir()
    with pytest.raises(SupplierUnavailable):
        await open_diary(tmp_path / "taken", Clock())


@pytest.mark.parametrize(
    "dsn",
    ["postgresql://postgres@127.0.0.1:1/test", DSN.rsplit("/", 1)[0] + "/no_such_database"],
    ids=["nothing-listening", "unknown-database"],
)
async def test_unreachable_postgres_is_supplier_unavailable(dsn: str) -> None:
    """A PostgreSQL server refusing us or lacking the database fails open: SupplierUnavailable."""
    await require_postgres()
    with pytest.raises(SupplierUnavailable):
        await open_diary(PgTarget(dsn, schema="t_never"), Clock())


async def test_a_nul_character_is_rejected_by_postgres() -> None:
    """PostgreSQL text cannot hold NUL: such a description is BookingRejected, booking nothing."""
    async with fresh_schema() as target:
        diary = await open_diary(target, Clock())
        try:
            slot = await first_free(diary)
            request = booking_request(slot).model_copy(update={"description": "pain \x00"})
            with pytest.raises(BookingRejected) as caught:
                await diary.book(request, call_context())
            assert not caught.value.transient
            assert "pain" not in str(caught.value) + str(caught.value.supplier_detail)
            assert await first_free(diary) == slot
        finally:
            await diary.close()


async def test_events_carry_ids_only(diary: EmbeddedAdapter) -> None:
    """slot_booked and booking_cancelled are logged with ids and nothing else."""
    slot = await first_free(diary)
    with capture_logs() as events:
        booked = await diary.book(booking_request(slot), call_context())
        await diary.cancel(booked.supplier_ref, call_context())
    names = [e["event"] for e in events]
    assert names == ["slot_booked", "booking_cancelled"]
    allowed = {"event", "log_level", "adapter", "supplier_ref", "slot_id", "service_id"}
    for event in events:
        assert set(event) <= allowed | {"request_id"}


async def test_health_reports_latency_then_closed(diary: EmbeddedAdapter) -> None:
    """health() is ok with a latency while open and not ok once closed; never raises."""
    health = await diary.health()
    assert health.ok and health.latency_ms is not None
    await diary.close()
    assert not (await diary.health()).ok
    with pytest.raises(AdapterError):
        await diary.get("x", call_context())


async def test_cancelled_slot_can_be_booked_again(diary: EmbeddedAdapter) -> None:
    """Cancelling frees the slot for another patient; the old booking stays cancelled."""
    slot = await first_free(diary)
    first = await diary.book(booking_request(slot), call_context())
    await diary.cancel(first.supplier_ref, call_context())
    second = await diary.book(booking_request(slot), call_context())
    assert second.supplier_ref != first.supplier_ref
    assert second.slot.status is SlotStatus.BUSY
    old = await diary.get(first.supplier_ref, call_context())
    assert old.status.value == "cancelled" and old.slot.status is SlotStatus.BUSY


async def test_text_that_cannot_be_stored_is_rejected(diary: EmbeddedAdapter) -> None:
    """A description with a lone surrogate is refused with BookingRejected, booking nothing."""
    slot = await first_free(diary)
    request = booking_request(slot).model_copy(update={"description": "pain \ud800"})
    with pytest.raises(BookingRejected) as caught:
        await diary.book(request, call_context())
    assert not caught.value.transient
    assert "pain" not in str(caught.value) + str(caught.value.supplier_detail)
    assert await first_free(diary) == slot


async def test_error_messages_quote_ids_briefly(diary: EmbeddedAdapter) -> None:
    """An absurdly long reference is quoted truncated in the error message."""
    with pytest.raises(BookingNotFound) as caught:
        await diary.get("x" * 100_000, call_context())
    assert len(str(caught.value)) < 200


@pytest.mark.parametrize(
    ("committed", "expected"), [(False, SupplierTimeout), (True, OutcomeUnknown)]
)
async def test_a_deadline_during_commit_is_an_unknown_outcome(
    committed: bool, expected: type[AdapterError]
) -> None:
    """A deadline hit before the commit is a timeout; once the commit was sent, unknown."""
    with pytest.raises(expected):
        async with guarded("book", call_context(deadline_in=0.01), asyncio.Lock(), "t") as call:
            call.commit_sent = committed
            await asyncio.sleep(1)


async def test_instants_come_back_timezone_aware_utc(diary: EmbeddedAdapter, where: Where) -> None:
    """Slot and booking instants read back as UTC-aware datetimes; PostgreSQL stores timestamptz."""
    booked = await diary.book(booking_request(await first_free(diary)), call_context())
    again = await diary.get(booked.supplier_ref, call_context())
    for instant in (again.start, again.end, again.created, again.slot.start, again.slot.end):
        assert instant.tzinfo is not None and instant.utcoffset() == timedelta(0)
    if isinstance(where, PgTarget):
        types = await raw(
            where,
            "SELECT DISTINCT data_type FROM information_schema.columns"
            " WHERE table_schema = ? AND column_name IN ('start', 'end', 'created', 'received')",
            where.schema,
        )
        assert types == [("timestamp with time zone",)]


@pytest.mark.parametrize("waits_before_cancel", [0, 1, 2, 4, 8])
async def test_a_cancelled_booking_is_made_whole_or_not_at_all(
    diary: EmbeddedAdapter, where: Where, waits_before_cancel: int
) -> None:
    """A booking whose caller is cancelled at any point leaves the slot free with no booking,
    or busy with the whole booking, which a resend of the request id then gets."""
    slot = await first_free(diary)
    ctx = call_context()
    task = asyncio.create_task(diary.book(booking_request(slot), ctx))
    for _ in range(waits_before_cancel):
        await asyncio.sleep(0.0005)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)

    status = next(s for s in await all_slots(diary) if s.id == slot.id).status
    ((bookings,),) = await raw(where, "SELECT count(*) FROM bookings")
    assert (status, bookings) in ((SlotStatus.FREE, 0), (SlotStatus.BUSY, 1))
    again = await diary.book(booking_request(slot), ctx)
    assert again.slot.id == slot.id
    assert await raw(where, "SELECT count(*) FROM bookings") == [(1,)]
