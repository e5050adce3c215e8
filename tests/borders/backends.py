"""Gateways on 127.0.0.1 whose one service is served by a supplier peer, under a policy.

Each back end runs its own reference peer (the REST diary, the SOAP diary, the HL7 v2
PAS over MLLP) and a gateway whose ``policy:`` section names a policy written for that
back end's national service id (regions as in the demo table). ``bookings`` asks the
peer itself how many appointments it holds, so a test can tell that a refusal sent
nothing to the supplier.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from adapters.hl7v2.peer.server import PasPeer
from adapters.rest_diary.peer import PeerAuth
from adapters.rest_diary.peer import start_peer as start_rest_peer
from adapters.soap_diary.peer import start_peer as start_soap_peer
from gateway.app import create_app
from gateway.config import load as load_config
from tests.api.conftest import READ_SLOTS, SERVICE_ROOT_PATH, Consumer, GatewayTestServer
from tests.borders.rig import DEMO_POLICY
from tests.hl7v2.helpers import DEMO_MAPPINGS as HL7_MAPPINGS
from tests.hl7v2.helpers import UTC_SERVICE as HL7_SERVICE
from tests.rest_diary.conftest import MAPPINGS as REST_MAPPINGS
from tests.rest_diary.conftest import MIU_SERVICE as REST_SERVICE
from tests.soap_diary.conftest import MAPPINGS as SOAP_MAPPINGS
from tests.soap_diary.conftest import MIU_SERVICE as SOAP_SERVICE
from tests.stores import store_yaml

#: The diaries' sessions run 08:00-20:00 local time, so the next slot is at most 13 h
#: away (12 h 10 min, one more the night the clocks go back). A 16 h window for other
#: regions therefore always holds slots, and the peers' three days always hold more.
WINDOW_HOURS = 16
WINDOW_RULE = "out-of-area-soon"
REASONS = ("patient-travelling", "no-local-capacity")
PEER_DAYS = 3

REST_KEY, REST_KEY_ENV = "borders-rest-key-not-a-secret", "BORDERS_REST_API_KEY"
SOAP_PASSWORD, SOAP_PASSWORD_ENV = "borders-soap-password-not-a-secret", "BORDERS_SOAP_PASSWORD"

POLICY = f"""\
regions: regions.csv
services:
  "{{service}}":
    region: north-east
    commissioner: QHM
    book: [any]
    cancel: [in-area]
    out_of_area:
      reason_required: true
      reasons: [{", ".join(REASONS)}]
      accountable: consumer
    release:
      - name: {WINDOW_RULE}
        kind: out_of_area_window
        within_hours: {WINDOW_HOURS}
"""

CONFIG = """\
server:
  host: 127.0.0.1
  port: {port}
  service_root: http://127.0.0.1:{port}{root}
  request_timeout_s: 10
  max_slots_per_page: 2000
security:
  ssp:
    enforcement: warn
    asid: "200000000115"
store:
  {store}
logging:
  format: json
adapters:
  - name: supplier
{adapter}services:
  - id: "{service}"
    adapter: supplier
policy:
  folder: {policy}
"""


class ServiceConsumer(Consumer):
    """tests/api's consumer, searching the one service this gateway serves."""

    service_id = ""

    async def search(self, query: str = "", **headers: str) -> ClientResponse:
        params = f"service={self.service_id}&_include=Slot:schedule{query}"
        return await self.client.get(
            f"{SERVICE_ROOT_PATH}/Slot?{params}",
            headers={**self.headers(READ_SLOTS, "read:slot"), **headers},
        )


@dataclass(frozen=True)
class Backend:
    """A gateway in front of one supplier peer, and the peer's own count of bookings."""

    name: str
    home: ServiceConsumer
    bookings: Callable[[], Awaitable[int]]


