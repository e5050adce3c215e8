"""The BaRS door over the embedded diary: headers, errors, metadata, slots, appointments."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

from adapters import registry
from gateway.examples import EXAMPLE_NHS_NUMBER
from gateway.http.exchange import AUDIT, STORE
from tests.api.conftest import SERVICE_ID, booking_body
from tests.bars.conftest import BARS_ROOT_PATH, DOS, DOS_ID, Doors, Start, appointment_body, b64
from tests.samples import ROOT

Json = dict[str, Any]


async def _json(resp: Any) -> Json:
    data: Json = await resp.json(content_type=None)
    return data


def _rec(outcome: Json) -> tuple[str, str]:
    issue = outcome["issue"][0]
    return issue["details"]["coding"][0]["code"], issue["code"]


def _r4_valid(resource: Json) -> None:
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)


async def test_metadata_is_an_r4_capability_statement_with_ids_echoed(doors: Doors) -> None:
    """GET /metadata answers an R4-valid CapabilityStatement and mirrors both transaction ids."""
    hdrs = doors.bars.headers()
    resp = await doors.bars.client.get(f"{BARS_ROOT_PATH}/metadata", headers=hdrs)
    assert resp.status == 200
    assert resp.headers["X-Request-Id"] == hdrs["X-Request-Id"]
    assert resp.headers["X-Correlation-Id"] == hdrs["X-Correlation-Id"]
    statement = await _json(resp)
    _r4_valid(statement)
    assert statement["fhirVersion"] == "4.0.1"
    kinds = {r["type"]: r for r in statement["rest"][0]["resource"]}
    assert {"create", "read", "update"} <= {i["code"] for i in kinds["Appointment"]["interaction"]}
    assert "Schedule:actor:HealthcareService" in kinds["Slot"]["searchInclude"]


@pytest.mark.parametrize(
    "accept",
    ["application/fhir+json; version=2.0.0", "application/fhir+xml; version=0.9", "text/html"],
)
async def test_accept_of_another_major_version_or_format_is_406(doors: Doors, accept: str) -> None:
    """Content-Negotiation: a BaRS Core major version or format not served is 406."""
    resp = await doors.bars.get("/metadata", Accept=accept)
    assert resp.status == 406
    assert _rec(await _json(resp)) == ("REC_NOT_ACCEPTABLE", "processing")


async def test_accept_of_the_served_major_version_is_answered(doors: Doors) -> None:
    """Accept naming BaRS Core 1.x (any minor) is served."""
    resp = await doors.bars.get("/metadata", Accept="application/fhir+json; version=1.4.0")
    assert resp.status == 200


@pytest.mark.parametrize(
    ("drop", "set_to", "issue"),
    [
        ("X-Request-Id", None, "invalid"),
        ("X-Correlation-Id", None, "invalid"),
        (None, ("X-Request-Id", "not-a-guid"), "value"),
        ("NHSD-Target-Identifier", None, "required"),
        (None, ("NHSD-Target-Identifier", "%%%not-base64"), "invalid"),
        (None, ("NHSD-Target-Identifier", b64({"value": "2000099999"})), "structure"),
        (None, ("NHSD-Target-Identifier", base64.b64encode(b"[" * 5000).decode()), "invalid"),
        (None, ("NHSD-End-User-Organisation", b64({"identifier": "A1001"})), "structure"),
        ("NHSD-End-User-Organisation", None, "required"),
        ("NHSD-Requesting-Software", None, "required"),
    ],
)
async def test_missing_or_malformed_headers_are_400_rec_bad_request(
    doors: Doors, drop: str | None, set_to: tuple[str, str] | None, issue: str
) -> None:
    """Each required header, absent or malformed, is 400 REC_BAD_REQUEST naming it."""
    hdrs = doors.bars.headers()
    if drop:
        del hdrs[drop]
    if set_to:
        hdrs[set_to[0]] = set_to[1]
    resp = await doors.bars.client.get(f"{BARS_ROOT_PATH}/Slot", headers=hdrs)
    assert resp.status == 400
    outcome = await _json(resp)
    assert _rec(outcome) == ("REC_BAD_REQUEST", issue)
    assert outcome["issue"][0]["expression"] == [f"http.{drop or set_to[0]}"]  # type: ignore[index]
    _r4_valid(outcome)


async def test_unknown_target_is_404_rec_not_found(doors: Doors) -> None:
    """An NHSD-Target-Identifier naming no service of this receiver is 404 REC_NOT_FOUND."""
    doors.bars.target = {"system": "https://fhir.nhs.uk/Id/dos-service-id", "value": "1"}
    resp = await doors.bars.search()
    assert resp.status == 404
    assert _rec(await _json(resp)) == ("REC_NOT_FOUND", "not-found")


async def test_a_dos_id_the_gateway_serves_routes_without_a_table_row(doors: Doors) -> None:
    """A DoS service id that is one of the gateway's service ids needs no targets row."""
    doors.bars.target = {"system": "https://fhir.nhs.uk/Id/dos-service-id", "value": "918999198999"}
    assert len(await doors.bars.free_slots()) == 1


