"""The pointer worker: delivers the registry journal, in order per appointment, for ever.

Each stored appointment version has a journal entry (written with the version,
``gateway/store``); the worker leases the next due entry, works out the pointer
that version implies (``pointer.pointer_for``), compares it with what the
registry holds (as last delivered) and makes the registry match: POST a new
pointer, read then PUT a changed one (Receiver-DocumentReference: "a read
operation must be performed prior"), DELETE one no longer wanted. A failure
gives the entry back with a jittered exponential delay; nothing is ever dropped
except what the registry refuses as sent (400/422), which is parked and logged.
The booking that wrote the version never waits for any of this.

Idempotent: each call of one entry carries the same X-Request-Id on every
retry, and an entry tried before searches the registry for its pointer (keyed
by the appointment id) before making one, so a lost answer never makes two.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog

from adapters.domain import utcnow
from gateway.config import RegistrySettings
from gateway.registry.client import Ids, RegistryClient, RegistryRefused, RegistryUnavailable
from gateway.registry.pointer import Pointer, PointerSite, dated, pointer_for
from gateway.store import AppointmentVersion, PointerBacklog, PointerWork, RegistryPointer, Store

log = structlog.get_logger(__name__)

#: Namespace of the transaction ids derived from (appointment, version, call).
ID_NAMESPACE = uuid.UUID("0b6a4f6e-58d4-4c52-9a3c-2f1d6e8b7a90")
_REASONS = {"create": "new", "update": "update", "delete": "delete"}


class PointerWorker:
    def __init__(
        self,
        store: Store,
        client: RegistryClient,
        site: PointerSite,
        settings: RegistrySettings,
        *,
        clock: Callable[[], datetime] = utcnow,
        jitter: Callable[[], float] = random.random,
        use_case: str | None = None,
    ) -> None:
        self.store = store
        self.client = client
        self.site = site
        self.settings = settings
        self.clock = clock
        self.jitter = jitter
        self.use_case = use_case
        self.owner = f"pointers-{uuid.uuid4()}"
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._loop()) for _ in range(self.settings.concurrency)]

    async def close(self) -> None:
        """Stop; an entry cut short keeps its lease, which lapses, so it is tried again."""
        self._stop.set()
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)
        self._tasks = []
        await self.client.close()

    async def backlog(self) -> PointerBacklog:
        return await self.store.pointer_backlog(self.settings.retry.stuck_after_attempts)

    async def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                worked = await self.step()
            except Exception as exc:  # the store failed: wait, then go on
                log.warning("registry_journal_unreadable", error=type(exc).__name__)
                worked = False
            if not worked:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.settings.poll_interval_s)

    async def step(self) -> bool:
        """Deliver one due entry; False when none is due."""
        work = await self.store.lease_pointer_work(self.owner, self.clock(), self.settings.lease_s)
        if work is None:
            return False
        try:
            async with asyncio.timeout(self.settings.lease_s * 0.9):
                held = await self._deliver(work)
        except RegistryRefused as exc:
            log.error(
                "registry_pointer_refused",
                seq=work.seq,
                appointment_id=work.appointment_id,
                version=work.version,
                reason=exc.reason,
            )
            await self.store.refuse_pointer_work(work, self.clock(), exc.reason)
        except (RegistryUnavailable, TimeoutError) as exc:
            reason = exc.reason if isinstance(exc, RegistryUnavailable) else "registry_timed_out"
            await self._later(work, reason)
        except Exception as exc:  # never lose the entry; the type only (no data)
            await self._later(work, f"internal_{type(exc).__name__}")
        else:
            await self.store.finish_pointer_work(work, self.clock(), held)
        return True

    async def _later(self, work: PointerWork, reason: str) -> None:
        retry = self.settings.retry
        delay = min(retry.max_delay_s, retry.first_delay_s * 2 ** min(work.attempts - 1, 30))
        delay *= 0.5 + self.jitter() / 2  # jittered, so a recovering registry is not stampeded
        await self.store.retry_pointer_work(work, self.clock() + timedelta(seconds=delay), reason)
        stuck = retry.stuck_after_attempts
        if work.attempts >= stuck and (work.attempts - stuck) % stuck == 0:
            log.warning(
                "registry_pointer_stuck",
                seq=work.seq,
                appointment_id=work.appointment_id,
                version=work.version,
                attempts=work.attempts,
                reason=reason,
            )
        else:
            log.info(
                "registry_pointer_deferred",
                seq=work.seq,
                appointment_id=work.appointment_id,
                attempts=work.attempts,
                reason=reason,
                retry_in_s=round(delay, 1),
            )

    def _ids(self, version: AppointmentVersion | None, work: PointerWork, call: str) -> Ids:
        key = f"{work.appointment_id}|{work.version}"
        context = ""
        if self.use_case and version is not None and call in _REASONS:
            status = version.booking.status.value
            context = f"{self.use_case}|{status}|booking-request|{_REASONS[call]}"
        return Ids(
            str(uuid.uuid5(ID_NAMESPACE, f"{key}|{call}")),
            str(uuid.uuid5(ID_NAMESPACE, key)),
            context,
        )

    async def _deliver(self, work: PointerWork) -> RegistryPointer | None:
        """Make the registry match ``work``'s version; what it then holds (None: unchanged)."""
        version = await self.store.get(work.appointment_id, work.version)
        held = await self.store.registry_pointer(work.appointment_id)
        wanted = pointer_for(version, self.site) if version is not None else None
        document = held.document_id if held else None
        if wanted is None:
            if document is None:
                return None
            await self.client.delete(document, self._ids(version, work, "delete"))
            self._delivered("deleted", work)
            return RegistryPointer(work.appointment_id, None, None, None, work.version)
        if held is not None and document and held.content_hash == wanted.content_hash:
            return None
        made = await self._write(work, version, wanted, held)
        return RegistryPointer(
            work.appointment_id, made, wanted.content_hash, wanted.subject_hash, work.version
        )

    async def _write(
        self,
        work: PointerWork,
        version: AppointmentVersion | None,
        wanted: Pointer,
        held: RegistryPointer | None,
    ) -> str:
        """PUT over the pointer held (or found), else POST one; the registry's id of it."""
        when = self.clock().isoformat(timespec="seconds")
        document = held.document_id if held else None
        if held is not None and document and held.subject_hash != wanted.subject_hash:
            # The registry's subject is immutable: a pointer for another patient is a new one.
            await self.client.delete(document, self._ids(version, work, "delete"))
            document = None
        if document is None and work.attempts > 1:
            found = await self.client.find(
                wanted.nhs_number, work.appointment_id, self._ids(version, work, "search")
            )
            document = found
        if document is not None:
            read = await self.client.read(document, self._ids(version, work, "read"))
            put = dated(wanted, document, when)
            if read is not None and await self.client.update(
                document, put, self._ids(version, work, "update")
            ):
                self._delivered("updated", work)
                return document
        created = await self.client.create(
            dated(wanted, None, when), self._ids(version, work, "create")
        )
        self._delivered("created", work)
        return created

    @staticmethod
    def _delivered(action: str, work: PointerWork) -> None:
        log.info(
            "registry_pointer_delivered",
            action=action,
            seq=work.seq,
            appointment_id=work.appointment_id,
            version=work.version,
            attempts=work.attempts,
        )
