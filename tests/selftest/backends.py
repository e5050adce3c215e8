"""A real gateway on 127.0.0.1 over each backend (with its reference peer), for the self-test.

Each backend routes two services of its demo mapping, so the self-test's
service filter has another service to compare with. The REST and SOAP secrets
are read from REST_KEY_ENV and SOAP_PASSWORD_ENV (the tests set them).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from adapters.hl7v2.peer.server import PasPeer
from adapters.rest_diary.peer import PeerAuth
from adapters.rest_diary.peer import start_peer as start_rest_peer
from adapters.soap_diary.peer import start_peer as start_soap_peer
from gateway.app import create_app
from gateway.config import load as load_config
from tests.stores import store_yaml

ROOT = Path(__file__).resolve().parents[2]
SERVICE_ROOT_PATH = "/STU3/1/careconnect/appointment"
#: Peers and the embedded diary hold three days, so "now + 1 h" always finds slots.
DAYS = 3
REST_KEY_ENV, REST_KEY = "SELFTEST_REST_KEY", "selftest-rest-key-not-a-secret"
SOAP_PASSWORD_ENV, SOAP_PASSWORD = "SELFTEST_SOAP_PASSWORD", "selftest-soap-password-not-a-secret"

HEAD = """
server:
  host: 127.0.0.1
  port: {port}
  service_root: http://127.0.0.1:{port}{root}
  request_timeout_s: 10
security:
{jwt}  ssp:
    enforcement: warn
    asid: "200000000115"
store:
  {store}
logging:
  format: json
  level: warning
adapters:
"""
SERVICES = """services:
  - id: "{service}"
    adapter: backend
  - id: "{other}"
    adapter: backend
"""


@dataclass(frozen=True, slots=True)
class Target:
    """What ``uec-gateway selftest`` is pointed at."""

    url: str
    service: str
    other_service: str


Ports = Callable[[], int]
Backend = Callable[[Path, Ports], AbstractAsyncContextManager[Target]]


@asynccontextmanager
async def _gateway(
    tmp: Path, port: int, adapter: str, service: str, other: str, jwt: str = ""
) -> AsyncIterator[Target]:
    path = tmp / "gateway.yaml"
    store = store_yaml(tmp / "gateway.sqlite3")
    text = HEAD.format(port=port, root=SERVICE_ROOT_PATH, tmp=tmp, store=store, jwt=jwt)
    path.write_text(text + adapter + SERVICES.format(service=service, other=other))
    settings = load_config(path)
    client = TestClient(TestServer(create_app(settings, path), host="127.0.0.1", port=port))
    await client.start_server()
    try:
        yield Target(settings.server.service_root, service, other)
    finally:
        await client.close()


@asynccontextmanager
async def embedded(tmp: Path, ports: Ports, jwt: str = "") -> AsyncIterator[Target]:
    """The embedded SQLite diary of the demo (no supplier at all); ``jwt``: security.jwt."""
    adapter = f"""  - name: backend
    kind: embedded
    options:
      database: {tmp}/embedded.sqlite3
      data_dir: {ROOT}/mappings/embedded/demo
      horizon_days: {DAYS}
"""
    async with _gateway(tmp, ports(), adapter, "918999198999", "918999198888", jwt) as target:
        yield target


@asynccontextmanager
async def hl7v2(tmp: Path, ports: Ports) -> AsyncIterator[Target]:
    """An HL7 v2 PAS over MLLP (the reference PAS peer), its SIU sent to the gateway."""
    pas = await PasPeer.start(str(tmp / "pas.sqlite3"), horizon_days=DAYS)
    listen_port = ports()
    adapter = f"""  - name: backend
    kind: hl7v2
    options:
      host: 127.0.0.1
      port: {pas.port}
      mappings: {ROOT}/mappings/hl7v2/demo
      database: {tmp}/hl7v2-journal.sqlite3
      listen: {{host: 127.0.0.1, port: {listen_port}}}
"""
    try:
        async with _gateway(tmp, ports(), adapter, "918999197777", "918999196666") as target:
            pas.notify_to(("127.0.0.1", listen_port))
            yield target
    finally:
        await pas.close()


@asynccontextmanager
async def rest_diary(tmp: Path, ports: Ports) -> AsyncIterator[Target]:
    """A proprietary REST diary (the reference REST peer, API-key auth)."""
    peer = await start_rest_peer(
        str(tmp / "rest.sqlite3"), days=DAYS, auth=PeerAuth(kind="api_key", api_key=REST_KEY)
    )
    adapter = f"""  - name: backend
    kind: rest-diary
    options:
      base_url: {peer.api}
      mappings: {ROOT}/mappings/rest_diary/demo
      auth: {{kind: api_key, key_env: {REST_KEY_ENV}}}
"""
    try:
        async with _gateway(tmp, ports(), adapter, "918999197001", "918999197002") as target:
            yield target
    finally:
        await peer.stop()


@asynccontextmanager
async def soap_diary(tmp: Path, ports: Ports) -> AsyncIterator[Target]:
    """A SOAP booking service (the reference SOAP peer, SOAP 1.2, HTTP Basic)."""
    peer = await start_soap_peer(
        str(tmp / "soap.sqlite3"), days=DAYS, basic=f"gateway:{SOAP_PASSWORD}"
    )
    adapter = f"""  - name: backend
    kind: soap-diary
    options:
      endpoint: {peer.endpoint}
      mappings: {ROOT}/mappings/soap_diary/demo
      soap_version: "1.2"
      username: gateway
      password_env: {SOAP_PASSWORD_ENV}
"""
    try:
        async with _gateway(tmp, ports(), adapter, "918999196001", "918999196002") as target:
            yield target
    finally:
        await peer.stop()


BACKENDS: dict[str, Backend] = {
    "embedded": embedded,
    "hl7v2": hl7v2,
    "rest-diary": rest_diary,
    "soap-diary": soap_diary,
}
