"""The audit trail's group commit: nothing queued is lost, order is kept."""

from __future__ import annotations

from pathlib import Path

from adapters.domain import utcnow
from gateway.audit import AuditTrail
from gateway.store import AuditEntry
from gateway.store.sqlite import SqliteStore


def _entry(n: int) -> AuditEntry:
    return AuditEntry(
        at=utcnow(), interaction="slot_search", method="GET", path=f"/p/{n}", status=200
    )


async def test_entries_queued_before_close_are_all_written(tmp_path: Path) -> None:
    """Closing the trail writes every queued entry, in batches, none lost."""
    store = SqliteStore(tmp_path / "a.sqlite3")
    await store.open()
    trail = AuditTrail(store, interval_s=10, batch=7)
    await trail.start()
    for n in range(50):
        trail.record(_entry(n))
    await trail.close()
    written = await store.audit_entries(100)
    assert sorted(e.path for e in written) == sorted(f"/p/{n}" for n in range(50))
    await store.close()


async def test_entries_are_written_within_the_interval(tmp_path: Path) -> None:
    """A running trail writes a recorded entry shortly, without a close."""
    import asyncio

    store = SqliteStore(tmp_path / "a.sqlite3")
    await store.open()
    trail = AuditTrail(store, interval_s=0.01)
    await trail.start()
    trail.record(_entry(1))
    for _ in range(100):
        if await store.audit_entries(5):
            break
        await asyncio.sleep(0.01)
    assert [e.path for e in await store.audit_entries(5)] == ["/p/1"]
    await trail.close()
    await store.close()
