"""A canonical ``Referral`` -> an NHS 111 report (POCD_MT200001GB02), for ITK-only providers.

When the referral carries the CDA it was read from (its ``document`` attachment), that
document is returned unchanged: the provider gets exactly what the 111 service wrote.
Otherwise the report is built from the referral with the header every sample carries
(patient, author, custodian, primary recipient, consent, the encounter and its Dx code)
and a body whose sections and entries ``read_report`` reads back into the same fields;
attachments with no place of their own (BaRS resources, the Pathways case) travel as
``observationMedia`` entries (base64, their media type kept).
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from lxml import etree

from adapters.domain import Referral, ReferralAttachment, ReferralStatus

from . import _build as b
from . import _codes as c
from ._body import FHIR_JSON, SERVICE_REQUEST
from ._render_header import (
    CdaRenderError,
    author,
    authorization,
    custodian,
    encounter,
    recipient,
    record_target,
)
from ._xml import HL7, NPFIT, XSI, ts

#: Attachments the reader derives from header parts or sections; written back there.
_DERIVED = ("gp:", "consent:", "encounter:", "flag:")


def original(referral: Referral) -> bytes | None:
    """The CDA document the referral was read from, as it was, or None."""
    for attachment in referral.clinical.attachments:
        if attachment.kind == "document" and attachment.content_type == c.CDA_CONTENT_TYPE:
            try:
                return base64.b64decode(attachment.data or "", validate=True)
            except binascii.Error:
                return None
    return None


def _identity(doc: etree._Element, referral: Referral, effective: datetime) -> str:
    etree.SubElement(
        doc, f"{{{NPFIT}}}messageType", root=c.MESSAGE_TYPE_ROOT, extension=c.MESSAGE_TYPE
    )
    document_id = referral.document_identifier or b.made_id(referral.id, referral.version)
    b.el(doc, "id", root=document_id)
    b.el(doc, "code", code="819551000000100", codeSystem=c.SNOMED_OID)
    b.el(doc, "title", c.DOCUMENT_CODES["819551000000100"])
    b.el(doc, "effectiveTime", value=ts(effective))
    b.el(
        doc,
        "confidentialityCode",
        code="N",
        displayName="normal",
        codeSystem="2.16.840.1.113883.1.11.16926",
    )
    sender = referral.sender_identifier
    set_id = sender.value.removeprefix("urn:uuid:") if sender else ""
    set_id = set_id if b.is_uuid(set_id) else b.made_id(referral.id)
    b.el(doc, "setId", root=set_id)
    b.el(doc, "versionNumber", value=str(referral.version))
    return set_id


def _section(parent: etree._Element, key: str, title: str | None, text: str | None,
             code: tuple[str, str] | None = None) -> None:  # fmt: skip
    holder = b.el(parent, "component", typeCode="COMP", contextConductionInd="true")
    b.content_id(holder, "COCD_TP146246GB01#Section1")
    section = b.el(holder, "section", classCode="DOCSECT", moodCode="EVN")
    b.template(section, "COCD_TP146246GB01#Section1")
    b.el(section, "id", root=key if b.is_uuid(key) else b.made_id("section", key))
    if code is not None:
        b.el(section, "code", code=code[0], codeSystem=c.SNOMED_OID, displayName=code[1])
    if title:
        b.el(section, "title", title)
    b.lines(section, text)


def _entry(section: etree._Element, extension: str) -> etree._Element:
    entry = b.el(section, "entry", typeCode="COMP", contextConductionInd="true")
    b.content_id(entry, extension)
    return entry


def _entries(section: etree._Element, referral: Referral, media: list[ReferralAttachment]) -> None:
    for coding in referral.triage.codes if referral.triage else ():
        entry = _entry(section, "COCD_TP146092GB01#ClinicalDiscriminator")
        obs = b.el(entry, "observation", classCode="OBS", moodCode="EVN")
        b.template(obs, "COCD_TP146092GB01#ClinicalDiscriminator")
        b.el(obs, "code", code="CD", codeSystem="2.16.840.1.113883.2.1.3.2.4.17.540")
        value = b.el(obs, "value", code=coding.code, codeSystem=c.oid_for(coding.system),
                     displayName=coding.display or "")  # fmt: skip
        value.set(f"{{{XSI}}}type", "CV")
    if referral.appointment_id:
        entry = _entry(section, "COCD_TP146093GB01#AppointmentReference")
        appointment = b.el(entry, "encounter", classCode="ENC", moodCode="APT")
        b.template(appointment, "COCD_TP146093GB01#AppointmentReference")
        b.el(appointment, "id", root=c.APPOINTMENT_ROOT, extension=referral.appointment_id)
    for attachment in media:
        entry = _entry(section, "COCD_TP146002GB01#ObservationMedia")
        obs = b.el(entry, "observationMedia", classCode="OBS", moodCode="EVN")
        b.template(obs, "COCD_TP146002GB01#ObservationMedia")
        b.el(
            obs,
            "id",
            root=b.made_id("media", attachment.identifier),
            extension=attachment.identifier,
        )
        value = b.el(obs, "value", representation="B64",
                     mediaType=attachment.content_type or "application/octet-stream")  # fmt: skip
        value.text = base64.b64encode((attachment.data or "").encode()).decode("ascii")


def _service_request(referral: Referral, set_id: str) -> ReferralAttachment | None:
    """A FHIR ServiceRequest fragment for what a 111 report has no element for, if any.

    Status, BaRS use-case category, reason codes, and a sender identifier that is not
    the document set: ``read_report`` restores them; a legacy receiver ignores the media.
    """
    sender = referral.sender_identifier
    own_sender = sender is not None and sender.value != f"urn:uuid:{set_id}"
    if not (referral.category or referral.reason or own_sender) and (
        referral.status == ReferralStatus.ACTIVE
    ):
        return None
    found: dict[str, object] = {"resourceType": "ServiceRequest", "status": referral.status}
    if referral.category is not None:
        found["category"] = [{"coding": [referral.category.model_dump(exclude_none=True)]}]
    if referral.reason:
        found["reasonCode"] = [
            {"coding": [code.model_dump(exclude_none=True)]} for code in referral.reason
        ]
    if sender is not None and own_sender:
        found["identifier"] = [sender.model_dump()]
    return ReferralAttachment(
        kind="ServiceRequest",
        identifier=f"{SERVICE_REQUEST}{referral.id}",
        content_type=FHIR_JSON,
        data=json.dumps(found, separators=(",", ":")),
    )


def _body(doc: etree._Element, referral: Referral, set_id: str) -> None:
    holder = b.el(doc, "component", typeCode="COMP", contextConductionInd="true")
    structured = b.el(holder, "structuredBody", classCode="DOCBODY", moodCode="EVN")
    outer = b.el(structured, "component", typeCode="COMP", contextConductionInd="true")
    section = b.el(outer, "section", classCode="DOCSECT", moodCode="EVN")
    b.el(section, "id", root=b.made_id(referral.id, "body"))
    attachments = referral.clinical.attachments
    media = [
        a for a in attachments
        if a.kind not in ("document", "section") and not a.identifier.startswith(_DERIVED)
    ]  # fmt: skip
    carried = _service_request(referral, set_id)
    _entries(section, referral, [*media, *([carried] if carried else [])])
    texts = {
        c.REASON: referral.reason_text,
        c.SUMMARY: referral.clinical.summary,
        c.ASSESSMENT: referral.triage.text if referral.triage else None,
        c.ADVICE: referral.clinical.patient_instruction,
    }
    for key, text in texts.items():
        if text:
            title, code, display = c.SECTION_OUT[key]
            _section(section, f"{referral.id}/{key}", title, text,
                     (code, display or "") if code else None)  # fmt: skip
    for attachment in (a for a in attachments if a.kind == "section"):
        _section(section, attachment.identifier, attachment.title, attachment.data)


def render_report(
    referral: Referral, *, recipient_name: str | None = None, effective: datetime | None = None
) -> bytes:
    """The referral as a CDA document (UTF-8 bytes with an XML declaration).

    ``recipient_name`` names the receiving organisation (default: its service id);
    ``effective`` is the document's time (default: the referral's ``authored``).
    ``CdaRenderError`` names the field when the referral cannot be a 111 report.
    """
    kept = original(referral)
    if kept is not None:
        return kept
    try:
        # The default namespace (key None) is missing from lxml-stubs' nsmap type.
        doc = etree.Element(f"{{{HL7}}}ClinicalDocument", nsmap=b.NSMAP)  # type: ignore[arg-type]
        doc.set("classCode", "DOCCLIN")
        doc.set("moodCode", "EVN")
        b.el(doc, "typeId", root=c.TYPE_ID[0], extension=c.TYPE_ID[1])
        set_id = _identity(doc, referral, effective or referral.authored)
        record_target(doc, referral)
        author(doc, referral)
        custodian(doc, referral)
        recipient(doc, referral, recipient_name)
        authorization(doc, referral)
        encounter(doc, referral)
        _body(doc, referral, set_id)
    except ValueError as exc:  # lxml refuses control characters in text
        if isinstance(exc, CdaRenderError):
            raise
        raise CdaRenderError(f"a value cannot be written as XML ({exc})") from exc
    return etree.tostring(doc, encoding="UTF-8", xml_declaration=True)


__all__ = ["CdaRenderError", "render_report"]
