"""Hostile text in either wire format: always an OperationOutcome, logged and audited (issue 9)."""

from __future__ import annotations

import json

from lxml import etree
from structlog.testing import capture_logs

from gateway.http.exchange import AUDIT, STORE
from tests.api.conftest import READ_SLOTS, SERVICE_ROOT_PATH, Consumer, booking_body

FHIR = "{http://hl7.org/fhir}"
XML = "application/fhir+xml"


def _xml_outcome(body: bytes) -> etree._Element:
    root = etree.fromstring(body)
    assert root.tag == FHIR + "OperationOutcome", body[:200]
    return root


async def test_row_1_control_characters_in_an_xml_error_are_made_xml_safe(
    consumer: Consumer,
) -> None:
    """Row 1: an XML error whose diagnostics echo a control character is a 4xx XML outcome."""
    with capture_logs() as events:
        search = await consumer.client.get(
            f"{SERVICE_ROOT_PATH}/Slot?service=%01",
            headers={**consumer.headers(READ_SLOTS, "read:slot"), "Accept": XML},
        )
        read = await consumer.read("Appointment/%00", Accept=XML)
    for resp in (search, read):
        assert 400 <= resp.status < 500, await resp.text()
        assert resp.headers["Content-Type"].startswith(XML)
        outcome = _xml_outcome(await resp.read())
        diagnostics = outcome.find(f"{FHIR}issue/{FHIR}diagnostics")
        assert diagnostics is not None and diagnostics.get("value")
    handled = [e for e in events if e["event"] == "request_handled"]
    assert sorted(e["status"] for e in handled) == sorted([search.status, read.status])
    await consumer.client.app[AUDIT].flush()  # type: ignore[index]
    entries = await consumer.client.app[STORE].audit_entries(10)  # type: ignore[union-attr]
    assert {e.status for e in entries} >= {search.status, read.status}


async def test_row_5_an_unknown_xml_element_is_a_4xx_naming_it(consumer: Consumer) -> None:
    """Row 5: an XML booking with an element STU3 does not define is 4xx naming it, not 500."""
    (slot,) = await consumer.free_slots()
    body = booking_body(slot)
    body["participant"][0]["status"] = "accepted"
    xml = etree.fromstring(_booking_xml(body))
    etree.SubElement(xml, FHIR + "frobnicate").set("value", "1")
    resp = await consumer.book(etree.tostring(xml), **{"Content-Type": XML, "Accept": XML})
    assert resp.status in (400, 422), await resp.text()
    outcome = _xml_outcome(await resp.read())
    texts = [d.get("value") or "" for d in outcome.iter(FHIR + "diagnostics")]
    assert any("frobnicate" in t for t in texts), texts


async def test_row_6_a_huge_json_integer_is_400(consumer: Consumer) -> None:
    """Row 6: a JSON integer of 5,000 digits in a booking is 400 OperationOutcome, not 500."""
    (slot,) = await consumer.free_slots()
    text = json.dumps(booking_body(slot)).replace(
        '"resourceType": "Appointment"', '"resourceType": "Appointment", "x": ' + "9" * 5000, 1
    )
    resp = await consumer.book(text.encode())
    assert resp.status == 400, await resp.text()
    outcome = await resp.json(content_type=None)
    assert outcome["resourceType"] == "OperationOutcome"
    assert "digits" in outcome["issue"][0]["diagnostics"]


def _booking_xml(body: dict[str, object]) -> bytes:
    from fhir.resources.STU3.appointment import Appointment

    xml = Appointment.model_validate(body).model_dump_xml()
    return xml if isinstance(xml, bytes) else str(xml).encode("utf-8")


async def test_row_1_text_json_cannot_encode_still_gets_an_outcome(consumer: Consumer) -> None:
    """Row 1: an error echoing a lone surrogate (JSON "\\ud800") is a 4xx OperationOutcome."""
    (slot,) = await consumer.free_slots()
    body = booking_body(slot)
    body["resourceType"] = "\ud800x"
    for accept in ("application/fhir+json", XML):
        resp = await consumer.book(json.dumps(body).encode(), Accept=accept)
        assert 400 <= resp.status < 500, await resp.text()
        raw = await resp.read()
        if accept == XML:
            _xml_outcome(raw)
        else:
            assert json.loads(raw)["resourceType"] == "OperationOutcome"


async def test_xml_bundles_say_what_the_json_ones_say(consumer: Consumer) -> None:
    """The XML writer's slot Bundle reads back (STU3 model) as the same resources as the JSON."""
    from fhir.resources.STU3.bundle import Bundle

    query = (
        "&_include:iterate=Schedule:actor:Practitioner&_include:iterate=HealthcareService:location"
    )
    as_json = await (await consumer.search(query + "&_format=json")).read()
    as_xml = await (await consumer.search(query + "&_format=xml")).read()
    from_json = Bundle.model_validate_json(as_json)
    from_xml = Bundle.model_validate_xml(as_xml)
    assert from_json.entry and len(from_json.entry) > 2
    assert from_xml.entry == from_json.entry
    assert (from_xml.total, from_xml.type) == (from_json.total, from_json.type)


async def test_an_xml_root_that_is_no_resource_type_is_400(consumer: Consumer) -> None:
    """An XML body whose root is a data type, an element name or nothing STU3 knows is 400."""
    for root in ("Meta", "contained", "Frobnicate", "identifier"):
        body = f'<{root} xmlns="http://hl7.org/fhir"><id value="x"/></{root}>'.encode()
        resp = await consumer.book(body, **{"Content-Type": XML})
        assert resp.status == 400, (root, await resp.text())
        outcome = _xml_outcome(await resp.read())
        texts = [d.get("value") or "" for d in outcome.iter(FHIR + "diagnostics")]
        assert any(root in t for t in texts), texts
