"""POST /Appointment, reads and the X-Request-ID rules (book_an_appointment.md, fs_xti.md)."""

from __future__ import annotations

import asyncio
import copy
import uuid

import pytest
from fhir.resources.STU3.appointment import Appointment

from tests.api.conftest import NHS_NUMBER, SERVICE_ROOT_PATH, Consumer, booking_body
from tests.samples import SHARED_SAMPLES, absent


async def test_booking_answers_201_with_location_etag_and_body(consumer: Consumer) -> None:
    """A valid booking is 201 with a version Location, ETag and Last-Modified."""
    (slot,) = await consumer.free_slots()
    resp = await consumer.book(booking_body(slot))
    assert resp.status == 201, await resp.text()
    body = await resp.json(content_type=None)
    Appointment.model_validate(body)
    assert body["status"] == "booked" and body["meta"]["versionId"] == "1"
    assert resp.headers["Location"] == f"{consumer.root}/Appointment/{body['id']}/_history/1"
    assert resp.headers["ETag"] == 'W/"1"'
    assert resp.headers["Last-Modified"].endswith("GMT")
    contained = {c["resourceType"]: c for c in body["contained"]}
    assert contained["Patient"]["identifier"][0]["value"] == NHS_NUMBER
    assert contained["Slot"]["status"] == "busy"


async def test_booked_slot_leaves_the_free_search_and_a_second_booking_is_422(
    consumer: Consumer,
) -> None:
    """Once booked the slot is no longer offered, and booking it again is 422 (slot not free)."""
    (slot,) = await consumer.free_slots()
    assert (await consumer.book(booking_body(slot))).status == 201
    free_ids = {s["id"] for s in await consumer.free_slots(1)}
    assert slot["id"] not in free_ids
    again = await consumer.book(booking_body(slot))
    assert again.status == 422
    body = await again.json(content_type=None)
    assert body["issue"][0]["details"]["coding"][0]["code"] == "SLOT_NOT_FREE"


async def test_slot_taken_outcome_is_what_the_assurance_scripts_expect(
    consumer: Consumer,
) -> None:
    """A taken slot's 422 carries issue code processing and "Slot no longer available"."""
    (slot,) = await consumer.free_slots()
    assert (await consumer.book(booking_body(slot))).status == 201
    again = await consumer.book(booking_body(slot))
    assert again.status == 422
    first, *rest = (await again.json(content_type=None))["issue"]
    assert (first["severity"], first["code"]) == ("error", "processing")
    assert first["details"]["coding"][0]["code"] == "SLOT_NOT_FREE"
    assert first["diagnostics"] == "Slot no longer available"
    # er_overview.md: why the slot is not free, from the supplier, beside the fixed text.
    assert [(i["severity"], i["code"]) for i in rest] == [("information", "informational")]
    assert rest[0]["diagnostics"]


async def test_read_and_vread_and_unknown(consumer: Consumer) -> None:
    """GET Appointment/id and /_history/1 return the booking; unknown ids and versions are 404."""
    (slot,) = await consumer.free_slots()
    booked = await (await consumer.book(booking_body(slot))).json(content_type=None)
    for path in (f"Appointment/{booked['id']}", f"Appointment/{booked['id']}/_history/1"):
        resp = await consumer.read(path)
        assert resp.status == 200
        assert resp.headers["ETag"] == 'W/"1"'
        assert (await resp.json(content_type=None))["id"] == booked["id"]
    for path in (
        "Appointment/nope",
        f"Appointment/{booked['id']}/_history/9",
        f"Appointment/{booked['id']}/_history/x",
    ):
        resp = await consumer.read(path)
        assert resp.status == 404, path
        assert (await resp.json(content_type=None))["resourceType"] == "OperationOutcome"


