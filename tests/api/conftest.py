"""A real gateway on 127.0.0.1 over the embedded demo backend, and a consumer for it."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer

from gateway.app import create_app
from gateway.config import Settings
from gateway.config import load as load_config
from gateway.security.tokens import mint_token

ROOT = Path(__file__).resolve().parents[2]
DEMO_DATA = ROOT / "mappings" / "embedded" / "demo"
SERVICE_ID = "918999198999"
PHONE_SERVICE_ID = "918999198888"
SERVICE_ROOT_PATH = "/STU3/1/careconnect/appointment"
NHS_NUMBER = "9434765919"

READ_SLOTS = "organization/slot.read"
READ_APPTS = "patient/appointment.read"
WRITE_APPTS = "patient/appointment.write"


def write_config(tmp: Path, port: int, extra_services: str = "", ssp: str = "warn") -> Path:
    text = f"""
server:
  host: 127.0.0.1
  port: {port}
  service_root: http://127.0.0.1:{port}{SERVICE_ROOT_PATH}
security:
  ssp:
    enforcement: {ssp}
    asid: "200000000115"
store:
  path: {tmp / "gateway.sqlite3"}
logging:
  format: json
adapters:
  - name: diary
    kind: embedded
    options:
      database: {tmp / "embedded.sqlite3"}
      data_dir: {DEMO_DATA}
      horizon_days: 3
