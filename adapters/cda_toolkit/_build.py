"""Element builders for writing a CDA document: templates, content ids, names, addresses."""

from __future__ import annotations

import uuid

from lxml import etree

from adapters.domain import Address, ContactPoint, HumanName

from . import _codes as c
from ._xml import HL7, NPFIT, XSI

NSMAP: dict[str | None, str] = {None: HL7, "npfitlc": NPFIT, "xsi": XSI}
#: Ids the renderer makes up are UUIDs named from the referral, so a re-render is identical.
_IDS = uuid.UUID("3c1c3f0e-7f43-4a57-9d7e-2b1f5a0c9e11")


def made_id(*parts: object) -> str:
    return str(uuid.uuid5(_IDS, "/".join(str(p) for p in parts))).upper()


def el(parent: etree._Element, name: str, text: str | None = None, **attrs: str) -> etree._Element:
    """Append an HL7 v3 element; attributes with a None value are left out."""
    found = etree.SubElement(parent, f"{{{HL7}}}{name}", {k: v for k, v in attrs.items() if v})
    if text is not None:
        found.text = text
    return found


def content_id(parent: etree._Element, extension: str) -> None:
    etree.SubElement(
        parent, f"{{{NPFIT}}}contentId", {"root": c.CONTENT_ROOT, "extension": extension}
    )


def template(parent: etree._Element, extension: str) -> None:
    el(parent, "templateId", root=c.TEMPLATE_ROOT, extension=extension)


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def name(parent: etree._Element, value: HumanName) -> None:
    found = el(parent, "name", use=c.NAME_USE_OUT.get(value.use or "", ""))
    for prefix in value.prefix:
        el(found, "prefix", prefix)
    for given in value.given:
        el(found, "given", given)
    if value.family:
        el(found, "family", value.family)


def address(parent: etree._Element, value: Address) -> None:
    if value == Address():
        el(parent, "addr", nullFlavor="UNK")
        return
    found = el(parent, "addr", use=c.ADDRESS_USE_OUT.get(value.use or "", ""))
    if not value.lines and value.text:
        found.text = value.text
    for line in value.lines:
        el(found, "streetAddressLine", line)
    for part, text in (("city", value.city), ("county", value.district)):
        if text:
            el(found, part, text)
    if value.postcode:
        el(found, "postalCode", value.postcode)


def telecom(parent: etree._Element, points: tuple[ContactPoint, ...]) -> None:
    schemes = {v: k for k, v in c.SCHEMES.items()}
    for point in points:
        scheme = schemes.get(point.system)
        if scheme is not None:
            el(
                parent,
                "telecom",
                value=scheme + point.value,
                use=c.TELECOM_USE_OUT.get(point.use or "", ""),
            )


def organisation_id(parent: etree._Element, ods: str, root: str = c.ODS_ORG) -> None:
    el(parent, "id", root=root, extension=ods)


def lines(parent: etree._Element, text: str | None) -> None:
    """Plain text into a section's ``text``: one ``<br/>`` between lines."""
    found = el(parent, "text")
    previous: etree._Element | None = None
    for index, line in enumerate((text or "").split("\n")):
        if index:
            previous = el(found, "br")
        if previous is None:
            found.text = line
        else:
            previous.tail = line
