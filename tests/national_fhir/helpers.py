"""Small helpers shared by the national FHIR adapter's tests."""

from __future__ import annotations

import json
from typing import Any

import jwt

from adapters.domain import Slot, SlotQuery, utcnow
from adapters.national_fhir import NationalFhirAdapter
from tests.contract.builders import call_context
from tests.national_fhir.conftest import SERVICE_ID
from tests.national_fhir.stub_ssp import Seen

URN = "urn:nhs:names:services:careconnect:fhir:rest:"


async def free_slot(adapter: NationalFhirAdapter, index: int = 0) -> Slot:
    """A free slot of the demo service, at least five minutes ahead."""
    from datetime import timedelta

    query = SlotQuery(service_id=SERVICE_ID, start_from=utcnow() + timedelta(minutes=5))
    result = await adapter.search_slots(query, call_context())
    return result.slots[index]


def claims(seen: Seen) -> dict[str, Any]:
    """The JWT a request carried, decoded without verification (it is unsigned by design)."""
    token = seen.headers["Authorization"].removeprefix("Bearer ")
    assert token.endswith("."), "an unsecured JWT has an empty signature"
    assert jwt.get_unverified_header(token)["alg"] == "none"
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded


def body(seen: Seen) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(seen.body)
    return decoded


def outcome(code: str, spine: str | None = None, diagnostics: str = "") -> bytes:
    """An OperationOutcome as a provider or the SSP would send it."""
    issue: dict[str, Any] = {"severity": "error", "code": code}
    if spine:
        issue["details"] = {"coding": [{"code": spine}]}
    if diagnostics:
        issue["diagnostics"] = diagnostics
    return json.dumps(
        {"resourceType": "OperationOutcome", "id": "ERR-1", "issue": [issue]}
    ).encode()