services:
  - id: "{SERVICE_ID}"
    adapter: diary
{extra_services}
"""
    path = tmp / "gateway.yaml"
    path.write_text(text, encoding="utf-8")
    return path


class Consumer:
    """A national booking consumer: mints JWTs and sends SSP headers like 111 would."""

    def __init__(
        self, client: TestClient[web.Request, web.Application], settings: Settings
    ) -> None:
        self.client = client
        self.settings = settings
        self.ods = "A1001"

    @property
    def root(self) -> str:
        return self.settings.server.service_root

    def headers(self, scope: str, interaction: str, **extra: str) -> dict[str, str]:
        token = mint_token(scope=scope, audience=self.root, organisation_ods=self.ods)
        return {
            "Authorization": f"Bearer {token}",
            "Ssp-TraceID": str(uuid.uuid4()),
            "Ssp-From": "200000000359",
            "Ssp-To": "200000000115",
            "Ssp-InteractionID": f"urn:nhs:names:services:careconnect:fhir:rest:{interaction}",
            "X-Request-ID": str(uuid.uuid4()),
            **extra,
        }

    async def search(self, query: str = "", **headers: str) -> ClientResponse:
        params = f"service={SERVICE_ID}&_include=Slot:schedule{query}"
        return await self.client.get(
            f"{SERVICE_ROOT_PATH}/Slot?{params}",
            headers={**self.headers(READ_SLOTS, "read:slot"), **headers},
        )

    async def free_slots(self, count: int = 1) -> list[dict[str, Any]]:
        resp = await self.search()
        assert resp.status == 200
        bundle = await resp.json(content_type=None)
        slots = [
            e["resource"]
            for e in bundle.get("entry", [])
            if e["resource"]["resourceType"] == "Slot"
        ]
        assert len(slots) >= count, "the demo diary should offer free slots"
        return slots[:count]

    async def book(self, body: dict[str, Any] | bytes, **headers: str) -> ClientResponse:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        hdrs = {
            **self.headers(WRITE_APPTS, "create:appointment"),
            "Content-Type": "application/fhir+json",
            **headers,
        }
        return await self.client.post(f"{SERVICE_ROOT_PATH}/Appointment", data=data, headers=hdrs)

    async def read(self, path: str, **headers: str) -> ClientResponse:
        return await self.client.get(
            f"{SERVICE_ROOT_PATH}/{path}",
            headers={**self.headers(READ_APPTS, "read:appointment"), **headers},
        )

    async def cancel(
        self, appointment_id: str, body: dict[str, Any], **headers: str
    ) -> ClientResponse:
        hdrs = {
            **self.headers(WRITE_APPTS, "update:appointment"),
            "Content-Type": "application/fhir+json",
            **headers,
        }
        return await self.client.put(
            f"{SERVICE_ROOT_PATH}/Appointment/{appointment_id}",
            data=json.dumps(body).encode(),
            headers=hdrs,
        )


def booking_body(slot: dict[str, Any], nhs_number: str | None = NHS_NUMBER) -> dict[str, Any]:
    """A booking as appointment.md's example builds it, for ``slot`` from a search."""
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": "P1",
        "name": [{"use": "official", "family": "Chalmers", "given": ["Peter"], "prefix": ["Mr"]}],
        "telecom": [{"system": "phone", "value": "01234 567 890", "use": "home", "rank": 1}],
        "gender": "male",
        "birthDate": "1974-12-25",
        "address": [
            {
                "use": "home",
                "line": ["123 High Street", "Leeds"],
                "city": "Leeds",
                "postalCode": "LS1 4HR",
            }
        ],
    }
    if nhs_number is not None:
        patient["identifier"] = [
            {
                "extension": [
                    {
                        "url": "https://fhir.hl7.org.uk/STU3/StructureDefinition/Extension-CareConnect-NHSNumberVerificationStatus-1",
                        "valueCodeableConcept": {
                            "coding": [
                                {
                                    "system": "https://fhir.hl7.org.uk/STU3/CodeSystem/CareConnect-NHSNumberVerificationStatus-1",
                                    "code": "01",
                                    "display": "Number present and verified",
                                }
                            ]
                        },
                    }
                ],
                "use": "official",
                "system": "https://fhir.nhs.uk/Id/nhs-number",
                "value": nhs_number,
            }
        ]
    return {
        "resourceType": "Appointment",
        "meta": {
            "profile": [
                "https://fhir.hl7.org.uk/STU3/StructureDefinition/CareConnect-Appointment-1"
            ]
        },
        "contained": [
            {
                "resourceType": "DocumentReference",
                "id": "123",
                "identifier": [
                    {"system": "https://tools.ietf.org/html/rfc4122", "value": str(uuid.uuid4())}
                ],
                "status": "current",
                "type": {
                    "coding": [
                        {
                            "system": "urn:oid:2.16.840.1.113883.2.1.3.2.4.18.17",
                            "code": "POCD_MT200001GB02",
                            "display": "Integrated Urgent Care Report",
                        }
                    ]
                },
                "indexed": "2018-12-20T09:43:41+11:00",
                "content": [
                    {"attachment": {"contentType": "application/hl7-v3+xml", "language": "en-GB"}}
                ],
            },
            patient,
            {
                "resourceType": "Slot",
                "id": "slot002",
                "identifier": slot["identifier"],
                "schedule": slot["schedule"],
                "status": "free",
                "start": slot["start"],
                "end": slot["end"],
            },
        ],
        "status": "booked",
        "description": "Reason for calling",
        "supportingInformation": [{"reference": "#123"}],
        "start": slot["start"],
        "end": slot["end"],
        "slot": [{"reference": "#slot002"}],
        "created": "2019-01-17T14:32:22.579+00:00",
        "participant": [{"actor": {"reference": "#P1"}}],
    }


Gateway = Callable[..., Awaitable[Consumer]]


@pytest.fixture
async def gateway(
    tmp_path: Path, unused_tcp_port_factory: Callable[[], int]
) -> AsyncIterator[Gateway]:
    """Start gateways (real sockets on 127.0.0.1); all are closed at the end."""
    clients: list[TestClient[web.Request, web.Application]] = []

    async def start(
        extra_services: str = "", ssp: str = "warn", folder: Path | None = None
    ) -> Consumer:
        port = unused_tcp_port_factory()
        where = folder or tmp_path
        settings = load_config(write_config(where, port, extra_services, ssp))
        server = TestServer(create_app(settings), host="127.0.0.1", port=port)
        client = TestClient(server)
        await client.start_server()
        clients.append(client)
        return Consumer(client, settings)

    yield start
    for client in clients:
        await client.close()


@pytest.fixture
async def consumer(gateway: Gateway) -> Consumer:
    return await gateway()