async def test_twenty_concurrent_bookings_of_one_slot_give_one_201(consumer: Consumer) -> None:
    """20 consumers racing for one slot: exactly one 201, the rest 422."""
    (slot,) = await consumer.free_slots()
    answers = await asyncio.gather(*(consumer.book(booking_body(slot)) for _ in range(20)))
    statuses = sorted(r.status for r in answers)
    assert statuses.count(201) == 1
    assert statuses.count(422) == 19


async def test_resent_request_id_is_409_pointing_at_the_original(consumer: Consumer) -> None:
    """fs_xti.md: a re-sent X-Request-ID is 409 with the first booking as Content-Location."""
    (slot,) = await consumer.free_slots()
    request_id = str(uuid.uuid4())
    first = await consumer.book(booking_body(slot), **{"X-Request-ID": request_id})
    assert first.status == 201
    assert first.headers["X-Correlation-ID"] == request_id
    assert first.headers["X-Request-ID"] != request_id
    original = await first.json(content_type=None)
    again = await consumer.book(booking_body(slot), **{"X-Request-ID": request_id})
    assert again.status == 409
    location = f"{consumer.root}/Appointment/{original['id']}/_history/1"
    assert again.headers["Content-Location"] == location
    outcome = await again.json(content_type=None)
    assert outcome["issue"][0]["details"]["coding"][0]["code"] == "DUPLICATE_REJECTED"
    assert location in outcome["issue"][0]["diagnostics"]
    listing = await consumer.read(
        f"Appointment?patient:identifier=https://fhir.nhs.uk/Id/nhs-number|{NHS_NUMBER}"
    )
    ids = [e["resource"]["id"] for e in (await listing.json(content_type=None)).get("entry", [])]
    assert ids.count(original["id"]) == 1 and len(ids) == 1


async def test_concurrent_resends_of_one_request_id_book_once(consumer: Consumer) -> None:
    """Ten copies of one booking with one X-Request-ID in flight together make one appointment."""
    (slot,) = await consumer.free_slots()
    request_id = str(uuid.uuid4())
    answers = await asyncio.gather(
        *(consumer.book(booking_body(slot), **{"X-Request-ID": request_id}) for _ in range(10))
    )
    statuses = [r.status for r in answers]
    assert statuses.count(201) == 1
    assert set(statuses) <= {201, 409}


async def test_patient_without_nhs_number_gets_a_provider_identifier(consumer: Consumer) -> None:
    """get_an_appointment.md: no NHS number is accepted; the provider adds its own id."""
    (slot,) = await consumer.free_slots()
    resp = await consumer.book(booking_body(slot, nhs_number=None))
    assert resp.status == 201
    body = await resp.json(content_type=None)
    patient = next(c for c in body["contained"] if c["resourceType"] == "Patient")
    assert patient["identifier"][0]["system"].endswith("/Id/local-patient-identifier")


async def test_invalid_nhs_number_is_422(consumer: Consumer) -> None:
    """An NHS number failing its check digit is 422 INVALID_NHS_NUMBER naming where."""
    (slot,) = await consumer.free_slots()
    resp = await consumer.book(booking_body(slot, nhs_number="9434765918"))
    assert resp.status == 422
    issue = (await resp.json(content_type=None))["issue"][0]
    assert issue["details"]["coding"][0]["code"] == "INVALID_NHS_NUMBER"
    assert "identifier" in issue["expression"][0]


async def test_profile_violations_are_422(consumer: Consumer) -> None:
    """Each booking override of fs_fhir_overrides.md that is broken gives 422 naming the element."""
    (slot,) = await consumer.free_slots()
    good = booking_body(slot)

    def without(path: str) -> dict[str, object]:
        body = copy.deepcopy(good)
        if path.startswith("contained:"):
            kind = path.split(":")[1]
            body["contained"] = [c for c in body["contained"] if c["resourceType"] != kind]
        elif path.startswith("patient."):
            patient = next(c for c in body["contained"] if c["resourceType"] == "Patient")
            del patient[path.split(".")[1]]
        else:
            del body[path]
        return body

    cases = {
        "description": without("description"),
        "start": without("start"),
        "participant": {
            **good,
            "participant": [{"actor": {"reference": "#someone-else"}, "status": "accepted"}],
        },
        "DocumentReference": without("contained:DocumentReference"),
        "Slot": without("contained:Slot"),
        "birthDate": without("patient.birthDate"),
        "address": without("patient.address"),
        "id": {**good, "id": "mine"},
        "status": {**good, "status": "cancelled"},
    }
    for name, body in cases.items():
        resp = await consumer.book(body)
        assert resp.status == 422, (name, await resp.text())
        outcome = await resp.json(content_type=None)
        assert outcome["issue"][0]["expression"], name


