"""One change of an appointment at a time, across every replica sharing the store.

A cancel, update or reschedule reads the appointment, calls the supplier and writes
the next version. Two of them at once on one appointment would both call the
supplier (a reschedule books a new slot first: two of them would leave an orphan
booking), so they are serialised:

- within this process by an ``asyncio.Lock`` per appointment (no store traffic for
  the usual case of one replica);
- across processes, when the store is shared (``Store.shared``: PostgreSQL, or
  several gateways on one SQLite file), by a leased claim on the key
  ``(LOCK_SCOPE, appointment_id)`` in the idempotency ledger: taken atomically in
  the database, renewed while the change runs (``gateway._claims.Lease``),
  released when it ends, and taken over once its lease lapses if its holder died.

A caller that cannot get the lock before its deadline gets ``409`` with a
``Retry-After`` of the holder's remaining lease: it may read and try again.
"""

from __future__ import annotations

import asyncio
import random
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from gateway._claims import ClaimOwner, Lease, seconds_left
from gateway.errors import ApiError, ErrorKind
from gateway.store import ClaimState, Store
from gateway.store.base import LOCK_PREFIX

#: The ledger scope of appointment locks (no consumer scope looks like it).
LOCK_SCOPE = f"{LOCK_PREFIX}appointment"
_POLL_S = (0.01, 0.05)


class AppointmentLocks:
    """Per-appointment mutual exclusion for one process, and across replicas."""

    def __init__(
        self,
        store: Store,
        owner: ClaimOwner,
        lease_s: float,
        clock: Callable[[], datetime],
    ) -> None:
        self.store, self.owner, self.lease_s, self.clock = store, owner, lease_s, clock
        self._local: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def _lock(self, appointment_id: str) -> asyncio.Lock:
        lock = self._local.get(appointment_id)
        if lock is None:
            lock = self._local[appointment_id] = asyncio.Lock()
        return lock

    @asynccontextmanager
    async def hold(self, appointment_id: str, deadline_s: float | None) -> AsyncIterator[None]:
        """Hold the appointment's lock; ``deadline_s``: how long we may wait for it (a
        call without a deadline waits up to one lease)."""
        async with self._lock(appointment_id):
            if not self.store.shared:
                yield
                return
            await self._take(appointment_id, deadline_s)
            lease = Lease(
                self.store, LOCK_SCOPE, appointment_id, self.owner.id, self.lease_s, self.clock
            )
            try:
                async with lease.heartbeat():
                    yield
            finally:
                await asyncio.shield(
                    self.store.release_request(LOCK_SCOPE, appointment_id, self.owner.id)
                )

    async def _take(self, appointment_id: str, deadline_s: float | None) -> None:
        loop = asyncio.get_running_loop()
        until = loop.time() + (self.lease_s if deadline_s is None else max(0.0, deadline_s))
        while True:
            now = self.clock()
            claim = await self.store.claim_request(
                LOCK_SCOPE, appointment_id, "lock", now, self.lease_s, self.owner.id
            )
            if claim.state in (ClaimState.NEW, ClaimState.TAKEN_OVER):
                return
            if claim.state is ClaimState.DONE:
                # Never written for a lock; a stray row would block for ever: drop it.
                await self.store.release_request(LOCK_SCOPE, appointment_id)
                continue
            if loop.time() >= until:
                retry = seconds_left(claim.lease_until, now, self.lease_s)
                raise ApiError(
                    ErrorKind.VERSION_CONFLICT,
                    "the appointment is being changed by another request; read it again and retry",
                    headers={"Retry-After": str(retry)},
                )
            await asyncio.sleep(random.uniform(*_POLL_S))