def write_policy(folder: Path, service_id: str) -> Path:
    """A policy folder for ``service_id``: the window rule and a reason asked out of area."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(DEMO_POLICY / "regions.csv", folder / "regions.csv")
    (folder / "policy.yaml").write_text(POLICY.format(service=service_id), encoding="utf-8")
    return folder


@asynccontextmanager
async def _gateway(
    tmp: Path, port: int, service_id: str, adapter: str
) -> AsyncIterator[ServiceConsumer]:
    path = tmp / "gateway.yaml"
    path.write_text(
        CONFIG.format(
            port=port,
            root=SERVICE_ROOT_PATH,
            store=store_yaml(tmp / "gateway.sqlite3"),
            adapter=adapter,
            service=service_id,
            policy=write_policy(tmp / "policy", service_id),
        ),
        encoding="utf-8",
    )
    settings = load_config(path)
    client = TestClient(GatewayTestServer(create_app(settings, path), host="127.0.0.1", port=port))
    await client.start_server()
    consumer = ServiceConsumer(client, settings)
    consumer.service_id = service_id
    try:
        yield consumer
    finally:
        await client.close()


@asynccontextmanager
async def rest_diary(
    tmp: Path, ports: Callable[[], int], env: pytest.MonkeyPatch
) -> AsyncIterator[Backend]:
    """The REST diary adapter (API key) against its reference peer."""
    env.setenv(REST_KEY_ENV, REST_KEY)
    auth = PeerAuth(kind="api_key", api_key=REST_KEY)
    peer = await start_rest_peer(str(tmp / "rest-peer.sqlite3"), days=PEER_DAYS, auth=auth)
    adapter = f"""\
    kind: rest-diary
    options:
      base_url: {peer.api}
      mappings: {REST_MAPPINGS}
      auth: {{kind: api_key, key_env: {REST_KEY_ENV}}}
      page_size: 500
"""
    try:
        async with _gateway(tmp, ports(), REST_SERVICE, adapter) as home:
            yield Backend("rest-diary", home, peer.diary.count_appointments)
    finally:
        await peer.stop()


@asynccontextmanager
async def soap_diary(
    tmp: Path, ports: Callable[[], int], env: pytest.MonkeyPatch
) -> AsyncIterator[Backend]:
    """The SOAP diary adapter (SOAP 1.2, HTTP Basic) against its reference peer."""
    env.setenv(SOAP_PASSWORD_ENV, SOAP_PASSWORD)
    basic = f"gateway:{SOAP_PASSWORD}"
    peer = await start_soap_peer(str(tmp / "soap-peer.sqlite3"), days=PEER_DAYS, basic=basic)
    adapter = f"""\
    kind: soap-diary
    options:
      endpoint: {peer.endpoint}
      mappings: {SOAP_MAPPINGS}
      soap_version: "1.2"
      username: gateway
      password_env: {SOAP_PASSWORD_ENV}
"""
    try:
        async with _gateway(tmp, ports(), SOAP_SERVICE, adapter) as home:
            yield Backend("soap-diary", home, peer.diary.count_appointments)
    finally:
        await peer.stop()


@asynccontextmanager
async def hl7v2_pas(
    tmp: Path, ports: Callable[[], int], env: pytest.MonkeyPatch
) -> AsyncIterator[Backend]:
    """The HL7 v2 adapter over MLLP to the PAS peer, which sends its SIU back to it."""
    peer = await PasPeer.start(str(tmp / "pas.sqlite3"), horizon_days=PEER_DAYS)
    listen = ports()
    adapter = f"""\
    kind: hl7v2
    options:
      host: 127.0.0.1
      port: {peer.port}
      mappings: {HL7_MAPPINGS}
      database: {tmp / "hl7v2-journal.sqlite3"}
      listen: {{host: 127.0.0.1, port: {listen}}}
"""

    async def bookings() -> int:
        return len(await peer.appointments())

    try:
        async with _gateway(tmp, ports(), HL7_SERVICE, adapter) as home:
            peer.notify_to(("127.0.0.1", listen))
            yield Backend("hl7v2", home, bookings)
    finally:
        await peer.close()