async def test_slot_search_is_a_uk_core_searchset(doors: Doors) -> None:
    """GET /Slot: UK Core Slots (R4-valid), their Schedule and HealthcareService included."""
    resp = await doors.bars.search()
    assert resp.status == 200
    bundle = await _json(resp)
    _r4_valid(bundle)
    kinds = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert {"Slot", "Schedule", "HealthcareService"} <= kinds
    slot = next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "Slot")
    assert slot["resource"]["meta"]["profile"] == [
        "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Slot"
    ]
    assert slot["resource"]["meta"]["lastUpdated"]
    assert slot["fullUrl"].endswith(f"/Slot/{slot['resource']['id']}")
    assert bundle["total"] >= 1


@pytest.mark.parametrize("named", ["dos", "gateway"])
async def test_the_service_parameter_may_name_the_target_by_its_dos_id_or_our_id(
    doors: Doors, named: str
) -> None:
    """GET--Slots: Schedule.actor:HealthcareService may carry the target's DoS id or our id."""
    value = DOS_ID if named == "dos" else SERVICE_ID
    now = datetime.now(UTC)
    params = [
        ("status", "free"),
        ("start", f"ge{(now + timedelta(hours=1)).isoformat()}"),
        ("start", f"le{(now + timedelta(days=3)).isoformat()}"),
        ("Schedule.actor:HealthcareService", f"{DOS}|{value}"),
        ("_include", "Slot:schedule"),
        ("_include", "Schedule:actor:HealthcareService"),
    ]
    resp = await doors.bars.client.get(
        f"{BARS_ROOT_PATH}/Slot", params=params, headers=doors.bars.headers()
    )
    assert resp.status == 200, await resp.text()
    bundle = await _json(resp)
    assert any(e["resource"]["resourceType"] == "Slot" for e in bundle["entry"])


async def test_an_unsupported_include_is_left_out_of_the_self_link(doors: Doors) -> None:
    """api spec: an _include that cannot be honoured is ignored, and the self link says so."""
    params = [
        ("status", "free"),
        ("start", "ge2099-01-01T00:00:00+00:00"),
        ("start", "le2099-01-02T00:00:00+00:00"),
        ("_include", "Slot:schedule"),
        ("_include", "Schedule:actor:HealthcareService"),
        ("_include", "Slot:nonsense"),
    ]
    resp = await doors.bars.client.get(
        f"{BARS_ROOT_PATH}/Slot", params=params, headers=doors.bars.headers()
    )
    assert resp.status == 200
    self_url = (await _json(resp))["link"][0]["url"]
    assert "nonsense" not in self_url and "Slot:schedule" in self_url


