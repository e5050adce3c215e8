"""What goes on the wire: URL joining, Spine proxy headers, the JWT and X-Request-ID."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from urllib.parse import parse_qsl

import pytest

from adapters.domain import (
    CallContext,
    Identifier,
    RequestingDevice,
    RequestingOrganisation,
    RequestingPractitioner,
    SlotQuery,
    utcnow,
)
from adapters.national_fhir._wire import join
from tests.contract.builders import booking_request, call_context
from tests.national_fhir.conftest import CONSUMER_ASID, PROVIDER_ASID, SERVICE_ID, Rig
from tests.national_fhir.helpers import URN, body, claims, free_slot

REQUIRED_CLAIMS = {
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "reason_for_request",
    "requested_scope",
    "requesting_device",
    "requesting_organization",
}


@pytest.mark.parametrize(
    ("proxy", "provider"),
    [
        ("https://ssp.nhs.uk", "https://p.nhs.uk/STU3/1/x"),
        ("https://ssp.nhs.uk/", "https://p.nhs.uk/STU3/1/x"),
        ("https://ssp.nhs.uk/", "/https://p.nhs.uk/STU3/1/x"),
        ("https://ssp.nhs.uk", "/https://p.nhs.uk/STU3/1/x"),
    ],
)
def test_join_puts_exactly_one_slash_between_proxy_and_provider(proxy: str, provider: str) -> None:
    """implementation_api.md: SSP URL + '/' + provider URL, whatever slashes each brings."""
    assert join(proxy, provider) == "https://ssp.nhs.uk/https://p.nhs.uk/STU3/1/x"


async def test_requests_reach_the_provider_url_after_one_slash(rig: Rig) -> None:
    """A proxy URL configured with a trailing '/' still yields '<ssp>/<provider root>/Slot'."""
    adapter = await rig.make_adapter(ssp_url=rig.ssp_url + "/")
    try:
        await free_slot(adapter)
    finally:
        await adapter.close()
    seen = rig.ssp.requests("GET", r"/Slot\?")[-1]
    assert seen.raw_path.startswith("/" + rig.provider_root + "/Slot?")
    assert seen.target.startswith(rig.provider_root + "/Slot?")


async def _book_read_cancel(rig: Rig, ctx: CallContext | None = None) -> str:
    slot = await free_slot(rig.adapter)
    booked = await rig.adapter.book(booking_request(slot), ctx or call_context())
    await rig.adapter.get(booked.supplier_ref, ctx or call_context())
    await rig.adapter.cancel(booked.supplier_ref, ctx or call_context())
    return booked.supplier_ref


async def test_every_request_carries_the_four_ssp_headers(rig: Rig) -> None:
    """Ssp-From/To are the two ASIDs, Ssp-InteractionID fits the verb, Ssp-TraceID is fresh."""
    await _book_read_cancel(rig)
    expected = {
        ("GET", "Slot"): URN + "read:slot",
        ("POST", "Appointment"): URN + "create:appointment",
        ("GET", "Appointment"): URN + "read:appointment",
        ("PUT", "Appointment"): URN + "update:appointment",
    }
    traces = set()
    for seen in rig.ssp.seen:
        kind = seen.target[len(rig.provider_root) + 1 :].split("/")[0].split("?")[0]
        assert seen.headers["Ssp-InteractionID"] == expected[(seen.method, kind)]
        assert seen.headers["Ssp-From"] == CONSUMER_ASID
        assert seen.headers["Ssp-To"] == PROVIDER_ASID
        traces.add(uuid.UUID(seen.headers["Ssp-TraceID"]))
        assert seen.headers["X-Request-ID"]
    assert len(traces) == len(rig.ssp.seen) == 5


async def test_metadata_ping_uses_the_metadata_interaction(rig: Rig) -> None:
    """health() reads /metadata with Ssp-InteractionID read:metadata and slot.read scope."""
    assert (await rig.adapter.health()).ok
    seen = rig.ssp.requests("GET", r"/metadata$")[-1]
    assert seen.headers["Ssp-InteractionID"] == URN + "read:metadata"
    assert claims(seen)["requested_scope"] == "organization/slot.read"


async def test_jwt_has_every_claim_with_scope_by_operation(rig: Rig) -> None:
    """Each request has a fresh unsigned JWT: all claims, aud = service root, exp = iat + 300."""
    await _book_read_cancel(rig)
    scopes = {
        "GET Slot": "organization/slot.read",
        "POST Appointment": "patient/appointment.write",
        "GET Appointment": "patient/appointment.read",
        "PUT Appointment": "patient/appointment.write",
    }
    for seen in rig.ssp.seen:
        payload = claims(seen)
        assert payload.keys() >= REQUIRED_CLAIMS
        assert payload["aud"] == rig.provider_root
        assert payload["iss"] == "https://gateway.test.invalid/"
        assert payload["exp"] - payload["iat"] == 300
        assert payload["reason_for_request"] == "directcare"
        kind = seen.target[len(rig.provider_root) + 1 :].split("/")[0].split("?")[0]
        assert payload["requested_scope"] == scopes[f"{seen.method} {kind}"]
        # The caller's organisation (call_context: A91547), the configured device, no user.
        org = payload["requesting_organization"]
        assert org["identifier"] == [
            {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "A91547"}
        ]
        assert org["name"] == "Test 111 Provider" and org["resourceType"] == "Organization"
        device = payload["requesting_device"]
        assert device["identifier"][0]["value"] == "uec-gateway-test"
        assert device["model"] == "uec-gateway" and device["version"] == "0.1.0"
        assert payload["sub"] == "uec-gateway-test"
        assert "requesting_practitioner" not in payload


async def test_jwt_names_the_callers_device_and_logged_on_user(rig: Rig) -> None:
    """ctx.device and ctx.practitioner reach the token; sub = practitioner id; SDS ids UNK."""
    local = Identifier(system="https://111.example/Id/user", value="u-42")
    ctx = call_context().model_copy(
        update={
            "device": RequestingDevice(
                identifier=Identifier(system="https://111.example/Id/device", value="pas-7"),
                model="Legacy PAS",
                version="9.1",
            ),
            "practitioner": RequestingPractitioner(id="u-42", identifiers=(local,)),
            "organisation": RequestingOrganisation(ods_code="RX1"),
        }
    )
    await rig.adapter.search_slots(SlotQuery(service_id=SERVICE_ID), ctx)
    payload = claims(rig.ssp.seen[-1])
    assert payload["sub"] == "u-42"
    assert payload["requesting_device"]["identifier"][0]["value"] == "pas-7"
    assert payload["requesting_device"]["model"] == "Legacy PAS"
    assert payload["requesting_organization"]["identifier"][0]["value"] == "RX1"
    user = payload["requesting_practitioner"]
    assert user["id"] == "u-42" and user["resourceType"] == "Practitioner"
    assert user["identifier"] == [
        {"system": "https://fhir.nhs.uk/Id/sds-user-id", "value": "UNK"},
        {"system": "https://fhir.nhs.uk/Id/sds-role-profile-id", "value": "UNK"},
        {"system": "https://111.example/Id/user", "value": "u-42"},
    ]


async def test_a_callers_device_without_version_is_sent_with_model_and_version(rig: Rig) -> None:
    """fs_authentication.md: requesting_device SHALL have model and version, whoever asks."""
    ident = Identifier(system="https://111.example/Id/device", value="pas-7")
    for device in (
        RequestingDevice(identifier=ident),
        RequestingDevice(identifier=ident, model="Legacy PAS"),
    ):
        ctx = call_context().model_copy(update={"device": device})
        await rig.adapter.search_slots(SlotQuery(service_id=SERVICE_ID), ctx)
        sent = claims(rig.ssp.seen[-1])["requesting_device"]
        assert sent == {
            "resourceType": "Device",
            "identifier": [{"system": "https://111.example/Id/device", "value": "pas-7"}],
            "model": "uec-gateway",
            "version": "0.1.0",
        }


async def test_referral_document_is_in_english_and_indexed_when_the_booking_was_asked(
    rig: Rig,
) -> None:
    """document_reference.md: attachment.language is sent; indexed is the request's time."""
    slot = await free_slot(rig.adapter)
    plain = booking_request(slot)
    assert plain.document is not None
    request = plain.model_copy(
        update={"document": plain.document.model_copy(update={"language": None})}
    )
    before = utcnow()
    booked = await rig.adapter.book(request, call_context())
    after = utcnow()
    (post,) = rig.ssp.requests("POST", r"/Appointment$")
    (sent,) = [c for c in body(post)["contained"] if c["resourceType"] == "DocumentReference"]
    assert sent["content"][0]["attachment"]["language"] == "en"
    indexed = datetime.fromisoformat(sent["indexed"])
    assert before - timedelta(milliseconds=1) <= indexed <= after, "the booking request's time"
    assert indexed != slot.start
    # What the provider holds is what is read back: the document as sent.
    assert booked.document is not None and booked.document.indexed == indexed
    assert (await rig.adapter.get(booked.supplier_ref, call_context())).document == booked.document


