"""The payloads of an accepted ITK message read into one canonical ``Referral``.

Each payload must hold a CDA ``ClinicalDocument`` (inline, or base64 when its
manifest item says so). The first manifest item's document is the referral,
read by the CDA toolkit (``adapters.cda_toolkit.read_report``, with the service
the ITK address maps to); a document set's other documents (a repeat caller's
earlier reports) travel with it, as the referral's own document does, unchanged,
as ``document`` attachments: a provider reached over ITK is sent the CDA as
received. The document's problems (XPath and reason, never patient data) refuse
the message with code 3000.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from adapters.cda_toolkit import read_report
from adapters.cda_toolkit.reading import document_attachment
from adapters.domain import (
    Referral,
    ReferralRequester,
    RequestingOrganisation,
)
from adapters.itk_toolkit.distribution import DistributionEnvelope, ManifestItem, Payload
from adapters.itk_toolkit.errors import ItkError, ToolkitCode
from adapters.itk_toolkit.message import parse_soap
from adapters.itk_toolkit.names import HL7

#: How many of a document's problems a fault lists (the rest are counted).
MAX_PROBLEMS = 8


@dataclass(frozen=True, slots=True)
class Document:
    """One payload's CDA document: its id, its tree and the manifest item naming it."""

    document_id: str
    root: etree._Element
    item: ManifestItem


def _tree(payload: Payload, item: ManifestItem, max_bytes: int, max_depth: int) -> etree._Element:
    if item.base64 and payload.text:
        try:
            raw = base64.b64decode(payload.text, validate=False)
        except (binascii.Error, ValueError):
            raise ItkError(
                ToolkitCode.INVALID_MESSAGE, f"payload {payload.id} is not base64"
            ) from None
        return parse_soap(raw, max_bytes=max_bytes, max_depth=max_depth)
    if payload.element is None:
        raise ItkError(ToolkitCode.INVALID_MESSAGE, f"payload {payload.id} holds no document")
    return payload.element


def documents(envelope: DistributionEnvelope, max_bytes: int, max_depth: int) -> list[Document]:
    """The payloads' CDA documents in manifest order (the first is the referral)."""
    by_id = {payload.id: payload for payload in envelope.payloads}
    out = []
    for item in envelope.manifest:
        root = _tree(by_id[item.id], item, max_bytes, max_depth)
        if root.tag != HL7.q("ClinicalDocument"):
            raise ItkError(
                ToolkitCode.PAYLOAD_REFUSED,
                f"payload {item.id}: /{etree.QName(root).localname} is not a ClinicalDocument",
            )
        id_node = HL7.child(root, "id")
        document_id = "" if id_node is None else (id_node.get("root") or "").strip()
        if not document_id:
            raise ItkError(
                ToolkitCode.PAYLOAD_REFUSED,
                f"payload {item.id}: /ClinicalDocument/id/@root is missing",
            )
        out.append(Document(document_id, root, item))
    return out


def _refused(document: Document, problems: list[str]) -> ItkError:
    listed = "; ".join(problems[:MAX_PROBLEMS])
    more = len(problems) - MAX_PROBLEMS
    tail = f"; and {more} more" if more > 0 else ""
    return ItkError(ToolkitCode.PAYLOAD_REFUSED, f"document {document.document_id}: {listed}{tail}")


def read_referral(
    docs: list[Document], *, service_id: str, sender_ods: str | None, received_at: datetime
) -> Referral:
    """The referral the first document makes, carrying every document of the message."""
    first = docs[0]
    reading = read_report(first.root, received_at=received_at, service_id=service_id)
    draft = reading.referral
    if reading.problems or draft is None:
        problems = [str(p) for p in reading.problems] or ["/ClinicalDocument: not read"]
        raise _refused(first, problems)
    requester = draft.requester
    if requester.organisation is None and sender_ods:
        requester = ReferralRequester(
            organisation=RequestingOrganisation(ods_code=sender_ods),
            practitioner=requester.practitioner,
        )
    held = {a.identifier for a in draft.clinical.attachments if a.kind == "document"}
    extra = tuple(
        document_attachment(d.root, d.document_id) for d in docs if d.document_id not in held
    )
    clinical = draft.clinical.model_copy(update={"attachments": draft.clinical.attachments + extra})
    return draft.model_copy(
        update={
            "service_id": service_id,
            "document_identifier": draft.document_identifier or first.document_id,
            "requester": requester,
            "clinical": clinical,
        }
    )
