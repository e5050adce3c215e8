"""BaRS referrals: servicerequest-request over $process-message, and ServiceRequest reads."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

from gateway.bars import wire
from gateway.examples import EXAMPLE_NHS_NUMBER
from gateway.fhir.formats import WireFormat
from tests.bars.conftest import BARS_ROOT_PATH, Doors, appointment_body

Json = dict[str, Any]
EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "spec" / "bars" / "examples"
REFREQ = {
    "01": "REFREQ01_-_Referral_Service_Request_New_Full_-_111_to_ED.xml",
    "02": "REFREQ02_-_Referral_Service_Request_New_Full_-_999_to_CAS.xml",
    "03": "REFREQ03_-_Referral_Service_Request_New_Full_-_Primary_Care_to_Community_Pharmacy_"
    "-_Minor_Illness.xml",
}
NHS = "https://fhir.nhs.uk/Id/nhs-number"
REASONS = "https://fhir.nhs.uk/CodeSystem/message-reason-bars"


async def _json(resp: Any) -> Json:
    data: Json = await resp.json(content_type=None)
    return data


def _rec(outcome: Json) -> tuple[str, str]:
    issue = outcome["issue"][0]
    return issue["details"]["coding"][0]["code"], issue["code"]


#: The examples' NHS number fails the Modulus 11 check every door applies.
EXAMPLE_BAD_NHS_NUMBER = b"3478526985"


def _example(key: str) -> bytes:
    """The example as published, its patient given a valid NHS number."""
    raw = (EXAMPLES / REFREQ[key]).read_bytes()
    return raw.replace(EXAMPLE_BAD_NHS_NUMBER, EXAMPLE_NHS_NUMBER.encode())


def _example_json(key: str = "01") -> Json:
    return wire.load(_example(key), WireFormat.XML)


def _resource(bundle: Json, kind: str) -> Json:
    found: Json = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind
    )
    return found


async def _post(doors: Doors, body: bytes | Json, **headers: str) -> Any:
    xml = isinstance(body, bytes)
    hdrs = doors.bars.headers(
        **{"Content-Type": "application/fhir+xml" if xml else "application/fhir+json", **headers}
    )
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await doors.bars.client.post(
        f"{BARS_ROOT_PATH}/$process-message", data=data, headers=hdrs
    )


def _follow_up(sent: Json, stored: Json, reason: str, **changes: Any) -> Json:
    """The message again, naming the stored ServiceRequest and its version, with ``reason``."""
    message = copy.deepcopy(sent)
    header = message["entry"][0]["resource"]
    header["reason"] = {"coding": [{"system": REASONS, "code": reason}]}
    request = _resource(message, "ServiceRequest")
    request["id"] = stored["id"]
    request.setdefault("meta", {})["versionId"] = stored["meta"]["versionId"]
    request.update(changes)
    return message


async def _send_new(doors: Doors, key: str = "01") -> Json:
    resp = await _post(doors, _example(key))
    assert resp.status == 200, await resp.text()
    answer = await _json(resp)
    get_fhir_model_class("Bundle").model_validate(answer)
    return _resource(answer, "ServiceRequest")


@pytest.mark.parametrize("key", sorted(REFREQ))
async def test_the_referral_examples_are_accepted_and_readable(doors: Doors, key: str) -> None:
    """REFREQ01-03 (XML from ../shared) make a referral readable by id and by patient."""
    resp = await _post(doors, _example(key))
    assert resp.status == 200, await resp.text()
    answer = await _json(resp)
    header = _resource(answer, "MessageHeader")
    assert header["eventCoding"]["code"] == "servicerequest-response"
    assert header["response"]["code"] == "ok"
    stored = _resource(answer, "ServiceRequest")
    assert stored["meta"]["versionId"] == "1" and stored["status"] == "active"
    sent = _resource(_example_json(key), "ServiceRequest")
    if "authoredOn" in sent:
        assert stored["authoredOn"][:19] == sent["authoredOn"][:19]
    read = await doors.bars.get(f"/ServiceRequest/{stored['id']}")
    assert read.status == 200, await read.text()
    assert await _json(read) == stored
    nhs_number = _resource(_example_json(key), "Patient")["identifier"][0]["value"]
    found = await doors.bars.get(f"/ServiceRequest?patient:identifier={NHS}|{nhs_number}")
    bundle = await _json(found)
    get_fhir_model_class("Bundle").model_validate(bundle)
    ids = [e["resource"]["id"] for e in bundle["entry"] if e["search"]["mode"] == "match"]
    assert ids == [stored["id"]]


async def test_the_published_examples_nhs_number_is_refused_precisely(doors: Doors) -> None:
    """REFREQ01 as published carries an NHS number with a wrong check digit: 400 naming it."""
    resp = await _post(doors, (EXAMPLES / REFREQ["01"]).read_bytes())
    assert resp.status == 400
    outcome = await _json(resp)
    assert _rec(outcome) == ("REC_BAD_REQUEST", "value")
    assert outcome["issue"][0]["expression"] == ["Patient.identifier.value"]


async def test_refreq01_keeps_triage_and_clinical_content(doors: Doors) -> None:
    """The CarePlan's DX disposition and the patient instruction survive into the reading."""
    stored = await _send_new(doors)
    codes = [c["coding"][0]["code"] for c in stored["reasonCode"] if "coding" in c]
    assert codes[0] == "DX02" and "4389" in codes
    assert stored["patientInstruction"].startswith("ADVICE GIVEN")
    assert {
        "system": "https://fhir.nhs.uk/CodeSystem/usecases-categories-bars",
        "code": "a1t1",
        "display": "111 to ED",
    } in stored["category"][0]["coding"]


