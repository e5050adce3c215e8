"""A stored referral version -> a UK Core / BaRS ServiceRequest with its Patient.

The shape follows REFREQ01 (BaRS-APP1/Referral-Payload): ``intent`` plan,
``category`` referral plus the use case, ``subject`` the Patient, ``authoredOn``,
``patientInstruction``, ``supportingInfo`` naming the linked Appointment. The
triage outcome is rendered as ``reasonCode`` (the disposition first) since the
CarePlan it came in is kept among the attachments, not rebuilt.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from adapters.domain import Coding, Referral
from gateway.bars import render
from gateway.fhir import render as stu3
from gateway.store import ReferralVersion

Json = dict[str, Any]
PROFILE = "https://fhir.nhs.uk/StructureDefinition/BARSServiceRequest-request-referral"
CATEGORY = "https://fhir.nhs.uk/CodeSystem/message-category-servicerequest"


def _coding(c: Coding) -> Json:
    out: Json = {"system": c.system, "code": c.code}
    if c.display:
        out["display"] = c.display
    return out


def patient(version: ReferralVersion) -> Json:
    """The referral's patient as a UK Core Patient (id ``<referral id>-patient``)."""
    updated = stu3.instant(version.last_modified)
    out = render.uk_core(stu3.patient(version.referral.patient), updated)
    out["id"] = f"{version.referral_id}-patient"
    return out


def _reason(referral: Referral) -> list[Json]:
    concepts: list[Json] = []
    if referral.triage is not None:
        codes = (referral.triage.disposition, *referral.triage.codes)
        concepts.extend({"coding": [_coding(c)]} for c in codes)
    concepts.extend({"coding": [_coding(c)]} for c in referral.reason)
    if referral.reason_text:
        concepts.append({"text": referral.reason_text})
    return concepts


def service_request(version: ReferralVersion, base: str) -> Json:
    referral = version.referral
    categories = [{"system": CATEGORY, "code": "referral", "display": "Transfer of Care"}]
    if referral.category is not None:
        categories.append(_coding(referral.category))
    out: Json = {
        "resourceType": "ServiceRequest",
        "id": referral.id,
        "meta": {
            "versionId": str(version.version),
            "lastUpdated": stu3.instant(version.last_modified),
            "profile": [PROFILE],
        },
        "status": referral.status.value,
        "intent": "plan",
        "category": [{"coding": categories}],
        "subject": {"reference": f"Patient/{referral.id}-patient"},
        "authoredOn": stu3.instant(referral.authored),
        "performer": [
            {
                "identifier": {
                    "system": "https://fhir.nhs.uk/Id/dos-service-id",
                    "value": referral.service_id,
                }
            }
        ],
    }
    if referral.sender_identifier is not None:
        out["identifier"] = [
            {"system": referral.sender_identifier.system, "value": referral.sender_identifier.value}
        ]
    if reasons := _reason(referral):
        out["reasonCode"] = reasons
    if referral.requester.organisation is not None:
        out["requester"] = {
            "identifier": {
                "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                "value": referral.requester.organisation.ods_code,
            }
        }
    if referral.appointment_id:
        out["supportingInfo"] = [
            {"reference": f"Appointment/{referral.appointment_id}", "display": "Booking"}
        ]
    if referral.clinical.summary:
        out["note"] = [{"text": referral.clinical.summary}]
    if referral.clinical.patient_instruction:
        out["patientInstruction"] = referral.clinical.patient_instruction
    return out


def entries(version: ReferralVersion, base: str) -> list[Json]:
    """The ServiceRequest and its Patient as Bundle entries."""
    rid = version.referral_id
    return [
        {"fullUrl": f"{base}/ServiceRequest/{rid}", "resource": service_request(version, base)},
        {"fullUrl": f"{base}/Patient/{rid}-patient", "resource": patient(version)},
    ]


def searchset(found: list[ReferralVersion], *, base: str, self_url: str, now: datetime) -> Json:
    """A UK Core searchset: each ServiceRequest (match) and its Patient (include)."""
    items = [e for v in found for e in entries(v, base)]
    for item in items:
        kind = item["resource"]["resourceType"]
        item["search"] = {"mode": "match" if kind == "ServiceRequest" else "include"}
    bundle: Json = {
        "resourceType": "Bundle",
        "meta": {"lastUpdated": stu3.instant(now), "profile": [render.UK_CORE + "Bundle"]},
        "type": "searchset",
        "timestamp": stu3.instant(now),
        "total": len(found),
        "link": [{"relation": "self", "url": self_url}],
    }
    if items:
        bundle["entry"] = items
    return bundle
