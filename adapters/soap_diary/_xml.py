"""Hardened XML for the SOAP diary (used by the adapter and its peer).

XML from a supplier is untrusted. The parser resolves no entities, loads no
DTD, touches no network and keeps libxml2's depth and size limits; on top of
that any document type declaration is refused outright: SOAP forbids them in
messages (SOAP 1.1 section 3, SOAP 1.2 Part 1 section 5), and refusing them
shuts the door on XXE and entity-expansion ("billion laughs") payloads whatever
the parser version does. The body size is checked before parsing.
Refusals are logged with the size and a hash, never the payload.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import structlog
from lxml import etree

from adapters.errors import SupplierProtocolError

log = structlog.get_logger(__name__)

#: The supplier's namespace (its WSDL's targetNamespace).
NS = "http://schemas.fernbrook-diary.example/booking/2019"


class HostileXml(SupplierProtocolError):
    """The XML carried a DTD, an entity or was too large: refused, not parsed."""


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_pis=True,
        remove_comments=True,
        collect_ids=False,
    )


def fingerprint(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:16]


def parse(body: bytes, *, max_bytes: int, source: str) -> etree._Element:
    """The root element of ``body``; ``HostileXml``/``SupplierProtocolError`` otherwise."""
    if len(body) > max_bytes:
        raise _refused("too_large", body, source)
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        # Cheap pre-check; the docinfo check below catches encodings that hide it.
        raise _refused("doctype", body, source)
    try:
        root = etree.fromstring(body, _parser())
    except etree.XMLSyntaxError:
        log.warning(
            "supplier_xml_malformed", source=source, size=len(body), sha256=fingerprint(body)
        )
        raise SupplierProtocolError(f"{source}: the XML is malformed") from None
    tree = root.getroottree()
    info = tree.docinfo
    # ``doctype`` is missing from lxml-stubs, hence getattr.
    doctype = getattr(info, "doctype", "")
    if doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise _refused("doctype", body, source)
    if any(isinstance(node, etree._Entity) for node in root.iter()):
        raise _refused("entity", body, source)
    return root


def _refused(reason: str, body: bytes, source: str) -> HostileXml:
    log.warning(
        "supplier_xml_refused",
        source=source,
        reason=reason,
        size=len(body),
        sha256=fingerprint(body),
    )
    return HostileXml(f"{source}: XML refused ({reason.replace('_', ' ')})")


def q(name: str) -> str:
    """Clark notation for an element of the supplier's namespace."""
    return f"{{{NS}}}{name}"


def sub(
    parent: etree._Element, name: str, text: str | None = None, **attrs: str | None
) -> etree._Element:
    """Append ``<d:name>text</d:name>``; None attributes are left out."""
    child = etree.SubElement(parent, q(name), {k: v for k, v in attrs.items() if v is not None})
    if text is not None:
        child.text = text
    return child


def subs(parent: etree._Element, name: str, texts: Iterable[str]) -> None:
    for text in texts:
        sub(parent, name, text)


def child(parent: etree._Element, name: str) -> etree._Element | None:
    return parent.find(q(name))


def need(parent: etree._Element, name: str) -> etree._Element:
    found = parent.find(q(name))
    if found is None:
        raise SupplierProtocolError(f"<{name}> is missing from <{etree.QName(parent).localname}>")
    return found


def text(parent: etree._Element, name: str) -> str | None:
    found = parent.find(q(name))
    return None if found is None or found.text is None else found.text


def required(parent: etree._Element, name: str) -> str:
    value = text(parent, name)
    if value is None or not value.strip():
        raise SupplierProtocolError(f"<{name}> is missing or empty")
    return value


def texts(parent: etree._Element, name: str) -> tuple[str, ...]:
    return tuple(e.text or "" for e in parent.findall(q(name)))