async def test_update_makes_version_2(doors: Doors) -> None:
    """An update naming the version read makes version 2; a stale version is 409 conflict."""
    stored = await _send_new(doors)
    message = _follow_up(_example_json(), stored, "update", patientInstruction="Come back")
    resp = await _post(doors, message)
    assert resp.status == 200, await resp.text()
    updated = _resource(await _json(resp), "ServiceRequest")
    assert updated["meta"]["versionId"] == "2" and updated["patientInstruction"] == "Come back"
    stale = await _post(doors, message)
    assert stale.status == 409
    assert _rec(await _json(stale)) == ("REC_CONFLICT", "conflict")
    read = await _json(await doors.bars.get(f"/ServiceRequest/{stored['id']}"))
    assert read["meta"]["versionId"] == "2"


async def test_cancel_revokes_and_is_final(doors: Doors) -> None:
    """reason delete revokes the referral; a later update of it is 422."""
    stored = await _send_new(doors)
    resp = await _post(doors, _follow_up(_example_json(), stored, "delete"))
    assert resp.status == 200, await resp.text()
    revoked = _resource(await _json(resp), "ServiceRequest")
    assert revoked["status"] == "revoked" and revoked["meta"]["versionId"] == "2"
    again = await _post(doors, _follow_up(_example_json(), revoked, "update"))
    assert again.status == 422
    assert _rec(await _json(again))[0] == "REC_UNPROCESSABLE_ENTITY"


async def test_a_resent_referral_is_409_duplicate_pointing_at_it(doors: Doors) -> None:
    """One X-Request-Id sent twice stores one referral; the resend is 409 duplicate, pointing."""
    request_id = str(uuid.uuid4())
    first = await _post(doors, _example("01"), **{"X-Request-Id": request_id})
    assert first.status == 200
    stored = _resource(await _json(first), "ServiceRequest")
    second = await _post(doors, _example("01"), **{"X-Request-Id": request_id})
    assert second.status == 409
    assert _rec(await _json(second)) == ("REC_CONFLICT", "duplicate")
    assert second.headers["Content-Location"].endswith(f"/ServiceRequest/{stored['id']}")
    nhs_number = _resource(_example_json(), "Patient")["identifier"][0]["value"]
    found = await _json(
        await doors.bars.get(f"/ServiceRequest?patient:identifier={NHS}|{nhs_number}")
    )
    assert found["total"] == 1


