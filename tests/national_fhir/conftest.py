"""A real provider (this gateway's own FHIR side over the embedded demo diary), the
stub SSP in front of it, and the national FHIR adapter pointed at the SSP."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters.national_fhir import NationalFhirAdapter, create
from gateway.app import create_app
from gateway.config import load as load_config
from gateway.security.tokens import mint_token
from tests.national_fhir.stub_ssp import StubSsp
from tests.stores import store_yaml

ROOT = Path(__file__).resolve().parents[2]
DEMO_DATA = ROOT / "mappings" / "embedded" / "demo"
SERVICE_ID = "918999198999"
PROVIDER_ASID = "200000000115"
CONSUMER_ASID = "200000000359"
ROOT_PATH = "/STU3/1/careconnect/appointment"


def provider_config(tmp: Path, port: int) -> Path:
    """The gateway as a provider: SSP headers enforced, so a wrong header is a 403."""
    text = f"""
server:
  host: 127.0.0.1
  port: {port}
  service_root: http://127.0.0.1:{port}{ROOT_PATH}
  request_timeout_s: 10
  # One page per slot search (the demo diary holds more than the default 200), so
  # the tests count one request per search.
  max_slots_per_page: 1000
security:
  ssp:
    enforcement: enforce
    asid: "{PROVIDER_ASID}"
store:
  {store_yaml(tmp / "provider.sqlite3")}
logging:
  format: json
adapters:
  - name: diary
    kind: embedded
    options:
      database: {tmp / "diary.sqlite3"}
      data_dir: {DEMO_DATA}
      horizon_days: 3
services:
  - id: "{SERVICE_ID}"
    adapter: diary
"""
    path = tmp / "provider.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def adapter_options(ssp_url: str, directory: Path, **overrides: Any) -> dict[str, Any]:
    return {
        "ssp_url": ssp_url,
        "asid": CONSUMER_ASID,
        "directory": str(directory),
        "issuer": "https://gateway.test.invalid/",
        "organisation": {"ods_code": "X26", "name": "Test Gateway Organisation"},
        "device": {
            "system": "https://gateway.test.invalid/Id/device",
            "value": "uec-gateway-test",
            "model": "uec-gateway",
            "version": "0.1.0",
        },
        "timeout_s": 5,
        **overrides,
    }


@dataclass
class Rig:
    """Everything one test needs: provider, proxy, adapter and a direct line to the provider."""

    tmp: Path
    provider_root: str
    ssp_url: str
    ssp: StubSsp
    adapter: NationalFhirAdapter
    provider: TestClient[web.Request, web.Application]
    directory: Path

    async def make_adapter(self, **overrides: Any) -> NationalFhirAdapter:
        """Another adapter on the same provider, with some options changed."""
        options = adapter_options(overrides.pop("ssp_url", self.ssp_url), self.directory)
        adapter = await create("national-extra", {**options, **overrides}, self.tmp)
        assert isinstance(adapter, NationalFhirAdapter)
        return adapter

    async def provider_json(self, path: str) -> Any:
        """GET ``path`` below the provider's root directly (for checks the SSP must not see)."""
        token = mint_token(scope="patient/appointment.read", audience=self.provider_root)
        resp = await self.provider.get(
            f"{ROOT_PATH}{path}",
            headers={
                "Authorization": f"Bearer {token}",
                "Ssp-TraceID": "check",
                "Ssp-From": "200000000999",
                "Ssp-To": PROVIDER_ASID,
                "Ssp-InteractionID": (
                    "urn:nhs:names:services:careconnect:fhir:rest:search:appointment"
                    if path.startswith("/Appointment?")
                    else "urn:nhs:names:services:careconnect:fhir:rest:read:appointment"
                ),
            },
        )
        assert resp.status == 200, await resp.text()
        return json.loads(await resp.read())


def write_directory(tmp: Path, provider_root: str) -> Path:
    path = tmp / "directory.csv"
    path.write_text(
        "service_id,asid,service_root,name\n"
        f"{SERVICE_ID},{PROVIDER_ASID},{provider_root},Demo urgent treatment centre\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture(autouse=True)
def _provider_logging_as_in_production() -> Iterator[None]:
    """The provider runs in this process; give its aiosqlite logger the level it has in
    production (gateway/logs.py: never DEBUG, as its statements carry bookings)."""
    logger = logging.getLogger("aiosqlite")
    before = logger.level
    logger.setLevel(logging.INFO)
    yield
    logger.setLevel(before)


@pytest.fixture
async def rig(tmp_path: Path, unused_tcp_port_factory: Callable[[], int]) -> AsyncIterator[Rig]:
    """Provider + stub SSP + adapter on 127.0.0.1, all closed at the end."""
    port = unused_tcp_port_factory()
    config = provider_config(tmp_path, port)
    settings = load_config(config)
    client = TestClient(TestServer(create_app(settings, config), host="127.0.0.1", port=port))
    await client.start_server()
    provider_root = settings.server.service_root
    ssp = StubSsp(allowed=provider_root)
    ssp_url = await ssp.start(unused_tcp_port_factory())
    directory = write_directory(tmp_path, provider_root)
    adapter = await create("national", adapter_options(ssp_url, directory), tmp_path)
    assert isinstance(adapter, NationalFhirAdapter)
    try:
        yield Rig(tmp_path, provider_root, ssp_url, ssp, adapter, client, directory)
    finally:
        await adapter.close()
        await ssp.close()
        await client.close()