@pytest.mark.parametrize(
    ("params", "param", "issue"),
    [
        (
            [("start", "ge2099-01-01T00:00:00+00:00"), ("start", "le2099-01-02T00:00:00+00:00")],
            "status",
            "required",
        ),
        ([("status", "free")], "start", "required"),
        ([("status", "free"), ("start", "ge2099-01-01T00:00:00+00:00")], "start", "value"),
        (
            [
                ("status", "free"),
                ("start", "ge2099-01-01T00:00:00+00:00"),
                ("start", "le2099-01-02T00:00:00+00:00"),
                ("Schedule.actor:HealthcareService", "918999198888"),
            ],
            "Schedule.actor:HealthcareService",
            "invariant",
        ),
    ],
)
async def test_bad_slot_parameters_are_400(
    doors: Doors, params: list[tuple[str, str]], param: str, issue: str
) -> None:
    """Failure-Scenarios GET--Slots: status and a two-sided start are required; one service."""
    includes = [("_include", "Slot:schedule"), ("_include", "Schedule:actor:HealthcareService")]
    resp = await doors.bars.client.get(
        f"{BARS_ROOT_PATH}/Slot", params=params + includes, headers=doors.bars.headers()
    )
    assert resp.status == 400
    outcome = await _json(resp)
    assert _rec(outcome) == ("REC_BAD_REQUEST", issue)
    assert outcome["issue"][0]["expression"] == [param]


async def test_a_missing_required_include_is_400(doors: Doors) -> None:
    """GET--Slots: without _include=Schedule:actor:HealthcareService the search is 400 required."""
    params = [
        ("status", "free"),
        ("start", "ge2099-01-01T00:00:00+00:00"),
        ("start", "le2099-01-02T00:00:00+00:00"),
        ("_include", "Slot:schedule"),
    ]
    resp = await doors.bars.client.get(
        f"{BARS_ROOT_PATH}/Slot", params=params, headers=doors.bars.headers()
    )
    assert resp.status == 400
    assert _rec(await _json(resp)) == ("REC_BAD_REQUEST", "required")


async def test_book_read_search_and_cancel(doors: Doors) -> None:
    """POST, GET by id, GET by patient and PUT status=cancelled after a read, versions 1 -> 2."""
    slot = (await doors.bars.free_slots())[0]
    booked = await doors.bars.book(slot)
    assert booked.status == 201, await booked.text()
    appt = await _json(booked)
    _r4_valid(appt)
    assert appt["meta"]["versionId"] == "1" and booked.headers["ETag"] == 'W/"1"'
    assert appt["slot"] == [{"reference": f"Slot/{slot['id']}"}]
    read = await doors.bars.get(f"/Appointment/{appt['id']}")
    assert read.status == 200
    current = await _json(read)
    assert current == appt
    found = await doors.bars.get(
        f"/Appointment?patient:identifier=https://fhir.nhs.uk/Id/nhs-number|{EXAMPLE_NHS_NUMBER}"
    )
    assert [e["resource"]["id"] for e in (await _json(found))["entry"]] == [appt["id"]]
    cancelled = await doors.bars.send(
        "PUT", f"/Appointment/{appt['id']}", {**current, "status": "cancelled"}
    )
    assert cancelled.status == 200, await cancelled.text()
    after = await _json(cancelled)
    assert after["status"] == "cancelled" and after["meta"]["versionId"] == "2"
    assert slot["id"] in await doors.bars.offered(), "the cancelled slot is free again"
    found = await doors.bars.get(
        f"/Appointment?patient:identifier=https://fhir.nhs.uk/Id/nhs-number|{EXAMPLE_NHS_NUMBER}"
    )
    assert [e["resource"]["status"] for e in (await _json(found))["entry"]] == ["cancelled"]


async def test_a_booked_slot_is_no_longer_offered(doors: Doors) -> None:
    """After a BaRS booking the diary no longer offers that slot as free."""
    slot = (await doors.bars.free_slots())[0]
    assert (await doors.bars.book(slot)).status == 201
    assert slot["id"] not in await doors.bars.offered()


async def test_cancel_needs_the_version_read(doors: Doors) -> None:
    """Read before write: no version is 400; a stale meta.versionId or If-Match is 409 conflict."""
    slot = (await doors.bars.free_slots())[0]
    appt = await _json(await doors.bars.book(slot))
    body = {**appt, "status": "cancelled"}
    no_version = {**body, "meta": {k: v for k, v in appt["meta"].items() if k != "versionId"}}
    resp = await doors.bars.send("PUT", f"/Appointment/{appt['id']}", no_version)
    assert resp.status == 400
    assert _rec(await _json(resp)) == ("REC_BAD_REQUEST", "required")
    stale = {**body, "meta": {**appt["meta"], "versionId": "7"}}
    resp = await doors.bars.send("PUT", f"/Appointment/{appt['id']}", stale)
    assert resp.status == 409
    assert _rec(await _json(resp)) == ("REC_CONFLICT", "conflict")
    resp = await doors.bars.send(
        "PUT", f"/Appointment/{appt['id']}", no_version, **{"If-Match": 'W/"1"'}
    )
    assert resp.status == 200


