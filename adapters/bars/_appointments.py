"""Appointments both ways: BookingRequest -> UK Core Appointment (REST pattern,
Appointment-StandardPattern/Initial-Booking), and a receiver's Appointment -> Booking."""

from __future__ import annotations

from datetime import datetime

from adapters.bars._resources_in import Json, Unreadable, dicts, instant, patient, ref_id, text
from adapters.bars_toolkit._resources import instant as r4_instant
from adapters.bars_toolkit.messages import patient_resource
from adapters.domain import Booking, BookingRequest, BookingStatus, Slot, SlotStatus

UK_CORE = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Appointment"


def rest_appointment(request: BookingRequest, slot_id: str, now: datetime) -> Json:
    """The Appointment to POST: its Patient contained, the slot by ``Slot/<id>``."""
    out: Json = {
        "resourceType": "Appointment",
        "meta": {"profile": [UK_CORE]},
        "contained": [patient_resource(request.patient, now, "patient")],
        "status": "booked",
        "description": request.description,
        "start": r4_instant(request.start),
        "end": r4_instant(request.end),
        "slot": [{"reference": f"Slot/{slot_id}"}],
        "created": r4_instant(now),
        "participant": [{"actor": {"reference": "#patient"}, "status": "accepted"}],
    }
    if request.referral_reference:
        out["basedOn"] = [{"reference": request.referral_reference}]
    return out


def _patient(data: Json) -> Json:
    contained = {
        f"#{c.get('id')}": c
        for c in dicts(data.get("contained"))
        if c.get("resourceType") == "Patient"
    }
    for part in dicts(data.get("participant")):
        ref = (part.get("actor") or {}).get("reference")
        if ref in contained:
            return contained[ref]
    raise Unreadable("Appointment.participant names no contained Patient")


def booking(data: Json, *, supplier_ref: str, service_id: str, schedule_id: str) -> Booking:
    """A receiver's Appointment as the canonical Booking."""
    if data.get("resourceType") != "Appointment":
        raise Unreadable("the answer is not an Appointment")
    try:
        status = BookingStatus(text(data, "status", "Appointment"))
    except ValueError:
        raise Unreadable("Appointment.status is not a booking status") from None
    slots = dicts(data.get("slot"))
    slot_id = ref_id(slots[0], "Slot") if slots else None
    if slot_id is None:
        raise Unreadable("Appointment.slot is missing")
    start, end = instant(data, "start", "Appointment"), instant(data, "end", "Appointment")
    based = dicts(data.get("basedOn"))
    return Booking(
        supplier_ref=supplier_ref,
        status=status,
        slot=Slot(
            id=slot_id,
            schedule_id=schedule_id,
            identifier=slot_id,
            status=SlotStatus.BUSY if status is BookingStatus.BOOKED else SlotStatus.FREE,
            start=start,
            end=end,
        ),
        service_id=service_id,
        start=start,
        end=end,
        description=str(data.get("description") or ""),
        patient=patient(_patient(data)),
        referral_reference=str(based[0].get("reference"))
        if based and based[0].get("reference")
        else None,
        created=instant(data, "created", "Appointment"),
    )


def version_of(data: Json) -> str | None:
    value = (data.get("meta") or {}).get("versionId")
    return str(value) if isinstance(value, str | int) else None
