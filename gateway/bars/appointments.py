"""The REST appointment pattern (core/Appointment-StandardPattern/): book, read, search
by patient and update by ``PUT /Appointment/{id}`` (cancel), all for the target service."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from adapters.domain import utcnow
from gateway.bars import appointment as bars_appointment
from gateway.bars import patients, render, shown
from gateway.bars.amend import update_reason
from gateway.bars.booking import cancel_booking, held_appointment, not_replayed, place_booking
from gateway.bars.errors import Rec, RecError
from gateway.bars.requests import (
    Json,
    answer,
    base,
    begin,
    body,
    read_version,
    self_url,
    version_headers,
)
from gateway.store import AppointmentVersion, ReferralVersion


async def book(request: web.Request) -> web.Response:
    ex = begin(request, "book")
    wanted = bars_appointment.booking_request(await body(request))
    version = await place_booking(request, ex, wanted)
    headers_ = version_headers(request, version)
    return await answer(await shown.appointment(ex, version), ex, status=201, extra=headers_)


async def read(request: web.Request) -> web.Response:
    ex = begin(request, "read")
    version = await held_appointment(ex, request.match_info["id"])
    return await answer(
        await shown.appointment(ex, version), ex, extra=version_headers(request, version)
    )


async def search(request: web.Request) -> web.Response:
    ex = begin(request, "search_appointments")
    nhs_number, match = patients.matcher(request.query)
    service = ex.current.service
    if nhs_number is not None:
        held = [
            v for v in await service.patient_appointments(nhs_number) if match(v.booking.patient)
        ]
    else:
        held = await service.appointments_matching(match)
    found = [v for v in held if v.booking.service_id == ex.service_id]
    body_ = render.appointment_bundle(
        found,
        await shown.links_of(ex, found),
        base=base(request),
        self_url=self_url(request),
        now=utcnow(),
    )
    return await answer(body_, ex)


def _cancel_check(
    data: Json, linked: list[ReferralVersion]
) -> Callable[[AppointmentVersion], None]:
    sent_updated = (data.get("meta") or {}).get("lastUpdated")

    def check(current: AppointmentVersion) -> None:
        rendered = render.appointment(current, linked)
        incoming = bars_appointment.unchanged_part(render.as_held(data, current.booking, linked))
        current_updated = rendered["meta"]["lastUpdated"]
        if sent_updated and not bars_appointment.same_instant(sent_updated, current_updated):
            raise RecError(
                Rec.CONFLICT,
                "conflict",
                "meta.lastUpdated is not the current version's; read the appointment again",
                expression="Appointment.meta.lastUpdated",
            )
        if bars_appointment.unchanged_part(rendered) != incoming:
            # Cancel-Booking: status and reasonCode may change, "no other element".
            raise RecError(
                Rec.UNPROCESSABLE_ENTITY,
                "business-rule",
                "only status (to 'cancelled') and reasonCode may change; "
                "other elements differ from the current version",
            )

    return check


async def update(request: web.Request) -> web.Response:
    ex = begin(request, "cancel")
    data = await body(request)
    bars_appointment.structural(data)
    current = await held_appointment(ex, request.match_info["id"])
    await not_replayed(request, ex)
    if data.get("id") != current.appointment_id:
        raise RecError(
            Rec.BAD_REQUEST,
            "invariant",
            "the body's id must match the URL",
            expression="Appointment.id",
        )
    expected = read_version(request, data, current)
    linked = await shown.links(ex, current.appointment_id)
    if data.get("status") == "booked":
        held = render.as_held(data, current.booking, linked)
        version = await update_reason(request, ex, current, held, expected, linked)
        return await answer(
            await shown.appointment(ex, version), ex, extra=version_headers(request, version)
        )
    if data.get("status") != "cancelled":
        raise RecError(
            Rec.UNPROCESSABLE_ENTITY,
            "business-rule",
            "status may become 'cancelled' (cancel) or stay 'booked' (update reasonCode)",
            expression="Appointment.status",
        )
    version = await cancel_booking(request, ex, current, expected, _cancel_check(data, linked))
    return await answer(
        await shown.appointment(ex, version), ex, extra=version_headers(request, version)
    )
