"""``recordTarget/patientRole`` -> the canonical ``Patient``, and the patient's GP practice.

ITK_FHIR_mapping.md "Patient": name, telecom, gender, birth time, address and
``providerOrganization`` (the GP). Identifiers: the NHS number (root ``...2.1.4.1``
verified, ``...18.23`` unverified) and the 111 system's local id (``...18.24``).
"""

from __future__ import annotations

import json

from lxml import etree

from adapters.domain import (
    Address,
    ContactPoint,
    Gender,
    HumanName,
    Identifier,
    Patient,
    ReferralAttachment,
)
from adapters.nhs import is_valid_nhs_number

from . import _codes as c
from ._xml import Collector, attr, child, children, day, text_of

PATIENT_ROLE = "/ClinicalDocument/recordTarget/patientRole"
GP_TITLE = "generalPractitioner"


def address(addr: etree._Element | None) -> Address:
    """An ``addr`` (structured parts, or its own text when unstructured)."""
    if addr is None:
        return Address()
    lines = tuple(t for e in children(addr, "h:streetAddressLine") if (t := text_of(e)))
    district = text_of(child(addr, "h:county")) or text_of(child(addr, "h:precinct"))
    return Address(
        lines=lines,
        city=text_of(child(addr, "h:city")),
        district=district,
        postcode=text_of(child(addr, "h:postalCode")),
        text=text_of(addr) if not lines else None,
        use=c.ADDRESS_USE_IN.get(attr(addr, "use") or ""),
    )


def _home(role: etree._Element) -> etree._Element | None:
    addrs = children(role, "h:addr")
    for addr in addrs:
        if attr(addr, "use") in ("H", "HP"):
            return addr
    return addrs[0] if addrs else None


def telecom(owner: etree._Element) -> tuple[ContactPoint, ...]:
    """``telecom`` values by URL scheme; the emergency contact's number is not the patient's."""
    points = []
    for element in children(owner, "h:telecom"):
        value, use = attr(element, "value"), attr(element, "use")
        if value is None or use == c.EMERGENCY_CONTACT:
            continue
        scheme = next((s for s in c.SCHEMES if value.lower().startswith(s)), None)
        if scheme is None:
            continue
        points.append(
            ContactPoint(
                system=c.SCHEMES[scheme],
                value=value[len(scheme) :],
                use=c.TELECOM_USE_IN.get(use or ""),
            )
        )
    return tuple(points)


def name(person: etree._Element | None) -> HumanName | None:
    found = child(person, "h:name")
    if found is None:
        return None
    given = tuple(t for e in children(found, "h:given") if (t := text_of(e)))
    family = text_of(child(found, "h:family"))
    if not given and not family:
        return None
    return HumanName(
        family=family,
        given=given,
        prefix=tuple(t for e in children(found, "h:prefix") if (t := text_of(e))),
        use=c.NAME_USE_IN.get(attr(found, "use") or ""),
    )


def _local_system(root: str | None, authority: str | None) -> str:
    """``urn:oid:<root>``; a URI ``render`` wrote as the assigning authority is the system."""
    if root == c.LOCAL_PATIENT_ID and authority and ("://" in authority or authority[:4] == "urn:"):
        return authority
    return f"urn:oid:{root}"


def _identifiers(
    role: etree._Element, seen: Collector
) -> tuple[str | None, str | None, Identifier | None]:
    nhs_number = verification = None
    local: Identifier | None = None
    ids = children(role, "h:id")
    if not ids:
        seen.problem(f"{PATIENT_ROLE}/id", "the patient has no identifier")
    for element in ids:
        root, value = attr(element, "root"), attr(element, "extension")
        if value is None:
            continue
        if root in c.VERIFICATION:
            if nhs_number is None and is_valid_nhs_number(value) and value != "0" * 10:
                nhs_number, verification = value, c.VERIFICATION[root]
            elif root == c.VERIFIED_NHS_NUMBER:
                seen.problem(f"{PATIENT_ROLE}/id/@extension", "a verified NHS number is invalid")
            else:
                seen.note(f"{PATIENT_ROLE}/id/@extension", "an unverified NHS number is invalid")
        elif local is None:
            local = Identifier(
                system=_local_system(root, attr(element, "assigningAuthorityName")), value=value
            )
    return nhs_number, verification, local


def _gender(person: etree._Element, seen: Collector) -> Gender:
    where = f"{PATIENT_ROLE}/patient/administrativeGenderCode"
    element = child(person, "h:administrativeGenderCode")
    if element is None:
        seen.problem(where, "the patient's gender is missing")
        return Gender.UNKNOWN
    if attr(element, "nullFlavor"):
        return Gender.UNKNOWN
    code = attr(element, "code")
    if code not in c.GENDER_IN:
        seen.problem(f"{where}/@code", f"gender code '{(code or '')[:8]}' is not known")
        return Gender.UNKNOWN
    return c.GENDER_IN[code]


def patient(document: etree._Element, seen: Collector) -> Patient | None:
    """The patient, or None (with problems recorded) when mandatory parts are missing."""
    role = child(document, "h:recordTarget/h:patientRole")
    if role is None:
        seen.problem(PATIENT_ROLE, "the document has no patient")
        return None
    person = child(role, "h:patient")
    if person is None:
        seen.problem(f"{PATIENT_ROLE}/patient", "the patient's details are missing")
        return None
    nhs_number, verification, local = _identifiers(role, seen)
    patient_name = name(person)
    if patient_name is None:
        seen.problem(f"{PATIENT_ROLE}/patient/name", "the patient's name is missing")
    born = day(attr(child(person, "h:birthTime"), "value"))
    if born is None:
        seen.problem(f"{PATIENT_ROLE}/patient/birthTime/@value", "the birth date is missing")
    gender = _gender(person, seen)
    if patient_name is None or born is None:
        return None
    return Patient(
        nhs_number=nhs_number,
        nhs_number_verification=verification,
        local_identifier=local,
        name=patient_name,
        gender=gender,
        birth_date=born,
        address=address(_home(role)),
        telecom=telecom(role),
    )


def gp_practice(document: etree._Element) -> ReferralAttachment | None:
    """``providerOrganization``: the patient's GP, as a FHIR Organization attachment."""
    org = child(document, "h:recordTarget/h:patientRole/h:providerOrganization")
    ods = attr(child(org, "h:id"), "extension")
    if org is None or ods is None:
        return None
    resource = {
        "resourceType": "Organization",
        "identifier": [{"system": c.ODS_SYSTEM, "value": ods}],
        "name": text_of(child(org, "h:name")),
    }
    return ReferralAttachment(
        kind="Organization",
        identifier=f"gp:{ods}",
        content_type="application/fhir+json",
        title=GP_TITLE,
        data=json.dumps(resource, separators=(",", ":")),
    )