async def test_cancel_may_not_change_other_elements(doors: Doors) -> None:
    """Cancel-Booking: only status (and reasonCode) may change; another change is 422."""
    slot = (await doors.bars.free_slots())[0]
    appt = await _json(await doors.bars.book(slot))
    changed = {**appt, "status": "cancelled", "description": "something else"}
    resp = await doors.bars.send("PUT", f"/Appointment/{appt['id']}", changed)
    assert resp.status == 422
    assert _rec(await _json(resp)) == ("REC_UNPROCESSABLE_ENTITY", "business-rule")
    reason = {"coding": [{"system": "http://example.org/reasons", "code": "patient"}]}
    ok = {**appt, "status": "cancelled", "reasonCode": [reason]}
    assert (await doors.bars.send("PUT", f"/Appointment/{appt['id']}", ok)).status == 200


async def test_read_of_an_unknown_or_malformed_id(doors: Doors) -> None:
    """GET /Appointment/{id}: not a GUID is 400 value; an unknown GUID is 404 REC_NOT_FOUND."""
    resp = await doors.bars.get("/Appointment/not-a-guid")
    assert resp.status == 400
    assert _rec(await _json(resp)) == ("REC_BAD_REQUEST", "value")
    resp = await doors.bars.get("/Appointment/3fa85f64-5717-4562-b3fc-2c963f66afa6")
    assert resp.status == 404
    assert _rec(await _json(resp)) == ("REC_NOT_FOUND", "not-found")


async def test_a_malformed_appointment_is_400_naming_the_element(doors: Doors) -> None:
    """An Appointment the R4 structure refuses is 400 REC_BAD_REQUEST with its expression."""
    slot = (await doors.bars.free_slots())[0]
    body = appointment_body(slot)
    body["minutesDuration"] = "ten"
    resp = await doors.bars.send("POST", "/Appointment", body)
    assert resp.status == 400
    outcome = await _json(resp)
    assert _rec(outcome) == ("REC_BAD_REQUEST", "structure")
    assert outcome["issue"][0]["expression"][0].startswith("Appointment.minutesDuration")
    body = appointment_body(slot)
    body["status"] = "proposed"
    resp = await doors.bars.send("POST", "/Appointment", body)
    assert resp.status == 400
    outcome = await _json(resp)
    assert _rec(outcome) == ("REC_BAD_REQUEST", "value")
    assert outcome["issue"][0]["expression"] == ["Appointment.status"]


async def test_a_resent_x_request_id_is_409_duplicate_and_books_once(doors: Doors) -> None:
    """A resent X-Request-Id is 409 REC_CONFLICT 'duplicate' pointing at what it made."""
    slot = (await doors.bars.free_slots())[0]
    hdrs = doors.bars.headers()
    same = {k: hdrs[k] for k in ("X-Request-Id", "X-Correlation-Id")}
    first = await doors.bars.book(slot, **same)
    assert first.status == 201
    appt = await _json(first)
    again = await doors.bars.book(slot, **same)
    assert again.status == 409
    outcome = await _json(again)
    assert _rec(outcome) == ("REC_CONFLICT", "duplicate")
    assert again.headers["Content-Location"].endswith(f"/Appointment/{appt['id']}")
    assert appt["id"] in outcome["issue"][0]["diagnostics"]
    held = await doors.bars.get(
        f"/Appointment?patient:identifier=https://fhir.nhs.uk/Id/nhs-number|{EXAMPLE_NHS_NUMBER}"
    )
    assert (await _json(held))["total"] == 1


async def test_a_slot_taken_is_409_conflict(doors: Doors) -> None:
    """Example-Errors: booking a slot that no longer allows booking is 409 REC_CONFLICT conflict."""
    slot = (await doors.bars.free_slots())[0]
    assert (await doors.bars.book(slot)).status == 201
    resp = await doors.bars.book(slot)
    assert resp.status == 409
    assert _rec(await _json(resp)) == ("REC_CONFLICT", "conflict")


