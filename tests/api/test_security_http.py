"""JWT, SSP headers and consumer allow-lists at the HTTP surface (fs_authentication.md)."""

from __future__ import annotations

import dataclasses
import time

import pytest

from gateway.security.tokens import build_payload, encode_token, mint_token
from tests.api.conftest import (
    NHS_NUMBER,
    READ_SLOTS,
    SERVICE_ID,
    SERVICE_ROOT_PATH,
    WRITE_APPTS,
    Consumer,
    Gateway,
    booking_body,
)


async def _slots_with(
    consumer: Consumer, authorization: str | None
) -> tuple[int, dict[str, object]]:
    headers = consumer.headers(READ_SLOTS, "read:slot")
    if authorization is None:
        del headers["Authorization"]
    else:
        headers["Authorization"] = authorization
    resp = await consumer.client.get(
        f"{SERVICE_ROOT_PATH}/Slot?service={SERVICE_ID}", headers=headers
    )
    return resp.status, await resp.json(content_type=None)


def _code(outcome: dict[str, object]) -> str:
    issue = outcome["issue"][0]  # type: ignore[index]
    return str(issue["details"]["coding"][0]["code"])


async def test_expired_token_is_403(consumer: Consumer) -> None:
    """A token whose exp has passed is 403 ACCESS_DENIED naming exp."""
    old = mint_token(scope=READ_SLOTS, audience=consumer.root, now=time.time() - 3600)
    status, outcome = await _slots_with(consumer, f"Bearer {old}")
    assert status == 403 and _code(outcome) == "ACCESS_DENIED"
    assert "exp" in str(outcome)


async def test_wrong_audience_is_403(consumer: Consumer) -> None:
    """A token for another provider's service root is 403."""
    token = mint_token(scope=READ_SLOTS, audience="https://other.provider.nhs.uk/STU3/1")
    status, outcome = await _slots_with(consumer, f"Bearer {token}")
    assert status == 403 and "aud" in str(outcome)


async def test_wrong_scope_is_403(consumer: Consumer) -> None:
    """A slot.read token cannot book; an appointment token cannot search slots."""
    token = mint_token(scope="patient/appointment.read", audience=consumer.root)
    status, _ = await _slots_with(consumer, f"Bearer {token}")
    assert status == 403
    (slot,) = await consumer.free_slots()
    read_only = mint_token(scope=READ_SLOTS, audience=consumer.root)
    resp = await consumer.book(booking_body(slot), Authorization=f"Bearer {read_only}")
    assert resp.status == 403
    assert (await consumer.free_slots(1))[0]["id"] == slot["id"], "nothing was booked"


async def test_missing_token_is_403_and_garbage_token_is_400(consumer: Consumer) -> None:
    """No Authorization is 403 with WWW-Authenticate; an undecodable JWT is 400 (er_overview.md)."""
    status, _ = await _slots_with(consumer, None)
    assert status == 403
    status, outcome = await _slots_with(consumer, "Bearer not.a-jwt")
    assert status == 400 and outcome["resourceType"] == "OperationOutcome"


async def test_ssp_headers_enforced_when_configured(gateway: Gateway) -> None:
    """With SSP enforcement on, a wrong Ssp-InteractionID is 403; the right one passes."""
    consumer = await gateway(ssp="enforce")
    headers = consumer.headers(READ_SLOTS, "read:metadata")
    resp = await consumer.client.get(
        f"{SERVICE_ROOT_PATH}/Slot?service={SERVICE_ID}", headers=headers
    )
    assert resp.status == 403
    assert "Ssp-InteractionID" in (await resp.text())
    assert (await consumer.search()).status == 200


async def test_ssp_headers_only_warned_by_default(consumer: Consumer) -> None:
    """In the default warn mode a request without SSP headers is still served."""
    headers = {"Authorization": consumer.headers(READ_SLOTS, "read:slot")["Authorization"]}
    resp = await consumer.client.get(
        f"{SERVICE_ROOT_PATH}/Slot?service={SERVICE_ID}", headers=headers
    )
    assert resp.status == 200