@pytest.mark.parametrize(
    ("breakage", "expression"),
    [
        ("no_header", "Bundle.entry[0].resource"),
        ("no_subject", "Bundle.entry[{sr}].resource.subject"),
        ("bad_reason", "MessageHeader.reason"),
        ("bad_status", "ServiceRequest.status"),
        ("not_message", "Bundle.type"),
    ],
)
async def test_a_malformed_referral_is_400_naming_the_element(
    doors: Doors, breakage: str, expression: str
) -> None:
    """A broken message is 400 REC_BAD_REQUEST with an expression, and nothing is stored."""
    message = _example_json()
    request = _resource(message, "ServiceRequest")
    if breakage == "no_header":
        message["entry"] = message["entry"][1:]
    elif breakage == "no_subject":
        request.pop("subject")
    elif breakage == "bad_reason":
        message["entry"][0]["resource"]["reason"]["coding"][0]["code"] = "maybe"
    elif breakage == "bad_status":
        request["status"] = "draft"
    else:
        message["type"] = "collection"
    resp = await _post(doors, message)
    assert resp.status == 400, await resp.text()
    outcome = await _json(resp)
    assert _rec(outcome)[0] == "REC_BAD_REQUEST"
    where = next(i for i, e in enumerate(message["entry"]) if e["resource"] is request)
    assert outcome["issue"][0]["expression"] == [expression.format(sr=where)]
    nhs_number = _resource(message, "Patient")["identifier"][0]["value"]
    found = await _json(
        await doors.bars.get(f"/ServiceRequest?patient:identifier={NHS}|{nhs_number}")
    )
    assert found["total"] == 0


async def test_an_unknown_referral_reads_as_404(doors: Doors) -> None:
    """GET /ServiceRequest/<unknown GUID> is 404 REC_NOT_FOUND; a non-GUID is 400."""
    resp = await doors.bars.get(f"/ServiceRequest/{uuid.uuid4()}")
    assert resp.status == 404 and _rec(await _json(resp))[0] == "REC_NOT_FOUND"
    resp = await doors.bars.get("/ServiceRequest/not-a-guid")
    assert resp.status == 400


async def test_a_referral_then_a_booking_based_on_it_are_linked(doors: Doors) -> None:
    """A booking whose basedOn names the stored ServiceRequest links the referral to it."""
    stored = await _send_new(doors)
    slot = (await doors.bars.free_slots())[0]
    body = {**appointment_body(slot), "basedOn": [{"reference": f"ServiceRequest/{stored['id']}"}]}
    booked = await doors.bars.send("POST", "/Appointment", body)
    assert booked.status == 201, await booked.text()
    appointment = await _json(booked)
    assert appointment["basedOn"] == [{"reference": f"ServiceRequest/{stored['id']}"}]
    read = await _json(await doors.bars.get(f"/ServiceRequest/{stored['id']}"))
    assert read["supportingInfo"] == [
        {"reference": f"Appointment/{appointment['id']}", "display": "Booking"}
    ]
    assert read["meta"]["versionId"] == "2"


async def test_a_booking_then_a_referral_naming_it_are_linked(doors: Doors) -> None:
    """A referral whose supportingInfo names a stored Appointment is linked to it at once."""
    slot = (await doors.bars.free_slots())[0]
    booked = await doors.bars.book(slot)
    assert booked.status == 201, await booked.text()
    appointment_id = (await _json(booked))["id"]
    message = _example_json()
    request = _resource(message, "ServiceRequest")
    for ref in request["supportingInfo"]:
        if ref["reference"].startswith("Appointment/"):
            ref["reference"] = f"Appointment/{appointment_id}"
    resp = await _post(doors, message)
    assert resp.status == 200, await resp.text()
    stored = _resource(await _json(resp), "ServiceRequest")
    assert stored["supportingInfo"] == [
        {"reference": f"Appointment/{appointment_id}", "display": "Booking"}
    ]


