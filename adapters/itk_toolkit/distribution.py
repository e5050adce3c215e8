"""The ITK 2.2 DistributionEnvelope: its header and payloads, read from and built to XML.

``read_distribution`` reads what is there (counts as written, ids as written)
and refuses only what cannot be read at all; ``check_manifest`` then applies
the ITK rules between manifest and payloads, so a receiver can tell a sender
exactly which one it broke.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from lxml import etree

from adapters.itk_toolkit import names
from adapters.itk_toolkit.errors import ItkError, ToolkitCode
from adapters.itk_toolkit.names import ITK


@dataclass(frozen=True, slots=True)
class Address:
    """An address (or identity) URI with its type; no type means an ODS-code URI."""

    uri: str
    type: str | None = None

    @property
    def kind(self) -> str:
        """``dos`` for a Directory of Services id, ``ods`` for an ODS URI, else ``other``."""
        if self.type == names.DOS_ADDRESS_TYPE:
            return "dos"
        if self.uri.startswith((names.ODS_ADDRESS_PREFIX, names.ODS_IDENTITY_PREFIX)):
            return "ods"
        return "other"

    @property
    def key(self) -> str:
        """The ODS code (``EM396`` of ``urn:nhs-uk:addressing:ods:EM396``) or the DoS id."""
        for prefix in (names.ODS_ADDRESS_PREFIX, names.ODS_IDENTITY_PREFIX):
            if self.kind == "ods" and self.uri.startswith(prefix):
                return self.uri.removeprefix(prefix)
        return self.uri

    @classmethod
    def ods(cls, code: str) -> Address:
        return cls(names.ODS_ADDRESS_PREFIX + code)

    @classmethod
    def dos(cls, service_id: str) -> Address:
        return cls(service_id, names.DOS_ADDRESS_TYPE)


@dataclass(frozen=True, slots=True)
class ManifestItem:
    id: str
    mimetype: str
    profileid: str | None = None
    base64: bool = False
    compressed: bool = False


@dataclass(frozen=True, slots=True)
class Payload:
    """One payload: its id and its content, an element (XML) or text (e.g. base64)."""

    id: str
    element: etree._Element | None = None
    text: str | None = None


@dataclass(frozen=True, slots=True)
class DistributionEnvelope:
    service: str
    tracking_id: str
    addresses: tuple[Address, ...] = ()
    sender: Address | None = None
    audit_identity: tuple[Address, ...] = ()
    manifest: tuple[ManifestItem, ...] = ()
    #: handlingSpecification: key to value.
    handling: dict[str, str] = field(default_factory=dict)
    payloads: tuple[Payload, ...] = ()
    #: The counts as written (None when left out); built envelopes write the true counts.
    manifest_count: int | None = None
    payload_count: int | None = None

    @property
    def interaction(self) -> str | None:
        return self.handling.get(names.INTERACTION_KEY)

    @property
    def business_ack_requested(self) -> bool:
        return self.handling.get(names.BUSINESS_ACK_KEY, "").strip().lower() == "true"


def _invalid(diagnostic: str) -> ItkError:
    return ItkError(ToolkitCode.INVALID_MESSAGE, diagnostic)


def _count(node: etree._Element, what: str) -> int | None:
    raw = node.get("count")
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise _invalid(f"{what} count '{raw[:20]}' is not a number") from None


def _addresses(parent: etree._Element | None, tag: str) -> tuple[Address, ...]:
    if parent is None:
        return ()
    return tuple(
        Address(n.get("uri", "").strip(), n.get("type")) for n in parent.findall(ITK.q(tag))
    )


def _manifest(node: etree._Element) -> tuple[ManifestItem, ...]:
    items = []
    for item in node.findall(ITK.q("manifestitem")):
        if not item.get("id"):
            raise _invalid("a manifestitem has no id")
        items.append(
            ManifestItem(
                id=item.get("id", ""),
                mimetype=item.get("mimetype", ""),
                profileid=item.get("profileid"),
                base64=item.get("base64", "false").lower() == "true",
                compressed=item.get("compressed", "false").lower() == "true",
            )
        )
    return tuple(items)


def _payloads(node: etree._Element) -> tuple[Payload, ...]:
    out = []
    for payload in node.findall(ITK.q("payload")):
        children = [c for c in payload if isinstance(c.tag, str)]
        text = (payload.text or "").strip() or None
        out.append(Payload(payload.get("id", ""), children[0] if children else None, text))
    return tuple(out)


def read_distribution(element: etree._Element) -> DistributionEnvelope:
    """The envelope ``element`` holds; ``ItkError(INVALID_MESSAGE)`` when unreadable."""
    if element.tag != ITK.q("DistributionEnvelope"):
        raise _invalid(
            f"the SOAP Body holds <{etree.QName(element).localname}>, not a DistributionEnvelope"
        )
    header = ITK.child(element, "header")
    if header is None:
        raise _invalid("the DistributionEnvelope has no header")
    service, tracking = header.get("service", "").strip(), header.get("trackingid", "").strip()
    if not service or not tracking:
        raise _invalid("the header needs a service and a trackingid")
    manifest = ITK.child(header, "manifest")
    payloads = ITK.child(element, "payloads")
    sender = ITK.child(header, "senderAddress")
    spec = ITK.child(header, "handlingSpecification")
    return DistributionEnvelope(
        service=service,
        tracking_id=tracking,
        addresses=_addresses(ITK.child(header, "addresslist"), "address"),
        sender=None if sender is None else Address(sender.get("uri", ""), sender.get("type")),
        audit_identity=_addresses(ITK.child(header, "auditIdentity"), "id"),
        manifest=() if manifest is None else _manifest(manifest),
        handling={}
        if spec is None
        else {s.get("key", ""): s.get("value", "") for s in spec.findall(ITK.q("spec"))},
        payloads=() if payloads is None else _payloads(payloads),
        manifest_count=None if manifest is None else _count(manifest, "manifest"),
        payload_count=None if payloads is None else _count(payloads, "payloads"),
    )


def check_manifest(envelope: DistributionEnvelope) -> None:
    """ITK's manifest rules; the first broken one is an ``ItkError`` with the samples' code."""
    manifest_count = envelope.manifest_count
    if manifest_count is None or manifest_count != len(envelope.manifest):
        raise ItkError(
            ToolkitCode.MANIFEST_INSTANCES,
            f"manifest count {manifest_count}, {len(envelope.manifest)} manifestitem(s)",
        )
    payload_count = envelope.payload_count
    if payload_count is None or payload_count != len(envelope.payloads):
        raise ItkError(
            ToolkitCode.PAYLOAD_INSTANCES,
            f"payloads count {payload_count}, {len(envelope.payloads)} payload(s)",
        )
    if manifest_count != payload_count:
        raise ItkError(
            ToolkitCode.MANIFEST_PAYLOAD_COUNT,
            f"manifest count {manifest_count}, payloads count {payload_count}",
        )
    manifest_ids = [item.id for item in envelope.manifest]
    payload_ids = [payload.id for payload in envelope.payloads]
    if sorted(manifest_ids) != sorted(payload_ids) or len(set(payload_ids)) != len(payload_ids):
        unmatched = sorted(set(payload_ids) ^ set(manifest_ids))
        raise ItkError(ToolkitCode.PAYLOAD_IDS, "unmatched ids: " + ", ".join(unmatched[:5]))


def _address_element(parent: etree._Element, tag: str, address: Address) -> None:
    ITK.sub(parent, tag, uri=address.uri, type=address.type)


def distribution_element(envelope: DistributionEnvelope) -> etree._Element:
    """``envelope`` as XML; payload elements are copied, counts are the true ones."""
    root = etree.Element(ITK.q("DistributionEnvelope"), nsmap={"itk": names.ITK_NS})
    header = ITK.sub(root, "header", service=envelope.service, trackingid=envelope.tracking_id)
    if envelope.addresses:
        listing = ITK.sub(header, "addresslist")
        for address in envelope.addresses:
            _address_element(listing, "address", address)
    if envelope.audit_identity:
        identity = ITK.sub(header, "auditIdentity")
        for address in envelope.audit_identity:
            _address_element(identity, "id", address)
    manifest = ITK.sub(header, "manifest", count=str(len(envelope.manifest)))
    for item in envelope.manifest:
        ITK.sub(
            manifest,
            "manifestitem",
            id=item.id,
            mimetype=item.mimetype,
            profileid=item.profileid,
            base64="true" if item.base64 else None,
            compressed="true" if item.compressed else None,
        )
    if envelope.sender:
        _address_element(header, "senderAddress", envelope.sender)
    if envelope.handling:
        spec = ITK.sub(header, "handlingSpecification")
        for key, value in envelope.handling.items():
            ITK.sub(spec, "spec", key=key, value=value)
    payloads = ITK.sub(root, "payloads", count=str(len(envelope.payloads)))
    for payload in envelope.payloads:
        node = ITK.sub(payloads, "payload", payload.text, id=payload.id)
        if payload.element is not None:
            node.append(copy.deepcopy(payload.element))
    return root
