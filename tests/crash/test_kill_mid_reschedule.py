"""A real gateway process killed mid-reschedule, restarted on the same store.

The REST peer holds the release of the old booking (its cancel is slowed) after
the new slot is booked; the gateway is killed with SIGKILL while it waits. The
restarted gateway, once the dead holder's lease lapses, finishes the reschedule:
the patient keeps exactly one booking at the supplier, in the new slot, and the
appointment's version 2 names it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.bars.conftest import BARS_ROOT_PATH, DOS, DOS_ID, appointment_body, bars_section
from tests.crash._rig import REST_KEY, REST_KEY_ENV, REST_SERVICE, Rig, kill
from tests.crash.conftest import LEASE_S

Json = dict[str, Any]
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"


def _b64(data: Json) -> str:
    return base64.b64encode(json.dumps(data).encode()).decode()


def _headers(**extra: str) -> dict[str, str]:
    org = {"resourceType": "Organization", "identifier": [{"system": ODS, "value": "A1001"}]}
    device = {
        "resourceType": "Device",
        "identifier": [{"system": "https://sender.example/Id/device", "value": "SEND-1"}],
        "deviceName": {"name": "Test sender", "type": "manufacturer-name"},
        "version": {"value": "1.0.0"},
    }
    role = {
        "resourceType": "PractitionerRole",
        "identifier": [
            {"system": "https://fhir.nhs.uk/Id/sds-role-profile-id", "value": "100334993514"}
        ],
    }
    return {
        "NHSD-Requesting-Software": _b64(device),
        "NHSD-Requesting-Practitioner": _b64(role),
        "X-Request-Id": str(uuid.uuid4()),
        "X-Correlation-Id": str(uuid.uuid4()),
        "NHSD-Target-Identifier": _b64({"system": DOS, "value": DOS_ID}),
        "NHSD-End-User-Organisation": _b64(org),
        "Accept": "application/fhir+json; version=1.5.0",
        "Content-Type": "application/fhir+json",
        **extra,
    }


@pytest.fixture
async def rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Rig]:
    """The crash rig with the BaRS door routed to the REST peer's service."""
    monkeypatch.setenv(REST_KEY_ENV, REST_KEY)
    rig = Rig(tmp_path, LEASE_S)
    with rig.config.open("a", encoding="utf-8") as handle:
        handle.write(bars_section(rig.port, REST_SERVICE, timeout_s=30))
    try:
        await rig.start_peer()
        await rig.start_gateway()
        yield rig
    finally:
        await rig.close()


def _url(rig: Rig, path: str) -> str:
    return f"http://127.0.0.1:{rig.port}{BARS_ROOT_PATH}{path}"


async def _slots(rig: Rig, http: aiohttp.ClientSession) -> list[Json]:
    start = datetime.now(UTC) + timedelta(hours=1)
    params = [
        ("status", "free"),
        ("start", "ge" + start.isoformat(timespec="seconds")),
        ("start", "le" + (start + timedelta(days=1)).isoformat(timespec="seconds")),
        ("_include", "Slot:schedule"),
        ("_include", "Schedule:actor:HealthcareService"),
    ]
    async with http.get(_url(rig, "/Slot"), params=params, headers=_headers()) as resp:
        assert resp.status == 200, await resp.text()
        bundle = await resp.json(content_type=None)
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Slot"]


async def _until(what: str, check: Any, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        await asyncio.sleep(0.1)


async def test_a_gateway_killed_mid_reschedule_finishes_it_on_restart(rig: Rig) -> None:
    """SIGKILL between the new booking and the old one's release: after the restart one
    booking, in the new slot, and version 2 names it."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=40)) as http:
        first, second = (await _slots(rig, http))[:2]
        body = json.dumps(appointment_body(first)).encode()
        async with http.post(_url(rig, "/Appointment"), data=body, headers=_headers()) as r:
            assert r.status == 201, await r.text()
            booked = await r.json(content_type=None)
        hold = {"mode": "slow", "operations": ["cancel"], "times": 1, "delay_s": 30}
        await rig.peer_json("PUT", "/_peer/fault", hold)
        move = {
            "resourceType": "Appointment",
            "id": booked["id"],
            "meta": {"versionId": "1"},
            "slot": [{"reference": f"Slot/{second['id']}"}],
            "start": second["start"],
            "end": second["end"],
        }

        async def reschedule() -> int:
            url, data = _url(rig, f"/Appointment/{booked['id']}"), json.dumps(move).encode()
            async with http.patch(url, data=data, headers=_headers()) as resp:
                return resp.status

        sent = asyncio.create_task(reschedule())

        async def releasing() -> bool:
            stats = await rig.peer_json("GET", "/_peer/stats")
            return int(stats["requests"].get("cancel", 0)) >= 1

        await _until("the old booking's release to reach the supplier", releasing)
        assert len(rig.supplier_bookings()) == 2, "new slot booked, old not yet released"
        await kill(rig.gateway)
        with contextlib.suppress(aiohttp.ClientError):
            await sent
        await rig.start_gateway()

        async def finished() -> bool:
            url = _url(rig, f"/Appointment/{booked['id']}")
            async with http.get(url, headers=_headers()) as resp:
                read = await resp.json(content_type=None)
            return bool(read["meta"]["versionId"] == "2")

        await _until("the restarted gateway to finish the reschedule", finished)
        live = rig.supplier_bookings()
        assert len(live) == 1, live
        async with http.get(_url(rig, f"/Appointment/{booked['id']}"), headers=_headers()) as r:
            read = await r.json(content_type=None)
        assert read["status"] == "booked"
        assert read["slot"] == [{"reference": f"Slot/{second['id']}"}]
        assert rig.gateway_events("in_doubt_rescheduled") == 1
