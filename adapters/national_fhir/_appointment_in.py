"""A provider's Appointment -> the canonical Booking (get_an_appointment.md).

The Appointment carries contained DocumentReference, Patient and Slot
resources, referenced by '#id'. Reading is tolerant: contained resources are
found by reference and then by type, optional elements may be absent, times may
have any offset. What the service is comes from the adapter (the Appointment
does not say), so it is passed in.
"""

from __future__ import annotations

from datetime import date, datetime

from adapters.domain import (
    Address,
    Booking,
    BookingStatus,
    ContactPoint,
    Gender,
    HumanName,
    Identifier,
    Patient,
    Slot,
    SlotStatus,
    SupportingDocument,
)
from adapters.national_fhir._fhir import (
    Json,
    Unreadable,
    address,
    identifier_value,
    instant,
    items,
    obj,
    reference_id,
    text,
    texts,
)
from adapters.national_fhir._slots_in import delivery_channel
from adapters.nhs import NHS_NUMBER_SYSTEM

NHS_VERIFICATION_EXT = "Extension-CareConnect-NHSNumberVerificationStatus-1"


def _contained(data: Json, reference: object, kind: str) -> Json | None:
    """The contained resource ``reference`` ('#id') names, else the only one of ``kind``."""
    ref = text(obj(reference).get("reference"))
    of_kind = [c for c in items(data.get("contained")) if c.get("resourceType") == kind]
    if ref and ref.startswith("#"):
        for item in of_kind:
            if item.get("id") == ref[1:]:
                return item
    return of_kind[0] if len(of_kind) == 1 else None


def appointment_id(data: object) -> str:
    if not isinstance(data, dict) or data.get("resourceType") != "Appointment":
        raise Unreadable("the answer is not an Appointment")
    found = text(data.get("id"))
    if found is None:
        raise Unreadable("Appointment.id is missing")
    return found


def version_id(data: Json) -> str | None:
    return text(obj(data.get("meta")).get("versionId"))


def booking(data: Json, *, supplier_ref: str, service_id: str, read_at: datetime) -> Booking:
    """The Booking an Appointment describes (``read_at`` stands in for a missing created)."""
    raw_status = text(data.get("status"))
    try:
        status = BookingStatus(raw_status or "")
    except ValueError:
        raise Unreadable(f"Appointment.status {raw_status!r} is not booked/cancelled") from None
    slot = contained_slot(data)
    patient_json = _contained(data, _patient_reference(data), "Patient")
    if patient_json is None:
        raise Unreadable("Appointment has no contained Patient")
    document_json = _contained(
        data, (items(data.get("supportingInformation")) or [{}])[0], "DocumentReference"
    )
    referrals = items(data.get("incomingReferral"))
    start = instant(data["start"], "Appointment.start") if data.get("start") else slot.start
    created = data.get("created") or obj(data.get("meta")).get("lastUpdated")
    return Booking(
        supplier_ref=supplier_ref,
        status=status,
        slot=slot,
        service_id=service_id,
        start=start,
        end=instant(data["end"], "Appointment.end") if data.get("end") else slot.end,
        description=text(data.get("description")) or "",
        patient=patient(patient_json),
        document=document(document_json) if document_json else None,
        referral_reference=text(referrals[0].get("reference")) if referrals else None,
        created=instant(created, "Appointment.created") if created else read_at,
    )


def _patient_reference(data: Json) -> object:
    for participant in items(data.get("participant")):
        actor = obj(participant.get("actor"))
        if str(actor.get("reference") or "").startswith("#"):
            return actor
    return None


