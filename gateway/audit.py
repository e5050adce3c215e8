"""The audit trail: every API call recorded, written in small groups.

fs_authentication.md asks for provenance of every call. Writing one
transaction per request would put a database round trip on every slot
search, so entries are queued and written together (a group commit) every
``interval_s`` or ``batch`` entries, and everything queued is written at
shutdown. A crash loses at most the last interval's entries of read-only
calls' audit, never a booking: bookings and cancels also carry their
provenance in the appointment version itself (``booked_by``, timestamps).
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from adapters.domain import RequestingPractitioner
from adapters.nhs import SDS_ROLE_PROFILE_SYSTEM
from gateway.store import AuditEntry, Store

log = structlog.get_logger(__name__)

#: Longest author name kept: a name, not a place to store whatever a token carries.
MAX_NAME = 200


def author(practitioner: RequestingPractitioner | None) -> tuple[str | None, str | None]:
    """The author's name (as written: prefix, given, family) and SDS role profile id.

    fs_authentication.md, Provenance: "author details (identified through unique ID),
    including name and role". The role is the SDS role profile id the JWT gives
    (``UNK`` when the user has no NHS smartcard), None when the claim has none.
    """
    if practitioner is None:
        return None, None
    role = next(
        (i.value for i in practitioner.identifiers if i.system == SDS_ROLE_PROFILE_SYSTEM), None
    )
    name = practitioner.name
    if name is None:
        return None, role
    text = " ".join((*name.prefix, *name.given, *((name.family,) if name.family else ())))
    return text[:MAX_NAME] or None, role


class AuditTrail:
    def __init__(self, store: Store, *, interval_s: float = 0.05, batch: int = 200) -> None:
        self._store = store
        self._interval_s = interval_s
        self._batch = batch
        self._queue: asyncio.Queue[AuditEntry] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._nonempty = asyncio.Event()
        self._writing = asyncio.Lock()

    def record(self, entry: AuditEntry) -> None:
        """Queue one entry; never blocks the request."""
        self._queue.put_nowait(entry)
        self._nonempty.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="audit-trail")

    async def close(self) -> None:
        """Stop the writer and write whatever is still queued."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def flush(self) -> None:
        """Write everything recorded so far, in batches."""
        async with self._writing:
            while not self._queue.empty():
                batch: list[AuditEntry] = []
                while not self._queue.empty() and len(batch) < self._batch:
                    batch.append(self._queue.get_nowait())
                try:
                    await self._store.record_audits(batch)
                except Exception:
                    log.exception("audit_write_failed", entries=len(batch))

    async def _run(self) -> None:
        while True:
            await self._nonempty.wait()
            await asyncio.sleep(self._interval_s)
            self._nonempty.clear()
            await self.flush()
