"""The BaRS door in FHIR XML: searches, bookings, reads, cancels and errors, as in JSON."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome

from tests.bars.conftest import BARS_ROOT_PATH, Doors, appointment_body

XML = "application/fhir+xml"


def _xml(resource: dict[str, Any]) -> bytes:
    text = get_fhir_model_class(resource["resourceType"]).model_validate(resource).model_dump_xml()
    return text if isinstance(text, bytes) else str(text).encode()


async def test_slot_search_answers_r4_xml(doors: Doors) -> None:
    """Accept: application/fhir+xml gives the same searchset as XML the R4 reader accepts."""
    resp = await doors.bars.search(Accept=f"{XML}; version=1.5.0")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith(XML)
    bundle = Bundle.model_validate_xml(await resp.read())
    assert bundle.type == "searchset" and bundle.entry
    assert {e.resource.get_resource_type() for e in bundle.entry} >= {"Slot", "Schedule"}


async def test_book_read_and_cancel_in_xml(doors: Doors) -> None:
    """An XML booking books; its XML read, sent back cancelled in XML, cancels it."""
    slot = (await doors.bars.free_slots())[0]
    hdrs = doors.bars.headers(Accept=XML, **{"Content-Type": XML})
    booked = await doors.bars.client.post(
        f"{BARS_ROOT_PATH}/Appointment", data=_xml(appointment_body(slot)), headers=hdrs
    )
    assert booked.status == 201, await booked.text()
    made = Appointment.model_validate_xml(await booked.read())
    read = await doors.bars.get(f"/Appointment/{made.id}", Accept=XML)
    assert read.status == 200
    current = Appointment.model_validate_xml(await read.read())
    assert current.meta.versionId == "1"
    current.status = "cancelled"
    put = await doors.bars.client.put(
        f"{BARS_ROOT_PATH}/Appointment/{made.id}",
        data=current.model_dump_xml(),
        headers=doors.bars.headers(Accept=XML, **{"Content-Type": XML}),
    )
    assert put.status == 200, await put.text()
    assert Appointment.model_validate_xml(await put.read()).status == "cancelled"


async def test_errors_are_xml_operation_outcomes_when_xml_is_asked_for(doors: Doors) -> None:
    """A missing X-Request-Id with Accept XML is an XML OperationOutcome with its REC code."""
    hdrs = doors.bars.headers(Accept=XML)
    del hdrs["X-Request-Id"]
    resp = await doors.bars.client.get(f"{BARS_ROOT_PATH}/metadata", headers=hdrs)
    assert resp.status == 400
    outcome = OperationOutcome.model_validate_xml(await resp.read())
    assert outcome.issue[0].details.coding[0].code == "REC_BAD_REQUEST"


async def test_xml_with_a_doctype_is_refused(doors: Doors) -> None:
    """An XML body with a DOCTYPE (entity tricks) is 400 REC_BAD_REQUEST, nothing booked."""
    body = b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]><Appointment xmlns="http://hl7.org/fhir"/>'
    resp = await doors.bars.client.post(
        f"{BARS_ROOT_PATH}/Appointment",
        data=body,
        headers=doors.bars.headers(**{"Content-Type": XML}),
    )
    assert resp.status == 400
    outcome = await resp.json(content_type=None)
    assert outcome["issue"][0]["details"]["coding"][0]["code"] == "REC_BAD_REQUEST"
