"""The SOAP diary's XML <-> diary records (and through them, the canonical model).

A slot, a clinic and an appointment carry the same facts in this supplier's
XML as in the REST diary's JSON, so the XML is read into the same validated
diary records (``adapters.diary_toolkit.records``) and converted to the domain by
the same ``Converter`` (mapping tables, time zone, FHIR ids). Only the wire
differs: element names, local ``xs:dateTime`` without offset, end times
instead of durations, attributes for small records.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lxml import etree

from adapters.diary_toolkit import records as w
from adapters.errors import SupplierProtocolError
from adapters.soap_diary._wire import child, need, q, required, sub, subs, text, texts

LOCAL = "%Y-%m-%dT%H:%M:%S"


def _local(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise SupplierProtocolError("a local time in the answer is not xs:dateTime") from None


def clinic(el: etree._Element) -> w.WireClinic:
    site = need(el, "Site")
    return w.WireClinic.model_validate(
        {
            "clinicCode": required(el, "Code"),
            "name": required(el, "Name"),
            "site": {
                "siteCode": required(site, "Code"),
                "name": required(site, "Name"),
                "addressLines": texts(site, "AddressLine"),
                "town": text(site, "Town"),
                "postcode": text(site, "Postcode"),
            },
        }
    )


def slot(el: etree._Element, service_point: str) -> w.WireSlot:
    who = need(el, "Clinician")
    start, end = _local(required(el, "StartLocal")), _local(required(el, "EndLocal"))
    return w.WireSlot.model_validate(
        {
            "apptSlotId": required(el, "SlotId"),
            "clinicCode": service_point,
            "clinician": {
                "staffCode": required(who, "Code"),
                "title": text(who, "Title"),
                "forename": text(who, "Forename"),
                "surname": required(who, "Surname"),
                "grade": required(who, "GradeCode"),
                "sex": text(who, "Sex"),
                "sdsUserId": text(who, "SdsUserId"),
            },
            "startLocal": start,
            "durationMins": int((end - start).total_seconds() // 60),
            "channel": text(el, "Mode"),
            "state": required(el, "State"),
        }
    )


def appointment(el: etree._Element) -> w.WireAppointment:
    doc = child(el, "Document")
    return w.WireAppointment.model_validate(
        {
            "appointmentRef": required(el, "AppointmentId"),
            "status": required(el, "Status"),
            "slot": slot(need(el, "Slot"), required(el, "ServicePointCode")),
            "reason": required(el, "Reason"),
            "patient": patient_record(need(el, "Patient")),
            "document": None if doc is None else dict(doc.attrib),
            "referralRef": text(el, "ReferralId"),
            "createdUtc": required(el, "CreatedUtc"),
        }
    )


def patient_record(el: etree._Element) -> dict[str, Any]:
    name, address = need(el, "Name"), need(el, "Address")
    local = child(el, "LocalId")
    return {
        "nhsNumber": text(el, "NhsNumber"),
        "nhsNumberStatus": text(el, "NhsNumberStatus"),
        "localId": None if local is None else {"system": local.get("System"), "value": local.text},
        "name": {
            "titles": texts(name, "Title"),
            "forenames": texts(name, "Forename"),
            "surname": text(name, "Surname"),
            "use": name.get("Use"),
        },
        "sex": required(el, "Sex"),
        "dateOfBirth": required(el, "BirthDate"),
        "address": {
            "lines": texts(address, "Line"),
            "town": text(address, "Town"),
            "county": text(address, "County"),
            "postcode": text(address, "Postcode"),
            "text": text(address, "Text"),
            "use": address.get("Use"),
        },
        "contacts": [
            {"kind": c.get("Type"), "value": c.text, "use": c.get("Use"), "rank": c.get("Rank")}
            for c in el.findall(q("Contact"))
        ],
    }


def book_request(body: dict[str, Any], reference: str, end_local: str) -> etree._Element:
    """``<d:BookAppointment>`` from the diary booking record (``Converter.booking_body``)."""
    root = etree.Element(q("BookAppointment"))
    sub(root, "BookingReference", reference)
    sub(root, "SlotId", body["apptSlotId"])
    sub(root, "StartLocal", body["startLocal"] + ":00")
    sub(root, "EndLocal", end_local)
    sub(root, "Reason", body["reason"])
    _optional(root, "ReferralId", body.get("referralRef"))
    _optional(root, "BookedBy", body.get("bookedByOds"))
    _patient(sub(root, "Patient"), body["patient"])
    doc = body.get("document")
    if doc:
        sub(root, "Document", **{k: _str(v) for k, v in doc.items()})
    return root


def _patient(el: etree._Element, p: dict[str, Any]) -> None:
    _optional(el, "NhsNumber", p["nhsNumber"])
    _optional(el, "NhsNumberStatus", p["nhsNumberStatus"])
    if p["localId"]:
        sub(el, "LocalId", p["localId"]["value"], System=p["localId"]["system"])
    name = sub(el, "Name", Use=p["name"]["use"])
    subs(name, "Title", p["name"]["titles"])
    subs(name, "Forename", p["name"]["forenames"])
    _optional(name, "Surname", p["name"]["surname"])
    sub(el, "Sex", p["sex"])
    sub(el, "BirthDate", p["dateOfBirth"])
    a = p["address"]
    address = sub(el, "Address", Use=a["use"])
    subs(address, "Line", a["lines"])
    for key, name_ in (("town", "Town"), ("county", "County"), ("postcode", "Postcode")):
        _optional(address, name_, a[key])
    _optional(address, "Text", a["text"])
    for c in p["contacts"]:
        sub(el, "Contact", c["value"], Type=c["kind"], Use=c["use"], Rank=_str(c["rank"]))


def _optional(parent: etree._Element, name: str, value: str | None) -> None:
    if value is not None:
        sub(parent, name, value)


def _str(value: object) -> str | None:
    return None if value is None else str(value)
