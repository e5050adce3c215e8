"""One gateway process serving several suppliers at once, routed by national service id."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters.hl7v2.peer.server import PasPeer
from adapters.rest_diary.peer import PeerAuth, RunningPeer
from adapters.rest_diary.peer import start_peer as start_rest_peer
from adapters.soap_diary.peer import RunningSoapPeer
from adapters.soap_diary.peer import start_peer as start_soap_peer
from gateway.app import create_app
from gateway.config import load as load_config
from gateway.examples import EXAMPLE_NHS_NUMBER, booking_body
from tests.api.conftest import DEMO_DATA, READ_SLOTS, SERVICE_ROOT_PATH, Consumer
from tests.stores import store_yaml

ROOT = Path(__file__).resolve().parents[2]
REST_KEY_ENV, REST_KEY = "MANY_REST_KEY", "many-rest-key-not-a-secret"
SOAP_PASSWORD_ENV, SOAP_PASSWORD = "MANY_SOAP_PASSWORD", "many-soap-password-not-a-secret"
SERVICES = {
    "918999198999": "diary",  # embedded
    "918999197001": "acme-rest",
    "918999196001": "fernbrook-soap",
    "918999197777": "pas",  # HL7 v2 over MLLP
}

CONFIG = """
server:
  port: {port}
  service_root: http://127.0.0.1:{port}{root}
store:
  {store}
adapters:
  - name: diary
    kind: embedded
    options: {{database: {tmp}/embedded.sqlite3, data_dir: {demo}, horizon_days: 2}}
  - name: acme-rest
    kind: rest-diary
    options:
      base_url: {rest}
      mappings: {root_dir}/mappings/rest_diary/demo
      auth: {{kind: api_key, key_env: {rest_env}}}
  - name: pas
    kind: hl7v2
    options:
      host: 127.0.0.1
      port: {pas_port}
      mappings: {root_dir}/mappings/hl7v2/demo
      database: {tmp}/hl7v2-journal.sqlite3
      listen: {{host: 127.0.0.1, port: {listen_port}}}
  - name: fernbrook-soap
    kind: soap-diary
    options:
      endpoint: {soap}
      mappings: {root_dir}/mappings/soap_diary/demo
      username: gateway
      password_env: {soap_env}
services:
{routes}
"""


@pytest.fixture
async def peers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[RunningPeer, RunningSoapPeer, PasPeer]]:
    """The REST, SOAP and HL7 v2 PAS reference peers on free 127.0.0.1 ports."""
    monkeypatch.setenv(REST_KEY_ENV, REST_KEY)
    monkeypatch.setenv(SOAP_PASSWORD_ENV, SOAP_PASSWORD)
    rest = await start_rest_peer(
        str(tmp_path / "rest.sqlite3"), days=2, auth=PeerAuth(kind="api_key", api_key=REST_KEY)
    )
    soap = await start_soap_peer(
        str(tmp_path / "soap.sqlite3"), days=2, basic=f"gateway:{SOAP_PASSWORD}"
    )
    pas = await PasPeer.start(str(tmp_path / "pas.sqlite3"), horizon_days=2)
    yield rest, soap, pas
    await pas.close()
    await soap.stop()
    await rest.stop()


@pytest.fixture
async def consumer(
    tmp_path: Path,
    peers: tuple[RunningPeer, RunningSoapPeer, PasPeer],
    unused_tcp_port_factory: Callable[[], int],
) -> AsyncIterator[Consumer]:
    """A gateway routing three services to three different kinds of supplier."""
    rest, soap, pas = peers
    port, listen_port = unused_tcp_port_factory(), unused_tcp_port_factory()
    routes = "\n".join(f'  - id: "{sid}"\n    adapter: {name}' for sid, name in SERVICES.items())
    path = tmp_path / "gateway.yaml"
    path.write_text(
        CONFIG.format(
            port=port,
            root=SERVICE_ROOT_PATH,
            tmp=tmp_path,
            store=store_yaml(tmp_path / "gateway.sqlite3"),
            demo=DEMO_DATA,
            root_dir=ROOT,
            rest=rest.api,
            rest_env=REST_KEY_ENV,
            soap=soap.endpoint,
            soap_env=SOAP_PASSWORD_ENV,
            routes=routes,
            pas_port=pas.port,
            listen_port=listen_port,
        )
    )
    settings = load_config(path)
    client: TestClient[web.Request, web.Application] = TestClient(
        TestServer(create_app(settings, path), host="127.0.0.1", port=port)
    )
    await client.start_server()
    pas.notify_to(("127.0.0.1", listen_port))
    yield Consumer(client, settings)
    await client.close()


async def _free_slot(consumer: Consumer, service_id: str) -> dict[str, Any]:
    resp = await consumer.client.get(
        f"{SERVICE_ROOT_PATH}/Slot?service={service_id}&_include=Slot:schedule",
        headers=consumer.headers(READ_SLOTS, "read:slot"),
    )
    assert resp.status == 200, await resp.text()
    bundle = await resp.json(content_type=None)
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Slot")


async def test_each_service_books_and_cancels_at_its_own_supplier(consumer: Consumer) -> None:
    """Embedded, REST, SOAP and HL7 v2 services each search, book and cancel through one gateway."""
    booked_ids = []
    for service_id in SERVICES:
        slot = await _free_slot(consumer, service_id)
        resp = await consumer.book(booking_body(slot))
        assert resp.status == 201, (service_id, await resp.text())
        booked = await resp.json(content_type=None)
        booked_ids.append(booked["id"])
    listing = await consumer.read(
        f"Appointment?patient:identifier=https://fhir.nhs.uk/Id/nhs-number|{EXAMPLE_NHS_NUMBER}"
    )
    found = {e["resource"]["id"] for e in (await listing.json(content_type=None))["entry"]}
    assert found == set(booked_ids), "the patient index spans every supplier"
    for appointment_id in booked_ids:
        current = await (await consumer.read(f"Appointment/{appointment_id}")).json(
            content_type=None
        )
        cancel = copy.deepcopy(current)
        cancel["status"] = "cancelled"
        resp = await consumer.cancel(appointment_id, cancel, **{"If-Match": 'W/"1"'})
        assert resp.status == 200, await resp.text()


async def test_capability_statement_covers_every_supplier(consumer: Consumer) -> None:
    """The CapabilityStatement is generated from the routed adapters together."""
    resp = await consumer.client.get(
        f"{SERVICE_ROOT_PATH}/metadata", headers=consumer.headers(READ_SLOTS, "read:metadata")
    )
    body = await resp.json(content_type=None)
    kinds = {r["type"] for r in body["rest"][0]["resource"]}
    assert kinds == {"Slot", "Appointment", "ReferralRequest"}
