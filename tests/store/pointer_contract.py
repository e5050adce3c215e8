"""The registry journal part of the Store contract: every backend's test class subclasses
``PointerJournalContract`` beside ``StoreContract``.

A backend supplies a ``journaled_store`` fixture (an opened, empty store whose pointer
journal is on: every added version adds its journal entry) besides ``store``.
"""

from __future__ import annotations

from datetime import timedelta

from adapters.domain import BookingStatus
from gateway.store.base import RegistryPointer, Store
from tests.store.contract import T0, make_version

LEASE_S = 30.0


class PointerJournalContract:
    """Journal entries follow versions, are leased in order per appointment, and persist."""

    async def test_each_version_adds_one_entry_leased_oldest_first(
        self, journaled_store: Store
    ) -> None:
        """Two appointments' versions are leased oldest first, each once, with attempt 1."""
        store = journaled_store
        await store.add_version(make_version("a", 1))
        await store.add_version(make_version("b", 1, supplier_ref="REF-2"))
        first = await store.lease_pointer_work("w1", T0 + timedelta(hours=1), LEASE_S)
        second = await store.lease_pointer_work("w1", T0 + timedelta(hours=1), LEASE_S)
        assert first is not None and second is not None
        assert (first.appointment_id, first.version, first.attempts) == ("a", 1, 1)
        assert (second.appointment_id, second.version) == ("b", 1)
        assert await store.lease_pointer_work("w2", T0 + timedelta(hours=1), LEASE_S) is None

    async def test_a_later_version_waits_for_the_earlier_one(self, journaled_store: Store) -> None:
        """Version 2 is not leased while version 1 of that appointment is undelivered."""
        store = journaled_store
        now = T0 + timedelta(hours=1)
        await store.add_version(make_version("a", 1))
        await store.add_version(make_version("a", 2, status=BookingStatus.CANCELLED))
        first = await store.lease_pointer_work("w1", now, LEASE_S)
        assert first is not None and first.version == 1
        assert await store.lease_pointer_work("w2", now, LEASE_S) is None
        await store.retry_pointer_work(first, now + timedelta(seconds=10), "registry_unavailable")
        assert await store.lease_pointer_work("w2", now, LEASE_S) is None, "v1 backs off, v2 waits"
        again = await store.lease_pointer_work("w2", now + timedelta(seconds=10), LEASE_S)
        assert again is not None and (again.version, again.attempts) == (1, 2)
        await store.finish_pointer_work(again, now, None)
        nxt = await store.lease_pointer_work("w2", now, LEASE_S)
        assert nxt is not None and nxt.version == 2

    async def test_a_lapsed_lease_is_taken_over(self, journaled_store: Store) -> None:
        """An entry whose holder stopped (its lease ended) is leased again, attempts counted."""
        store = journaled_store
        await store.add_version(make_version("a", 1))
        now = T0 + timedelta(minutes=1)
        taken = await store.lease_pointer_work("dead", now, LEASE_S)
        assert taken is not None
        assert await store.lease_pointer_work("live", now + timedelta(seconds=29), LEASE_S) is None
        over = await store.lease_pointer_work("live", now + timedelta(seconds=31), LEASE_S)
        assert over is not None and (over.seq, over.attempts) == (taken.seq, 2)

    async def test_finished_work_records_the_pointer(self, journaled_store: Store) -> None:
        """Delivered work records what the registry holds; a refused entry lets the next go."""
        store = journaled_store
        await store.add_version(make_version("a", 1))
        await store.add_version(make_version("a", 2, description="moved"))
        now = T0 + timedelta(minutes=1)
        work = await store.lease_pointer_work("w", now, LEASE_S)
        assert work is not None
        held = RegistryPointer("a", "doc-1", "c1", "s1", 1)
        await store.finish_pointer_work(work, now, held)
        assert await store.registry_pointer("a") == held
        assert await store.registry_pointer("b") is None
        nxt = await store.lease_pointer_work("w", now, LEASE_S)
        assert nxt is not None and nxt.version == 2
        await store.refuse_pointer_work(nxt, now, "registry_refused_400")
        backlog = await store.pointer_backlog(stuck_after=3)
        assert (backlog.pending, backlog.stuck, backlog.refused) == (0, 0, 1)

    async def test_backlog_counts_pending_and_stuck(self, journaled_store: Store) -> None:
        """Pending entries are counted, those tried stuck_after times as stuck, oldest known."""
        store = journaled_store
        await store.add_version(make_version("a", 1))
        await store.add_version(make_version("b", 1, supplier_ref="REF-2"))
        for _ in range(2):
            work = await store.lease_pointer_work("w", T0 + timedelta(days=1), LEASE_S)
            assert work is not None and work.appointment_id == "a"
            await store.retry_pointer_work(work, T0, "registry_unavailable")
        backlog = await store.pointer_backlog(stuck_after=2)
        assert (backlog.pending, backlog.stuck, backlog.refused) == (2, 1, 0)
        assert backlog.oldest_pending == make_version("a", 1).last_modified

    async def test_without_the_journal_versions_add_no_entries(self, store: Store) -> None:
        """A store opened without its pointer journal has no registry work at all."""
        await store.add_version(make_version("a", 1))
        assert await store.lease_pointer_work("w", T0 + timedelta(days=1), LEASE_S) is None
        assert (await store.pointer_backlog(stuck_after=1)).pending == 0
