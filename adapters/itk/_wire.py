"""The ITK messages the sender writes and the answers it reads, on the ITK toolkit.

Outgoing: one NHS 111 report (``report``). Incoming: the synchronous answer to it
(``infrastructure_ack``: the infrastructure ack, an ITK fault, or nothing) and a
business ack posted to the adapter's listener (``business_ack``). Everything the
receiver says is untrusted: hardened XML, a size limit, typed errors at this edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lxml import etree

from adapters import _http, errors
from adapters.itk import _errors
from adapters.itk._board import BusinessOutcome
from adapters.itk_toolkit import acks, names
from adapters.itk_toolkit.distribution import (
    Address,
    DistributionEnvelope,
    ManifestItem,
    Payload,
    read_distribution,
)
from adapters.itk_toolkit.errors import (
    ItkError,
    ToolkitCode,
    ToolkitErrorInfo,
    build_fault,
    read_fault_body,
)
from adapters.itk_toolkit.headers import Addressing, Security, new_id
from adapters.itk_toolkit.message import ItkMessage, build_message, read_message
from adapters.soap_toolkit import hardened_xml
from adapters.soap_toolkit.envelope import SoapError, SoapVersion, body_child, version_of

#: The NHS 111 CDA document's ITK profile (the manifest item's ``profileid``).
NHS111_PROFILE = "urn:nhs-en:profile:nhs111CDADocument-v2-0"
BUSINESS_ACK_SERVICE = names.BUSINESS_ACK_SERVICE
MAX_DEPTH = 200
#: How long a report's WS-Security timestamp is valid (a fresh one on each attempt).
TIMESTAMP_LIFETIME = timedelta(minutes=10)
_HL7 = "urn:hl7-org:v3"


def headers(service: str) -> dict[str, str]:
    """HTTP headers of an ITK 2.2 request (SOAP 1.1: text/xml and SOAPAction = the service)."""
    return SoapVersion.V11.headers(service)


def document_element(document: bytes, max_bytes: int) -> etree._Element:
    """The CDA to send, parsed hardened (it may be a document received from outside)."""
    try:
        return hardened_xml.parse(document, max_bytes=max_bytes)
    except hardened_xml.XmlRejected as exc:
        raise errors.BookingRejected(
            f"the referral's CDA document cannot be sent ({exc})"
        ) from None


def payload_id(document: etree._Element) -> str:
    """``uuid_<ClinicalDocument/id@root>`` as the 111 samples name their payload, else a new one."""
    node = document.find(f"{{{_HL7}}}id")
    root = "" if node is None else (node.get("root") or "").strip()
    return "uuid_" + (root.upper() if root and len(root) <= 64 else new_id())


def report(
    *,
    service: str,
    tracking_id: str,
    addresses: tuple[Address, ...],
    interaction: str,
    sender: str,
    audit_identity: str | None,
    username: str | None,
    document: bytes,
    endpoint: str,
    reply_to: str | None,
    business_ack: bool,
    max_bytes: int = 5_000_000,
) -> bytes:
    """One ITK 2.2 report carrying ``document``: a new MessageID and timestamp, the same
    ``tracking_id`` however often it is built."""
    cda = document_element(document, max_bytes)
    pid = payload_id(cda)
    handling = {names.INTERACTION_KEY: interaction}
    if business_ack:
        handling[names.BUSINESS_ACK_KEY] = "true"
    envelope = DistributionEnvelope(
        service=service,
        tracking_id=tracking_id,
        addresses=addresses,
        sender=Address(sender),
        audit_identity=(Address(audit_identity),) if audit_identity else (),
        manifest=(ManifestItem(pid, "text/xml", NHS111_PROFILE),),
        handling=handling,
        payloads=(Payload(pid, cda),),
    )
    now = datetime.now(UTC)
    return build_message(
        ItkMessage(
            SoapVersion.V11,
            Addressing(service, new_id(), to=endpoint, reply_to=reply_to),
            Security(now, now + TIMESTAMP_LIFETIME, username),
            envelope,
        )
    )


def _status_error(reply: _http.Reply) -> errors.AdapterError:
    detail = f"HTTP {reply.status}"
    if reply.status >= 500 or reply.status in (408, 429):
        return errors.SupplierUnavailable(f"send_referral: the receiver answered {detail}",
                                          supplier_detail=detail)  # fmt: skip
    return errors.SupplierRefused(f"send_referral: the receiver answered {detail}",
                                  supplier_detail=detail)  # fmt: skip


def infrastructure_ack(
    reply: _http.Reply, tracking_id: str, max_bytes: int
) -> BusinessOutcome | None:
    """Return if ``reply`` acknowledges the report ``tracking_id`` (with the business ack when
    the receiver answered it synchronously, in the SOAP Header); a typed error otherwise."""
    if not reply.body.strip():
        if 200 <= reply.status < 300:
            raise errors.OutcomeUnknown(
                f"send_referral: HTTP {reply.status} without an infrastructure ack",
                supplier_detail=f"HTTP {reply.status}, no ack",
            )
        raise _status_error(reply)
    try:
        root = hardened_xml.parse(reply.body, max_bytes=max_bytes)
        element = body_child(root, version_of(root))
    except (hardened_xml.XmlRejected, SoapError):
        if reply.status >= 300:
            raise _status_error(reply) from None
        raise errors.SupplierProtocolError(
            "send_referral: the receiver's answer is not a SOAP message"
        ) from None
    found = read_fault_body(element)
    if found is not None:
        raise _errors.from_fault(found)
    if reply.status >= 300:
        raise _status_error(reply)
    _acknowledged(element, tracking_id)
    return _header_business_ack(root, tracking_id)


def _header_business_ack(root: etree._Element, tracking_id: str) -> BusinessOutcome | None:
    """A business ack of ``tracking_id`` carried in the answer's SOAP Header, if any."""
    header = root.find(f"{{{version_of(root).namespace}}}Header")
    if header is None:
        return None
    for node in header.findall(names.ITK.q("DistributionEnvelope")):
        try:
            envelope = read_distribution(node)
            if envelope.service != names.BUSINESS_ACK_SERVICE:
                continue
            outcome = _outcome(envelope)
        except ValueError:
            raise errors.SupplierProtocolError(
                "send_referral: the business ack in the answer is unreadable"
            ) from None
        if outcome.tracking_id.upper() == tracking_id.upper():
            return outcome
    return None