async def test_an_stu3_booking_is_read_and_cancelled_over_bars(doors: Doors) -> None:
    """One version history: booked over STU3, read and cancelled over BaRS, read over STU3."""
    # The slot an hour ahead or later, as a BaRS search offers it (the same UUID identifier).
    slot = (await doors.bars.free_slots())[0]
    made = await doors.stu3.book(booking_body(slot))
    assert made.status == 201, await made.text()
    stu3_appt = await _json(made)
    read = await doors.bars.get(f"/Appointment/{stu3_appt['id']}")
    assert read.status == 200
    r4 = await _json(read)
    _r4_valid(r4)
    assert r4["meta"]["versionId"] == "1" and r4["start"] == stu3_appt["start"]
    cancelled = await doors.bars.send(
        "PUT", f"/Appointment/{r4['id']}", {**r4, "status": "cancelled"}
    )
    assert cancelled.status == 200, await cancelled.text()
    back = await _json(await doors.stu3.read(f"Appointment/{stu3_appt['id']}"))
    assert back["status"] == "cancelled" and back["meta"]["versionId"] == "2"


async def test_a_bars_booking_is_read_over_stu3(doors: Doors) -> None:
    """An appointment booked over BaRS is the same appointment and version over STU3."""
    slot = (await doors.bars.free_slots())[0]
    appt = await _json(await doors.bars.book(slot))
    read = await doors.stu3.read(f"Appointment/{appt['id']}")
    assert read.status == 200
    stu3_appt = await _json(read)
    assert stu3_appt["meta"]["versionId"] == "1" and stu3_appt["start"] == appt["start"]


async def test_one_slot_booked_concurrently_through_both_doors_once(doors: Doors) -> None:
    """25 STU3 and 25 BaRS bookings of one slot at once: exactly one succeeds."""
    slot = (await doors.bars.free_slots())[0]
    sends = [doors.bars.book(slot) for _ in range(25)]
    sends += [doors.stu3.book(booking_body(slot)) for _ in range(25)]
    answers = await asyncio.gather(*sends)
    statuses = sorted(a.status for a in answers)
    assert statuses.count(201) == 1, statuses
    assert all(s in (201, 409, 422) for s in statuses), statuses


