"""The ITK receiver peer's reading of reports and its answers, and the sender CLI's helpers.

A report is checked as a real ITK receiver checks it (hardened XML, a
DistributionEnvelope whose service is the 111 report's and matches the Action, the
manifest rules, at least one address); a refusal is an ``ItkError`` whose code the
fault carries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lxml import etree

from adapters.itk._options import NHS111_SERVICE
from adapters.itk_toolkit import acks, names
from adapters.itk_toolkit.distribution import Address, check_manifest, distribution_element
from adapters.itk_toolkit.errors import (
    ItkError,
    ToolkitCode,
    ToolkitErrorInfo,
    build_fault,
    parse_fault,
)
from adapters.itk_toolkit.headers import Addressing, Security, new_id
from adapters.itk_toolkit.message import ItkMessage, build_message, parse_soap, read_message
from adapters.soap_toolkit.envelope import SoapError, SoapVersion, body_child, version_of

MAX_DEPTH = 200
#: Services this receiver takes: the 111 report, also as relayed by the DoS message service.
SERVICES = frozenset({NHS111_SERVICE, NHS111_SERVICE + "_DMS"})
_HL7 = "urn:hl7-org:v3"


@dataclass(frozen=True, slots=True)
class Report:
    version: SoapVersion
    message_id: str
    tracking_id: str
    service: str
    addresses: tuple[str, ...]
    interaction: str | None
    business_ack_requested: bool
    reply_to: str | None
    sender: Address | None
    payload_ids: tuple[str, ...]
    payloads: tuple[bytes, ...]
    #: The first payload's ClinicalDocument/id@root, if it is a CDA document.
    document_id: str | None


def read_report(body: bytes, max_bytes: int) -> Report:
    """The report in ``body``; ``ItkError`` naming the rule it broke otherwise."""
    message = read_message(body, max_bytes=max_bytes, max_depth=MAX_DEPTH)
    envelope = message.distribution
    if envelope.service not in SERVICES:
        raise ItkError(ToolkitCode.UNKNOWN_SERVICE, f"service {envelope.service[:80]}")
    if message.addressing.action and message.addressing.action != envelope.service:
        raise ItkError(ToolkitCode.ACTION_SERVICE, "wsa:Action differs from the header's service")
    check_manifest(envelope)
    if not envelope.addresses:
        raise ItkError(ToolkitCode.UNKNOWN_ADDRESS, "the addresslist is empty")
    payloads = tuple(
        bytes(etree.tostring(p.element, encoding="utf-8"))
        if p.element is not None
        else (p.text or "").encode("utf-8")
        for p in envelope.payloads
    )
    first = envelope.payloads[0].element if envelope.payloads else None
    doc = None if first is None else first.find(f"{{{_HL7}}}id")
    reply_to = message.addressing.reply_to
    return Report(
        version=message.version,
        message_id=message.addressing.message_id,
        tracking_id=envelope.tracking_id,
        service=envelope.service,
        addresses=tuple(a.uri for a in envelope.addresses),
        interaction=envelope.interaction,
        business_ack_requested=envelope.business_ack_requested,
        reply_to=None if reply_to in (None, names.ANONYMOUS) else reply_to,
        sender=envelope.sender,
        payload_ids=tuple(p.id for p in envelope.payloads),
        payloads=payloads,
        document_id=None if doc is None else doc.get("root"),
    )


def infra_ack_body(
    report: Report,
    *,
    business_ack: bool = False,
    accepted: bool = True,
    code: str = "",
    us: str = "",
) -> bytes:
    """The synchronous infrastructure ack: SimpleMessageResponse ``OK:<tracking id>``, with the
    business ack's DistributionEnvelope in the SOAP Header when ``business_ack``."""
    extra: tuple[etree._Element, ...] = ()
    if business_ack:
        ack = _business_ack(
            report.tracking_id, accepted, code, us, report.sender, report.document_id
        )
        extra = (distribution_element(acks.business_ack_envelope(ack)),)
    return acks.simple_response(
        report.version,
        service=report.service,
        tracking_id=report.tracking_id,
        relates_to=report.message_id or None,
        extra_headers=extra,
    )


