"""The reference registry peer over real sockets: the DocumentReference interface, its
OperationOutcomes for bad input, its search, its faults, and ``uec-gateway simulate registry``."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from gateway.examples import EXAMPLE_NHS_NUMBER
from gateway.registry.peer import RegistryPeer
from gateway.registry.pointer import PointerSite, pointer_for
from tests.samples import ROOT, absent
from tests.store.contract import make_version

EXAMPLES = ROOT.parent / "shared" / "spec" / "bars" / "api" / "examples" / "document_reference"
NHS = "https://fhir.nhs.uk/Id/nhs-number"
SITE = PointerSite("RX1", "https://gw.example/bars/FHIR/R4", dos_ids={"svc-1": "2000099999"})


def _pointer(
    appointment_id: str = "appt-1", nhs_number: str = EXAMPLE_NHS_NUMBER
) -> dict[str, Any]:
    made = pointer_for(make_version(appointment_id, nhs_number=nhs_number), SITE)
    assert made is not None
    return {**made.resource, "date": "2026-12-01T10:00:00+00:00"}


def _ids(**extra: str) -> dict[str, str]:
    return {"X-Request-Id": str(uuid.uuid4()), "X-Correlation-Id": str(uuid.uuid4()), **extra}


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _code(resp: aiohttp.ClientResponse) -> str:
    body = await resp.json(content_type=None)
    assert body["resourceType"] == "OperationOutcome"
    return str(body["issue"][0]["details"]["coding"][0]["code"])


async def _create(http: aiohttp.ClientSession, peer: RegistryPeer, body: Any) -> str:
    resp = await http.post(f"{peer.url}/DocumentReference", json=body, headers=_ids())
    assert resp.status == 201, await resp.text()
    assert await _code(resp) == "RESOURCE_CREATED"
    return resp.headers["Location"].rsplit("/", 1)[1]


async def test_create_read_update_delete(
    registry: RegistryPeer, http: aiohttp.ClientSession
) -> None:
    """POST answers 201 with Location; GET reads it; PUT changes its period; DELETE removes it."""
    made = await _create(http, registry, _pointer())
    url = f"{registry.url}/DocumentReference/{made}"
    read = await (await http.get(url, headers=_ids())).json(content_type=None)
    assert read["id"] == made and read["meta"]["lastUpdated"]
    read["context"]["period"]["start"] = "2030-01-01T09:00:00+00:00"
    resp = await http.put(url, json=read, headers=_ids())
    assert (resp.status, await _code(resp)) == (200, "RESOURCE_UPDATED")
    again = await (await http.get(url, headers=_ids())).json(content_type=None)
    assert again["context"]["period"]["start"] == "2030-01-01T09:00:00+00:00"
    resp = await http.delete(url, headers=_ids())
    assert (resp.status, await _code(resp)) == (200, "RESOURCE_DELETED")
    resp = await http.get(url, headers=_ids())
    assert (resp.status, await _code(resp)) == (404, "RESOURCE_NOT_FOUND")


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"not json", "not JSON"),
        ({"resourceType": "Patient"}, "not a DocumentReference"),
        ({"resourceType": "DocumentReference", "status": "current"}, "content"),
        ("bad-nhs", "valid NHS number"),
        ("no-url", "attachment.url"),
    ],
)
async def test_bad_pointers_are_400_operation_outcomes(
    registry: RegistryPeer, http: aiohttp.ClientSession, body: Any, says: str
) -> None:
    """A body that is not a BaRS booking pointer is 400 INVALID_RESOURCE saying why."""
    if body == "bad-nhs":
        body = _pointer(nhs_number="1234567890")
    elif body == "no-url":
        body = _pointer()
        del body["content"][0]["attachment"]["url"]
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    resp = await http.post(f"{registry.url}/DocumentReference", data=data, headers=_ids())
    assert resp.status == 400
    outcome = await resp.json(content_type=None)
    assert outcome["issue"][0]["details"]["coding"][0]["code"] == "INVALID_RESOURCE"
    assert says in outcome["issue"][0]["diagnostics"]
    assert not registry.pointers()


async def test_transaction_ids_are_required_and_mirrored(
    registry: RegistryPeer, http: aiohttp.ClientSession
) -> None:
    """Without X-Request-Id it is 400; with both ids they come back on the answer."""
    resp = await http.post(f"{registry.url}/DocumentReference", json=_pointer())
    assert (resp.status, await _code(resp)) == (400, "MISSING_OR_INVALID_HEADER")
    ids = _ids()
    resp = await http.get(f"{registry.url}/DocumentReference/nope", headers=ids)
    assert resp.headers["X-Request-Id"] == ids["X-Request-Id"]
    assert resp.headers["X-Correlation-Id"] == ids["X-Correlation-Id"]


async def test_a_resent_create_is_409_naming_the_first(
    registry: RegistryPeer, http: aiohttp.ClientSession
) -> None:
    """A POST resent with the same X-Request-Id makes nothing: 409 with Content-Location."""
    ids = _ids()
    first = await http.post(f"{registry.url}/DocumentReference", json=_pointer(), headers=ids)
    again = await http.post(f"{registry.url}/DocumentReference", json=_pointer(), headers=ids)
    assert (first.status, again.status) == (201, 409)
    assert again.headers["Content-Location"] == first.headers["Location"]
    assert len(registry.pointers()) == 1


async def test_put_keeps_subject_custodian_and_type(
    registry: RegistryPeer, http: aiohttp.ClientSession
) -> None:
    """A PUT changing the subject, or naming another id, is 400; the pointer is unchanged."""
    made = await _create(http, registry, _pointer())
    url = f"{registry.url}/DocumentReference/{made}"
    other = {**_pointer(nhs_number="9000000009"), "id": made}
    resp = await http.put(url, json=other, headers=_ids())
    assert resp.status == 400 and "subject" in (await resp.text())
    resp = await http.put(url, json={**_pointer(), "id": "another"}, headers=_ids())
    assert resp.status == 400
    resp = await http.put(f"{url}x", json={**_pointer(), "id": f"{made}x"}, headers=_ids())
    assert resp.status == 404
    (held,) = registry.pointers()
    assert held["subject"]["identifier"]["value"] == EXAMPLE_NHS_NUMBER


async def test_search_needs_the_patient_and_narrows_by_custodian_and_type(
    registry: RegistryPeer, http: aiohttp.ClientSession
) -> None:
    """subject:identifier is required (400); custodian:identifier and type narrow the match."""
    await _create(http, registry, _pointer("a"))
    referral = _pointer("b")
    referral["type"] = {"coding": [{"system": "http://snomed.info/sct", "code": "736253002"}]}
    await _create(http, registry, referral)
    await _create(http, registry, _pointer("c", nhs_number="9000000009"))
    root = f"{registry.url}/DocumentReference"
    resp = await http.get(root, params={"type": "http://snomed.info/sct|736253002"}, headers=_ids())
    assert (resp.status, await _code(resp)) == (400, "INVALID_PARAMETER")

    async def found(**params: str) -> int:
        query = {"subject:identifier": f"{NHS}|{EXAMPLE_NHS_NUMBER}", **params}
        resp = await http.get(root, params=query, headers=_ids())
        bundle = await resp.json(content_type=None)
        assert bundle["type"] == "searchset"
        return int(bundle["total"])

    assert await found() == 2
    assert await found(type="http://snomed.info/sct|749001000000101") == 1
    ods = "https://fhir.nhs.uk/Id/ods-organization-code"
    assert await found(**{"custodian:identifier": f"{ods}|RX1"}) == 2
    assert await found(**{"custodian:identifier": f"{ods}|OTHER"}) == 0


async def test_faults_set_at_run_time(registry: RegistryPeer, http: aiohttp.ClientSession) -> None:
    """PUT /_peer/fault makes the next create 503 once; then the registry serves again."""
    control = f"http://{registry.host}:{registry.port}/_peer/fault"
    resp = await http.put(control, json={"mode": "503", "operations": ["create"], "times": 1})
    assert resp.status == 200
    resp = await http.post(f"{registry.url}/DocumentReference", json=_pointer(), headers=_ids())
    assert (resp.status, await _code(resp)) == (503, "SERVICE_UNAVAILABLE")
    await _create(http, registry, _pointer())


async def test_the_published_example_is_accepted(
    registry: RegistryPeer, http: aiohttp.ClientSession
) -> None:
    """The API spec's POST-body.json example is a pointer the reference registry takes."""
    path = EXAMPLES / "POST-body.json"
    if not path.exists():
        pytest.skip(absent(path))
    await _create(http, registry, json.loads(path.read_text(encoding="utf-8")))


async def test_simulate_registry_runs_the_peer(
    unused_tcp_port: int, http: aiohttp.ClientSession
) -> None:
    """``uec-gateway simulate registry --port N`` serves pointers until it is stopped."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway.cli",
        "simulate",
        "registry",
        "--port",
        str(unused_tcp_port),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 20)
        assert line.decode().startswith("registry peer listening on http://127.0.0.1:")
        url = f"http://127.0.0.1:{unused_tcp_port}/FHIR/R4/DocumentReference"
        resp = await http.post(url, json=_pointer(), headers=_ids())
        assert resp.status == 201
    finally:
        process.terminate()
        assert await asyncio.wait_for(process.wait(), 20) == 0
