"""Changes to a booking after it is made, as appointment versions.

- Supplier-side changes (e.g. HL7 SIU from a PAS desk): a booking the gateway has
  never seen becomes a new appointment, so reads, the patient index and later
  cancels all see it; a change to a known one is its next version, keeping what
  the supplier does not report (document, referral, reason).
- A reschedule asked at a front door (Appointment-StandardPattern/Reschedule-
  Existing-Booking): ``swap_slot`` books the new slot first and then releases
  the old one, through the adapter's own book and cancel.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from adapters.contract import BookingChange
from adapters.domain import Booking, BookingRequest, CallContext
from gateway.errors import ApiError, ErrorKind
from gateway.routing import Route, SlotHome
from gateway.store import AppointmentVersion, Store, VersionConflict

log = structlog.get_logger(__name__)
#: How long undoing a half-made reschedule may take, whatever the request had left.
UNDO_BUDGET_S = 3.0
_NS = uuid.UUID("0e3c8a52-4d0b-4bd6-8f6e-2f1f7a9d3c41")
_SUPPLIER_SIDE = uuid.UUID("6b1f0c3e-2a57-4f0e-9d3b-8c1e5a7d2f90")
#: The booking service's adapter call: (route, op, ctx, work) -> result, errors translated.
Call = Callable[[Route, str, CallContext, Awaitable[Any]], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class RescheduleTo:
    """The slot a booking moves to, and its times (as the slot search offered them)."""

    slot_id: str
    start: datetime
    end: datetime


def next_version(current: AppointmentVersion, booking: Booking, at: datetime) -> AppointmentVersion:
    """The version after ``current``, holding ``booking``."""
    return AppointmentVersion(
        appointment_id=current.appointment_id,
        version=current.version + 1,
        booking=booking,
        route=current.route,
        last_modified=at,
        booked_by=current.booked_by,
    )


def rescheduled_request(
    booking: Booking, to: RescheduleTo, home: SlotHome | None, route_name: str
) -> BookingRequest:
    """The booking request for the new slot: the same patient, description, document and
    referral; the slot must be one the same service's diary offered."""
    if home is None or home.route.name != route_name or home.service_id != booking.service_id:
        raise ApiError(
            ErrorKind.REFERENCE_NOT_FOUND,
            "the new slot is not one this service offered; search for slots again",
            expression="Appointment.slot",
        )
    if to.slot_id in (booking.slot.id, booking.slot.identifier):
        raise ApiError(
            ErrorKind.BUSINESS_RULE,
            "the appointment is already in that slot",
            expression="Appointment.slot",
        )
    return BookingRequest(
        slot_id=to.slot_id,
        start=to.start,
        end=to.end,
        description=booking.description,
        patient=booking.patient,
        document=booking.document,
        referral_reference=booking.referral_reference,
    )


def _derived(ctx: CallContext, purpose: str, budget_s: float | None = None) -> CallContext:
    """Another idempotency key for a second supplier call of one request (its retry gets
    the same key), optionally with a budget of its own."""
    key = str(uuid.uuid5(_NS, f"{purpose}|{ctx.request_id}"))
    update: dict[str, Any] = {"request_id": key}
    if budget_s is not None:
        update["deadline"] = time.monotonic() + budget_s
    return ctx.model_copy(update=update)


async def swap_slot(
    route: Route,
    call: Call,
    old: Booking,
    request: BookingRequest,
    ctx: CallContext,
    *,
    resumed: bool = False,
) -> Booking:
    """Book ``request`` and then release ``old``; what the next version holds.

    If the new slot cannot be booked, nothing changed. If the old booking is refused
    release, the new one is cancelled again and the refusal raised: the patient keeps
    the old booking. If the release only timed out, the supplier may have done it, so
    the new booking stands (never none) and the doubt is logged for reconciliation.
    ``resumed`` (finishing a reschedule a dead process began): a release refused as not
    cancellable is the first run's release having reached the supplier; the new
    booking stands.
    """
    new: Booking = await call(route, "book", ctx, route.adapter.book(request, ctx))
    release = _derived(ctx, "release")
    try:
        work = route.adapter.cancel(old.supplier_ref, release, service_id=old.service_id)
        await call(route, "cancel", release, work)
    except ApiError as exc:
        if exc.kind is ErrorKind.SUPPLIER_TIMEOUT:
            log.warning("reschedule_release_in_doubt", route=route.name)
        elif resumed and exc.kind is ErrorKind.BUSINESS_RULE:
            log.info("reschedule_release_already_done", route=route.name)
        else:
            await _undo(route, call, new, ctx)
            raise
    return new.model_copy(
        update={
            "document": new.document or old.document,
            "referral_reference": new.referral_reference or old.referral_reference,
            "reason": old.reason,
        }
    )


async def _undo(route: Route, call: Call, new: Booking, ctx: CallContext) -> None:
    undo = _derived(ctx, "undo", UNDO_BUDGET_S)
    try:
        work = route.adapter.cancel(new.supplier_ref, undo, service_id=new.service_id)
        await call(route, "cancel", undo, work)
    except ApiError as exc:
        # Both slots are the patient's at the supplier now; neither is anyone else's.
        log.error("reschedule_undo_failed", route=route.name, error=exc.kind.name)


def supplier_side_id(route_name: str, supplier_ref: str) -> str:
    """The appointment id of a booking first heard of from its supplier."""
    return str(uuid.uuid5(_SUPPLIER_SIDE, f"{route_name}|{supplier_ref}"))


async def record_change(
    store: Store, clock: Callable[[], datetime], route_name: str, change: BookingChange
) -> None:
    """Add the version a supplier-side change makes (or the first one), retrying conflicts."""
    incoming = change.booking
    for _ in range(3):
        current = await store.find_by_supplier_ref(route_name, incoming.supplier_ref)
        if current is None:
            # Named by the supplier's reference, so replicas hearing the same message
            # at once make one appointment: the second's first version conflicts.
            version = AppointmentVersion(
                appointment_id=supplier_side_id(route_name, incoming.supplier_ref),
                version=1,
                booking=incoming,
                route=route_name,
                last_modified=clock(),
            )
        else:
            merged = incoming.model_copy(
                update={
                    "document": incoming.document or current.booking.document,
                    "referral_reference": incoming.referral_reference
                    or current.booking.referral_reference,
                    "reason": incoming.reason or current.booking.reason,
                    # When the booking was made does not change; a supplier message that
                    # does not carry it is stamped by whoever reads it.
                    "created": current.booking.created,
                }
            )
            if merged == current.booking:
                return
            version = AppointmentVersion(
                appointment_id=current.appointment_id,
                version=current.version + 1,
                booking=merged,
                route=route_name,
                last_modified=clock(),
                booked_by=current.booked_by,
            )
        try:
            # supplier_side: the HL7 consumer that made the booking is told (its outbox
            # entry is written with the version; gateway/hl7/notify.py delivers it).
            await store.add_version(version, supplier_side=True)
        except VersionConflict:
            continue
        log.info(
            "supplier_change_recorded",
            appointment_id=version.appointment_id,
            version=version.version,
            route=route_name,
            reason=change.reason,
        )
        return
    log.warning("supplier_change_conflicted", route=route_name, reason=change.reason)