async def test_a_slow_supplier_is_408_rec_timeout(
    both_doors: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A supplier slower than bars.request_timeout_s is 408 REC_TIMEOUT, within the budget."""
    monkeypatch.setitem(registry.ADAPTERS, "faulty", "tests.api.faulty_supplier:create")
    doors = await both_doors(bars_timeout_s=0.3, extra_adapters="faulty:slow")
    started = asyncio.get_running_loop().time()
    resp = await doors.bars.search()
    assert resp.status == 408
    assert _rec(await _json(resp)) == ("REC_TIMEOUT", "timeout")
    assert asyncio.get_running_loop().time() - started < 3


async def test_a_supplier_down_is_503(both_doors: Start, monkeypatch: pytest.MonkeyPatch) -> None:
    """A supplier that cannot be reached is 503 REC_SERVICE_UNAVAILABLE, transient."""
    monkeypatch.setitem(registry.ADAPTERS, "faulty", "tests.api.faulty_supplier:create")
    doors = await both_doors(extra_adapters="faulty:down")
    resp = await doors.bars.search()
    assert resp.status == 503
    assert _rec(await _json(resp)) == ("REC_SERVICE_UNAVAILABLE", "transient")


async def test_an_organisation_off_the_allow_list_is_401(both_doors: Start) -> None:
    """Per-service allow-lists apply to BaRS senders too: 401 REC_UNAUTHORIZED 'forbidden'."""
    doors = await both_doors(extra_services='    allowed_consumers: ["Z9999"]\n')
    slot = (await doors.bars.free_slots())[0]
    resp = await doors.bars.book(slot)
    assert resp.status == 401
    assert _rec(await _json(resp)) == ("REC_UNAUTHORIZED", "forbidden")


async def test_identity_headers_reach_the_audit_as_ids_only(doors: Doors) -> None:
    """The NHSD-* identity is audited (ODS code, device, practitioner ids), never the patient."""
    slot = (await doors.bars.free_slots())[0]
    assert (await doors.bars.book(slot)).status == 201
    await doors.bars.client.app[AUDIT].flush()
    entries = await doors.bars.client.app[STORE].audit_entries(10)
    booked = next(e for e in entries if e.interaction == "bars_book")
    assert booked.status == 201 and booked.outcome == "booked"
    assert booked.organisation_ods == "A1001"
    assert booked.device_id == "SEND-1" and booked.practitioner_id == "100334993514"
    assert booked.service_id == "918999198999" and booked.appointment_id
    assert EXAMPLE_NHS_NUMBER not in repr(entries) and "Chalmers" not in repr(entries)


async def test_unknown_paths_and_methods_are_rec_outcomes(doors: Doors) -> None:
    """An unknown endpoint is 404 REC_NOT_FOUND, a wrong verb 405 REC_METHOD_NOT_ALLOWED."""
    resp = await doors.bars.get("/Nothing")
    assert resp.status == 404
    assert _rec(await _json(resp))[0] == "REC_NOT_FOUND"
    resp = await doors.bars.client.delete(f"{BARS_ROOT_PATH}/Slot", headers=doors.bars.headers())
    assert resp.status == 405
    assert _rec(await _json(resp))[0] == "REC_METHOD_NOT_ALLOWED"


async def test_an_adapter_fault_is_500_rec_server_error(
    both_doors: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected exception inside an adapter is 500 REC_SERVER_ERROR, never a traceback."""
    monkeypatch.setitem(registry.ADAPTERS, "faulty", "tests.api.faulty_supplier:create")
    doors = await both_doors(extra_adapters="faulty:broken")
    resp = await doors.bars.search()
    assert resp.status == 500
    body = await resp.text()
    assert "Traceback" not in body
    assert _rec(await _json(resp)) == ("REC_SERVER_ERROR", "exception")


async def test_a_slot_of_another_service_is_never_booked_in_the_targets_name(
    both_doors: Start,
) -> None:
    """A slot of another service is 422, even on a gateway that has not seen it in a search."""
    first = await both_doors()
    first.bars.target = {"system": "https://fhir.nhs.uk/Id/dos-service-id", "value": "918999198888"}
    other = (await first.bars.free_slots())[0]
    first.bars.target = {"system": "https://fhir.nhs.uk/Id/dos-service-id", "value": "2000099999"}
    ours = (await first.bars.free_slots())[0]
    resp = await first.bars.book(other)
    assert resp.status == 422
    assert _rec(await _json(resp)) == ("REC_UNPROCESSABLE_ENTITY", "business-rule")
    fresh = await both_doors()  # same store and diary, a router that has seen no search
    resp = await fresh.bars.book(other)
    assert resp.status == 422, await resp.text()
    assert (await fresh.bars.book(ours)).status == 201


async def _search_by(doors: Doors, query: str) -> Any:
    return await doors.bars.get(f"/Appointment?{query}")


async def test_appointments_are_found_by_name_birthdate_and_postcode(doors: Doors) -> None:
    """getBookingByPatient by demographics: all three together find the patient's booking."""
    slot = (await doors.bars.free_slots())[0]
    appt = await _json(await doors.bars.book(slot))
    both = "patient:name=peter%20chalm&patient:address-postalcode=ls16ae"
    for born in ("1974-12-25", "eq1974-12-25", "eq25/12/1974"):
        resp = await _search_by(doors, f"{both}&patient:birthdate={born}")
        assert resp.status == 200, await resp.text()
        assert [e["resource"]["id"] for e in (await _json(resp))["entry"]] == [appt["id"]]
    other = await _search_by(
        doors, "patient:name=Smith&patient:birthdate=1974-12-25&patient:address-postalcode=LS1 6AE"
    )
    assert other.status == 200 and "entry" not in await _json(other)


@pytest.mark.parametrize(
    ("query", "expression"),
    [
        ("patient:name=Chalmers", "patient:birthdate"),
        ("patient:name=Chalmers&patient:birthdate=1974-12-25", "patient:address-postalcode"),
        (
            "patient:name=Chalmers&patient:birthdate=gt1974-12-25&patient:address-postalcode=LS16AE",
            "patient:birthdate",
        ),
        (
            "patient:name=Chalmers&patient:birthdate=25-12&patient:address-postalcode=LS16AE",
            "patient:birthdate",
        ),
        (
            "patient:name=A&patient:name=B&patient:birthdate=1974-12-25"
            "&patient:address-postalcode=LS16AE",
            "patient:name",
        ),
        ("", "patient:identifier"),
    ],
)
async def test_bad_demographic_combinations_are_400_naming_the_parameter(
    doors: Doors, query: str, expression: str
) -> None:
    """A partial, repeated or malformed demographic search is 400 REC_BAD_REQUEST naming it."""
    resp = await _search_by(doors, query)
    assert resp.status == 400
    outcome = await _json(resp)
    assert _rec(outcome)[0] == "REC_BAD_REQUEST"
    assert outcome["issue"][0]["expression"] == [expression]


async def test_demographics_narrow_a_search_by_nhs_number(doors: Doors) -> None:
    """With patient:identifier, a birthdate alone narrows the NHS number's bookings."""
    slot = (await doors.bars.free_slots())[0]
    appt = await _json(await doors.bars.book(slot))
    ident = f"patient:identifier=https://fhir.nhs.uk/Id/nhs-number|{EXAMPLE_NHS_NUMBER}"
    same = await _json(await _search_by(doors, f"{ident}&patient:birthdate=1974-12-25"))
    assert [e["resource"]["id"] for e in same["entry"]] == [appt["id"]]
    other = await _json(await _search_by(doors, f"{ident}&patient:birthdate=1990-01-01"))
    assert "entry" not in other


DEFINITIONS = ROOT.parent / "shared" / "spec" / "bars" / "message-definitions"
REFERRAL_DEFINITIONS = {
    "https://fhir.nhs.uk/MessageDefinition/bars-message-servicerequest-request-referral": (
        "BARS-MessageDefinition-ServiceRequest-Request-Referral.xml"
    ),
    "https://fhir.nhs.uk/MessageDefinition/bars-message-servicerequest-request-cancelled": (
        "BARSMessageDefinitionServiceRequestRequestCancelled.xml"
    ),
}


def _focus(definition: Any) -> list[tuple[str, str, int, str]]:
    return [(f.code, f.profile, f.min, f.max) for f in definition.focus]


async def test_message_definitions_list_the_referral_definitions_as_published(
    doors: Doors,
) -> None:
    """GET /MessageDefinition lists the referral definitions with focus rows as published."""
    resp = await doors.bars.get("/MessageDefinition")
    assert resp.status == 200
    bundle = await _json(resp)
    served = {e["resource"]["url"]: e["resource"] for e in bundle["entry"]}
    model = get_fhir_model_class("MessageDefinition")
    for url, file in REFERRAL_DEFINITIONS.items():
        ours = model.model_validate(served[url])
        published = model.model_validate_xml((DEFINITIONS / file).read_bytes())
        assert ours.eventCoding.code == "servicerequest-request"
        assert (ours.version, _focus(ours)) == (published.version, _focus(published))
    found = await _json(await doors.bars.get("/MessageDefinition?context=a6t1"))
    assert [e["resource"]["url"] for e in found["entry"]] == [next(iter(REFERRAL_DEFINITIONS))]


async def test_metadata_supported_messages_include_the_referral_definitions(doors: Doors) -> None:
    """CapabilityStatement.messaging.supportedMessage names every definition received."""
    statement = await _json(await doors.bars.get("/metadata"))
    named = {m["definition"] for m in statement["messaging"][0]["supportedMessage"]}
    listed = await _json(await doors.bars.get("/MessageDefinition"))
    assert set(REFERRAL_DEFINITIONS) <= named
    assert named == {e["resource"]["url"] for e in listed["entry"]}
    kinds = {r["type"]: r for r in statement["rest"][0]["resource"]}
    codes = {i["code"] for i in kinds["Appointment"]["interaction"]}
    assert {"create", "read", "update", "patch"} <= codes
