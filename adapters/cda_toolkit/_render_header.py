"""The header of a rendered report: patient, author, custodian, recipient, consent, encounter."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from lxml import etree

from adapters.domain import Patient, Referral, ReferralAttachment

from . import _build as b
from . import _codes as c
from ._xml import instant, ts

#: encompassingEncounter/id root of the 111 case reference.
CASE_REF = "2.16.840.1.113883.2.1.3.2.4.18.34"


class CdaRenderError(ValueError):
    """The referral cannot be written as an NHS 111 report; the message names the field."""


def resource(attachment: ReferralAttachment | None) -> dict[str, Any]:
    if attachment is None or not attachment.data:
        return {}
    try:
        found = json.loads(attachment.data)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def by_prefix(referral: Referral, prefix: str) -> ReferralAttachment | None:
    """The attachment the reader made for a header part (``gp:``, ``consent:``, ``encounter:``)."""
    return next((a for a in referral.clinical.attachments if a.identifier.startswith(prefix)), None)


def _patient_ids(role: etree._Element, patient: Patient) -> None:
    if patient.nhs_number:
        verified = patient.nhs_number_verification == "01"
        root = c.VERIFIED_NHS_NUMBER if verified else c.UNVERIFIED_NHS_NUMBER
        b.el(role, "id", root=root, extension=patient.nhs_number)
    local = patient.local_identifier
    if local is not None:
        if local.system.startswith("urn:oid:"):
            b.el(role, "id", root=local.system[len("urn:oid:") :], extension=local.value)
        else:
            b.el(
                role,
                "id",
                root=c.LOCAL_PATIENT_ID,
                extension=local.value,
                assigningAuthorityName=local.system,
            )
    if not patient.nhs_number and local is None:
        b.el(role, "id", nullFlavor="NI")


def record_target(doc: etree._Element, referral: Referral) -> None:
    patient = referral.patient
    target = b.el(doc, "recordTarget", typeCode="RCT", contextControlCode="OP")
    b.content_id(target, "COCD_TP145201GB01#PatientRole")
    role = b.el(target, "patientRole", classCode="PAT")
    b.template(role, "COCD_TP145201GB01#PatientRole")
    _patient_ids(role, patient)
    b.address(role, patient.address)
    b.telecom(role, patient.telecom)
    person = b.el(role, "patient", classCode="PSN", determinerCode="INSTANCE")
    b.template(person, "COCD_TP145201GB01#patientPatient")
    b.name(person, patient.name)
    code = c.GENDER_OUT[patient.gender]
    b.el(
        person,
        "administrativeGenderCode",
        code=code,
        codeSystem=c.GENDER_SYSTEM,
        displayName=c.GENDER_DISPLAY[code],
    )
    b.el(person, "birthTime", value=patient.birth_date.strftime("%Y%m%d"))
    gp = resource(by_prefix(referral, "gp:"))
    ods = next((i.get("value") for i in gp.get("identifier") or [] if i.get("value")), None)
    if ods:
        org = b.el(role, "providerOrganization", classCode="ORG", determinerCode="INSTANCE")
        b.template(org, "COCD_TP145201GB01#providerOrganization")
        b.organisation_id(org, str(ods))
        if gp.get("name"):
            b.el(org, "name", str(gp["name"]))


def author(doc: etree._Element, referral: Referral) -> None:
    org = referral.requester.organisation
    if org is None:
        raise CdaRenderError("requester.organisation: an NHS 111 report needs its author")
    found = b.el(doc, "author", typeCode="AUT", contextControlCode="OP")
    b.content_id(found, "COCD_TP145200GB01#AssignedAuthor")
    b.el(
        found,
        "functionCode",
        code="OA",
        displayName="Originating Author",
        codeSystem="2.16.840.1.113883.2.1.3.2.4.17.178",
    )
    b.el(found, "time", value=ts(referral.authored))
    assigned = b.el(found, "assignedAuthor", classCode="ASSIGNED")
    b.template(assigned, "COCD_TP145200GB01#AssignedAuthor")
    who = referral.requester.practitioner
    if who is None:
        b.el(assigned, "id", nullFlavor="NI")
    else:
        system = who.identifiers[0].system if who.identifiers else f"urn:oid:{c.SDS_USER}"
        b.el(assigned, "id", root=system.removeprefix("urn:oid:"), extension=who.id)
        if who.name is not None:
            person = b.el(assigned, "assignedPerson", classCode="PSN", determinerCode="INSTANCE")
            b.template(person, "COCD_TP145200GB01#assignedPerson")
            b.name(person, who.name)
    represented = b.el(
        assigned, "representedOrganization", classCode="ORG", determinerCode="INSTANCE"
    )
    b.template(represented, "COCD_TP145200GB01#representedOrganization")
    b.organisation_id(represented, org.ods_code)
    if org.name:
        b.el(represented, "name", org.name)


def custodian(doc: etree._Element, referral: Referral) -> None:
    org = referral.requester.organisation
    assert org is not None  # author() refused a referral without one
    found = b.el(doc, "custodian", typeCode="CST")
    b.content_id(found, "COCD_TP145018UK03#AssignedCustodian")
    assigned = b.el(found, "assignedCustodian", classCode="ASSIGNED")
    b.template(assigned, "COCD_TP145018UK03#AssignedCustodian")
    keeper = b.el(
        assigned, "representedCustodianOrganization", classCode="ORG", determinerCode="INSTANCE"
    )
    b.template(keeper, "COCD_TP145018UK03#representedCustodianOrganization")
    b.organisation_id(keeper, org.ods_code, c.ODS_SITE)
    b.el(keeper, "name", org.name or org.ods_code)


def recipient(doc: etree._Element, referral: Referral, name: str | None) -> None:
    found = b.el(doc, "informationRecipient", typeCode="PRCP")
    b.content_id(found, "COCD_TP145203GB03#IntendedRecipient")
    intended = b.el(found, "intendedRecipient", classCode="ASSIGNED")
    b.template(intended, "COCD_TP145203GB03#IntendedRecipient")
    org = b.el(intended, "receivedOrganization", classCode="ORG", determinerCode="INSTANCE")
    b.template(org, "COCD_TP145203GB03#representedOrganization")
    b.organisation_id(org, referral.service_id, c.ODS_SITE)
    b.el(org, "name", name or referral.service_id)


def authorization(doc: etree._Element, referral: Referral) -> None:
    attachment = by_prefix(referral, "consent:")
    actions = resource(attachment).get("action") or []
    codings = [cd for action in actions for cd in (action or {}).get("coding") or []]
    if attachment is None or not codings or not codings[0].get("code"):
        return
    found = b.el(doc, "authorization", typeCode="AUTH")
    b.content_id(found, "COCD_TP146226GB02#Consent")
    consent = b.el(found, "consent", classCode="CONS", moodCode="EVN")
    b.template(consent, "COCD_TP146226GB02#Consent")
    b.el(consent, "id", root=attachment.identifier.removeprefix("consent:"))
    first = codings[0]
    b.el(
        consent,
        "code",
        code=str(first["code"]),
        codeSystem=c.oid_for(str(first.get("system") or "")),
        displayName=str(first.get("display") or ""),
    )
    b.el(consent, "statusCode", code="completed")


def _dx(referral: Referral) -> etree._Element:
    triage = referral.triage
    if triage is None or triage.disposition.system != c.DX_SYSTEM:
        raise CdaRenderError("triage.disposition: an NHS 111 report needs a Pathways Dx code")
    code = triage.disposition.code
    # Pathways spells Dx06; the canonical model (and BaRS) DX06.
    written = "Dx" + code[2:] if code[:2] == "DX" and code[2:].isdigit() else code
    holder = etree.Element("holder")
    b.el(
        holder,
        "dischargeDispositionCode",
        codeSystem=c.DISPOSITION_OID,
        code=written,
        displayName=triage.disposition.display or "",
    )
    return holder[0]


def encounter(doc: etree._Element, referral: Referral) -> None:
    disposition = _dx(referral)
    found = b.el(doc, "componentOf", typeCode="COMP")
    b.content_id(found, "COCD_TP146232GB01#EncompassingEncounter")
    enc = b.el(found, "encompassingEncounter", classCode="ENC", moodCode="EVN")
    b.template(enc, "COCD_TP146232GB01#EncompassingEncounter")
    given = resource(by_prefix(referral, "encounter:"))
    ids = [i for i in given.get("identifier") or [] if i.get("system") and i.get("value")]
    for ident in ids or [{"system": f"urn:oid:{CASE_REF}", "value": referral.id}]:
        root = str(ident["system"]).removeprefix("urn:oid:")
        b.el(enc, "id", root=root, extension=str(ident["value"]))
    code, system, display = c.ENCOUNTER_CODE
    b.el(enc, "code", code=code, codeSystem=system, displayName=display)
    period = given.get("period") or {}
    times = b.el(enc, "effectiveTime")
    for part, key in (("low", "start"), ("high", "end")):
        moment = instant_of(period.get(key)) or referral.authored
        b.el(times, part, value=ts(moment))
    enc.append(disposition)


def instant_of(value: object) -> datetime | None:
    """An ISO instant the reader wrote into an Encounter attachment (or an HL7 TS)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return instant(value)
    return parsed if parsed.tzinfo else None
