"""The pointer an appointment version implies (DocumentReference-StandardPattern).

A booked appointment of a patient with an NHS number has one pointer in the
national registry: a UK Core / BaRS DocumentReference naming the appointment
(``BaRS-Identifier``), the service holding it (``dos-service-id``), the patient
(subject), the custodian, the type "Appointment (record artifact)", the slot
time (``context.period``) and the appointment's BaRS URL. Any other version
(cancelled, entered in error, no NHS number) implies no pointer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from adapters.domain import BookingStatus
from gateway.store import AppointmentVersion

BARS_IDENTIFIER = "https://fhir.nhs.uk/Id/BaRS-Identifier"
DOS_SYSTEM = "https://fhir.nhs.uk/Id/dos-service-id"
#: As the OpenAPI spec spells it (lower-case "id"), unlike the other identifier systems.
PRODUCT_SYSTEM = "https://fhir.nhs.uk/id/product-id"
NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
SNOMED = "http://snomed.info/sct"
#: Receiver-DocumentReference: bookings 749001000000101, referrals 736253002.
APPOINTMENT_TYPE = "749001000000101"
REFERRAL_TYPE = "736253002"
TYPE_DISPLAY = "Appointment (record artifact)"
CATEGORY = {"system": SNOMED, "code": "419891008", "display": "Record artifact (record artifact)"}
STABILITY_EXT = "https://fhir.nhs.uk/England/StructureDefinition/Extension-England-ContentStability"
STABILITY_SYSTEM = "https://fhir.nhs.uk/England/CodeSystem/England-NRLContentStability"
FORMAT = {
    "system": "https://fhir.nhs.uk/England/CodeSystem/England-NRLFormatCode",
    "code": "urn:nhs-ic:structured",
    "display": "Structured Document",
}


@dataclass(frozen=True, slots=True)
class PointerSite:
    """What every pointer of this gateway says about where the bookings live."""

    custodian_ods: str
    #: Base of the appointment URLs, e.g. ``https://host/bars/FHIR/R4`` (no trailing '/').
    appointment_base: str
    product_id: str | None = None
    #: Gateway service id -> the DoS service id a sender targets (else the id itself).
    dos_ids: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Pointer:
    """The DocumentReference (no ``id``) and the hashes the worker compares."""

    resource: dict[str, Any]
    nhs_number: str
    content_hash: str
    subject_hash: str


def _instant(value: Any) -> str:
    return str(value.isoformat(timespec="seconds"))


def pointer_for(version: AppointmentVersion, site: PointerSite) -> Pointer | None:
    """The pointer ``version`` implies, or None for "no pointer"."""
    booking = version.booking
    nhs = booking.patient.nhs_number
    if booking.status is not BookingStatus.BOOKED or not nhs:
        return None
    service = site.dos_ids.get(booking.service_id, booking.service_id)
    identifiers = [
        {"system": BARS_IDENTIFIER, "value": version.appointment_id},
        {"system": DOS_SYSTEM, "value": service},
    ]
    if site.product_id:
        identifiers.append({"system": PRODUCT_SYSTEM, "value": site.product_id})
    custodian = {"identifier": {"system": ODS_SYSTEM, "value": site.custodian_ods}}
    resource: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "identifier": identifiers,
        "status": "current",
        "type": {"coding": [{"system": SNOMED, "code": APPOINTMENT_TYPE, "display": TYPE_DISPLAY}]},
        "category": [{"coding": [CATEGORY]}],
        "subject": {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": nhs}},
        "author": [custodian],
        "custodian": custodian,
        "content": [_content(f"{site.appointment_base}/Appointment/{version.appointment_id}")],
        "context": {"period": {"start": _instant(booking.start), "end": _instant(booking.end)}},
    }
    digest = hashlib.sha256(json.dumps(resource, sort_keys=True).encode()).hexdigest()
    return Pointer(resource, nhs, digest, hashlib.sha256(nhs.encode()).hexdigest())


def _content(url: str) -> dict[str, Any]:
    # "dynamic": the appointment behind the URL changes (rescheduled, cancelled).
    stability = {"coding": [{"system": STABILITY_SYSTEM, "code": "dynamic", "display": "Dynamic"}]}
    return {
        "extension": [{"url": STABILITY_EXT, "valueCodeableConcept": stability}],
        "attachment": {"contentType": "application/fhir+json", "url": url},
        "format": FORMAT,
    }


def dated(pointer: Pointer, document_id: str | None, when: str) -> dict[str, Any]:
    """The resource to send: with the registry's id (for a PUT) and its ``date``."""
    resource = {**pointer.resource, "date": when}
    if document_id is not None:
        resource = {"id": document_id, **resource}
    return resource
