"""The resources a servicerequest-request needs besides the ServiceRequest and its Patient.

message-definitions/BARS-MessageDefinition-ServiceRequest-Request-Referral.xml asks
for one Encounter and one CarePlan, at least one Practitioner, PractitionerRole,
Consent and HealthcareService (REFREQ01 carries each). The reference sender builds
the ones the referral does not already carry among its FHIR attachments: the
CarePlan from the triage outcome, the Encounter of the call, the requester (or the
sending service as a role when no practitioner is named), the direct-care Consent
(CONS01) and the receiving service named by its DoS id.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime

from adapters.bars_toolkit._resources import Json, meta
from adapters.domain import Referral

_UK = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-"
DOS = "https://fhir.nhs.uk/Id/dos-service-id"
_SNOMED = "http://snomed.info/sct"


def _resource(kind: str, now: datetime, **fields: object) -> Json:
    return {"resourceType": kind, "id": str(uuid.uuid4()), "meta": meta(now, _UK + kind), **fields}


def care_plan(referral: Referral, subject: str, now: datetime) -> Json:
    """The CarePlan holding the triage outcome (an empty activity list without one)."""
    out = _resource("CarePlan", now, status="active", intent="plan")
    out["subject"] = {"reference": subject}
    triage = referral.triage
    if triage is None:
        return out
    concepts: list[Json] = [
        {"coding": [{k: v for k, v in c.model_dump().items() if v is not None}]}
        for c in (triage.disposition, *triage.codes)
    ]
    if triage.text:
        concepts.append({"text": triage.text})
    out["activity"] = [{"outcomeCodeableConcept": concepts}]
    return out


def _practitioner(referral: Referral, now: datetime) -> Json:
    found = referral.requester.practitioner
    out = _resource("Practitioner", now)
    if found is not None and found.identifiers:
        out["identifier"] = [{"system": i.system, "value": i.value} for i in found.identifiers]
    if found is not None and found.name is not None and found.name.family:
        out["name"] = [{"family": found.name.family, "given": list(found.name.given)}]
    return out


_VIRTUAL = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
    "code": "VR",
    "display": "virtual",
}
_CONSENT_SCOPE = {
    "coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}
    ]
}
_CONSENT_CATEGORY = {
    "coding": [
        {
            "system": _SNOMED,
            "code": "887031000000108",
            "display": "Consent given for sharing of patient data",
        }
    ]
}


def completed(resource: Json, subject: str) -> Json:
    """``resource`` with the elements R4 requires of its type that it lacks, never overwriting:
    a Consent's scope, category and patient (its action under ``provision``), a subject, an
    Encounter's status and class."""
    kind = resource.get("resourceType")
    if kind == "Consent":
        resource.setdefault("scope", _CONSENT_SCOPE)
        resource.setdefault("category", [_CONSENT_CATEGORY])
        resource.setdefault("patient", {"reference": subject})
        if "action" in resource:  # R4 keeps what is consented to under provision.action
            resource.setdefault("provision", {}).setdefault("action", resource.pop("action"))
    elif kind in ("Flag", "Observation", "Encounter", "Condition"):
        resource.setdefault("subject", {"reference": subject})
    if kind == "Encounter":
        resource.setdefault("status", "finished")
        resource.setdefault("class", _VIRTUAL)
    return resource


def context(
    referral: Referral,
    subject: str,
    receiver_endpoint: str,
    now: datetime,
    carried: Collection[str],
) -> list[Json]:
    """The required resources the message lacks (``carried``: the attachments' types),
    as resources; the Practitioner first, so the PractitionerRole can name it."""
    out: list[Json] = []
    practitioner = _practitioner(referral, now)
    wanted: dict[str, Json] = {
        "Encounter": _resource(
            "Encounter",
            now,
            status="finished",
            subject={"reference": subject},
            **{"class": _VIRTUAL},
        ),
        "Practitioner": practitioner,
        "PractitionerRole": _resource(
            "PractitionerRole", now, practitioner={"reference": f"urn:uuid:{practitioner['id']}"}
        ),
        "Consent": _resource(
            "Consent",
            now,
            status="active",
            scope=_CONSENT_SCOPE,
            category=[_CONSENT_CATEGORY],
            patient={"reference": subject},
        ),
        "HealthcareService": _resource(
            "HealthcareService",
            now,
            identifier=[{"system": DOS, "value": receiver_endpoint.rpartition("|")[2]}],
            active=True,
        ),
    }
    for kind, resource in wanted.items():
        if kind not in carried:
            out.append(resource)
    return out
