"""The diary survives restarts: regeneration is idempotent and bookings persist."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from pathlib import Path

from adapters.domain import BookingStatus, SlotStatus
from adapters.embedded import load_directory
from adapters.embedded._templates import generate
from tests.contract.builders import booking_request, call_context
from tests.embedded.helpers import (
    DEMO,
    LONDON,
    OOH_SERVICE,
    UTC_SERVICE,
    Clock,
    all_slots,
    first_free,
    open_diary,
)
from tests.embedded.pg import Where


async def test_reopening_neither_duplicates_nor_frees_slots(where: Where) -> None:
    """Reopening the same diary adds no slot twice and leaves a booked slot busy."""
    clock, path = Clock(), where
    diary = await open_diary(path, clock)
    slot = await first_free(diary)
    await diary.book(booking_request(slot), call_context())
    before = await all_slots(diary)
    await diary.close()

    diary = await open_diary(path, clock)
    after = await all_slots(diary)
    await diary.close()
    assert after == before
    assert Counter((s.schedule_id, s.start) for s in after).most_common(1)[0][1] == 1
    assert {s.id: s.status for s in after}[slot.id] is SlotStatus.BUSY


async def test_reopening_a_day_later_adds_only_the_new_day(where: Where) -> None:
    """A restart on a later day tops up the horizon's new day and changes nothing else."""
    clock, path = Clock(), where
    diary = await open_diary(path, clock, horizon_days=3)
    slot = await first_free(diary)
    await diary.book(booking_request(slot), call_context())
    before = {s.id: s for s in await all_slots(diary)}
    await diary.close()

    clock.advance(timedelta(days=1))
    diary = await open_diary(path, clock, horizon_days=3)
    after = {s.id: s for s in await all_slots(diary)}
    await diary.close()
    added = set(after) - set(before)
    assert set(before) <= set(after)
    assert all(after[sid] == before[sid] for sid in before)
    new_day = clock.now.astimezone(LONDON).date() + timedelta(days=2)
    templates = load_directory(DEMO).templates
    expected = {
        s.id
        for s in generate(templates, LONDON, new_day, 1)
        if s.schedule_id in {"sched-utc-gp", "sched-utc-clinician"}
    }
    assert added == expected
    assert after[slot.id].status is SlotStatus.BUSY


async def test_booking_survives_reopening(where: Where) -> None:
    """A booking made before a restart reads back identically and can still be cancelled."""
    clock, path = Clock(), where
    diary = await open_diary(path, clock)
    slot = await first_free(diary, OOH_SERVICE)
    booked = await diary.book(booking_request(slot), call_context())
    await diary.close()

    diary = await open_diary(path, clock)
    try:
        assert await diary.get(booked.supplier_ref, call_context()) == booked
        cancelled = await diary.cancel(booked.supplier_ref, call_context())
        assert cancelled.status is BookingStatus.CANCELLED
        assert cancelled.slot.status is SlotStatus.FREE
        assert cancelled.service_id == OOH_SERVICE
    finally:
        await diary.close()


async def test_retry_after_restart_returns_the_first_booking(where: Where) -> None:
    """The idempotency key is stored with the booking, so a retry after a restart books once."""
    clock, path = Clock(), where
    ctx = call_context()
    diary = await open_diary(path, clock)
    slot = await first_free(diary, UTC_SERVICE)
    booked = await diary.book(booking_request(slot), ctx)
    await diary.close()

    diary = await open_diary(path, clock)
    try:
        assert await diary.book(booking_request(slot), ctx) == booked
    finally:
        await diary.close()


async def test_diaries_opening_one_new_file_at_once_all_open(tmp_path: Path) -> None:
    """Six diaries opening one new SQLite file together (serve --workers) all open; one
    set of slots."""
    clock = Clock()
    for round_no in range(10):
        path = tmp_path / f"embedded-{round_no}.sqlite3"
        diaries = await asyncio.gather(*(open_diary(path, clock, horizon_days=1) for _ in range(6)))
        seen = [await all_slots(diary) for diary in diaries]
        for diary in diaries:
            await diary.close()
        assert all(slots == seen[0] for slots in seen) and seen[0]
        assert Counter((s.schedule_id, s.start) for s in seen[0]).most_common(1)[0][1] == 1
