"""Domain values -> FHIR STU3 CareConnect resources (plain dicts, ready to serialise).

The dict shapes follow the NHS Booking API pages (``search_slots.md``,
``get_an_appointment.md``, ``slot.md``, ``schedule.md``...). Optional data the
supplier did not give is left out, never defaulted (``fs_deliverychannel.md``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from adapters.domain import (
    Address,
    Booking,
    Coding,
    ContactPoint,
    HealthcareService,
    HumanName,
    Identifier,
    Location,
    Organisation,
    Patient,
    Practitioner,
    PractitionerRole,
    Schedule,
    Slot,
    SupportingDocument,
)
from adapters.nhs import NHS_NUMBER_SYSTEM

Json = dict[str, Any]

CC = "https://fhir.hl7.org.uk/STU3/StructureDefinition/CareConnect-"
UUID_SYSTEM = "https://tools.ietf.org/html/rfc4122"
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
SDS_JOB_ROLE = "https://fhir.hl7.org.uk/STU3/CodeSystem/CareConnect-SDSJobRoleName-1"
NHS_VERIFICATION_EXT = (
    "https://fhir.hl7.org.uk/STU3/StructureDefinition/"
    "Extension-CareConnect-NHSNumberVerificationStatus-1"
)
NHS_VERIFICATION_SYSTEM = (
    "https://fhir.hl7.org.uk/STU3/CodeSystem/CareConnect-NHSNumberVerificationStatus-1"
)
DELIVERY_CHANNEL_EXT = (
    "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-NHS-DeliveryChannel-2"
)

# Contained-resource ids used in every Appointment this gateway renders.
CONTAINED_DOCUMENT = "doc1"
CONTAINED_PATIENT = "P1"
CONTAINED_SLOT = "slot1"


def instant(value: datetime) -> str:
    """fs_times.md: FHIR instant with milliseconds and a zero offset."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds")


def _meta(profile: str, **extra: Any) -> Json:
    return {**extra, "profile": [CC + profile]}


def _prune(data: Json) -> Json:
    return {k: v for k, v in data.items() if v not in (None, [], {}, "")}


def identifier(value: Identifier) -> Json:
    return {"system": value.system, "value": value.value}


def human_name(name: HumanName) -> Json:
    return _prune(
        {
            "use": name.use,
            "family": name.family,
            "given": list(name.given),
            "prefix": list(name.prefix),
        }
    )


def address(value: Address) -> Json:
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


def contact_point(value: ContactPoint) -> Json:
    return _prune(
        {"system": value.system, "value": value.value, "use": value.use, "rank": value.rank}
    )


def slot(value: Slot, *, contained_id: str | None = None) -> Json:
    extension = None
    if value.delivery_channel is not None:
        extension = [{"url": DELIVERY_CHANNEL_EXT, "valueCode": value.delivery_channel.value}]
    return _prune(
        {
            "resourceType": "Slot",
            "id": contained_id or value.id,
            "meta": None if contained_id else _meta("Slot-1"),
            "extension": extension,
            "identifier": [{"system": UUID_SYSTEM, "value": value.identifier}],
            "schedule": {"reference": f"Schedule/{value.schedule_id}"},
            "status": value.status.value,
            "start": instant(value.start),
            "end": instant(value.end),
        }
    )


def schedule(value: Schedule) -> Json:
    actors = [{"reference": f"HealthcareService/{value.service_id}"}]
    if value.location_id:
        actors.append({"reference": f"Location/{value.location_id}"})
    if value.practitioner_id:
        actors.append({"reference": f"Practitioner/{value.practitioner_id}"})
    if value.practitioner_role_id:
        actors.append({"reference": f"PractitionerRole/{value.practitioner_role_id}"})
    return _prune(
        {
            "resourceType": "Schedule",
            "id": value.id,
            "meta": _meta("Schedule-1"),
            "identifier": [identifier(value.identifier)] if value.identifier else None,
            "actor": actors,
        }
    )


def healthcare_service(value: HealthcareService) -> Json:
    # fs_fhir_overrides.md: identifier 1..1 holds the national (DoS) service id.
    ids = [{"system": "https://fhir.nhs.uk/Id/dos-service-id", "value": value.id}]
    if value.local_identifier:
        ids.append(identifier(value.local_identifier))
    return _prune(
        {
            "resourceType": "HealthcareService",
            "id": value.id,
            "meta": _meta("HealthcareService-1"),
            "identifier": ids,
            "providedBy": (
                {"reference": f"Organization/{value.organisation_id}"}
                if value.organisation_id
                else None
            ),
            "location": [{"reference": f"Location/{value.location_id}"}]
            if value.location_id
            else None,
            "name": value.name,
        }
    )


