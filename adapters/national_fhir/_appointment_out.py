"""The canonical BookingRequest -> a CareConnect Appointment to POST (book_an_appointment.md).

The shape is appointment.md's (and gateway/examples.py's): contained
DocumentReference, Patient and Slot referenced by '#id'; status 'booked';
``created`` is left to the provider. get_an_appointment.md: "If you DO NOT have
an NHS Number for the Patient, then you MUST NOT provide an identifier", so a
local identifier is never sent.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from adapters.domain import Address, BookingRequest, Patient, SupportingDocument
from adapters.national_fhir._fhir import CC, UUID_SYSTEM, Json
from adapters.nhs import NHS_NUMBER_SYSTEM

NHS_VERIFICATION_EXT = (
    "https://fhir.hl7.org.uk/STU3/StructureDefinition/"
    "Extension-CareConnect-NHSNumberVerificationStatus-1"
)
NHS_VERIFICATION_SYSTEM = (
    "https://fhir.hl7.org.uk/STU3/CodeSystem/CareConnect-NHSNumberVerificationStatus-1"
)
DOCUMENT, PATIENT, SLOT = "doc1", "P1", "slot1"


def instant(value: datetime) -> str:
    """fs_times.md: an instant with milliseconds and its offset."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds")


def _prune(data: Json) -> Json:
    return {k: v for k, v in data.items() if v not in (None, [], {}, "")}


def _address(value: Address) -> Json:
    return _prune(
        {
            "use": value.use,
            "text": value.text,
            "line": list(value.lines),
            "city": value.city,
            "district": value.district,
            "postalCode": value.postcode,
        }
    )


def patient(value: Patient) -> Json:
    identifiers: list[Json] = []
    if value.nhs_number:
        nhs: Json = {"use": "official", "system": NHS_NUMBER_SYSTEM, "value": value.nhs_number}
        if value.nhs_number_verification:
            coding = {"system": NHS_VERIFICATION_SYSTEM, "code": value.nhs_number_verification}
            nhs["extension"] = [
                {"url": NHS_VERIFICATION_EXT, "valueCodeableConcept": {"coding": [coding]}}
            ]
        identifiers.append(nhs)
    name = value.name
    return _prune(
        {
            "resourceType": "Patient",
            "id": PATIENT,
            "meta": {"profile": [CC + "Patient-1"]},
            "identifier": identifiers,
            "name": [
                _prune(
                    {
                        "use": name.use,
                        "family": name.family,
                        "given": list(name.given),
                        "prefix": list(name.prefix),
                    }
                )
            ],
            # CareConnect: telecom.rank is required when telecom is sent; a missing rank
            # becomes the list position (read back as None again, _appointment_in).
            "telecom": [
                _prune(
                    {
                        "system": t.system,
                        "value": t.value,
                        "use": t.use,
                        "rank": t.rank if t.rank is not None else index,
                    }
                )
                for index, t in enumerate(value.telecom, start=1)
            ],
            "gender": value.gender.value,
            "birthDate": value.birth_date.isoformat(),
            "address": [_address(value.address)],
        }
    )


#: document_reference.md: content.attachment.language "en", "the document is in English".
LANGUAGE = "en"


def document(value: SupportingDocument, *, requested_at: datetime) -> Json:
    # STU3 DocumentReference.indexed is 1..1 ("when this document reference was
    # created"); a canonical document that does not say is dated by the booking
    # request that refers to it, never by the appointment's start.
    return _prune(
        {
            "resourceType": "DocumentReference",
            "id": DOCUMENT,
            "meta": {"profile": [CC + "DocumentReference-1"]},
            "identifier": [{"system": UUID_SYSTEM, "value": value.identifier}],
            "status": "current",
            "type": {
                "coding": [
                    _prune(
                        {
                            "system": value.type_system,
                            "code": value.type_code,
                            "display": value.type_display,
                        }
                    )
                ]
            },
            "indexed": instant(value.indexed or requested_at),
            "content": [
                {
                    "attachment": {
                        "contentType": value.content_type,
                        "language": value.language or LANGUAGE,
                    }
                }
            ],
        }
    )


def appointment(
    request: BookingRequest,
    *,
    slot_identifier: str,
    schedule_id: str,
    slot_start: datetime,
    slot_end: datetime,
    requested_at: datetime,
) -> Json:
    """The Appointment that books ``request`` (made at ``requested_at``) into the slot a
    search described."""
    contained: list[Json] = []
    if request.document is not None:
        contained.append(document(request.document, requested_at=requested_at))
    contained.append(patient(request.patient))
    contained.append(
        {
            "resourceType": "Slot",
            "id": SLOT,
            "identifier": [{"system": UUID_SYSTEM, "value": slot_identifier}],
            "schedule": {"reference": f"Schedule/{schedule_id}"},
            "status": "free",
            "start": instant(slot_start),
            "end": instant(slot_end),
        }
    )
    body: dict[str, Any] = {
        "resourceType": "Appointment",
        "meta": {"profile": [CC + "Appointment-1"]},
        "contained": contained,
        "status": "booked",
        "description": request.description,
        "supportingInformation": [{"reference": f"#{DOCUMENT}"}] if request.document else None,
        "incomingReferral": (
            [{"reference": request.referral_reference}] if request.referral_reference else None
        ),
        "start": instant(request.start),
        "end": instant(request.end),
        "slot": [{"reference": f"#{SLOT}"}],
        "participant": [{"actor": {"reference": f"#{PATIENT}"}, "status": "accepted"}],
    }
    return _prune(body)
