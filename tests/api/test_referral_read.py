"""Referrals read through the STU3 door: CareConnect ReferralRequests and incomingReferral.

A referral sent over BaRS (REFREQ01 from ``../shared``, its NHS number made valid)
is stored by the gateway; an STU3 consumer reads it as a CareConnect-ReferralRequest-1
(JSON and XML, versions, the patient's referrals) with the security of an
appointment read, and the Appointment it is linked to names it in incomingReferral.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from fhir.resources.STU3.bundle import Bundle
from fhir.resources.STU3.capabilitystatement import CapabilityStatement
from fhir.resources.STU3.referralrequest import ReferralRequest

from gateway.app import create_app
from gateway.bars import wire
from gateway.config import load as load_config
from gateway.fhir.formats import WireFormat
from tests.api.conftest import (
    NHS_NUMBER,
    READ_APPTS,
    READ_SLOTS,
    SERVICE_ID,
    SERVICE_ROOT_PATH,
    WRITE_APPTS,
    Consumer,
    GatewayTestServer,
    booking_body,
    write_config,
)
from tests.bars.conftest import BARS_ROOT_PATH, Doors, Sender, bars_section
from tests.samples import ROOT, absent

Json = dict[str, Any]
NHS = "https://fhir.nhs.uk/Id/nhs-number"
REFREQ01 = (
    ROOT.parent / "shared" / "spec" / "bars" / "examples"
) / "REFREQ01_-_Referral_Service_Request_New_Full_-_111_to_ED.xml"
PROFILE = "https://fhir.hl7.org.uk/STU3/StructureDefinition/CareConnect-ReferralRequest-1"


@pytest.fixture
async def doors(tmp_path: Path, unused_tcp_port_factory: Callable[[], int]) -> AsyncIterator[Doors]:
    """One gateway on 127.0.0.1 over the embedded demo diary, serving STU3 and BaRS."""
    port = unused_tcp_port_factory()
    path = write_config(tmp_path, port)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(bars_section(port, SERVICE_ID))
    settings = load_config(path)
    client = TestClient(GatewayTestServer(create_app(settings, path), host="127.0.0.1", port=port))
    await client.start_server()
    yield Doors(Sender(client, settings), Consumer(client, settings))
    await client.close()


def _message(appointment_id: str | None = None, reason: str = "new", **changes: Any) -> Json:
    if not REFREQ01.exists():
        pytest.skip(absent(REFREQ01))
    raw = REFREQ01.read_bytes().replace(b"3478526985", NHS_NUMBER.encode())
    message = wire.load(raw, WireFormat.XML)
    message["entry"][0]["resource"]["reason"]["coding"][0]["code"] = reason
    request = _of(message, "ServiceRequest")
    if appointment_id is not None:
        request["supportingInfo"] = [{"reference": f"Appointment/{appointment_id}"}]
    request.update(changes)
    return message


def _of(bundle: Json, kind: str) -> Json:
    found: Json = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind
    )
    return found


async def _send(doors: Doors, message: Json) -> Json:
    """The ServiceRequest a servicerequest-request message stored."""
    resp = await doors.bars.client.post(
        f"{BARS_ROOT_PATH}/$process-message",
        data=json.dumps(message).encode(),
        headers=doors.bars.headers(**{"Content-Type": "application/fhir+json"}),
    )
    assert resp.status == 200, await resp.text()
    return _of(await resp.json(content_type=None), "ServiceRequest")


async def _get(doors: Doors, path: str, scope: str = READ_APPTS, **extra: str) -> ClientResponse:
    kind = "search" if "?" in path else "read"
    headers = doors.stu3.headers(scope, f"{kind}:referralrequest", **extra)
    return await doors.stu3.client.get(f"{SERVICE_ROOT_PATH}/{path}", headers=headers)


async def _json(resp: ClientResponse) -> Json:
    data: Json = await resp.json(content_type=None)
    return data


async def test_a_bars_referral_reads_over_stu3_as_a_careconnect_referral_request(
    doors: Doors,
) -> None:
    """GET /ReferralRequest/{id}: STU3-valid, with the patient, triage, service and requester."""
    stored = await _send(doors, _message())
    resp = await _get(doors, f"ReferralRequest/{stored['id']}")
    assert resp.status == 200, await resp.text()
    assert resp.headers["ETag"] == 'W/"1"'
    found = await _json(resp)
    ReferralRequest.model_validate(found)
    assert found["meta"]["profile"] == [PROFILE] and found["meta"]["versionId"] == "1"
    assert (found["id"], found["status"], found["intent"]) == (stored["id"], "active", "plan")
    patient = found["contained"][0]
    assert found["subject"] == {"reference": f"#{patient['id']}"}
    assert patient["identifier"][0]["value"] == NHS_NUMBER
    assert found["reasonCode"][0]["coding"][0]["code"] == "DX02"
    assert found["recipient"][0]["reference"] == f"HealthcareService/{SERVICE_ID}"
    assert found["requester"]["onBehalfOf"]["identifier"]["value"] == "A1001"
    assert found["type"]["coding"][0]["code"] == "a1t1"
    assert any(n["text"].startswith("Patient instruction: ADVICE GIVEN") for n in found["note"])
    assert found["authoredOn"][:19] == stored["authoredOn"][:19]


async def test_the_referral_reads_in_stu3_xml(doors: Doors) -> None:
    """Accept application/fhir+xml answers the ReferralRequest as STU3 XML."""
    stored = await _send(doors, _message())
    resp = await _get(doors, f"ReferralRequest/{stored['id']}", Accept="application/fhir+xml")
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"].startswith("application/fhir+xml")
    parsed = ReferralRequest.model_validate_xml(await resp.read())
    assert parsed.id == stored["id"] and parsed.status == "active"


async def test_the_patients_referrals_and_their_versions(doors: Doors) -> None:
    """Search by patient finds the referral; after the sender's cancel it reads as cancelled v2."""
    stored = await _send(doors, _message())
    query = f"ReferralRequest?patient:identifier={NHS}|{NHS_NUMBER}"
    found = await _json(await _get(doors, query))
    Bundle.model_validate(found)
    assert [e["resource"]["id"] for e in found["entry"]] == [stored["id"]]

    cancel = _message(reason="delete", id=stored["id"])
    _of(cancel, "ServiceRequest")["meta"]["versionId"] = "1"
    assert (await _send(doors, cancel))["status"] == "revoked"
    current = await _json(await _get(doors, f"ReferralRequest/{stored['id']}"))
    assert (current["status"], current["meta"]["versionId"]) == ("cancelled", "2")
    first = await _json(await _get(doors, f"ReferralRequest/{stored['id']}/_history/1"))
    assert (first["status"], first["meta"]["versionId"]) == ("active", "1")
    found = await _json(await _get(doors, query))
    assert [e["resource"]["status"] for e in found["entry"]] == ["cancelled"]
    assert found["entry"][0]["fullUrl"].endswith(f"/ReferralRequest/{stored['id']}/_history/2")


