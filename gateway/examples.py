"""A conformant example booking for a searched slot (appointment.md's example, made live).

Used by ``uec-gateway example-booking`` so a newcomer can book from the shell,
and by the tests. The patient is fictitious; the NHS number is in the test range.
"""

from __future__ import annotations

import uuid
from typing import Any

EXAMPLE_NHS_NUMBER = "9434765919"
NHS_VERIFICATION_EXT = (
    "https://fhir.hl7.org.uk/STU3/StructureDefinition/"
    "Extension-CareConnect-NHSNumberVerificationStatus-1"
)
NHS_VERIFICATION_SYSTEM = (
    "https://fhir.hl7.org.uk/STU3/CodeSystem/CareConnect-NHSNumberVerificationStatus-1"
)


def first_free_slot(bundle: dict[str, Any]) -> dict[str, Any]:
    """The first free Slot in a searchset Bundle; ValueError if there is none."""
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource") or {}
        if resource.get("resourceType") == "Slot" and resource.get("status") == "free":
            return dict(resource)
    raise ValueError("the Bundle holds no free Slot")


def booking_body(
    slot: dict[str, Any], nhs_number: str | None = EXAMPLE_NHS_NUMBER
) -> dict[str, Any]:
    """A booking as appointment.md's example builds it, for ``slot`` from a search."""
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": "P1",
        "name": [{"use": "official", "family": "Chalmers", "given": ["Peter"], "prefix": ["Mr"]}],
        "telecom": [{"system": "phone", "value": "01234 567 890", "use": "home", "rank": 1}],
        "gender": "male",
        "birthDate": "1974-12-25",
        "address": [
            {
                "use": "home",
                "line": ["123 High Street", "Leeds"],
                "city": "Leeds",
                "postalCode": "LS1 4HR",
            }
        ],
    }
    if nhs_number is not None:
        patient["identifier"] = [
            {
                "extension": [
                    {
                        "url": NHS_VERIFICATION_EXT,
                        "valueCodeableConcept": {
                            "coding": [
                                {
                                    "system": NHS_VERIFICATION_SYSTEM,
                                    "code": "01",
                                    "display": "Number present and verified",
                                }
                            ]
                        },
                    }
                ],
                "use": "official",
                "system": "https://fhir.nhs.uk/Id/nhs-number",
                "value": nhs_number,
            }
        ]
    return {
        "resourceType": "Appointment",
        "meta": {
            "profile": [
                "https://fhir.hl7.org.uk/STU3/StructureDefinition/CareConnect-Appointment-1"
            ]
        },
        "contained": [
            {
                "resourceType": "DocumentReference",
                "id": "123",
                "identifier": [
                    {"system": "https://tools.ietf.org/html/rfc4122", "value": str(uuid.uuid4())}
                ],
                "status": "current",
                "type": {
                    "coding": [
                        {
                            "system": "urn:oid:2.16.840.1.113883.2.1.3.2.4.18.17",
                            "code": "POCD_MT200001GB02",
                            "display": "Integrated Urgent Care Report",
                        }
                    ]
                },
                "indexed": "2018-12-20T09:43:41+11:00",
                "content": [
                    {"attachment": {"contentType": "application/hl7-v3+xml", "language": "en-GB"}}
                ],
            },
            patient,
            {
                "resourceType": "Slot",
                "id": "slot002",
                "identifier": slot["identifier"],
                "schedule": slot["schedule"],
                "status": "free",
                "start": slot["start"],
                "end": slot["end"],
            },
        ],
        "status": "booked",
        "description": "Reason for calling",
        "supportingInformation": [{"reference": "#123"}],
        "start": slot["start"],
        "end": slot["end"],
        "slot": [{"reference": "#slot002"}],
        "created": "2019-01-17T14:32:22.579+00:00",
        "participant": [{"actor": {"reference": "#P1"}}],
    }
