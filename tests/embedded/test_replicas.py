"""Several gateway replicas sharing one PostgreSQL diary: each slot and request books once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio
from structlog.testing import capture_logs

from adapters.domain import Booking, BookingStatus, SlotStatus
from adapters.embedded import EmbeddedAdapter, PgTarget, load_directory
from adapters.embedded._templates import generate
from adapters.errors import BookingNotCancellable, SlotUnavailable, SupplierTimeout
from tests.contract.builders import booking_request, call_context
from tests.embedded.helpers import DEMO, LONDON, Clock, all_slots, first_free, open_diary
from tests.embedded.pg import fresh_schema, raw


@pytest_asyncio.fixture
async def target() -> AsyncIterator[PgTarget]:
    async with fresh_schema() as fresh:
        yield fresh


@pytest_asyncio.fixture
async def replicas(target: PgTarget) -> AsyncIterator[tuple[EmbeddedAdapter, EmbeddedAdapter]]:
    left = await open_diary(target, Clock())
    right = await open_diary(target, Clock())
    yield left, right
    await left.close()
    await right.close()


async def test_two_replicas_booking_one_slot_at_once_book_it_once(
    replicas: tuple[EmbeddedAdapter, EmbeddedAdapter], target: PgTarget
) -> None:
    """Twenty simultaneous bookings of one slot over two replicas: one booking, 19 refused."""
    slot = await first_free(replicas[0])
    outcomes = await asyncio.gather(
        *(side.book(booking_request(slot), call_context()) for side in replicas * 10),
        return_exceptions=True,
    )
    assert sum(isinstance(o, Booking) for o in outcomes) == 1
    assert sum(isinstance(o, SlotUnavailable) for o in outcomes) == 19
    assert await raw(target, "SELECT count(*) FROM bookings WHERE slot_id = ?", slot.id) == [(1,)]


async def test_one_request_id_sent_to_both_replicas_books_once(
    replicas: tuple[EmbeddedAdapter, EmbeddedAdapter], target: PgTarget
) -> None:
    """The same request id sent ten times to each replica at once stores one booking."""
    slot = await first_free(replicas[0])
    ctx = call_context()
    outcomes = await asyncio.gather(
        *(side.book(booking_request(slot), ctx) for side in replicas * 10)
    )
    assert {o.supplier_ref for o in outcomes} == {outcomes[0].supplier_ref}
    assert await raw(target, "SELECT count(*) FROM bookings") == [(1,)]


async def test_one_request_id_for_two_slots_at_two_replicas_books_one(
    replicas: tuple[EmbeddedAdapter, EmbeddedAdapter], target: PgTarget
) -> None:
    """A request id resent at once for another slot books one slot; the other stays free."""
    first, second = (await all_slots(replicas[0]))[:2]
    ctx = call_context()
    left, right = replicas
    outcomes = await asyncio.gather(
        left.book(booking_request(first), ctx), right.book(booking_request(second), ctx)
    )
    assert outcomes[0] == outcomes[1]
    assert await raw(target, "SELECT count(*) FROM bookings") == [(1,)]
    statuses = {s.id: s.status for s in await all_slots(left)}
    assert sorted(statuses[s.id] for s in (first, second)) == [SlotStatus.BUSY, SlotStatus.FREE]
    assert statuses[outcomes[0].slot.id] is SlotStatus.BUSY


async def test_replicas_starting_at_once_generate_each_slot_once(target: PgTarget) -> None:
    """Three replicas opening a fresh schema together create it once and add each slot once."""
    clock = Clock()
    with capture_logs() as events:
        opened = await asyncio.gather(*(open_diary(target, clock) for _ in range(3)))
    for adapter in opened:
        await adapter.close()
    today = clock.now.astimezone(LONDON).date()
    expected = {
        s.id
        for s in generate(load_directory(DEMO).templates, LONDON, today, 3)
        if s.start > clock.now
    }
    added = [e["slots_added"] for e in events if e["event"] == "embedded_diary_opened"]
    assert len(added) == 3 and sum(added) == len(expected)
    rows = await raw(target, "SELECT id FROM slots")
    assert len(rows) == len(expected) and {r[0] for r in rows} == expected


async def test_a_cancel_at_one_replica_frees_the_slot_at_the_other(
    replicas: tuple[EmbeddedAdapter, EmbeddedAdapter],
) -> None:
    """A booking made at one replica is read and cancelled at the other, then rebooked."""
    left, right = replicas
    slot = await first_free(left)
    booked = await left.book(booking_request(slot), call_context())
    assert await right.get(booked.supplier_ref, call_context()) == booked
    cancelled = await right.cancel(booked.supplier_ref, call_context())
    assert cancelled.status is BookingStatus.CANCELLED
    again = await left.book(booking_request(slot), call_context())
    assert again.slot.id == slot.id and again.supplier_ref != booked.supplier_ref


async def test_a_booking_stuck_behind_another_replicas_lock_times_out_cleanly(
    target: PgTarget,
) -> None:
    """A booking waiting on a row another replica holds times out; the pool works afterwards."""
    diary = await open_diary(target, Clock())
    other = await asyncpg.connect(target.dsn, server_settings={"search_path": str(target.schema)})
    try:
        slot = await first_free(diary)
        async with other.transaction():
            await other.execute("UPDATE slots SET status = status WHERE id = $1", slot.id)
            with pytest.raises(SupplierTimeout):
                await diary.book(booking_request(slot), call_context(deadline_in=0.3))
        # Every pooled connection in use at once, the one that timed out among them.
        await asyncio.gather(*(all_slots(diary) for _ in range(2 * target.pool_size)))
        booked = await diary.book(booking_request(slot), call_context())
        assert booked.slot.id == slot.id
    finally:
        await other.close()
        await diary.close()


async def test_two_replicas_cancelling_one_booking_at_once_cancel_it_once(
    replicas: tuple[EmbeddedAdapter, EmbeddedAdapter],
) -> None:
    """Twenty simultaneous cancels of one booking over two replicas: one cancels, 19 refused."""
    left, _ = replicas
    slot = await first_free(left)
    booked = await left.book(booking_request(slot), call_context())
    outcomes = await asyncio.gather(
        *(side.cancel(booked.supplier_ref, call_context()) for side in replicas * 10),
        return_exceptions=True,
    )
    assert sum(isinstance(o, Booking) for o in outcomes) == 1
    assert sum(isinstance(o, BookingNotCancellable) for o in outcomes) == 19
    assert {s.id: s.status for s in await all_slots(left)}[slot.id] is SlotStatus.FREE