def _acknowledged(element: etree._Element, tracking_id: str) -> None:
    """A SimpleMessageResponse ``OK[:id]`` or an InfrastructureResponse (bare or enveloped)."""
    if element.tag == names.ITK.q("SimpleMessageResponse"):
        text = (element.text or "").strip()
        if not text.upper().startswith("OK"):
            raise errors.SupplierProtocolError(
                "send_referral: the SimpleMessageResponse is not OK",
                supplier_detail="SimpleMessageResponse not OK",
            )
        named = text[2:].lstrip(":").strip()
        if named and named.upper() != tracking_id.upper():
            raise errors.SupplierProtocolError(
                "send_referral: the infrastructure ack names another tracking id"
            )
        return
    if element.tag == names.ITK.q("DistributionEnvelope"):
        payloads = read_distribution(element).payloads
        element = payloads[0].element if payloads and payloads[0].element is not None else element
    try:
        ack = acks.read_infrastructure_ack(element)
    except ValueError:
        raise errors.SupplierProtocolError(
            f"send_referral: the answer <{etree.QName(element).localname}> is not an ITK ack"
        ) from None
    if ack.tracking_id_ref and ack.tracking_id_ref.upper() != tracking_id.upper():
        raise errors.SupplierProtocolError(
            "send_referral: the infrastructure ack names another tracking id"
        )
    if ack.result.upper() not in ("OK", "WARNING"):
        raise _errors.from_infrastructure_nack(ack.result, ack.errors)


@dataclass(frozen=True, slots=True)
class ArrivedAck:
    outcome: BusinessOutcome
    #: The ack message's own tracking id (the synchronous answer to the ack names it).
    own_tracking_id: str


def business_ack(body: bytes, max_bytes: int) -> ArrivedAck:
    """A business ack posted to the listener; ``ValueError`` if it is not one."""
    message = read_message(body, max_bytes=max_bytes, max_depth=MAX_DEPTH)
    envelope = message.distribution
    if envelope.service != names.BUSINESS_ACK_SERVICE:
        raise ItkError(ToolkitCode.UNKNOWN_SERVICE, "only business acks are taken here")
    return ArrivedAck(_outcome(envelope), envelope.tracking_id)


def _outcome(envelope: DistributionEnvelope) -> BusinessOutcome:
    """The outcome a business ack's DistributionEnvelope states; ``ItkError`` if unreadable."""
    payloads = [p.element for p in envelope.payloads if p.element is not None]
    if len(payloads) != 1:
        raise ItkError(ToolkitCode.INVALID_MESSAGE, "a business ack carries one payload")
    try:
        ack = acks.read_business_ack(payloads[0])
    except ValueError:
        raise ItkError(ToolkitCode.INVALID_MESSAGE, "the payload is not a business ack") from None
    if not ack.tracking_id_ref:
        raise ItkError(ToolkitCode.INVALID_MESSAGE, "the business ack names no tracking id")
    code = "AA" if ack.accepted else (ack.error_code or "AE")
    return BusinessOutcome(ack.tracking_id_ref.strip(), ack.accepted, code[:32])


def ack_accepted(own_tracking_id: str) -> bytes:
    """The synchronous answer to a business ack received."""
    return acks.simple_response(
        SoapVersion.V11, service=names.BUSINESS_ACK_SERVICE, tracking_id=own_tracking_id
    )


def ack_refusal(error: ValueError) -> bytes:
    """An ITK fault for a post to the listener that is not a business ack it can read."""
    if isinstance(error, ItkError):
        info = ToolkitErrorInfo.of(error)
    else:
        row = ToolkitCode.INVALID_MESSAGE
        info = ToolkitErrorInfo(new_id(), row.code, row.text, "the acknowledgement is unreadable")
    return build_fault(SoapVersion.V11, info, sender=True)
