"""At start-up, finish the bookings a dead gateway process left in doubt.

A process killed mid-booking leaves a pending ledger claim, and perhaps a slot
booked at the supplier that no appointment records. The consumer's resend
resolves it (``BookingService._claim``), but a consumer may never resend. So a
starting gateway waits for each such claim's lease to lapse (its holder might
be another replica, still alive and renewing) and then books it itself, under
the same idempotency key: the supplier answers with the booking the first send
made, or books it now. A later resend gets that appointment (fs_xti.md).

A reschedule killed between booking the new slot and releasing the old one is
finished the same way: it is run again under the same idempotency keys, so the
supplier hands back the new booking it made (or makes it) and the old one is
released; the appointment's next version names the new slot. If the appointment
has meanwhile changed (another version, or cancelled), the reschedule cannot be
finished: the new booking is undone instead, so no slot stays held for nobody and
the patient keeps the one booking the appointment names (docs/spec-choices.md).
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime
from typing import Any

import structlog

from adapters.domain import BookingRequest, CallContext
from gateway import metrics
from gateway.changes import RescheduleTo, rescheduled_request
from gateway.errors import ApiError, ErrorKind
from gateway.routing import SlotHome
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


#: Why a reschedule cannot be finished: the appointment is no longer the one it moved.
_MOVED_ON = frozenset({ErrorKind.VERSION_CONFLICT, ErrorKind.BUSINESS_RULE})


def _context(work: dict[str, Any], timeout_s: float) -> CallContext:
    return CallContext.model_validate({**work["context"], "deadline": time.monotonic() + timeout_s})


async def _resolve(service: BookingService, claim: InDoubt, timeout_s: float) -> int:
    work = json.loads(claim.work)
    if work.get("kind") == "reschedule":
        return await _finish_reschedule(service, claim, work, timeout_s)
    request = BookingRequest.model_validate(work["request"])
    ctx = _context(work, timeout_s)
    try:
        version = await service.book(
            request, ctx, scope=claim.scope, client_request_id=claim.request_id, schedule_id=None
        )
    except DuplicateRequest:
        return 0  # a resend got there first
    except ApiError as exc:
        # Still held by a live process, or the supplier refused (the claim is released).
        log.info("in_doubt_not_booked", reason=exc.kind.name)
        metrics.counted("in_doubt", "not_booked")
        return 0
    log.info("in_doubt_booked", appointment_id=version.appointment_id)
    metrics.counted("in_doubt", "booked")
    return 1


async def _finish_reschedule(
    service: BookingService, claim: InDoubt, work: dict[str, Any], timeout_s: float
) -> int:
    """Run an interrupted reschedule again (same keys); undo its new booking if it cannot be."""
    appointment_id = str(work["appointment_id"])
    slot = work["slot"]
    to = RescheduleTo(
        slot_id=str(slot["slot_id"]),
        start=datetime.fromisoformat(slot["start"]),
        end=datetime.fromisoformat(slot["end"]),
    )
    current = await service.read(appointment_id)
    route = service.router.route(current.route)
    if route is None:
        log.warning("in_doubt_reschedule_not_resolved", reason="route_gone")
        return 0
    service.router.place(to.slot_id, SlotHome(route, current.booking.service_id))
    ctx = _context(work, timeout_s)
    try:
        version = await service.reschedule(
            appointment_id,
            int(work["expected_version"]),
            ctx,
            lambda _: None,
            slot=to,
            scope=claim.scope,
            client_request_id=claim.request_id,
            resumed=True,
        )
    except DuplicateRequest:
        return 0  # a resend got there first
    except ApiError as exc:
        if exc.kind not in _MOVED_ON:
            log.info("in_doubt_reschedule_not_resolved", reason=exc.kind.name)
            return 0
        if to.slot_id in (current.booking.slot.id, current.booking.slot.identifier):
            return 0  # it finished before the process died: the appointment is in the slot
        # The same key gives back the booking the first run made (or makes it); cancel it.
        home = SlotHome(route, current.booking.service_id)
        request = rescheduled_request(current.booking, to, home, route.name)
        booked = await route.adapter.book(request, ctx)
        await route.adapter.cancel(booked.supplier_ref, ctx, service_id=booked.service_id)
        await service.store.release_request(claim.scope, claim.request_id, service.owner.id)
        log.info("in_doubt_reschedule_undone", appointment_id=appointment_id)
        metrics.counted("in_doubt", "reschedule_undone")
        return 0
    log.info("in_doubt_rescheduled", appointment_id=appointment_id, version=version.version)
    metrics.counted("in_doubt", "rescheduled")
    return 1