async def test_the_example_naming_a_booking_we_do_not_hold_is_stored_unlinked(
    doors: Doors,
) -> None:
    """REFREQ01 names the sender's Appointment, unknown here: accepted, with no link."""
    stored = await _send_new(doors)
    assert "supportingInfo" not in stored


async def test_an_update_naming_a_booking_links_it(doors: Doors) -> None:
    """An update whose supportingInfo names a booking held here links the referral to it."""
    stored = await _send_new(doors)
    booked = await doors.bars.book((await doors.bars.free_slots())[0])
    appointment_id = (await _json(booked))["id"]
    message = _follow_up(_example_json(), stored, "update")
    for ref in _resource(message, "ServiceRequest")["supportingInfo"]:
        if ref["reference"].startswith("Appointment/"):
            ref["reference"] = f"Appointment/{appointment_id}"
    resp = await _post(doors, message)
    assert resp.status == 200, await resp.text()
    updated = _resource(await _json(resp), "ServiceRequest")
    assert updated["supportingInfo"][0]["reference"] == f"Appointment/{appointment_id}"


async def test_an_unknown_event_is_422(doors: Doors) -> None:
    """A message whose event this receiver does not take is 422, nothing stored."""
    message = _example_json()
    message["entry"][0]["resource"]["eventCoding"]["code"] = "servicerequest-response"
    resp = await _post(doors, message)
    assert resp.status == 422
    assert _rec(await _json(resp)) == ("REC_UNPROCESSABLE_ENTITY", "not-supported")


async def test_referral_answers_are_xml_when_asked(doors: Doors) -> None:
    """Accept application/fhir+xml gets the response message and the read in R4 XML."""
    resp = await _post(doors, _example("01"), Accept="application/fhir+xml; version=1.5.0")
    assert resp.status == 200
    answer = wire.load(await resp.read(), WireFormat.XML)
    stored = _resource(answer, "ServiceRequest")
    read = await doors.bars.get(
        f"/ServiceRequest/{stored['id']}", Accept="application/fhir+xml; version=1.5.0"
    )
    assert read.status == 200
    assert wire.load(await read.read(), WireFormat.XML)["id"] == stored["id"]


async def test_a_referral_search_narrows_by_service_request_identifier(doors: Doors) -> None:
    """ServiceRequest.identifier narrows the patient's referrals to the one it names."""
    first = await _send_new(doors)
    await _send_new(doors, "02")
    query = f"/ServiceRequest?patient:identifier={NHS}|{EXAMPLE_NHS_NUMBER}"
    both = await _json(await doors.bars.get(query))
    assert both["total"] == 2
    one = await _json(await doors.bars.get(f"{query}&ServiceRequest.identifier={first['id']}"))
    assert [e["resource"]["id"] for e in one["entry"] if e["search"]["mode"] == "match"] == [
        first["id"]
    ]
    none = await _json(await doors.bars.get(f"{query}&ServiceRequest.identifier=nothing"))
    assert none["total"] == 0


async def test_metadata_states_the_service_request_interactions(doors: Doors) -> None:
    """/metadata lists ServiceRequest read and search, with the patient parameter."""
    resp = await doors.bars.get("/metadata")
    statement = await _json(resp)
    get_fhir_model_class("CapabilityStatement").model_validate(statement)
    found = [r for r in statement["rest"][0]["resource"] if r["type"] == "ServiceRequest"]
    assert [i["code"] for i in found[0]["interaction"]] == ["read", "search-type"]
    assert "patient:identifier" in [p["name"] for p in found[0]["searchParam"]]
