"""SOAP 1.1 and 1.2 envelopes and faults, both ways.

- 1.1: ``text/xml`` with a ``SOAPAction`` header; faults carry ``faultcode``
  (``Client``/``Server``), ``faultstring`` and ``detail``.
- 1.2: ``application/soap+xml; action="..."``; faults carry ``Code/Value``
  (``Sender``/``Receiver``), ``Reason/Text`` and ``Detail``.

The diary puts its own code in the fault detail (``<d:DiaryFault><d:Code>``);
the code decides the typed error, the fault class is the fallback.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from lxml import etree

from adapters import errors
from adapters.soap_diary._xml import NS, q, sub


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


def action(operation: str) -> str:
    return f"{NS}/{operation}"


def envelope(version: SoapVersion, payload: etree._Element) -> bytes:
    env = etree.Element(
        f"{{{version.namespace}}}Envelope", nsmap={"soap": version.namespace, "d": NS}
    )
    etree.SubElement(env, f"{{{version.namespace}}}Body").append(payload)
    return bytes(etree.tostring(env, xml_declaration=True, encoding="utf-8"))


def version_of(root: etree._Element) -> SoapVersion:
    for version, namespace in _ENV.items():
        if root.tag == f"{{{namespace}}}Envelope":
            return version
    raise errors.SupplierProtocolError("the answer is not a SOAP envelope")


def body_child(root: etree._Element, expected: SoapVersion) -> etree._Element:
    """The one element in the envelope's Body (which may be a Fault)."""
    version = version_of(root)
    if version is not expected:
        raise errors.SupplierProtocolError(
            f"expected SOAP {expected}, the supplier spoke {version}"
        )
    body = root.find(f"{{{version.namespace}}}Body")
    children = [] if body is None else [c for c in body if isinstance(c.tag, str)]
    if len(children) != 1:
        raise errors.SupplierProtocolError("the SOAP Body must hold exactly one element")
    return children[0]


@dataclass(frozen=True, slots=True)
class Fault:
    #: True for a sender (client) fault, False for a receiver (server) fault.
    sender: bool
    reason: str
    code: str | None


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
    diary = None if detail is None else detail.findtext(f"{q('DiaryFault')}/{q('Code')}")
    return Fault(sender=local in ("Client", "Sender"), reason=reason, code=diary)


def fault(version: SoapVersion, sender: bool, reason: str, code: str) -> bytes:
    """A fault envelope, as the diary sends it (used by the peer)."""
    ns = version.namespace
    env = etree.Element(f"{{{ns}}}Envelope", nsmap={"soap": ns, "d": NS})
    node = etree.SubElement(etree.SubElement(env, f"{{{ns}}}Body"), f"{{{ns}}}Fault")
    if version is SoapVersion.V11:
        etree.SubElement(node, "faultcode").text = "soap:Client" if sender else "soap:Server"
        etree.SubElement(node, "faultstring").text = reason
        detail = etree.SubElement(node, "detail")
    else:
        value = etree.SubElement(etree.SubElement(node, f"{{{ns}}}Code"), f"{{{ns}}}Value")
        value.text = "soap:Sender" if sender else "soap:Receiver"
        text = etree.SubElement(etree.SubElement(node, f"{{{ns}}}Reason"), f"{{{ns}}}Text")
        text.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
        text.text = reason
        detail = etree.SubElement(node, f"{{{ns}}}Detail")
    sub(sub(detail, "DiaryFault"), "Code", code)
    return bytes(etree.tostring(env, xml_declaration=True, encoding="utf-8"))


#: Diary fault code -> typed error ("DiaryService fault codes" of the supplier's WSDL notes).
BY_CODE: dict[str, type[errors.AdapterError]] = {
    "SERVICE_POINT_NOT_FOUND": errors.ServiceNotFound,
    "SLOT_NOT_FOUND": errors.SlotNotFound,
    "SLOT_TAKEN": errors.SlotUnavailable,
    "SLOT_IN_PAST": errors.SlotUnavailable,
    "SLOT_MISMATCH": errors.SlotMismatch,
    "APPOINTMENT_NOT_FOUND": errors.BookingNotFound,
    "ALREADY_CANCELLED": errors.BookingNotCancellable,
    "APPOINTMENT_IN_PAST": errors.BookingNotCancellable,
    "REFERENCE_REUSED": errors.BookingRejected,
    "VALIDATION_FAILED": errors.BookingRejected,
    "CLINIC_CLOSED": errors.BookingRejected,
    "NOT_AUTHORISED": errors.SupplierUnavailable,
    "INTERNAL_ERROR": errors.SupplierUnavailable,
}


def typed_fault(operation: str, found: Fault) -> errors.AdapterError:
    """The typed error for a fault; the free-text reason is never kept (it may quote a patient)."""
    typed = BY_CODE.get(found.code or "")
    if typed is None:
        typed = errors.SupplierProtocolError if found.sender else errors.SupplierUnavailable
    kind = "Sender" if found.sender else "Receiver"
    code = (found.code or "no detail code")[:64]
    detail = f"SOAP fault {kind} {code}"
    return typed(f"{operation}: the supplier answered a {detail}", supplier_detail=detail)
