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
from gateway.examples import EXAMPLE_NHS_NUMBER as NHS_NUMBER  # noqa: F401 (re-exported)
from gateway.examples import booking_body  # noqa: F401 (re-exported)
from gateway.http.server import GatewayRunner
from gateway.security.tokens import mint_token
from tests.stores import store_yaml

ROOT = Path(__file__).resolve().parents[2]
DEMO_DATA = ROOT / "mappings" / "embedded" / "demo"
SERVICE_ID = "918999198999"
PHONE_SERVICE_ID = "918999198888"
SERVICE_ROOT_PATH = "/STU3/1/careconnect/appointment"

READ_SLOTS = "organization/slot.read"
READ_APPTS = "patient/appointment.read"
WRITE_APPTS = "patient/appointment.write"


def write_config(
    tmp: Path,
    port: int,
    extra_services: str = "",
    ssp: str = "warn",
    extra_adapters: str = "",
    timeout_s: float = 10,
    jwt: str = "",
    data_dir: Path = DEMO_DATA,
    admin_token_env: str = "",
    horizon_days: int = 3,
    max_slots_per_page: int = 200,
    policy_folder: Path | None = None,
) -> Path:
    adapters = ""
    if extra_adapters:
        kind, _, behaviour = extra_adapters.partition(":")
        adapters = f"  - name: {kind}\n    kind: {kind}\n    options: {{behaviour: {behaviour}}}\n"
        extra_services += f'\n  - id: "555000111"\n    adapter: {kind}'
    text = f"""
server:
  host: 127.0.0.1
  port: {port}
  service_root: http://127.0.0.1:{port}{SERVICE_ROOT_PATH}
  request_timeout_s: {timeout_s}
  admin_token_env: {admin_token_env or "null"}
  max_slots_per_page: {max_slots_per_page}
security:
{jwt}  ssp:
    enforcement: {ssp}
    asid: "200000000115"
store:
  {store_yaml(tmp / "gateway.sqlite3")}
logging:
  format: json
adapters:
  - name: diary
    kind: embedded
    options:
      database: {tmp / "embedded.sqlite3"}
      data_dir: {data_dir}
      horizon_days: {horizon_days}
{adapters}services:
  - id: "{SERVICE_ID}"
    adapter: diary
{extra_services}
"""
    if policy_folder is not None:
        text += f"policy:\n  folder: {policy_folder}\n"
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


Gateway = Callable[..., Awaitable[Consumer]]


class GatewayTestServer(TestServer):
    """aiohttp's test server on the gateway's own runner (as ``uec-gateway serve`` runs)."""

    async def _make_runner(self, **kwargs: Any) -> web.BaseRunner:
        return GatewayRunner(self.app, **kwargs)


@pytest.fixture
async def gateway(
    tmp_path: Path, unused_tcp_port_factory: Callable[[], int]
) -> AsyncIterator[Gateway]:
    """Start gateways (real sockets on 127.0.0.1); all are closed at the end."""
    clients: list[TestClient[web.Request, web.Application]] = []

    async def start(folder: Path | None = None, **options: Any) -> Consumer:
        port = unused_tcp_port_factory()
        path = write_config(folder or tmp_path, port, **options)
        settings = load_config(path)
        server = GatewayTestServer(create_app(settings, path), host="127.0.0.1", port=port)
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
