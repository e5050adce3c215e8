"""Wire rules of implementation_api.md: formats, 415, gzip, caching, charset, ids."""

from __future__ import annotations

import gzip
import json

from fhir.resources.STU3.appointment import Appointment
from fhir.resources.STU3.bundle import Bundle
from lxml import etree

from tests.api.conftest import READ_SLOTS, SERVICE_ROOT_PATH, Consumer, booking_body

FHIR = "{http://hl7.org/fhir}"


async def _metadata(
    consumer: Consumer, query: str = "", **headers: str
) -> tuple[int, dict[str, str], bytes]:
    resp = await consumer.client.get(
        f"{SERVICE_ROOT_PATH}/metadata{query}",
        headers={**consumer.headers(READ_SLOTS, "read:metadata"), **headers},
    )
    return resp.status, dict(resp.headers), await resp.read()


async def test_json_is_the_default_with_utf8_and_no_store(consumer: Consumer) -> None:
    """With no Accept or _format the answer is FHIR JSON, charset utf-8, Cache-Control no-store."""
    status, headers, body = await _metadata(consumer)
    assert status == 200
    assert headers["Content-Type"] == "application/fhir+json;charset=utf-8"
    assert headers["Cache-Control"] == "no-store"
    assert json.loads(body)["resourceType"] == "CapabilityStatement"


async def test_format_parameter_beats_accept(consumer: Consumer) -> None:
    """_format=xml wins over Accept: application/fhir+json, and the reverse."""
    status, headers, body = await _metadata(
        consumer, "?_format=xml", Accept="application/fhir+json"
    )
    assert status == 200 and headers["Content-Type"].startswith("application/fhir+xml")
    assert etree.fromstring(body).tag == f"{FHIR}CapabilityStatement"
    status, headers, _ = await _metadata(consumer, "?_format=json", Accept="application/fhir+xml")
    assert headers["Content-Type"].startswith("application/fhir+json")


async def test_accept_xml_gives_a_valid_xml_bundle(consumer: Consumer) -> None:
    """A slot search with Accept: application/fhir+xml returns a Bundle that parses as STU3 XML."""
    resp = await consumer.search(Accept="application/fhir+xml")
    assert resp.status == 200
    raw = await resp.read()
    bundle = Bundle.model_validate_xml(raw)
    assert bundle.type == "searchset" and bundle.total and bundle.total > 0


async def test_unsupported_formats_are_415(consumer: Consumer) -> None:
    """_format=text/csv, Accept: text/html or a text/plain body are all 415."""
    status, _, body = await _metadata(consumer, "?_format=text/csv")
    assert status == 415 and json.loads(body)["resourceType"] == "OperationOutcome"
    status, _, _ = await _metadata(consumer, Accept="text/html")
    assert status == 415
    (slot,) = await consumer.free_slots()
    resp = await consumer.book(
        json.dumps(booking_body(slot)).encode(), **{"Content-Type": "text/plain"}
    )
    assert resp.status == 415
    resp = await consumer.book(
        json.dumps(booking_body(slot)).encode(),
        **{"Content-Type": "application/fhir+json;charset=iso-8859-1"},
    )
    assert resp.status == 415


async def test_booking_in_xml_is_answered_in_xml(consumer: Consumer) -> None:
    """An XML booking body is accepted and, with no Accept, answered in XML (its Content-Type)."""
    (slot,) = await consumer.free_slots()
    body = booking_body(slot)
    body["participant"][0]["status"] = "accepted"
    xml = Appointment.model_validate(body).model_dump_xml()
    resp = await consumer.book(xml, **{"Content-Type": "application/fhir+xml"})
    assert resp.status == 201, await resp.text()
    assert resp.headers["Content-Type"].startswith("application/fhir+xml")
    created = Appointment.model_validate_xml(await resp.read())
    assert created.status == "booked" and created.id


async def test_hostile_xml_is_rejected(consumer: Consumer) -> None:
    """An XXE or entity-expansion payload is 400 and never resolved."""
    payload = (
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<Appointment xmlns="http://hl7.org/fhir"><status value="&x;"/></Appointment>'
    )
    resp = await consumer.book(payload, **{"Content-Type": "application/fhir+xml"})
    assert resp.status == 400
    assert "root:" not in await resp.text()


async def test_gzip_in_both_directions(consumer: Consumer) -> None:
    """A gzip-compressed booking is accepted and the answer is gzip-encoded when asked."""
    (slot,) = await consumer.free_slots()
    packed = gzip.compress(json.dumps(booking_body(slot)).encode())
    resp = await consumer.client.post(
        f"{SERVICE_ROOT_PATH}/Appointment",
        data=packed,
        headers={
            **consumer.headers("patient/appointment.write", "create:appointment"),
            "Content-Type": "application/fhir+json",
            "Content-Encoding": "gzip",
            "Accept-Encoding": "gzip",
        },
        auto_decompress=False,
    )
    assert resp.status == 201, await resp.text()
    assert resp.headers["Content-Encoding"] == "gzip"
    body = json.loads(gzip.decompress(await resp.read()))
    assert body["resourceType"] == "Appointment"


async def test_no_gzip_unless_asked(consumer: Consumer) -> None:
    """Without Accept-Encoding: gzip the answer is not compressed."""
    resp = await consumer.client.get(
        f"{SERVICE_ROOT_PATH}/metadata",
        headers={**consumer.headers(READ_SLOTS, "read:metadata"), "Accept-Encoding": "identity"},
        auto_decompress=False,
    )
    assert "Content-Encoding" not in resp.headers


async def test_request_ids_are_echoed_and_added(consumer: Consumer) -> None:
    """fs_xti.md: the client's X-Request-ID returns as X-Correlation-ID beside a new one."""
    resp = await consumer.client.get(
        f"{SERVICE_ROOT_PATH}/metadata",
        headers={**consumer.headers(READ_SLOTS, "read:metadata"), "X-Request-ID": "abc-123"},
    )
    assert resp.headers["X-Correlation-ID"] == "abc-123"
    assert resp.headers["X-Request-ID"] and resp.headers["X-Request-ID"] != "abc-123"