async def test_referral_reads_need_an_appointment_scope(doors: Doors) -> None:
    """No token or a slot.read token is 403; appointment.write reads; unknown ids are 404."""
    stored = await _send(doors, _message())
    path = f"{SERVICE_ROOT_PATH}/ReferralRequest/{stored['id']}"
    assert (await doors.stu3.client.get(path)).status == 403
    assert (await _get(doors, f"ReferralRequest/{stored['id']}", READ_SLOTS)).status == 403
    assert (await _get(doors, f"ReferralRequest/{stored['id']}", WRITE_APPTS)).status == 200
    for missing in (str(uuid.uuid4()), f"{stored['id']}/_history/9", f"{stored['id']}/_history/x"):
        resp = await _get(doors, f"ReferralRequest/{missing}")
        assert resp.status == 404
        outcome = await _json(resp)
        assert outcome["resourceType"] == "OperationOutcome"
        assert outcome["issue"][0]["diagnostics"].startswith("ReferralRequest/")
    resp = await _get(doors, "ReferralRequest?patient:identifier=1234567890")
    assert resp.status in (400, 422) and (await _json(resp))["resourceType"] == "OperationOutcome"


async def _book_stu3(doors: Doors, **extra: Any) -> Json:
    slot = (await doors.stu3.free_slots())[0]
    resp = await doors.stu3.book({**booking_body(slot), **extra})
    assert resp.status == 201, await resp.text()
    return await _json(resp)


