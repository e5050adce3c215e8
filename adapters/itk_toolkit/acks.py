"""ITK acknowledgements, built and read.

- The synchronous infrastructure ack: the SOAP answer whose WS-Addressing
  Action is the service's name plus ``Response`` and whose Body is
  ``itk:SimpleMessageResponse`` ``OK:<tracking id>`` (the NHS 111 adaptor's
  answer, itk-responses samples);
- the ITK ``InfrastructureResponse`` (service ``SendInfrastructureAck-v1-0``):
  result OK / WARNING / Failure for a tracking id, with errorInfo items;
- the business ack (service ``SendBusinessAck-v1-0``): an HL7 v3
  ``BusinessResponseMessage`` saying the receiving application accepted (AA)
  or refused (AE) the document, naming the tracking id and the document id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from adapters.itk_toolkit import names
from adapters.itk_toolkit.distribution import Address, DistributionEnvelope, ManifestItem, Payload
from adapters.itk_toolkit.errors import ToolkitErrorInfo, error_info_element, read_error_info
from adapters.itk_toolkit.headers import (
    header_block,
    new_id,
    read_addressing,
    read_stamp,
    stamp,
    with_header,
)
from adapters.itk_toolkit.names import HL7, ITK
from adapters.soap_toolkit import hardened_xml
from adapters.soap_toolkit.envelope import SoapVersion, body_child, envelope, version_of

OK_PREFIX = "OK:"


@dataclass(frozen=True, slots=True)
class SimpleResponse:
    action: str
    message_id: str
    relates_to: str | None
    text: str
    #: The Body's other content: e.g. a business ack DistributionEnvelope in the Header.
    extra: tuple[etree._Element, ...] = ()

    @property
    def ok(self) -> bool:
        return self.text.startswith(OK_PREFIX)

    @property
    def tracking_id(self) -> str | None:
        return self.text.removeprefix(OK_PREFIX).strip() if self.ok else None


def simple_response(
    version: SoapVersion,
    *,
    service: str,
    tracking_id: str,
    relates_to: str | None = None,
    extra_headers: tuple[etree._Element, ...] = (),
) -> bytes:
    """The synchronous infrastructure ack of ``tracking_id`` for ``service``."""
    node = etree.Element(ITK.q("SimpleMessageResponse"), nsmap={"itk": names.ITK_NS})
    node.text = OK_PREFIX + tracking_id
    blocks = header_block(service + "Response", relates_to=relates_to) + list(extra_headers)
    return with_header(envelope(version, node, names.NSMAP), blocks)


def read_simple_response(body: bytes, *, max_bytes: int = 1 << 20) -> SimpleResponse:
    """A SimpleMessageResponse answer; ValueError when it is something else (e.g. a fault)."""
    root = hardened_xml.parse(body, max_bytes=max_bytes)
    version = version_of(root)
    element = body_child(root, version)
    if element.tag != ITK.q("SimpleMessageResponse"):
        raise ValueError(f"not a SimpleMessageResponse: <{etree.QName(element).localname}>")
    header = root.find(f"{{{version.namespace}}}Header")
    addressing = read_addressing(header)
    others = (
        ()
        if header is None
        else tuple(child for child in header if child.tag == ITK.q("DistributionEnvelope"))
    )
    return SimpleResponse(
        addressing.action,
        addressing.message_id,
        addressing.relates_to,
        (element.text or "").strip(),
        others,
    )


@dataclass(frozen=True, slots=True)
class InfrastructureAck:
    tracking_id_ref: str
    service_ref: str
    timestamp: datetime
    reporter: Address
    #: ``OK``, ``WARNING`` or ``Failure``.
    result: str = "OK"
    errors: tuple[ToolkitErrorInfo, ...] = ()


def infrastructure_ack_element(ack: InfrastructureAck) -> etree._Element:
    node = etree.Element(
        ITK.q("InfrastructureResponse"),
        {
            "timestamp": stamp(ack.timestamp),
            "serviceRef": ack.service_ref,
            "trackingIdRef": ack.tracking_id_ref,
            "result": ack.result,
        },
        nsmap={"itk": names.ITK_NS},
    )
    ITK.sub(ITK.sub(node, "reportingIdentity"), "id", uri=ack.reporter.uri, type=ack.reporter.type)
    if ack.errors:
        holder = ITK.sub(node, "errors")
        for info in ack.errors:
            error_info_element(holder, info, "errorInfo")
    return node


def read_infrastructure_ack(node: etree._Element) -> InfrastructureAck:
    if node.tag != ITK.q("InfrastructureResponse"):
        raise ValueError("not an InfrastructureResponse")
    identity = node.find(f"{ITK.q('reportingIdentity')}/{ITK.q('id')}")
    errors = node.find(ITK.q("errors"))
    return InfrastructureAck(
        tracking_id_ref=node.get("trackingIdRef", ""),
        service_ref=node.get("serviceRef", ""),
        timestamp=read_stamp(node.get("timestamp")) or datetime.min,
        reporter=Address(
            "" if identity is None else identity.get("uri", ""),
            None if identity is None else identity.get("type"),
        ),
        result=node.get("result", ""),
        errors=()
        if errors is None
        else tuple(read_error_info(e) for e in errors.findall(ITK.q("errorInfo"))),
    )


def ack_envelope(
    service: str,
    interaction: str,
    payload: etree._Element,
    *,
    to: Address | None,
    sender: Address | None,
    mimetype: str = "text/xml",
) -> DistributionEnvelope:
    """A DistributionEnvelope carrying one acknowledgement ``payload``."""
    payload_id = "uuid_" + new_id()
    return DistributionEnvelope(
        service=service,
        tracking_id=new_id(),
        addresses=(to,) if to else (),
        sender=sender,
        audit_identity=(sender,) if sender else (),
        manifest=(ManifestItem(payload_id, mimetype),),
        handling={names.INTERACTION_KEY: interaction},
        payloads=(Payload(payload_id, payload),),
        manifest_count=1,
        payload_count=1,
    )


@dataclass(frozen=True, slots=True)
class BusinessAck:
    ack_id: str
    created: datetime
    #: The tracking id of the message acknowledged (conveyingTransmission).
    tracking_id_ref: str
    #: The id of the document acknowledged (e.g. the CDA's ClinicalDocument/id@root).
    document_id: str | None
    accepted: bool
    sender: Address | None = None
    recipient: Address | None = None
    error_code: str | None = None
    error_text: str | None = None


def _hl7_address(parent: etree._Element, type_code: str, address: Address | None) -> None:
    if address is None:
        return
    function = HL7.sub(parent, "communicationFunction", typeCode=type_code)
    entity = HL7.sub(function, "entity", classCode="ENT", determinerCode="INSTANCE")
    HL7.sub(entity, "id", root=address.type or names.ODS_ADDRESS_TYPE, extension=address.uri)


def business_ack_element(ack: BusinessAck) -> etree._Element:
    node = etree.Element(HL7.q("BusinessResponseMessage"), nsmap={"hl7": names.HL7_NS})
    HL7.sub(node, "id", root=ack.ack_id)
    HL7.sub(node, "creationTime", value=ack.created.strftime("%Y%m%d%H%M%S"))
    HL7.sub(
        node, "interactionId", root=names.INTERACTION_ROOT, extension=names.BUSINESS_ACK_INTERACTION
    )
    _hl7_address(node, "RCV", ack.recipient)
    _hl7_address(node, "SND", ack.sender)
    code = "AA" if ack.accepted else "AE"
    transmission = HL7.sub(HL7.sub(node, "acknowledgedBy3", typeCode=code), "conveyingTransmission")
    HL7.sub(transmission, "id", root=ack.tracking_id_ref)
    if ack.document_id:
        document = HL7.sub(HL7.sub(node, "acknowledgedBy2", typeCode=code), "conveyingTransmission")
        HL7.sub(document, "id", root=ack.document_id)
    if not ack.accepted:
        detail = HL7.sub(node, "acknowledgementDetail", typeCode="ER")
        HL7.sub(detail, "value", code=ack.error_code or "", displayName=ack.error_text)
    return node


def read_business_ack(node: etree._Element) -> BusinessAck:
    if node.tag != HL7.q("BusinessResponseMessage"):
        raise ValueError("not a BusinessResponseMessage")

    def ref(tag: str) -> etree._Element | None:
        return node.find(f"{HL7.q(tag)}/{HL7.q('conveyingTransmission')}/{HL7.q('id')}")

    by3, by2 = node.find(HL7.q("acknowledgedBy3")), ref("acknowledgedBy2")
    created = node.find(HL7.q("creationTime"))
    detail = node.find(f"{HL7.q('acknowledgementDetail')}/{HL7.q('value')}")
    tracking = ref("acknowledgedBy3")
    id_node = node.find(HL7.q("id"))
    return BusinessAck(
        ack_id="" if id_node is None else id_node.get("root", ""),
        created=datetime.strptime(created.get("value", "")[:14], "%Y%m%d%H%M%S")
        if created is not None and created.get("value")
        else datetime.min,
        tracking_id_ref="" if tracking is None else tracking.get("root", ""),
        document_id=None if by2 is None else by2.get("root"),
        accepted=by3 is not None and by3.get("typeCode") == "AA",
        error_code=None if detail is None else detail.get("code"),
        error_text=None if detail is None else detail.get("displayName"),
    )


def business_ack_envelope(ack: BusinessAck) -> DistributionEnvelope:
    """``ack`` in its own DistributionEnvelope (service ``SendBusinessAck-v1-0``)."""
    return ack_envelope(
        names.BUSINESS_ACK_SERVICE,
        names.BUSINESS_ACK_INTERACTION,
        business_ack_element(ack),
        to=ack.recipient,
        sender=ack.sender,
    )


def infrastructure_ack_envelope(
    ack: InfrastructureAck, *, to: Address | None
) -> DistributionEnvelope:
    """``ack`` in its own DistributionEnvelope (service ``SendInfrastructureAck-v1-0``)."""
    return ack_envelope(
        names.INFRASTRUCTURE_ACK_SERVICE,
        names.INFRASTRUCTURE_ACK_INTERACTION,
        infrastructure_ack_element(ack),
        to=to,
        sender=ack.reporter,
    )
