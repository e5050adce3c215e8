"""The FHIR exchanges behind book, get and cancel: read an Appointment, POST a booking
and recover it from a 409 pointer (fs_xti.md), PUT a cancel with If-Match."""

from __future__ import annotations

import re
import uuid
from typing import Any

from adapters import errors
from adapters._resilience import RetryPolicy, pause
from adapters.domain import CallContext
from adapters.national_fhir._appointment_in import contained_slot, version_id
from adapters.national_fhir._fhir import Json
from adapters.national_fhir._outcomes import error_for, is_duplicate, malformed, pointer
from adapters.national_fhir._wire import Call, Endpoint, Interaction, Reply, Wire

#: FHIR logical ids (implementation_api.md: case sensitive, up to 64 characters).
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def is_appointment(body: Any) -> bool:
    return (
        isinstance(body, dict)
        and body.get("resourceType") == "Appointment"
        and bool(body.get("id"))
    )


async def read(wire: Wire, endpoint: Endpoint, appointment_id: str, ctx: CallContext) -> Json:
    """get_an_appointment.md: the latest version of one Appointment."""
    if not FHIR_ID.match(appointment_id):
        raise errors.BookingNotFound("not an Appointment id")
    path = f"/Appointment/{appointment_id}"
    reply = await wire.send(Call("GET", endpoint, path, Interaction.READ, str(uuid.uuid4())), ctx)
    if reply.status != 200:
        raise error_for(Interaction.READ, reply)
    if not isinstance(reply.body, dict) or not is_appointment(reply.body):
        raise malformed(Interaction.READ, reply, "an Appointment")
    body: Json = reply.body
    return body


async def send_booking(wire: Wire, call: Call, ctx: CallContext, attempts: int) -> Reply:
    """POST the booking; a 409 'still in progress' (no pointer yet) is asked again shortly."""
    policy = RetryPolicy(attempts, backoff_s=0.1, max_backoff_s=1.0)
    attempt = 0
    while True:
        attempt += 1
        reply = await wire.send(call, ctx)
        in_progress = reply.status == 409 and is_duplicate(reply) and pointer(reply) is None
        if not in_progress or not await pause(policy, attempt, ctx.remaining()):
            return reply


async def booked(
    wire: Wire, call: Call, reply: Reply, slot_identifier: str, ctx: CallContext
) -> tuple[Json, bool]:
    """The Appointment a booking answer describes, and whether it was recovered by pointer."""
    if reply.status in (200, 201):
        if isinstance(reply.body, dict) and is_appointment(reply.body):
            return reply.body, False
        found = pointer(reply)  # tolerant: a 201 without a usable body, but with Location
        if found is None:
            raise malformed(Interaction.BOOK, reply, "the booked Appointment")
        return await read(wire, call.endpoint, found, ctx), False
    found = pointer(reply) if reply.status == 409 else None
    # Only a 409 that says "used before" (or carries Content-Location) is followed: a
    # URL in some other 409 may name another patient's booking.
    if found is None or not (is_duplicate(reply) or reply.header("Content-Location")):
        raise error_for(Interaction.BOOK, reply)
    # fs_xti.md: this X-Request-ID booked before (its answer was lost); read that booking.
    data = await read(wire, call.endpoint, found, ctx)
    if contained_slot(data).identifier != slot_identifier:
        raise errors.BookingRejected("this X-Request-ID was used for another booking")
    return data, True


async def put_cancel(
    wire: Wire,
    endpoint: Endpoint,
    appointment_id: str,
    current: Json,
    request_id: str,
    ctx: CallContext,
) -> Reply:
    """cancel_an_appointment.md: the retrieved Appointment with only status changed, If-Match."""
    version = version_id(current)
    call = Call(
        "PUT",
        endpoint,
        f"/Appointment/{appointment_id}",
        Interaction.CANCEL,
        request_id,
        body={**current, "status": "cancelled"},
        if_match=f'W/"{version}"' if version else None,
    )
    return await wire.send(call, ctx)
