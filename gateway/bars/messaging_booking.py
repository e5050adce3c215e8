"""The ``booking-request`` event of ``$process-message`` (applications/BaRS-APP1).

The focus is the Appointment. ``status: booked`` books (MessageDefinition
bars-message-booking-request, reason ``new``); ``status: cancelled`` cancels
(bars-message-booking-request-cancelled, reasons ``new``, ``update`` or
``delete``: Cancellation says ``update``, the published example BOOKREQ02 says
``new``). Both go through the REST pattern's own path (``booking.place_booking``,
``booking.cancel_booking``): the same booking service, ledger and duplicate
X-Request-Id answer. The Appointment is read as the REST door reads one, its
Patient and Slot resolved from the Bundle's entries (docs/spec-choices.md,
"BaRS messaging: booking-request").
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from adapters.domain import BookingStatus, utcnow
from gateway.bars import appointment as bars_appointment
from gateway.bars import shown
from gateway.bars._message import (
    BUNDLE_PROFILE,
    EVENTS_SYSTEM,
    Definition,
    Focus,
    Message,
    bad,
    check_definition,
    required_elements,
)
from gateway.bars.booking import cancel_booking, held_appointment, place_booking
from gateway.bars.errors import Rec, RecError
from gateway.bars.exchange import BarsExchange
from gateway.bars.requests import answer, base, version_headers
from gateway.fhir import render as stu3
from gateway.store import AppointmentVersion

Json = dict[str, Any]
EVENT = "booking-request"
_UK = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-"
_HEADER_PROFILE = "https://fhir.nhs.uk/StructureDefinition/BARSMessageHeader-booking-request"
_A1T1 = (("a1t1", "111 to ED"),)


def _focus(code: str, low: int, high: int | None, profile: str | None = None) -> Focus:
    return Focus(code, profile or _UK + code, low, high)


#: message-definitions/BARS-MessageDefinition-Booking-Request.xml
BOOK = Definition(
    url="https://fhir.nhs.uk/MessageDefinition/bars-message-booking-request",
    name="BARS Message Definition Booking - Request",
    event=EVENT,
    version="1.0.0",
    date="2025-03-24",
    use_cases=_A1T1,
    focus=(
        _focus("Bundle", 1, 1, BUNDLE_PROFILE),
        _focus("MessageHeader", 1, 1, _HEADER_PROFILE),
        _focus(
            "ServiceRequest",
            0,
            1,
            "https://fhir.nhs.uk/StructureDefinition/BARSServiceRequest-request-referral",
        ),
        _focus("Patient", 1, 1),
        _focus("Location", 0, 1),
        _focus("Organization", 2, None),
        _focus("Practitioner", 0, None),
        _focus("PractitionerRole", 0, None),
        _focus("Consent", 0, None),
        _focus("HealthcareService", 1, 1),
        _focus("Appointment", 1, 1),
        _focus("Slot", 1, 1),
        _focus("Schedule", 1, 1),
    ),
)
#: message-definitions/BARSMessageDefinitionBookingRequestCancelled.xml
CANCEL = Definition(
    url="https://fhir.nhs.uk/MessageDefinition/bars-message-booking-request-cancelled",
    name="BARS Message Definition Booking - Request - Cancelled",
    event=EVENT,
    version="1.0.0",
    date="2025-03-24",
    use_cases=_A1T1,
    focus=(
        _focus("Bundle", 1, 1, BUNDLE_PROFILE),
        _focus("MessageHeader", 1, 1, _HEADER_PROFILE),
        _focus("Patient", 1, 1),
        _focus("Organization", 2, None),
        _focus("Appointment", 1, 1),
    ),
)
DEFINITIONS = (BOOK, CANCEL)


def _appointment(message: Message) -> Json:
    focus = message.focus
    if focus.get("resourceType") != "Appointment":
        raise bad(
            "MessageHeader.focus",
            f"the focus of a booking-request is the Appointment, not "
            f"{str(focus.get('resourceType'))[:40]}",
        )
    return focus


def _patient(message: Message, appointment: Json) -> tuple[int, Json]:
    """The participant that is the Bundle's Patient: its index and the Patient."""
    for i, part in enumerate(appointment.get("participant") or []):
        actor = (part or {}).get("actor")
        if not isinstance(actor, dict):
            continue
        ref = str(actor.get("reference") or "")
        if ref in message.entries and message.entries[ref].get("resourceType") == "Patient":
            return i, message.entries[ref]
    raise bad(
        "Appointment.participant.actor",
        "one Appointment.participant must reference the Bundle's Patient",
        "required",
    )