def _business_ack(
    tracking: str,
    accepted: bool,
    code: str,
    sender: str,
    recipient: Address | None,
    document_id: str | None,
) -> acks.BusinessAck:
    return acks.BusinessAck(
        ack_id=new_id(),
        created=datetime.now(UTC),
        tracking_id_ref=tracking,
        document_id=document_id,
        accepted=accepted,
        sender=Address(sender),
        recipient=recipient,
        error_code=None if accepted else code or "AE",
        error_text=None if accepted else "Refused by the receiving application",
    )


def refusal_body(error: ItkError, version: SoapVersion = SoapVersion.V11) -> bytes:
    return build_fault(version, ToolkitErrorInfo.of(error), sender=error.code.sender)


def injected_fault_body(code: str) -> bytes:
    """A fault carrying ``code`` (its table row's text, when the code has one)."""
    row = ToolkitCode.find(code, "")
    text = row.text if row is not None else "Injected fault"
    sender = row.sender if row is not None else not code.startswith("31")
    info = ToolkitErrorInfo(new_id(), code, text, "refused by an injected fault")
    return build_fault(SoapVersion.V11, info, sender=sender)


def business_ack_message(
    report_tracking_id: str,
    *,
    accepted: bool,
    code: str,
    sender: str,
    recipient: Address | None,
    document_id: str | None,
) -> bytes:
    """The business ack of one report, as its own ITK message (service SendBusinessAck)."""
    now = datetime.now(UTC)
    ack = _business_ack(report_tracking_id, accepted, code, sender, recipient, document_id)
    return build_message(
        ItkMessage(
            SoapVersion.V11,
            Addressing(names.BUSINESS_ACK_SERVICE, new_id()),
            Security(now, now + timedelta(minutes=10), None),
            acks.business_ack_envelope(ack),
        )
    )


# -- the sender CLI ----------------------------------------------------------------


def file_kind(raw: bytes) -> str:
    """``soap`` for a whole ITK SOAP message, ``cda`` for a bare ClinicalDocument."""
    root = parse_soap(raw, max_bytes=10_000_000, max_depth=MAX_DEPTH)
    if root.tag == f"{{{_HL7}}}ClinicalDocument":
        return "cda"
    try:
        version_of(root)
    except SoapError:
        raise ValueError(f"neither a SOAP message nor a CDA document: <{root.tag}>") from None
    return "soap"


def action_of(raw: bytes) -> tuple[SoapVersion, str]:
    """The SOAP version and WS-Addressing Action of a whole ITK message."""
    message = read_message(raw, max_bytes=10_000_000, max_depth=MAX_DEPTH)
    return message.version, message.addressing.action or message.distribution.service


@dataclass(frozen=True, slots=True)
class Answer:
    acknowledged: bool
    text: str


def describe_answer(status: int, body: bytes) -> Answer:
    """One line saying what the receiver answered."""
    if not body.strip():
        return Answer(False, f"HTTP {status}: no infrastructure ack")
    try:
        fault = parse_fault(body)
    except (ValueError, SoapError):
        return Answer(False, f"HTTP {status}: the answer is not a SOAP message")
    if fault is not None:
        info = fault.info
        what = (
            "no ToolkitErrorInfo" if info is None else f"ToolkitErrorInfo {info.code} {info.text}"
        )
        return Answer(False, f"HTTP {status}: refused, {what}")
    try:
        simple = acks.read_simple_response(body)
    except (ValueError, SoapError):
        root = parse_soap(body, max_bytes=10_000_000, max_depth=MAX_DEPTH)
        name = etree.QName(body_child(root, version_of(root))).localname
        return Answer(False, f"HTTP {status}: answered <{name}>")
    if simple.ok:
        return Answer(
            True, f"HTTP {status}: infrastructure ack OK, tracking id {simple.tracking_id}"
        )
    return Answer(False, f"HTTP {status}: SimpleMessageResponse {simple.text[:80]}")
