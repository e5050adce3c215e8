"""An NHS 111 CDA report (POCD_MT200001GB02) -> a draft canonical ``Referral``.

``read_report`` never raises for what a document says: a missing or unknown
mandatory part is a ``CdaProblem`` naming its XPath and no referral is made (never a
silent drop); content the model has no field for is kept as an attachment, and the
whole document is kept unchanged as the ``document`` attachment, so nothing is lost.
Meanings follow the 111 adaptor's mapping table (``../shared/spec/itk/ITK_FHIR_mapping.md``).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

from lxml import etree
from pydantic import ValidationError

from adapters.domain import (
    ClinicalContent,
    Coding,
    Identifier,
    Referral,
    ReferralAttachment,
    ReferralStatus,
    TriageOutcome,
)
from adapters.soap_toolkit.hardened_xml import XmlRejected, parse

from . import _codes as c
from ._body import body, encounter_attachment
from ._codes import ADVICE, ASSESSMENT, REASON, SUMMARY
from ._header import Identity, consent, disposition, identity, recipient, requester
from ._patient import gp_practice, patient
from ._xml import CdaProblem, Collector, attr, child, instant, q

#: A referral's sender identifier for a CDA: the document set (stable across versions).
SET_ID_SYSTEM = "urn:ietf:rfc:3986"
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class CdaReading:
    """A reading: the referral draft, or the problems that refuse the document.

    ``notes`` name content that was read but not used (e.g. an unverified NHS number
    that fails its check digit); they never refuse a document.
    """

    referral: Referral | None
    problems: tuple[CdaProblem, ...] = ()
    notes: tuple[CdaProblem, ...] = ()
    identity: Identity | None = None
    #: Section titles that flag the record (safeguarding, special patient notes).
    flags: tuple[str, ...] = ()
    #: The appointment the report names (COCD_TP146093GB01), when it names one.
    appointment_reference: str | None = None

    @property
    def accepted(self) -> bool:
        return self.referral is not None


def document_attachment(root: etree._Element, document_id: str) -> ReferralAttachment:
    """The whole ClinicalDocument, serialised unchanged, base64 in ``data``."""
    raw = etree.tostring(root, encoding="UTF-8", xml_declaration=True)
    return ReferralAttachment(
        kind="document",
        identifier=document_id,
        content_type=c.CDA_CONTENT_TYPE,
        title=c.MESSAGE_TYPE,
        data=base64.b64encode(raw).decode("ascii"),
    )


def _refused(seen: Collector, found: Identity | None = None) -> CdaReading:
    return CdaReading(None, tuple(seen.problems), tuple(seen.notes), found)


def _authored(document: etree._Element, received_at: datetime) -> datetime:
    """``author/time``, else the document's ``effectiveTime``, else when it was received."""
    for path in ("h:author/h:time", "h:effectiveTime"):
        moment = instant(attr(child(document, path), "value"))
        if moment is not None:
            return moment
    return received_at


def _codings(concepts: object) -> tuple[Coding, ...]:
    if not isinstance(concepts, list):
        return ()
    return tuple(
        Coding.model_validate(coding)
        for concept in concepts
        if isinstance(concept, dict)
        for coding in concept.get("coding") or []
    )


def _extras(found: dict[str, object] | None) -> dict[str, object]:
    """What ``render`` carried in its ServiceRequest fragment: fields a 111 report lacks."""
    if not found:
        return {}
    out: dict[str, object] = {"status": ReferralStatus(str(found.get("status")))}
    category = _codings(found.get("category"))
    if category:
        out["category"] = category[0]
    out["reason"] = _codings(found.get("reasonCode"))
    identifiers = found.get("identifier")
    if isinstance(identifiers, list) and identifiers:
        out["sender_identifier"] = Identifier.model_validate(identifiers[0])
    return out


def _read(root: etree._Element, received_at: datetime, service_id: str | None) -> CdaReading:
    seen = Collector()
    if root.tag != q("ClinicalDocument"):
        seen.problem("/ClinicalDocument", "the root element is not an HL7 v3 ClinicalDocument")
        return _refused(seen)
    found = identity(root, seen)
    who = patient(root, seen)
    by = requester(root, seen)
    dx = disposition(root, seen)
    content = body(root, seen)
    service = service_id or recipient(root)
    if service is None:
        seen.problem(
            "/ClinicalDocument/informationRecipient[@typeCode='PRCP']",
            "the report names no primary recipient",
        )
    if seen.problems or found is None or who is None or dx is None or service is None:
        return _refused(seen, found)
    extra = [a for a in (gp_practice(root), consent(root), encounter_attachment(root)) if a]
    attachments = (*extra, *content.attachments, document_attachment(root, found.document_id))
    fields: dict[str, object] = {
        "id": "new",
        "version": 1,
        "status": ReferralStatus.ACTIVE,
        "patient": who,
        "service_id": service,
        "reason_text": content.text(REASON),
        "triage": TriageOutcome(
            disposition=dx, codes=tuple(content.codes), text=content.text(ASSESSMENT)
        ),
        "clinical": ClinicalContent(
            summary=content.text(SUMMARY),
            patient_instruction=content.text(ADVICE),
            attachments=attachments,
        ),
        "requester": by,
        "sender_identifier": Identifier(system=SET_ID_SYSTEM, value=f"urn:uuid:{found.set_id}"),
        "document_identifier": found.document_id,
        "appointment_id": content.appointment,
        "authored": _authored(root, received_at),
    }
    referral = Referral.model_validate(fields | _extras(content.service_request))
    return CdaReading(
        referral,
        (),
        tuple(seen.notes),
        found,
        tuple(content.flags),
        content.appointment,
    )


def read_report(
    root: etree._Element, *, received_at: datetime, service_id: str | None = None
) -> CdaReading:
    """Read a ClinicalDocument element; ``service_id`` (the ITK address) overrides its PRCP.

    ``received_at`` (timezone-aware) is the authored time when the document has none.
    """
    try:
        return _read(root, received_at, service_id)
    except (ValidationError, ValueError, TypeError) as exc:
        # A value the model refuses (e.g. an out-of-range date): named, never a trace.
        seen = Collector()
        seen.problem("/ClinicalDocument", f"a value is not acceptable ({type(exc).__name__})")
        return _refused(seen)


def read_bytes(
    body_bytes: bytes, *, received_at: datetime, service_id: str | None = None
) -> CdaReading:
    """Parse a CDA document (hardened XML) and read it; unparseable XML is a problem."""
    try:
        root = parse(body_bytes, max_bytes=MAX_DOCUMENT_BYTES)
    except XmlRejected as exc:
        seen = Collector()
        seen.problem("/", f"the document is not acceptable XML ({exc.reason.replace('_', ' ')})")
        return _refused(seen)
    return read_report(root, received_at=received_at, service_id=service_id)
