"""The document header: identity, author, recipient, consent and the encounter's outcome."""

from __future__ import annotations

import json
from dataclasses import dataclass

from lxml import etree

from adapters.domain import (
    Coding,
    Identifier,
    ReferralAttachment,
    ReferralRequester,
    RequestingOrganisation,
    RequestingPractitioner,
)

from . import _codes as c
from ._patient import name
from ._xml import Collector, attr, child, children, text_of

DOC = "/ClinicalDocument"
ENCOUNTER = f"{DOC}/componentOf/encompassingEncounter"


@dataclass(frozen=True, slots=True)
class Identity:
    """``ClinicalDocument/id``, ``setId`` and ``versionNumber``."""

    document_id: str
    set_id: str
    version: int


def _need(document: etree._Element, path: str, name_: str, seen: Collector) -> str | None:
    value = attr(child(document, path), name_)
    if value is None:
        xpath = DOC + "/" + path.replace("h:", "").replace("n:", "") + f"/@{name_}"
        seen.problem(xpath, "is missing")
    return value


def identity(document: etree._Element, seen: Collector) -> Identity | None:
    """The document's kind and identity; an unknown kind is refused."""
    kind = _need(document, "n:messageType", "extension", seen)
    if kind is not None and kind != c.MESSAGE_TYPE:
        seen.problem(f"{DOC}/messageType/@extension", f"'{kind[:40]}' is not {c.MESSAGE_TYPE}")
    code = _need(document, "h:code", "code", seen)
    if code == c.PLACEHOLDER_CODE:
        seen.note(f"{DOC}/code/@code", "a placeholder: read as a report by its messageType")
    elif code is not None and code not in c.DOCUMENT_CODES:
        seen.problem(f"{DOC}/code/@code", f"document type '{code[:20]}' is not a 111 report")
    document_id = _need(document, "h:id", "root", seen)
    set_id = _need(document, "h:setId", "root", seen)
    raw = _need(document, "h:versionNumber", "value", seen)
    version = int(raw) if raw is not None and raw.isdigit() and len(raw) < 9 else None
    if raw is not None and version is None:
        seen.problem(f"{DOC}/versionNumber/@value", "is not a whole number")
    if document_id is None or set_id is None or version is None:
        return None
    return Identity(document_id, set_id, version)


def requester(document: etree._Element, seen: Collector) -> ReferralRequester:
    """``author/assignedAuthor``: the 111 organisation (mandatory) and its clinician."""
    author = child(document, "h:author/h:assignedAuthor")
    org = child(author, "h:representedOrganization")
    ods = attr(child(org, "h:id"), "extension")
    if ods is None:
        seen.problem(
            f"{DOC}/author/assignedAuthor/representedOrganization/id/@extension",
            "the authoring 111 organisation is missing",
        )
        return ReferralRequester()
    person_id = child(author, "h:id")
    practitioner = None
    if attr(person_id, "extension"):
        value = str(attr(person_id, "extension"))
        practitioner = RequestingPractitioner(
            id=value,
            identifiers=(Identifier(system=f"urn:oid:{attr(person_id, 'root')}", value=value),),
            name=name(child(author, "h:assignedPerson")),
        )
    return ReferralRequester(
        organisation=RequestingOrganisation(ods_code=ods, name=text_of(child(org, "h:name"))),
        practitioner=practitioner,
    )


def recipient(document: etree._Element) -> str | None:
    """The first ``informationRecipient`` of type PRCP (primary recipient): its ODS code."""
    for element in children(document, "h:informationRecipient"):
        if attr(element, "typeCode") == "PRCP":
            org = child(element, "h:intendedRecipient/h:receivedOrganization")
            found = attr(child(org, "h:id"), "extension")
            if found:
                return found
    return None


def disposition(document: etree._Element, seen: Collector) -> Coding | None:
    """``dischargeDispositionCode``: the Pathways Dx code, e.g. ``Dx06`` read as ``DX06``."""
    where = f"{ENCOUNTER}/dischargeDispositionCode"
    element = child(document, "h:componentOf/h:encompassingEncounter/h:dischargeDispositionCode")
    code = attr(element, "code")
    if code is None:
        seen.problem(f"{where}/@code", "the triage disposition is missing")
        return None
    system = attr(element, "codeSystem")
    if system != c.DISPOSITION_OID:
        seen.problem(f"{where}/@codeSystem", f"'{(system or '')[:40]}' is not the Dx code system")
        return None
    # Pathways writes Dx06; BaRS and the routing tables write DX06: one spelling inside.
    canonical = code.upper() if code[:2].lower() == "dx" and code[2:].isdigit() else code
    return Coding(system=c.DX_SYSTEM, code=canonical, display=attr(element, "displayName"))


def consent(document: etree._Element) -> ReferralAttachment | None:
    """``authorization/consent``: the patient's consent to share, as a FHIR Consent."""
    found = child(document, "h:authorization/h:consent")
    code = child(found, "h:code")
    if found is None or attr(code, "code") is None:
        return None
    identifier = attr(child(found, "h:id"), "root") or "consent"
    resource = {
        "resourceType": "Consent",
        "status": "active",
        "action": [
            {
                "coding": [
                    {
                        "system": c.system_for(attr(code, "codeSystem")),
                        "code": attr(code, "code"),
                        "display": attr(code, "displayName"),
                    }
                ]
            }
        ],
    }
    return ReferralAttachment(
        kind="Consent",
        identifier=f"consent:{identifier}",
        content_type="application/fhir+json",
        data=json.dumps(resource, separators=(",", ":")),
    )