def _slot_reference(message: Message, appointment: Json) -> str:
    """``Slot/<id>`` for the Bundle's Slot the Appointment references (Booking-Request-
    Payload: "the local logical bundle reference to the Slot resource")."""
    slots = appointment.get("slot") or []
    if len(slots) != 1:
        raise bad("Appointment.slot", "exactly one Appointment.slot is required", "required")
    slot = message.resolve(slots[0], "Appointment.slot")
    if slot.get("resourceType") != "Slot" or not slot.get("id"):
        raise bad(
            "Appointment.slot",
            "Appointment.slot must reference the Bundle's Slot, "
            "with the id the Slot search returned",
        )
    return f"Slot/{slot['id']}"


def as_rest_appointment(message: Message, appointment: Json, *, with_slot: bool) -> Json:
    """The focus Appointment as the REST door reads one: its Patient contained, its
    slot as ``Slot/<id>``, so the one Appointment reader checks both doors' bookings."""
    index, patient = _patient(message, appointment)
    participants = list(appointment.get("participant") or [])
    participants[index] = {**participants[index], "actor": {"reference": "#patient"}}
    out = {
        **appointment,
        "participant": participants,
        "contained": [*(appointment.get("contained") or []), {**patient, "id": "patient"}],
    }
    if with_slot:
        out["slot"] = [{"reference": _slot_reference(message, appointment)}]
    return out


def _response(
    request: web.Request, message: Message, version: AppointmentVersion, appointment: Json
) -> Json:
    """The response message (MessageHeader.response ``ok``, ``appointment`` as focus)."""
    now = stu3.instant(utcnow())
    root = base(request)
    url = f"{root}/Appointment/{version.appointment_id}"
    header_id = str(uuid.uuid4())
    answered = message.header.get("id") or message.bundle.get("id") or header_id
    source = (message.header.get("source") or {}).get("endpoint")
    header: Json = {
        "resourceType": "MessageHeader",
        "id": header_id,
        "meta": {"lastUpdated": now, "profile": [_HEADER_PROFILE]},
        "eventCoding": {"system": EVENTS_SYSTEM, "code": EVENT},
        "source": {"endpoint": root},
        "response": {"identifier": answered, "code": "ok"},
        "focus": [{"reference": url}],
        "definition": message.header.get("definition") or BOOK.url,
    }
    if source:
        header["destination"] = [{"endpoint": source}]
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": now, "profile": [BUNDLE_PROFILE]},
        "type": "message",
        "timestamp": now,
        "entry": [
            {"fullUrl": f"urn:uuid:{header_id}", "resource": header},
            {"fullUrl": url, "resource": appointment},
        ],
    }


async def _book(request: web.Request, ex: BarsExchange, message: Message) -> AppointmentVersion:
    check_definition(message, BOOK)
    if message.reason != "new":
        # No published MessageDefinition changes a booking by message: REST PUT/PATCH does.
        raise RecError(
            Rec.UNPROCESSABLE_ENTITY,
            "business-rule",
            f"reason '{message.reason}' with a booked Appointment: no MessageDefinition "
            "updates a booking by message; PUT /Appointment/{id} (reasonCode) or PATCH it "
            "(another slot), or cancel (status 'cancelled') and book again",
            expression="MessageHeader.reason",
        )
    appointment = as_rest_appointment(message, _appointment(message), with_slot=True)
    wanted = bars_appointment.booking_request(appointment)
    return await place_booking(request, ex, wanted)