async def test_an_stu3_booking_names_the_referral_linked_to_it(doors: Doors) -> None:
    """Booked over STU3, then a BaRS referral naming it: incomingReferral names what reads it."""
    booked = await _book_stu3(doors)
    assert "incomingReferral" not in booked
    stored = await _send(doors, _message(booked["id"]))
    read = await doors.stu3.read(f"Appointment/{booked['id']}")
    appointment = await _json(read)
    reference = f"ReferralRequest/{stored['id']}"
    assert appointment["incomingReferral"] == [{"reference": reference}]
    assert read.headers["ETag"] == 'W/"1"', "a link is the referral's change, not the booking's"
    referral = await _json(await _get(doors, reference))
    assert referral["supportingInfo"][0]["reference"] == f"Appointment/{booked['id']}"
    found = await _json(await doors.stu3.read(f"Appointment?patient:identifier={NHS}|{NHS_NUMBER}"))
    assert found["entry"][0]["resource"]["incomingReferral"] == [{"reference": reference}]


@pytest.mark.parametrize("as_read", [True, False], ids=["after the link", "before the link"])
async def test_a_cancel_may_send_the_incoming_referral_either_way(
    doors: Doors, as_read: bool
) -> None:
    """A cancel body read before or after the referral was linked is not a change: 200."""
    booked = await _book_stu3(doors)
    await _send(doors, _message(booked["id"]))
    body = await _json(await doors.stu3.read(f"Appointment/{booked['id']}")) if as_read else booked
    other = {**body, "status": "cancelled", "incomingReferral": [{"reference": "Referral999"}]}
    resp = await doors.stu3.cancel(booked["id"], other, **{"If-Match": 'W/"1"'})
    assert resp.status == 422, "naming another referral is a change, refused"
    resp = await doors.stu3.cancel(
        booked["id"], {**body, "status": "cancelled"}, **{"If-Match": 'W/"1"'}
    )
    assert resp.status == 200, await resp.text()
    cancelled = await _json(resp)
    assert cancelled["status"] == "cancelled" and "incomingReferral" in cancelled


async def test_a_referral_first_then_an_stu3_booking_naming_it(doors: Doors) -> None:
    """incomingReferral ReferralRequest/<id> on a booking links the stored referral to it."""
    stored = await _send(doors, _message())
    reference = f"ReferralRequest/{stored['id']}"
    booked = await _book_stu3(doors, incomingReferral=[{"reference": reference}])
    assert booked["incomingReferral"] == [{"reference": reference}]
    referral = await _json(await _get(doors, reference))
    assert referral["meta"]["versionId"] == "2"
    assert referral["supportingInfo"][0]["reference"] == f"Appointment/{booked['id']}"


async def test_the_stu3_capability_statement_lists_referral_requests(doors: Doors) -> None:
    """/metadata lists ReferralRequest read, vread and search by patient, with its profile."""
    resp = await doors.stu3.client.get(
        f"{SERVICE_ROOT_PATH}/metadata", headers=doors.stu3.headers(READ_APPTS, "read:metadata")
    )
    statement = await _json(resp)
    CapabilityStatement.model_validate(statement)
    found = [r for r in statement["rest"][0]["resource"] if r["type"] == "ReferralRequest"]
    assert [i["code"] for i in found[0]["interaction"]] == ["read", "vread", "search-type"]
    assert found[0]["profile"]["reference"] == PROFILE
    assert [p["name"] for p in found[0]["searchParam"]] == ["patient:identifier"]
    assert {"reference": PROFILE} in statement["profile"]


async def test_a_referral_linked_after_the_booking_is_named_through_both_doors(
    doors: Doors,
) -> None:
    """A booking, then a referral naming it: STU3 incomingReferral and BaRS basedOn both name it."""
    booked = await _book_stu3(doors)
    stored = await _send(doors, _message(booked["id"]))
    stu3 = await _json(await doors.stu3.read(f"Appointment/{booked['id']}"))
    assert stu3["incomingReferral"] == [{"reference": f"ReferralRequest/{stored['id']}"}]
    r4 = await _json(await doors.bars.get(f"/Appointment/{booked['id']}"))
    assert r4.get("basedOn") == [{"reference": f"ServiceRequest/{stored['id']}"}]