async def test_allow_list_refuses_other_organisations(gateway: Gateway) -> None:
    """A service allowing only ODS X26 refuses to book for A1001 (403) and books for X26."""
    consumer = await gateway(
        extra_services='  - id: "918999198888"\n    adapter: diary\n    allowed_consumers: ["X26"]'
    )
    resp = await consumer.client.get(
        f"{SERVICE_ROOT_PATH}/Slot?service=918999198888",
        headers=consumer.headers(READ_SLOTS, "read:slot"),
    )
    assert resp.status == 200
    slot = next(e["resource"] for e in (await resp.json(content_type=None))["entry"])
    refused = await consumer.book(booking_body(slot))
    assert refused.status == 403
    consumer.ods = "X26"
    allowed = await consumer.book(booking_body(slot))
    assert allowed.status == 201


async def test_audit_records_who_did_what(consumer: Consumer) -> None:
    """Every API call leaves a provenance record: interaction, organisation, device, outcome."""
    from gateway.http.exchange import AUDIT, STORE

    (slot,) = await consumer.free_slots()
    resp = await consumer.book(booking_body(slot), **{"X-Request-ID": "audit-me"})
    assert resp.status == 201
    await consumer.client.app[AUDIT].flush()  # type: ignore[index]
    entries = await consumer.client.app[STORE].audit_entries(10)  # type: ignore[union-attr]
    booked = next(e for e in entries if e.interaction == "book")
    assert booked.organisation_ods == "A1001"
    assert booked.device_id == "uec-gateway-cli"
    assert booked.correlation_id == "audit-me"
    assert booked.status == 201 and booked.appointment_id
    assert any(e.interaction == "slot_search" for e in entries)


async def test_audit_holds_the_authors_name_and_role(consumer: Consumer) -> None:
    """fs_authentication.md Provenance: the audit keeps the user's name and role, no patient."""
    from gateway.http.exchange import AUDIT, STORE

    claims = build_payload(scope=WRITE_APPTS, audience=consumer.root)
    claims["requesting_practitioner"]["name"] = [
        {"family": "Jones", "given": ["Claire"], "prefix": ["Dr"]}
    ]
    claims["requesting_practitioner"]["identifier"][1]["value"] = "444555666777"
    (slot,) = await consumer.free_slots()
    resp = await consumer.book(booking_body(slot), Authorization=f"Bearer {encode_token(claims)}")
    assert resp.status == 201, await resp.text()
    await consumer.client.app[AUDIT].flush()  # type: ignore[index]
    entries = await consumer.client.app[STORE].audit_entries(10)  # type: ignore[union-attr]
    booked = next(e for e in entries if e.interaction == "book")
    assert (booked.practitioner_id, booked.practitioner_name, booked.practitioner_role) == (
        "10019",
        "Dr Claire Jones",
        "444555666777",
    )
    searched = next(e for e in entries if e.interaction == "slot_search")
    assert (searched.practitioner_name, searched.practitioner_role) == ("Demo Clinician", "UNK")
    recorded = " ".join(str(v) for e in entries for v in dataclasses.astuple(e))
    assert NHS_NUMBER not in recorded and "Chalmers" not in recorded


async def test_write_token_books(consumer: Consumer) -> None:
    """The write scope used to book also reads the appointment back (fs_authentication.md)."""
    (slot,) = await consumer.free_slots()
    booked = await (await consumer.book(booking_body(slot))).json(content_type=None)
    headers = consumer.headers(WRITE_APPTS, "read:appointment")
    resp = await consumer.client.get(
        f"{SERVICE_ROOT_PATH}/Appointment/{booked['id']}", headers=headers
    )
    assert resp.status == 200


async def test_signed_tokens_verified_against_configured_keys(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With an HS256 key configured and unsigned tokens off, only a rightly signed token passes."""
    secret = "s" * 40
    monkeypatch.setenv("UEC_TEST_JWT_SECRET", secret)
    jwt_yaml = (
        "  jwt:\n    allow_unsigned: false\n"
        "    keys:\n      - algorithm: HS256\n        secret_env: UEC_TEST_JWT_SECRET\n"
    )
    consumer = await gateway(jwt=jwt_yaml)
    unsigned = mint_token(scope=READ_SLOTS, audience=consumer.root)
    status, _ = await _slots_with(consumer, f"Bearer {unsigned}")
    assert status == 403
    wrong = mint_token(scope=READ_SLOTS, audience=consumer.root, algorithm="HS256", key="w" * 40)
    status, _ = await _slots_with(consumer, f"Bearer {wrong}")
    assert status == 403
    signed = mint_token(scope=READ_SLOTS, audience=consumer.root, algorithm="HS256", key=secret)
    status, _ = await _slots_with(consumer, f"Bearer {signed}")
    assert status == 200