def _nhs_number(patient: Json) -> str | None:
    for ident in patient.get("identifier") or []:
        if isinstance(ident, dict) and ident.get("system") == "https://fhir.nhs.uk/Id/nhs-number":
            return str(ident.get("value") or "") or None
    return None


def _start(appointment: Json) -> datetime:
    value = str(appointment.get("start") or "")
    try:
        start = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise bad(
            "Appointment.start", "Appointment.start is required, with an offset", "required"
        ) from None
    if start.tzinfo is None:
        raise bad("Appointment.start", "Appointment.start must carry a UTC offset", "value")
    return start


async def _find(ex: BarsExchange, appointment: Json, nhs_number: str) -> AppointmentVersion:
    """Find-Resource: by Appointment.id when sent; else the target service's appointment
    of this patient at this start (a booked one first: a resend finds the cancelled one)."""
    if appointment.get("id"):
        return await held_appointment(ex, str(appointment["id"]))
    start = _start(appointment)
    held = await ex.current.service.patient_appointments(nhs_number)
    same = [v for v in held if v.booking.service_id == ex.service_id and v.booking.start == start]
    same.sort(key=lambda v: (v.booking.status is BookingStatus.BOOKED, v.last_modified))
    if not same:
        raise RecError(
            Rec.NOT_FOUND,
            "not-found",
            "the target service holds no appointment of this patient at "
            "Appointment.start; read the appointment (Find-Resource) and send its id",
            expression="Appointment.id",
        )
    ex.appointment_id = same[-1].appointment_id
    return same[-1]


def _same_booking(nhs_number: str, start: datetime) -> Callable[[AppointmentVersion], None]:
    """Cancellation: the patient and the time are those of the appointment held."""

    def check(current: AppointmentVersion) -> None:
        if current.booking.patient.nhs_number != nhs_number:
            raise RecError(
                Rec.UNPROCESSABLE_ENTITY,
                "business-rule",
                "the Patient's NHS number is not that of the appointment held",
                expression="Patient.identifier",
            )
        if current.booking.start != start:
            raise RecError(
                Rec.UNPROCESSABLE_ENTITY,
                "business-rule",
                "Appointment.start is not that of the appointment held",
                expression="Appointment.start",
            )

    return check


async def _cancel(request: web.Request, ex: BarsExchange, message: Message) -> AppointmentVersion:
    check_definition(message, CANCEL)
    appointment = _appointment(message)
    bars_appointment.structural(as_rest_appointment(message, appointment, with_slot=False))
    _, patient = _patient(message, appointment)
    nhs_number = _nhs_number(patient)
    if nhs_number is None:
        raise bad(
            "Patient.identifier", "the Patient's NHS number is required to cancel", "required"
        )
    current = await _find(ex, appointment, nhs_number)
    raw = str((appointment.get("meta") or {}).get("versionId") or "")
    # Read before write: the version read when sent; else the current one, which the
    # booking service refuses unless it is still booked (Cancellation: "must not process").
    if raw and not (raw.isdigit() and len(raw) <= 9):
        raise bad("Appointment.meta.versionId", "meta.versionId names no version", "value")
    expected = int(raw) if raw else current.version
    check = _same_booking(nhs_number, _start(appointment))
    return await cancel_booking(request, ex, current, expected, check)


async def handle(request: web.Request, ex: BarsExchange, message: Message) -> web.Response:
    required_elements(message)
    status = _appointment(message).get("status")
    if status == "booked":
        ex.interaction = "message_book"
        version = await _book(request, ex, message)
    elif status == "cancelled":
        ex.interaction = "message_cancel"
        version = await _cancel(request, ex, message)
    else:
        raise bad(
            "Appointment.status",
            "a booking-request's Appointment is 'booked' (book) or 'cancelled' (cancel)",
            "value",
        )
    body = _response(request, message, version, await shown.appointment(ex, version))
    extra = version_headers(request, version)
    return await answer(body, ex, extra=extra)