async def test_slot_search_sends_search_slots_md_parameters(rig: Rig) -> None:
    """service, status, start=ge/le with a +00:00 offset (percent-encoded) and the includes."""
    await free_slot(rig.adapter)
    seen = rig.ssp.requests("GET", r"/Slot\?")[-1]
    query = seen.target.partition("?")[2]
    assert "%2B00:00" in query, "a '+' in the offset must be percent-encoded"
    params = parse_qsl(query)
    assert ("service", SERVICE_ID) in params
    assert ("schedule.actor:healthcareservice", SERVICE_ID) in params
    assert ("status", "free") in params
    assert any(k == "start" and v.startswith("ge") for k, v in params)
    assert ("_include", "Slot:schedule") in params
    assert ("_include:iterate", "Schedule:actor:HealthcareService") in params


async def test_answers_are_asked_for_gzip_and_read_compressed(rig: Rig) -> None:
    """Accept-Encoding: gzip is sent; the provider's gzip answers are read (the SSP passes them)."""
    slot = await free_slot(rig.adapter)
    assert slot.start.utcoffset() is not None
    assert all(s.headers.get("Accept-Encoding") == "gzip" for s in rig.ssp.seen)
    assert any(encoding == "gzip" for *_, encoding in rig.ssp.answers)


async def test_booking_request_id_is_the_callers_idempotency_key(rig: Rig) -> None:
    """fs_xti.md: the POST's X-Request-ID comes from ctx.request_id; reads get fresh ones."""
    ctx = call_context()
    await _book_read_cancel(rig, ctx)
    post = rig.ssp.requests("POST")[0]
    assert post.headers["X-Request-ID"] == ctx.request_id
    reads = [s.headers["X-Request-ID"] for s in rig.ssp.requests("GET", "/Appointment/")]
    assert ctx.request_id not in reads and len(set(reads)) == len(reads)


async def test_unsafe_request_ids_are_replaced_by_a_stable_derived_id(rig: Rig) -> None:
    """A ctx.request_id unfit for a header (e.g. HL7 MSH-10 with spaces) maps to one UUID."""
    slot = await free_slot(rig.adapter)
    ctx = call_context("MSG 0001/ä")
    first = await rig.adapter.book(booking_request(slot), ctx)
    again = await rig.adapter.book(booking_request(slot), ctx)
    assert again.supplier_ref == first.supplier_ref
    sent = {s.headers["X-Request-ID"] for s in rig.ssp.requests("POST")}
    assert len(sent) == 1 and uuid.UUID(sent.pop())
