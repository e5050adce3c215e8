"""The trace recorder: bounded, never blocking, written in batches, off when told."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gateway.store.sqlite import SqliteStore
from gateway.trace.recorder import TraceRecorder
from gateway.trace.settings import TraceSettings
from tests.store.trace_contract import hop


@pytest.fixture
async def store() -> AsyncIterator[SqliteStore]:
    opened = SqliteStore(":memory:")
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


async def test_a_full_queue_drops_the_exchange_instead_of_waiting(store: SqliteStore) -> None:
    """With room for one exchange, a second is dropped and counted; the first is written."""
    recorder = TraceRecorder(store, TraceSettings(queue_size=1))
    recorder.submit([hop("book", request_id="rq-1")])
    recorder.submit([hop("book", request_id="rq-2")])
    assert recorder.dropped == 1
    await recorder.flush()
    assert await store.find_journey("rq-1") is not None
    assert await store.find_journey("rq-2") is None


async def test_queued_exchanges_are_written_at_close(store: SqliteStore) -> None:
    """Closing the recorder writes what was queued, a batch per transaction."""
    recorder = TraceRecorder(store, TraceSettings(batch=2, interval_s=5))
    await recorder.start()
    for n in range(5):
        recorder.submit([hop("book", n, request_id=f"rq-{n}")])
    await recorder.close()
    assert len(await store.trace_journey_ids()) == 5


async def test_a_disabled_trace_records_nothing(store: SqliteStore) -> None:
    """``trace.enabled: false``: submitted hops are not kept."""
    recorder = TraceRecorder(store, TraceSettings(enabled=False))
    recorder.submit([hop("book", request_id="rq-1")])
    await recorder.flush()
    assert await store.trace_journey_ids() == [] and recorder.dropped == 0
