"""Hardened XML: untrusted bytes to an lxml tree, and namespaced element helpers.

XML from outside is untrusted. The parser resolves no entities, loads no DTD,
touches no network and keeps libxml2's depth and size limits; on top of that
any document type declaration is refused outright: SOAP forbids them in
messages (SOAP 1.1 section 3, SOAP 1.2 Part 1 section 5), and refusing them
shuts the door on XXE and entity-expansion ("billion laughs") payloads whatever
the parser version does. The body size is checked before parsing.

Refusals are ``XmlRejected`` (a ``ValueError``) carrying the reason, the size
and a hash of the body, never the body: the caller logs them in its own words
and turns them into its own error.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from lxml import etree


class XmlRejected(ValueError):
    """The XML was not parsed; ``reason``, ``size`` and ``sha256`` may be logged."""

    def __init__(self, reason: str, body: bytes) -> None:
        super().__init__(reason.replace("_", " "))
        self.reason = reason
        self.size = len(body)
        self.sha256 = fingerprint(body)


class HostileXml(XmlRejected):
    """The XML carried a DTD or an entity, or was too large: refused, not parsed."""


class MalformedXml(XmlRejected):
    """The XML is not well-formed."""


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


def parse(body: bytes, *, max_bytes: int) -> etree._Element:
    """The root element of ``body``; ``HostileXml`` or ``MalformedXml`` otherwise.

    ``HostileXml.reason`` is ``too_large``, ``doctype`` or ``entity``.
    """
    if len(body) > max_bytes:
        raise HostileXml("too_large", body)
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        # Cheap pre-check; the docinfo check below catches encodings that hide it.
        raise HostileXml("doctype", body)
    try:
        root = etree.fromstring(body, _parser())
    except etree.XMLSyntaxError:
        raise MalformedXml("malformed", body) from None
    info = root.getroottree().docinfo
    # ``doctype`` is missing from lxml-stubs, hence getattr.
    doctype = getattr(info, "doctype", "")
    if doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise HostileXml("doctype", body)
    if any(isinstance(node, etree._Entity) for node in root.iter()):
        raise HostileXml("entity", body)
    return root


@dataclass(frozen=True, slots=True)
class Namespace:
    """Element helpers for one XML namespace; a missing element raises ``missing(message)``."""

    uri: str
    missing: Callable[[str], Exception] = ValueError

    def q(self, name: str) -> str:
        """Clark notation for an element of this namespace."""
        return f"{{{self.uri}}}{name}"

    def sub(
        self, parent: etree._Element, name: str, text: str | None = None, **attrs: str | None
    ) -> etree._Element:
        """Append ``<ns:name>text</ns:name>``; None attributes are left out."""
        child = etree.SubElement(
            parent, self.q(name), {k: v for k, v in attrs.items() if v is not None}
        )
        if text is not None:
            child.text = text
        return child

    def subs(self, parent: etree._Element, name: str, texts: Iterable[str]) -> None:
        for text in texts:
            self.sub(parent, name, text)

    def child(self, parent: etree._Element, name: str) -> etree._Element | None:
        return parent.find(self.q(name))

    def need(self, parent: etree._Element, name: str) -> etree._Element:
        found = parent.find(self.q(name))
        if found is None:
            where = etree.QName(parent).localname
            raise self.missing(f"<{name}> is missing from <{where}>")
        return found

    def text(self, parent: etree._Element, name: str) -> str | None:
        found = parent.find(self.q(name))
        return None if found is None or found.text is None else found.text

    def required(self, parent: etree._Element, name: str) -> str:
        value = self.text(parent, name)
        if value is None or not value.strip():
            raise self.missing(f"<{name}> is missing or empty")
        return value

    def texts(self, parent: etree._Element, name: str) -> tuple[str, ...]:
        return tuple(e.text or "" for e in parent.findall(self.q(name)))
