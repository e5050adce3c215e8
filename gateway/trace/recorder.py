"""The journey trace's writer: exchanges queued after their answer, written in batches.

A booking must not wait for its trace: ``submit`` only puts the exchange's hops on
a bounded queue; a background task writes what gathered every ``interval_s`` in
one transaction (``TraceStore.append_trace``). A full queue drops the exchange and a
failed write drops its batch, each logged (``trace_dropped``,
``trace_write_failed``), never raised to a request. Whatever is queued at
shutdown is written then.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

import structlog
from aiohttp import web

from gateway.store.trace import TraceHop, TraceStore
from gateway.trace.settings import TraceSettings

log = structlog.get_logger(__name__)


class TraceRecorder:
    def __init__(self, store: TraceStore, settings: TraceSettings | None = None) -> None:
        self._store = store
        self._settings = settings = settings or TraceSettings()
        self._queue: asyncio.Queue[list[TraceHop]] = asyncio.Queue(settings.queue_size)
        self._nonempty = asyncio.Event()
        self._writing = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        #: Exchanges dropped since start (a full queue or a failed write).
        self.dropped = 0

    def submit(self, hops: Sequence[TraceHop]) -> None:
        """Queue one exchange's hops; never blocks, never raises."""
        if not hops or not self._settings.enabled:
            return
        try:
            self._queue.put_nowait(list(hops))
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning("trace_dropped", kind=hops[0].kind, queued=self._queue.qsize())
            return
        self._nonempty.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="trace-recorder")

    async def close(self) -> None:
        """Stop the writer and write whatever is still queued."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def flush(self) -> None:
        """Write everything submitted so far, a batch per transaction."""
        async with self._writing:
            while not self._queue.empty():
                batch: list[list[TraceHop]] = []
                while not self._queue.empty() and len(batch) < self._settings.batch:
                    batch.append(self._queue.get_nowait())
                try:
                    await self._store.append_trace(batch)
                except Exception as exc:
                    self.dropped += len(batch)
                    log.warning(
                        "trace_write_failed", exchanges=len(batch), error=type(exc).__name__
                    )

    async def _run(self) -> None:
        while True:
            await self._nonempty.wait()
            await asyncio.sleep(self._settings.interval_s)
            self._nonempty.clear()
            await self.flush()


TRACE = web.AppKey("trace", TraceRecorder)