def organisation(value: Organisation) -> Json:
    return _prune(
        {
            "resourceType": "Organization",
            "id": value.id,
            "meta": _meta("Organization-1"),
            "identifier": [{"system": ODS_SYSTEM, "value": value.ods_code}],
            "name": value.name,
            "telecom": [contact_point(t) for t in value.telecom],
            "address": [address(value.address)] if value.address else None,
        }
    )


def location(value: Location) -> Json:
    return _prune(
        {
            "resourceType": "Location",
            "id": value.id,
            "meta": _meta("Location-1"),
            "name": value.name,
            "address": address(value.address) if value.address else None,
            "managingOrganization": (
                {"reference": f"Organization/{value.managing_organisation_id}"}
                if value.managing_organisation_id
                else None
            ),
        }
    )


def practitioner(value: Practitioner) -> Json:
    return _prune(
        {
            "resourceType": "Practitioner",
            "id": value.id,
            "meta": _meta("Practitioner-1"),
            "identifier": [identifier(i) for i in value.identifiers],
            "name": [human_name(value.name)],
            "gender": value.gender.value if value.gender else None,
        }
    )


def practitioner_role(value: PractitionerRole) -> Json:
    return _prune(
        {
            "resourceType": "PractitionerRole",
            "id": value.id,
            "meta": _meta("PractitionerRole-1"),
            "practitioner": (
                {"reference": f"Practitioner/{value.practitioner_id}"}
                if value.practitioner_id
                else None
            ),
            "organization": (
                {"reference": f"Organization/{value.organisation_id}"}
                if value.organisation_id
                else None
            ),
            "code": [
                {
                    "coding": [
                        {
                            "system": SDS_JOB_ROLE,
                            "code": value.role_code,
                            "display": value.role_display,
                        }
                    ]
                }
            ],
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
    elif value.local_identifier:
        # get_an_appointment.md: without an NHS number the provider populates its own identifier.
        identifiers.append({"use": "usual", **identifier(value.local_identifier)})
    return _prune(
        {
            "resourceType": "Patient",
            "id": CONTAINED_PATIENT,
            "meta": _meta("Patient-1"),
            "identifier": identifiers,
            "name": [human_name(value.name)],
            "telecom": [contact_point(t) for t in value.telecom],
            "gender": value.gender.value,
            "birthDate": value.birth_date.isoformat(),
            "address": [address(value.address)],
        }
    )


def document_reference(value: SupportingDocument) -> Json:
    return _prune(
        {
            "resourceType": "DocumentReference",
            "id": CONTAINED_DOCUMENT,
            "meta": _meta("DocumentReference-1"),
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
            "indexed": instant(value.indexed) if value.indexed else None,
            "content": [
                {
                    "attachment": _prune(
                        {"contentType": value.content_type, "language": value.language}
                    )
                }
            ],
        }
    )


def _coding(code: Coding) -> Json:
    return {
        "system": code.system,
        "code": code.code,
        **({"display": code.display} if code.display else {}),
    }


def appointment(
    booking: Booking, *, appointment_id: str, version: int, last_modified: datetime
) -> Json:
    contained: list[Json] = []
    if booking.document is not None:
        contained.append(document_reference(booking.document))
    contained.append(patient(booking.patient))
    contained.append(slot(booking.slot, contained_id=CONTAINED_SLOT))
    return _prune(
        {
            "resourceType": "Appointment",
            "id": appointment_id,
            "meta": _meta(
                "Appointment-1", versionId=str(version), lastUpdated=instant(last_modified)
            ),
            "contained": contained,
            "status": booking.status.value,
            # STU3 Appointment.reason: the reason a BaRS update set (one concept per code).
            "reason": [{"coding": [_coding(c)]} for c in booking.reason] or None,
            "description": booking.description,
            "supportingInformation": (
                [{"reference": f"#{CONTAINED_DOCUMENT}"}] if booking.document else None
            ),
            "incomingReferral": (
                [{"reference": booking.referral_reference}] if booking.referral_reference else None
            ),
            "start": instant(booking.start),
            "end": instant(booking.end),
            "slot": [{"reference": f"#{CONTAINED_SLOT}"}],
            "created": instant(booking.created),
            "participant": [
                {"actor": {"reference": f"#{CONTAINED_PATIENT}"}, "status": "accepted"}
            ],
        }
    )