async def test_malformed_bodies_are_400_never_500(consumer: Consumer) -> None:
    """Broken JSON, wrong resource types and STU3 type errors are 400 with an OperationOutcome."""
    (slot,) = await consumer.free_slots()
    broken_type = booking_body(slot)
    broken_type["start"] = {"not": "a time"}
    for body in (b"{", b"[]", b'{"resourceType": "Patient"}', b"", b"\xff\xfe", broken_type):
        resp = await consumer.book(body)
        assert resp.status == 400, body
        outcome = await resp.json(content_type=None)
        assert outcome["resourceType"] == "OperationOutcome"
        assert "Traceback" not in outcome["issue"][0]["diagnostics"]


@pytest.fixture
def audit_sample() -> bytes:
    """The shared CareConnect Appointment sample, read from ../shared at test time."""
    sample = SHARED_SAMPLES / "fhir-stu3" / "booking-api-audit-example-Appointment.json"
    if not sample.exists():
        pytest.skip(absent(sample))
    return sample.read_bytes()


async def test_real_world_sample_is_rejected_clearly(
    consumer: Consumer, audit_sample: bytes
) -> None:
    """A real-world Appointment with STU3 type errors is 400 naming the first bad element."""
    resp = await consumer.book(audit_sample)
    assert resp.status == 400
    outcome = await resp.json(content_type=None)
    assert outcome["issue"][0]["expression"][0].startswith("Appointment.")


async def test_patient_appointment_search_both_spellings(consumer: Consumer) -> None:
    """GET /Appointment by NHS number (short and spec long form) lists current appointments."""
    (slot,) = await consumer.free_slots()
    booked = await (await consumer.book(booking_body(slot))).json(content_type=None)
    for param in ("patient:identifier", "Appointment.participant.actor:Patient.identifier"):
        resp = await consumer.read(
            f"Appointment?{param}=https://fhir.nhs.uk/Id/nhs-number|{NHS_NUMBER}"
        )
        assert resp.status == 200
        body = await resp.json(content_type=None)
        assert [e["resource"]["id"] for e in body["entry"]] == [booked["id"]]
        assert body["entry"][0]["fullUrl"].endswith(f"/Appointment/{booked['id']}/_history/1")
    resp = await consumer.read(
        "Appointment?patient:identifier=https://fhir.nhs.uk/Id/nhs-number|1234567890"
    )
    assert resp.status == 400
    resp = await consumer.read(
        "Appointment?patient:identifier=https://fhir.nhs.uk/Id/nhs-number|4010232137"
    )
    assert resp.status == 200 and (await resp.json(content_type=None))["total"] == 0


async def test_unknown_path_and_method_are_operation_outcomes(consumer: Consumer) -> None:
    """Unknown endpoints are 404 and unsupported verbs 405, both as OperationOutcomes."""
    resp = await consumer.client.get(f"{SERVICE_ROOT_PATH}/Nope")
    assert (
        resp.status == 404
        and (await resp.json(content_type=None))["resourceType"] == "OperationOutcome"
    )
    resp = await consumer.client.delete(f"{SERVICE_ROOT_PATH}/Appointment/x")
    assert (
        resp.status == 405
        and (await resp.json(content_type=None))["resourceType"] == "OperationOutcome"
    )