def contained_slot(data: Json) -> Slot:
    """The Appointment's contained Slot, its canonical id being its identifier."""
    found = _contained(data, (items(data.get("slot")) or [{}])[0], "Slot")
    if found is None:
        raise Unreadable("Appointment has no contained Slot")
    # The slot's id in the canonical model is its identifier (see _slots_in).
    key = identifier_value(found) or text(found.get("id"))
    schedule_id = reference_id(found.get("schedule"), "Schedule")
    if key is None or schedule_id is None:
        raise Unreadable("the contained Slot has no identifier or schedule")
    try:
        status = SlotStatus(text(found.get("status")) or "busy")
    except ValueError:
        raise Unreadable("the contained Slot's status is not a Slot status") from None
    return Slot(
        id=key,
        schedule_id=schedule_id,
        identifier=key,
        status=status,
        start=instant(found.get("start"), "Slot.start"),
        end=instant(found.get("end"), "Slot.end"),
        delivery_channel=delivery_channel(found),
    )


def patient(data: Json) -> Patient:
    nhs_number, verification, local = _identifiers(data)
    names = items(data.get("name"))
    name = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
    addresses = items(data.get("address"))
    gender = text(data.get("gender"))
    birth = text(data.get("birthDate"))
    if birth is None:
        raise Unreadable("Patient.birthDate is missing")
    try:
        birth_date = date.fromisoformat(birth)
    except ValueError:
        raise Unreadable("Patient.birthDate is not a date") from None
    return Patient(
        nhs_number=nhs_number,
        nhs_number_verification=verification,
        local_identifier=local,
        name=HumanName(
            family=" ".join(texts(name.get("family"))) or None,
            given=texts(name.get("given")),
            prefix=texts(name.get("prefix")),
            use=text(name.get("use")),
        ),
        gender=Gender(gender) if gender in set(Gender) else Gender.UNKNOWN,
        birth_date=birth_date,
        address=address(addresses[0]) if addresses else Address(),
        telecom=_telecom(data),
    )


def _identifiers(data: Json) -> tuple[str | None, str | None, Identifier | None]:
    nhs_number = verification = None
    local: Identifier | None = None
    for ident in items(data.get("identifier")):
        system, value = text(ident.get("system")), text(ident.get("value"))
        if system == NHS_NUMBER_SYSTEM and value:
            nhs_number = value
            for ext in items(ident.get("extension")):
                if str(ext.get("url") or "").endswith(NHS_VERIFICATION_EXT):
                    codings = items(obj(ext.get("valueCodeableConcept")).get("coding"))
                    verification = text(codings[0].get("code")) if codings else None
        elif system and value and local is None:
            # get_an_appointment.md: without an NHS number the provider fills its own.
            local = Identifier(system=system, value=value)
    return nhs_number, verification, None if nhs_number else local


def _telecom(data: Json) -> tuple[ContactPoint, ...]:
    points = [
        ContactPoint(
            system=text(t.get("system")) or "phone",
            value=text(t.get("value")) or "",
            use=text(t.get("use")),
            rank=t.get("rank") if isinstance(t.get("rank"), int) else None,
        )
        for t in items(data.get("telecom"))
        if text(t.get("value"))
    ]
    # Ranks that only restate the list order (1, 2, ...) say nothing the order does
    # not; we add exactly those when sending (the profile needs a rank), so they are
    # dropped here and a booking reads back as it was asked for (_appointment_out).
    if all(p.rank == i for i, p in enumerate(points, start=1)):
        points = [p.model_copy(update={"rank": None}) for p in points]
    return tuple(points)


def document(data: Json) -> SupportingDocument | None:
    codings = items(obj(data.get("type")).get("coding"))
    content = items(data.get("content"))
    attachment = obj(content[0].get("attachment")) if content else {}
    ident = identifier_value(data)
    code = text(codings[0].get("code")) if codings else None
    content_type = text(attachment.get("contentType"))
    if ident is None or code is None or content_type is None:
        return None  # not enough to describe the document; the booking stands without it
    raw = data.get("indexed")
    indexed = instant(raw, "DocumentReference.indexed") if raw else None
    return SupportingDocument(
        identifier=ident,
        type_system=text(codings[0].get("system")) or "",
        type_code=code,
        type_display=text(codings[0].get("display")),
        content_type=content_type,
        language=text(attachment.get("language")),
        indexed=indexed,
    )
