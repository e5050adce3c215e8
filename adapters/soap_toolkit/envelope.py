"""SOAP 1.1 and 1.2 envelopes and faults, both ways.

- 1.1: ``text/xml`` with a ``SOAPAction`` header; faults carry ``faultcode``
  (``Client``/``Server``), ``faultstring`` and ``detail``.
- 1.2: ``application/soap+xml; action="..."``; faults carry ``Code/Value``
  (``Sender``/``Receiver``), ``Reason/Text`` and ``Detail``.

What goes in a fault's detail is the caller's vocabulary: ``read_fault`` hands
the detail element back, ``fault`` lets the caller fill it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from lxml import etree


class SoapError(ValueError):
    """Not a SOAP envelope of the expected version, or a Body without exactly one element."""


class SoapVersion(enum.StrEnum):
    V11 = "1.1"
    V12 = "1.2"

    @property
    def namespace(self) -> str:
        return _ENV[self]

    @property
    def media_type(self) -> str:
        return "text/xml" if self is SoapVersion.V11 else "application/soap+xml"

    def headers(self, action: str) -> dict[str, str]:
        if self is SoapVersion.V11:
            return {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{action}"'}
        return {"Content-Type": f'application/soap+xml; charset=utf-8; action="{action}"'}


_ENV = {
    SoapVersion.V11: "http://schemas.xmlsoap.org/soap/envelope/",
    SoapVersion.V12: "http://www.w3.org/2003/05/soap-envelope",
}


def _root(version: SoapVersion, nsmap: Mapping[str, str] | None) -> etree._Element:
    return etree.Element(
        f"{{{version.namespace}}}Envelope",
        nsmap={"soap": version.namespace, **(nsmap or {})},
    )


def envelope(
    version: SoapVersion, payload: etree._Element, nsmap: Mapping[str, str] | None = None
) -> bytes:
    """``payload`` in the Body of a ``version`` envelope declaring ``nsmap``'s prefixes too."""
    env = _root(version, nsmap)
    etree.SubElement(env, f"{{{version.namespace}}}Body").append(payload)
    return bytes(etree.tostring(env, xml_declaration=True, encoding="utf-8"))


def version_of(root: etree._Element) -> SoapVersion:
    for version, namespace in _ENV.items():
        if root.tag == f"{{{namespace}}}Envelope":
            return version
    raise SoapError("not a SOAP envelope")


def body_child(root: etree._Element, expected: SoapVersion) -> etree._Element:
    """The one element in the envelope's Body (which may be a Fault)."""
    version = version_of(root)
    if version is not expected:
        raise SoapError(f"expected SOAP {expected}, got SOAP {version}")
    body = root.find(f"{{{version.namespace}}}Body")
    children = [] if body is None else [c for c in body if isinstance(c.tag, str)]
    if len(children) != 1:
        raise SoapError("the SOAP Body must hold exactly one element")
    return children[0]


@dataclass(frozen=True, slots=True)
class Fault:
    #: True for a sender (client) fault, False for a receiver (server) fault.
    sender: bool
    reason: str
    #: The fault's detail element (``detail`` / ``Detail``), if any.
    detail: etree._Element | None


def is_fault(element: etree._Element) -> bool:
    return (
        etree.QName(element).localname == "Fault"
        and etree.QName(element).namespace in _ENV.values()
    )


def read_fault(element: etree._Element) -> Fault:
    ns = etree.QName(element).namespace
    if ns == _ENV[SoapVersion.V11]:
        code = element.findtext("faultcode") or ""
        reason = element.findtext("faultstring") or ""
        detail = element.find("detail")
    else:
        code = element.findtext(f"{{{ns}}}Code/{{{ns}}}Value") or ""
        reason = element.findtext(f"{{{ns}}}Reason/{{{ns}}}Text") or ""
        detail = element.find(f"{{{ns}}}Detail")
    local = code.rpartition(":")[2]
    return Fault(sender=local in ("Client", "Sender"), reason=reason, detail=detail)


def fault(
    version: SoapVersion,
    sender: bool,
    reason: str,
    detail: Callable[[etree._Element], object],
    nsmap: Mapping[str, str] | None = None,
) -> bytes:
    """A fault envelope; ``detail`` fills the (empty) detail element it is given."""
    ns = version.namespace
    env = _root(version, nsmap)
    node = etree.SubElement(etree.SubElement(env, f"{{{ns}}}Body"), f"{{{ns}}}Fault")
    if version is SoapVersion.V11:
        etree.SubElement(node, "faultcode").text = "soap:Client" if sender else "soap:Server"
        etree.SubElement(node, "faultstring").text = reason
        holder = etree.SubElement(node, "detail")
    else:
        value = etree.SubElement(etree.SubElement(node, f"{{{ns}}}Code"), f"{{{ns}}}Value")
        value.text = "soap:Sender" if sender else "soap:Receiver"
        text = etree.SubElement(etree.SubElement(node, f"{{{ns}}}Reason"), f"{{{ns}}}Text")
        text.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
        text.text = reason
        holder = etree.SubElement(node, f"{{{ns}}}Detail")
    detail(holder)
    return bytes(etree.tostring(env, xml_declaration=True, encoding="utf-8"))
