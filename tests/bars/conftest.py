"""A real gateway on 127.0.0.1 serving both doors, and a BaRS sender for its R4 door.

The sender sends what the national proxy forwards: the transaction ids, the
Base64 JSON NHSD-* headers and an Accept naming the BaRS Core version.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient

from gateway.app import create_app
from gateway.config import Settings
from gateway.config import load as load_config
from gateway.examples import EXAMPLE_NHS_NUMBER
from tests.api.conftest import Consumer, GatewayTestServer, write_config

BARS_ROOT_PATH = "/bars/FHIR/R4"
DOS = "https://fhir.nhs.uk/Id/dos-service-id"
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
NHS = "https://fhir.nhs.uk/Id/nhs-number"
#: The DoS id the tests' targets table maps to the demo's urgent treatment centre.
DOS_ID = "2000099999"
VERIFICATION_EXT = (
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus"
)


def b64(data: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(data).encode()).decode()


def bars_section(port: int, service: str, timeout_s: float = 4.5) -> str:
    """The ``bars:`` configuration: a DoS id mapped to ``service`` (the other DoS ids as is)."""
    return f"""
bars:
  service_root: http://127.0.0.1:{port}{BARS_ROOT_PATH}
  request_timeout_s: {timeout_s}
  targets:
    - {{system: "{DOS}", value: "{DOS_ID}", service: "{service}"}}
"""


@dataclass
class Sender:
    """A BaRS sender (as 111 behind the national proxy) talking to the gateway's R4 door."""

    client: TestClient[web.Request, web.Application]
    settings: Settings
    target: dict[str, str] = field(default_factory=lambda: {"system": DOS, "value": DOS_ID})
    ods: str = "A1001"

    def headers(self, **extra: str) -> dict[str, str]:
        org = {"resourceType": "Organization", "identifier": [{"system": ODS, "value": self.ods}]}
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
        out = {
            "X-Request-Id": str(uuid.uuid4()),
            "X-Correlation-Id": str(uuid.uuid4()),
            "NHSD-Target-Identifier": b64(self.target),
            "NHSD-End-User-Organisation": b64(org),
            "NHSD-Requesting-Software": b64(device),
            "NHSD-Requesting-Practitioner": b64(role),
            "Accept": "application/fhir+json; version=1.5.0",
        }
        return {**out, **extra}

    async def get(self, path: str, **headers: str) -> ClientResponse:
        return await self.client.get(f"{BARS_ROOT_PATH}{path}", headers=self.headers(**headers))

    async def search(
        self, *, lead: timedelta = timedelta(hours=1), **headers: str
    ) -> ClientResponse:
        start = datetime.now(UTC) + lead
        params = [
            ("status", "free"),
            ("start", "ge" + start.isoformat(timespec="seconds")),
            ("start", "le" + (start + timedelta(days=3)).isoformat(timespec="seconds")),
            ("_include", "Slot:schedule"),
            ("_include", "Schedule:actor:HealthcareService"),
        ]
        return await self.client.get(
            f"{BARS_ROOT_PATH}/Slot", params=params, headers=self.headers(**headers)
        )

    async def free_slots(self, count: int = 1) -> list[dict[str, Any]]:
        resp = await self.search()
        assert resp.status == 200, await resp.text()
        bundle = await resp.json(content_type=None)
        slots = [
            e["resource"]
            for e in bundle.get("entry", [])
            if e["resource"]["resourceType"] == "Slot"
        ]
        assert len(slots) >= count, "the diary should offer free slots an hour ahead or later"
        return slots[:count]

    async def offered(self) -> set[str]:
        """The ids of the free slots the first page of a search offers."""
        resp = await self.search()
        assert resp.status == 200, await resp.text()
        bundle = await resp.json(content_type=None)
        return {
            e["resource"]["id"]
            for e in bundle.get("entry", [])
            if e["resource"]["resourceType"] == "Slot"
        }

    async def send(
        self, method: str, path: str, body: dict[str, Any], **headers: str
    ) -> ClientResponse:
        hdrs = self.headers(**{"Content-Type": "application/fhir+json", **headers})
        return await self.client.request(
            method, f"{BARS_ROOT_PATH}{path}", data=json.dumps(body).encode(), headers=hdrs
        )

    async def book(self, slot: dict[str, Any], **headers: str) -> ClientResponse:
        return await self.send("POST", "/Appointment", appointment_body(slot), **headers)


def appointment_body(slot: dict[str, Any], nhs_number: str = EXAMPLE_NHS_NUMBER) -> dict[str, Any]:
    """A UK Core Appointment for ``slot`` (Appointment-StandardPattern/Initial-Booking)."""
    patient = {
        "resourceType": "Patient",
        "id": "patient1",
        "identifier": [
            {
                "extension": [
                    {
                        "url": VERIFICATION_EXT,
                        "valueCodeableConcept": {
                            "coding": [
                                {
                                    "system": "https://fhir.hl7.org.uk/CodeSystem/"
                                    "UKCore-NHSNumberVerificationStatusEngland",
                                    "code": "01",
                                }
                            ]
                        },
                    }
                ],
                "system": NHS,
                "value": nhs_number,
            }
        ],
        "name": [{"use": "official", "family": "Chalmers", "given": ["Peter"]}],
        "gender": "male",
        "birthDate": "1974-12-25",
        "address": [
            {
                "use": "home",
                "line": ["1 Trevelyan Square"],
                "city": "Leeds",
                "postalCode": "LS1 6AE",
            }
        ],
    }
    return {
        "resourceType": "Appointment",
        "meta": {"profile": ["https://fhir.hl7.org.uk/StructureDefinition/UKCore-Appointment"]},
        "contained": [patient],
        "status": "booked",
        "description": "Reason for calling",
        "start": slot["start"],
        "end": slot["end"],
        "slot": [{"reference": f"Slot/{slot['id']}"}],
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "participant": [{"actor": {"reference": "#patient1"}, "status": "accepted"}],
    }


@dataclass
class Doors:
    """One gateway, seen through both of its doors."""

    bars: Sender
    stu3: Consumer


Start = Callable[..., Awaitable[Doors]]


@pytest.fixture
async def both_doors(
    tmp_path: Path, unused_tcp_port_factory: Callable[[], int]
) -> AsyncIterator[Start]:
    """Start gateways over the embedded demo diary serving STU3 and BaRS (real sockets)."""
    clients: list[TestClient[web.Request, web.Application]] = []

    async def start(
        bars_timeout_s: float = 4.5, policy: Path | None = None, **options: Any
    ) -> Doors:
        port = unused_tcp_port_factory()
        path = write_config(tmp_path, port, **options)
        service = "555000111" if options.get("extra_adapters") else "918999198999"
        with path.open("a", encoding="utf-8") as handle:
            handle.write(bars_section(port, service, bars_timeout_s))
            if policy is not None:  # booking rules across borders (gateway/policy/)
                handle.write(f"policy:\n  folder: {policy}\n")
        settings = load_config(path)
        server = GatewayTestServer(create_app(settings, path), host="127.0.0.1", port=port)
        client = TestClient(server)
        await client.start_server()
        clients.append(client)
        return Doors(Sender(client, settings), Consumer(client, settings))

    yield start
    for client in clients:
        await client.close()


@pytest.fixture
async def doors(both_doors: Start) -> Doors:
    return await both_doors()
