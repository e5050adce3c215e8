"""At start-up, finish the bookings a dead gateway process left in doubt.

A process killed mid-booking leaves a pending ledger claim, and perhaps a slot
booked at the supplier that no appointment records. The consumer's resend
resolves it (``BookingService._claim``), but a consumer may never resend. So a
starting gateway waits for each such claim's lease to lapse (its holder might
be another replica, still alive and renewing) and then books it itself, under
the same idempotency key: the supplier answers with the booking the first send
made, or books it now. A later resend gets that appointment (fs_xti.md).
"""

from __future__ import annotations

import asyncio
import json
import time

import structlog

from adapters.domain import BookingRequest, CallContext
from gateway.errors import ApiError
from gateway.service import BookingService, DuplicateRequest
from gateway.store import InDoubt

log = structlog.get_logger(__name__)

#: Past a lease's end before acting on it, so a holder's last renewal is seen.
GRACE_S = 0.2


async def reconcile(service: BookingService, timeout_s: float) -> int:
    """Resolve every claim left in doubt by another process; how many became appointments."""
    booked = 0
    for claim in await service.store.in_doubt_claims():
        if claim.owner == service.owner.id:
            continue
        wait_s = (claim.lease_until - service.clock()).total_seconds() + GRACE_S
        if wait_s > 0:
            await asyncio.sleep(wait_s)
        try:
            booked += await _resolve(service, claim, timeout_s)
        except Exception as exc:
            # The type only: a message could quote the stored request, patient and all.
            log.warning("in_doubt_not_resolved", error=type(exc).__name__)
    return booked


async def _resolve(service: BookingService, claim: InDoubt, timeout_s: float) -> int:
    work = json.loads(claim.work)
    request = BookingRequest.model_validate(work["request"])
    ctx = CallContext.model_validate({**work["context"], "deadline": time.monotonic() + timeout_s})
    try:
        version = await service.book(
            request, ctx, scope=claim.scope, client_request_id=claim.request_id, schedule_id=None
        )
    except DuplicateRequest:
        return 0  # a resend got there first
    except ApiError as exc:
        # Still held by a live process, or the supplier refused (the claim is released).
        log.info("in_doubt_not_booked", reason=exc.kind.name)
        return 0
    log.info("in_doubt_booked", appointment_id=version.appointment_id)
    return 1
