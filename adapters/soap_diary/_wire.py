"""The DiaryService's XML: its namespace, element helpers and hardened parsing, in typed errors.

Built on the SOAP toolkit (``adapters.soap_toolkit``), used by the adapter and
its peer. XML from the supplier is untrusted: a refusal (DTD, entity, too
large) is ``HostileXml``, anything else unreadable ``SupplierProtocolError``;
refusals are logged with the size and a hash, never the payload.
"""

from __future__ import annotations

import structlog
from lxml import etree

from adapters.errors import SupplierProtocolError
from adapters.soap_toolkit import envelope as soap
from adapters.soap_toolkit import hardened_xml
from adapters.soap_toolkit.hardened_xml import Namespace

log = structlog.get_logger(__name__)

#: The supplier's namespace (its WSDL's targetNamespace).
NS = "http://schemas.fernbrook-diary.example/booking/2019"
#: The prefixes the diary's envelopes declare.
NSMAP = {"d": NS}

_DIARY = Namespace(NS, missing=SupplierProtocolError)
q = _DIARY.q
sub = _DIARY.sub
subs = _DIARY.subs
child = _DIARY.child
need = _DIARY.need
text = _DIARY.text
required = _DIARY.required
texts = _DIARY.texts


class HostileXml(SupplierProtocolError):
    """The XML carried a DTD, an entity or was too large: refused, not parsed."""


def parse(body: bytes, *, max_bytes: int, source: str) -> etree._Element:
    """The root element of ``body``; ``HostileXml``/``SupplierProtocolError`` otherwise."""
    try:
        return hardened_xml.parse(body, max_bytes=max_bytes)
    except hardened_xml.HostileXml as exc:
        log.warning(
            "supplier_xml_refused",
            source=source,
            reason=exc.reason,
            size=exc.size,
            sha256=exc.sha256,
        )
        raise HostileXml(f"{source}: XML refused ({exc})") from None
    except hardened_xml.MalformedXml as exc:
        log.warning("supplier_xml_malformed", source=source, size=exc.size, sha256=exc.sha256)
        raise SupplierProtocolError(f"{source}: the XML is malformed") from None


def body_child(root: etree._Element, expected: soap.SoapVersion) -> etree._Element:
    """The one element in the envelope's Body (which may be a Fault)."""
    try:
        version = soap.version_of(root)
    except soap.SoapError:
        raise SupplierProtocolError("the answer is not a SOAP envelope") from None
    if version is not expected:
        raise SupplierProtocolError(f"expected SOAP {expected}, the supplier spoke {version}")
    try:
        return soap.body_child(root, expected)
    except soap.SoapError as exc:
        raise SupplierProtocolError(str(exc)) from None


def envelope(version: soap.SoapVersion, payload: etree._Element) -> bytes:
    return soap.envelope(version, payload, NSMAP)
