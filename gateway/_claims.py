"""Who holds an idempotency ledger claim, and the heartbeat that keeps it held.

A claim is leased, not owned forever: while its request runs, a heartbeat task
renews the lease; a gateway that dies stops renewing, and once the lease ends
the next resend of that X-Request-ID takes the claim over and resolves it with
the supplier under the same idempotency key (fs_xti.md: the resend must get the
outcome of the first send, never a second booking).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from adapters.domain import BookingRequest, CallContext
from gateway.changes import RescheduleTo
from gateway.store import Store

log = structlog.get_logger(__name__)

#: Renewals per lease: two may be missed (a busy loop, a slow disk) before it lapses.
RENEWALS_PER_LEASE = 3


def instance_id() -> str:
    """An id for this gateway process, unique across hosts and restarts."""
    return f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"


@dataclass(eq=False)
class ClaimOwner:
    """This process as a claim holder: its id and the keys it is working on right now.

    One per process, shared by every configuration generation, so a request still
    running in a retiring generation is never taken over by its own process.
    """

    id: str = field(default_factory=instance_id)
    running: set[tuple[str, str]] = field(default_factory=set)


def in_doubt_work(request: BookingRequest, ctx: CallContext) -> str:
    """What a restarted gateway needs to finish this booking unasked (see ``reconcile``)."""
    context = ctx.model_dump(mode="json", exclude={"deadline"})
    return json.dumps({"request": request.model_dump(mode="json"), "context": context})


def reschedule_work(
    appointment_id: str, expected_version: int, to: RescheduleTo, ctx: CallContext
) -> str:
    """What a restarted gateway needs to finish an interrupted reschedule (``reconcile``)."""
    context = ctx.model_dump(mode="json", exclude={"deadline"})
    slot = {"slot_id": to.slot_id, "start": to.start.isoformat(), "end": to.end.isoformat()}
    return json.dumps(
        {
            "kind": "reschedule",
            "appointment_id": appointment_id,
            "expected_version": expected_version,
            "slot": slot,
            "context": context,
        }
    )


def seconds_left(lease_until: datetime | None, now: datetime, lease_s: float) -> int:
    """Whole seconds (1 or more) until a lease ends: the Retry-After of a 409."""
    if lease_until is None:
        return max(1, math.ceil(lease_s))
    left = math.ceil((lease_until - now).total_seconds())
    return min(max(1, left), max(1, math.ceil(lease_s)))


@dataclass(frozen=True)
class Lease:
    """One held claim and how to renew it."""

    store: Store
    scope: str
    request_id: str
    owner: str
    lease_s: float
    clock: Callable[[], datetime]

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.lease_s / RENEWALS_PER_LEASE)
            until = self.clock() + timedelta(seconds=self.lease_s)
            try:
                kept = await self.store.renew_claim(self.scope, self.request_id, self.owner, until)
            except Exception:
                log.warning("claim_renewal_failed", exc_info=True)
                continue
            if not kept:
                # Our lease lapsed and another holder took the key; it asks the supplier
                # under the same idempotency key, so both see the same booking.
                log.warning("claim_lost")
                return

    @asynccontextmanager
    async def heartbeat(self) -> AsyncIterator[None]:
        """Renew the lease until the block ends."""
        task = asyncio.create_task(self._renew_forever(), name="claim-heartbeat")
        try:
            yield
        finally:
            task.cancel()
            # asyncio.wait never raises the task's CancelledError, so ours still propagates.
            await asyncio.wait([task])


@asynccontextmanager
async def hold(
    owner: ClaimOwner,
    store: Store,
    scope: str,
    request_id: str,
    lease_s: float,
    clock: Callable[[], datetime],
) -> AsyncIterator[None]:
    """Work under a claim just taken: renewed while it runs, released if it fails.

    fs_xti.md only forbids a second *successful* outcome: a failed attempt releases
    the claim so the same id may be retried (the supplier dedupes on the key).
    """
    key = (scope, request_id)
    lease = Lease(store, scope, request_id, owner.id, lease_s, clock)
    owner.running.add(key)
    try:
        async with lease.heartbeat():
            yield
    except BaseException:
        await store.release_request(scope, request_id, owner.id)
        raise
    finally:
        owner.running.discard(key)
