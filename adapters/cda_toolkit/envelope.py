"""The CDA documents inside an ITK 2.2 DistributionEnvelope (``urn:nhs-itk:ns:201005``).

Only what reading a report needs, by simple XPath: each ``payloads/payload`` with the
``manifest/manifestitem`` of the same id (its mimetype and profile id) and the
``ClinicalDocument`` it holds, inline or base64-encoded. Checking the envelope itself
(manifest counts, services, addresses, acknowledgements) is the ITK door's work.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from lxml import etree

from adapters.soap_toolkit.hardened_xml import XmlRejected, parse

from ._xml import HL7

ITK = "urn:nhs-itk:ns:201005"
_NS = {"itk": ITK}
#: A base64 payload is decoded and parsed with the same limits as the message around it.
MAX_PAYLOAD_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Payload:
    """One ITK payload: its id, the manifest's mimetype and profile id, and its CDA if any."""

    id: str
    mimetype: str | None
    profile_id: str | None
    document: etree._Element | None
    #: Why no document was found (``None`` when ``document`` is set).
    reason: str | None = None


def distribution_envelope(root: etree._Element) -> etree._Element | None:
    """The DistributionEnvelope: ``root`` itself or the first one below it (a SOAP Body)."""
    if root.tag == f"{{{ITK}}}DistributionEnvelope":
        return root
    found = root.xpath("//itk:DistributionEnvelope", namespaces=_NS)
    return found[0] if isinstance(found, list) and found else None  # type: ignore[return-value]


def _document(payload: etree._Element) -> tuple[etree._Element | None, str | None]:
    inline = payload.find(f"{{{HL7}}}ClinicalDocument")
    if inline is not None:
        return inline, None
    if len(payload):
        return None, "the payload holds no ClinicalDocument"
    raw = (payload.text or "").strip()
    if not raw:
        return None, "the payload is empty"
    try:
        body = base64.b64decode(raw, validate=False)
        root = parse(body, max_bytes=MAX_PAYLOAD_BYTES)
    except (binascii.Error, ValueError) as exc:
        reason = exc.reason if isinstance(exc, XmlRejected) else "not base64"
        return None, f"the payload text is not a CDA document ({reason.replace('_', ' ')})"
    if root.tag != f"{{{HL7}}}ClinicalDocument":
        return None, "the payload holds no ClinicalDocument"
    return root, None


def payloads(root: etree._Element) -> tuple[Payload, ...]:
    """Every payload of the envelope at or below ``root``, in document order."""
    envelope = distribution_envelope(root)
    if envelope is None:
        return ()
    manifest = {
        str(item.get("id")): item
        for item in envelope.iterfind("itk:header/itk:manifest/itk:manifestitem", _NS)
    }
    found = []
    for payload in envelope.iterfind("itk:payloads/itk:payload", _NS):
        pid = str(payload.get("id") or "")
        item = manifest.get(pid)
        document, reason = _document(payload)
        found.append(
            Payload(
                id=pid,
                mimetype=None if item is None else item.get("mimetype"),
                profile_id=None if item is None else item.get("profileid"),
                document=document,
                reason=reason,
            )
        )
    return tuple(found)


def documents(root: etree._Element) -> tuple[etree._Element, ...]:
    """The ClinicalDocuments the envelope carries (a repeat-caller message carries several)."""
    return tuple(p.document for p in payloads(root) if p.document is not None)
