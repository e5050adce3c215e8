"""The servicerequest-request MessageDefinitions' focus rows, enforced on incoming referrals.

Over a real gateway on 127.0.0.1 (the fixture of ``tests/api/test_referral_read.py``)
with the published REFREQ01 (its NHS number made valid): as published it is taken;
a resource type outside the definition, or a count outside its min..max, is
400 REC_BAD_REQUEST naming the entry or the type in ``expression``, and nothing is stored.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from gateway.bars.messaging_referral import CANCEL
from tests.api.test_referral_read import _json, _message, _send, doors
from tests.bars.conftest import BARS_ROOT_PATH, Doors

Json = dict[str, Any]
__all__ = ["doors"]


async def _refused(doors: Doors, message: Json) -> Json:
    resp = await doors.bars.client.post(
        f"{BARS_ROOT_PATH}/$process-message",
        data=json.dumps(message).encode(),
        headers=doors.bars.headers(**{"Content-Type": "application/fhir+json"}),
    )
    outcome = await _json(resp)
    assert resp.status == 400, outcome
    issue: Json = outcome["issue"][0]
    assert issue["details"]["coding"][0]["code"] == "REC_BAD_REQUEST"
    return issue


def _without(message: Json, kind: str) -> Json:
    out = copy.deepcopy(message)
    out["entry"] = [e for e in out["entry"] if e["resource"]["resourceType"] != kind]
    return out


def _twice(message: Json, kind: str) -> Json:
    out = copy.deepcopy(message)
    entry = next(e for e in out["entry"] if e["resource"]["resourceType"] == kind)
    out["entry"].append({**copy.deepcopy(entry), "fullUrl": entry["fullUrl"] + "-copy"})
    return out


async def test_the_published_referral_is_taken_as_its_definition_allows(doors: Doors) -> None:
    """REFREQ01 as published (NHS number swapped) meets every focus row: 200, stored."""
    stored = await _send(doors, _message())
    assert stored["status"] == "active"


async def test_a_missing_required_resource_is_a_400_naming_its_type(doors: Doors) -> None:
    """No Encounter (1..1) or no Consent (1..*): 400 required, ofType(<type>), nothing stored."""
    for kind in ("Encounter", "Consent", "HealthcareService"):
        issue = await _refused(doors, _without(_message(), kind))
        assert issue["code"] == "required"
        assert issue["expression"] == [f"Bundle.entry.resource.ofType({kind})"]
        assert (
            f"takes 1..1 {kind}" in issue["diagnostics"] or f"1..* {kind}" in issue["diagnostics"]
        )


async def test_one_resource_too_many_is_a_400_naming_its_type(doors: Doors) -> None:
    """Two CarePlans (0..1 beyond 1..1) in a new referral: 400 invariant, ofType(CarePlan)."""
    issue = await _refused(doors, _twice(_message(), "CarePlan"))
    assert issue["code"] == "invariant"
    assert issue["expression"] == ["Bundle.entry.resource.ofType(CarePlan)"]
    assert "the Bundle has 2" in issue["diagnostics"]


async def test_a_resource_the_definition_does_not_list_is_a_400_naming_the_entry(
    doors: Doors,
) -> None:
    """An Appointment entry in a referral message: 400 naming Bundle.entry[n].resource."""
    message = _message()
    message["entry"].append(
        {
            "fullUrl": "urn:uuid:5d1c2a8e-0f5e-4a8e-9d53-8f7f3c1e2b11",
            "resource": {
                "resourceType": "Appointment",
                "meta": {"lastUpdated": "2026-01-01T10:00:00+00:00"},
                "status": "booked",
                "participant": [{"status": "accepted"}],
            },
        }
    )
    issue = await _refused(doors, message)
    assert issue["expression"] == [f"Bundle.entry[{len(message['entry']) - 1}].resource"]
    assert "Appointment is not a resource of" in issue["diagnostics"]


async def test_a_cancel_naming_the_cancelled_definition_carries_only_its_resources(
    doors: Doors,
) -> None:
    """A delete naming the cancelled definition with an Encounter: 400; with its rows only: 200."""
    stored = await _send(doors, _message())
    cancel = _message(reason="delete")
    cancel["entry"][0]["resource"]["definition"] = CANCEL.url
    focus = next(e for e in cancel["entry"] if e["resource"]["resourceType"] == "ServiceRequest")
    focus["resource"]["id"] = stored["id"]
    issue = await _refused(doors, cancel)
    assert "is not a resource of " + CANCEL.url in issue["diagnostics"]
    kept = cancel["entry"]
    allowed = {"MessageHeader", "ServiceRequest", "Patient", "Organization"}
    cancel["entry"] = [e for e in kept if e["resource"]["resourceType"] in allowed]
    focus["resource"].pop("basedOn", None)
    focus["resource"].pop("supportingInfo", None)
    focus["resource"].pop("encounter", None)
    resp = await doors.bars.client.post(
        f"{BARS_ROOT_PATH}/$process-message",
        data=json.dumps(cancel).encode(),
        headers=doors.bars.headers(**{"Content-Type": "application/fhir+json"}),
    )
    assert resp.status == 200, await resp.text()
    revoked = next(
        e["resource"]
        for e in (await _json(resp))["entry"]
        if e["resource"]["resourceType"] == "ServiceRequest"
    )
    assert revoked["status"] == "revoked"
