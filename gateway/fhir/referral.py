"""A stored referral version -> a CareConnect STU3 ReferralRequest (CareConnect-ReferralRequest-1).

The NHS Booking API has no referral resource of its own; its Appointment names
one in ``incomingReferral`` ("the ReferralRequest provided as information",
``appointment.md``), and CareConnect STU3 profiles ReferralRequest. So the
referrals the gateway stores (from either door) are read over STU3 as
ReferralRequests, in the shapes this door already serves: the patient is a
contained CareConnect Patient (``#P1``, as in an Appointment), the service is
``HealthcareService/<DoS id>`` (as the slot search includes it), the linked
booking ``Appointment/<id>``. Where R4 has an element STU3 lacks, the content
goes to the STU3 element that holds it (docs/spec-choices.md, "BaRS end to end
and referrals over STU3").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from adapters.domain import Coding, Referral, ReferralStatus
from gateway.fhir import bundle, render
from gateway.store import ReferralVersion

Json = dict[str, Any]

PROFILE = render.CC + "ReferralRequest-1"
DOS_SYSTEM = "https://fhir.nhs.uk/Id/dos-service-id"
#: R4 ServiceRequest.status (what we store) -> STU3 ReferralRequest.status.
STATUS: dict[ReferralStatus, str] = {
    ReferralStatus.ACTIVE: "active",
    ReferralStatus.ON_HOLD: "suspended",
    ReferralStatus.REVOKED: "cancelled",
    ReferralStatus.COMPLETED: "completed",
    ReferralStatus.ENTERED_IN_ERROR: "entered-in-error",
}


def _coding(c: Coding) -> Json:
    return render._prune({"system": c.system, "code": c.code, "display": c.display})


def _reasons(referral: Referral) -> list[Json]:
    """The triage disposition first, then its other codes, then the sender's reasons."""
    concepts: list[Json] = []
    if referral.triage is not None:
        codes = (referral.triage.disposition, *referral.triage.codes)
        concepts.extend({"coding": [_coding(c)]} for c in codes)
    concepts.extend({"coding": [_coding(c)]} for c in referral.reason)
    if referral.reason_text:
        concepts.append({"text": referral.reason_text})
    return concepts


def _identifiers(referral: Referral) -> list[Json]:
    out = []
    if referral.sender_identifier is not None:
        out.append(render.identifier(referral.sender_identifier))
    if referral.document_identifier:
        # dos_itk.md: the CDA document's id, as the booking's DocumentReference carries it.
        out.append({"system": render.UUID_SYSTEM, "value": referral.document_identifier})
    return out


def _requester(referral: Referral) -> Json | None:
    """STU3 requester.agent (1..1); onBehalfOf only beside a practitioner agent (rfr-1)."""
    org, who = referral.requester.organisation, referral.requester.practitioner
    org_ref = (
        render._prune(
            {
                "identifier": {"system": render.ODS_SYSTEM, "value": org.ods_code},
                "display": org.name,
            }
        )
        if org is not None
        else None
    )
    if who is not None:
        ident = who.identifiers[0] if who.identifiers else None
        agent = {"identifier": render.identifier(ident)} if ident else {"display": who.id}
        return render._prune({"agent": agent, "onBehalfOf": org_ref})
    return {"agent": org_ref} if org_ref else None


def _notes(referral: Referral) -> list[Json]:
    clinical = referral.clinical
    notes = [{"text": clinical.summary}] if clinical.summary else []
    if clinical.patient_instruction:
        # STU3 has no patientInstruction: the advice given is kept as a note saying so.
        notes.append({"text": f"Patient instruction: {clinical.patient_instruction}"})
    return notes


def _supporting(referral: Referral) -> list[Json]:
    out: list[Json] = []
    if referral.appointment_id:
        out.append({"reference": f"Appointment/{referral.appointment_id}", "display": "Booking"})
    for item in referral.clinical.attachments:
        # Kept as the sender gave it (R4 content); STU3 is told it exists and what it is.
        out.append(
            {
                "identifier": {"system": "urn:ietf:rfc:3986", "value": item.identifier},
                "display": item.title or item.kind,
            }
        )
    return out


def referral_request(version: ReferralVersion) -> Json:
    """The CareConnect STU3 ReferralRequest for one stored referral version."""
    referral = version.referral
    meta = {"versionId": str(version.version), "lastUpdated": render.instant(version.last_modified)}
    return render._prune(
        {
            "resourceType": "ReferralRequest",
            "id": referral.id,
            "meta": {**meta, "profile": [PROFILE]},
            "contained": [render.patient(referral.patient)],
            "identifier": _identifiers(referral),
            "status": STATUS[referral.status],
            "intent": "plan",
            "type": {"coding": [_coding(referral.category)]} if referral.category else None,
            "subject": {"reference": f"#{render.CONTAINED_PATIENT}"},
            "authoredOn": render.instant(referral.authored),
            "requester": _requester(referral),
            "recipient": [
                {
                    "reference": f"HealthcareService/{referral.service_id}",
                    "identifier": {"system": DOS_SYSTEM, "value": referral.service_id},
                }
            ],
            "reasonCode": _reasons(referral),
            "description": referral.triage.text if referral.triage else None,
            "supportingInfo": _supporting(referral),
            "note": _notes(referral),
        }
    )


def searchset(found: Sequence[ReferralVersion], *, base: str, self_url: str, now: datetime) -> Json:
    """A searchset of ReferralRequests (the current version of each)."""
    entries = [
        {
            "fullUrl": f"{base}/ReferralRequest/{v.referral_id}/_history/{v.version}",
            "resource": referral_request(v),
            "search": {"mode": "match"},
        }
        for v in found
    ]
    return bundle.searchset(self_url, entries, now)
