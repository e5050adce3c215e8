"""Booking, cancelling and finding held appointments for the target service: the one path
both the REST pattern (``appointments``) and ``$process-message`` (``messaging_booking``)
take, through the shared booking service and ledger."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from aiohttp import web

from adapters.domain import BookingRequest, SlotQuery, SlotStatus
from gateway.bars.errors import Rec, RecError
from gateway.bars.exchange import BarsExchange
from gateway.bars.requests import base, guid, timeout
from gateway.routing import SlotHome
from gateway.service import DuplicateRequest, Replay
from gateway.store import AppointmentVersion, ClaimState


def duplicate(request: web.Request, replay: Replay, request_id: str | None) -> RecError:
    """409 REC_CONFLICT ``duplicate``, pointing at what the first send made."""
    url = f"{base(request)}/Appointment/{replay.appointment_id}"
    differs = "" if replay.same_body else " (this request's body differs from that one)"
    return RecError(
        Rec.CONFLICT,
        "duplicate",
        f"This message has been recognised as having already been successfully processed: "
        f"X-Request-Id '{request_id}' made Appointment/{replay.appointment_id} version "
        f"{replay.version}{differs}. Nothing was done again.",
        headers={"Content-Location": url},
    )


async def once(
    request: web.Request, ex: BarsExchange, work: Awaitable[AppointmentVersion]
) -> AppointmentVersion:
    """``work`` (a booking service change under the sender's X-Request-Id); a resend of
    one already done is 409 ``duplicate`` pointing at what it made."""
    try:
        return await work
    except DuplicateRequest as dup:
        ex.appointment_id = dup.replay.appointment_id
        raise duplicate(request, dup.replay, ex.request_id) from None


async def _find_slot(
    request: web.Request, ex: BarsExchange, slot_id: str, start: datetime
) -> SlotHome | None:
    """Where a slot the router has not seen lives (after a restart, say): the target
    service's slots at that time are searched, which teaches the router, so a slot of
    another service is never booked in the target's name."""
    assert ex.service_id is not None
    query = SlotQuery(
        service_id=ex.service_id,
        statuses=frozenset(SlotStatus),
        start_from=start,
        start_to=start,
    )
    await ex.current.service.search(query, ex.context(timeout(request)))
    return await ex.current.service.locate(slot_id, None)


async def check_slot(request: web.Request, ex: BarsExchange, slot_id: str, start: datetime) -> None:
    """The slot must be the target service's (a resend is the ledger's to answer)."""
    service = ex.current.service
    if ex.request_id and await service.store.find_claim(ex.scope, ex.request_id):
        return
    home = await service.locate(slot_id, None)
    if home is None or home.service_id is None:
        home = await _find_slot(request, ex, slot_id, start)
    if home is None:
        raise RecError(
            Rec.UNPROCESSABLE_ENTITY,
            "not-found",
            f"service {ex.service_id} has no such slot starting at the Appointment's start; "
            "search for slots again",
            expression="Appointment.slot",
        )
    if home.service_id != ex.service_id:
        raise RecError(
            Rec.UNPROCESSABLE_ENTITY,
            "business-rule",
            "the slot belongs to another service than NHSD-Target-Identifier names",
            expression="Appointment.slot",
        )


async def place_booking(
    request: web.Request, ex: BarsExchange, wanted: BookingRequest
) -> AppointmentVersion:
    """Book ``wanted`` for the target service through the shared booking service and
    ledger (both the REST pattern and ``$process-message`` book here)."""
    await check_slot(request, ex, wanted.slot_id, wanted.start)
    work = ex.current.service.book(
        wanted,
        ex.context(timeout(request)),
        scope=ex.scope,
        client_request_id=ex.request_id,
        schedule_id=None,
    )
    version = await once(request, ex, work)
    ex.appointment_id = version.appointment_id
    ex.outcome = "booked"
    return version


async def not_replayed(request: web.Request, ex: BarsExchange) -> None:
    """A change resent with an X-Request-Id already done is 409 ``duplicate`` pointing at
    what it made, before its (now stale) read version is judged."""
    claim = await ex.current.service.store.find_claim(ex.scope, ex.request_id or "")
    if claim and claim.state is ClaimState.DONE and claim.appointment_id and claim.version:
        replay = Replay(claim.appointment_id, claim.version, same_body=True)
        raise duplicate(request, replay, ex.request_id)


async def held_appointment(ex: BarsExchange, appointment_id: str) -> AppointmentVersion:
    """Appointment ``appointment_id``, if it is the target service's (else 404, as unknown)."""
    ex.appointment_id = guid(appointment_id, "Appointment.id")
    version = await ex.current.service.read(ex.appointment_id)
    if version.booking.service_id != ex.service_id:
        raise RecError(
            Rec.NOT_FOUND, "not-found", f"Appointment/{ex.appointment_id} does not exist here"
        )
    return version


async def cancel_booking(
    request: web.Request,
    ex: BarsExchange,
    current: AppointmentVersion,
    expected: int,
    check: Callable[[AppointmentVersion], None],
) -> AppointmentVersion:
    """Cancel ``current`` at version ``expected`` through the shared booking service
    (``check`` runs under the appointment's lock against the version it holds)."""
    work = ex.current.service.cancel(
        current.appointment_id,
        expected,
        ex.context(timeout(request)),
        check,
        scope=ex.scope,
        client_request_id=ex.request_id,
    )
    version = await once(request, ex, work)
    ex.outcome = "cancelled"
    return version
