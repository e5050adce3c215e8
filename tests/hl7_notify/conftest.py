"""A real gateway whose HL7 v2 door books into the reference PAS peer, and a consumer's
own MLLP listener on 127.0.0.1 that hears of supplier-side changes by SIU."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters.domain import utcnow
from adapters.hl7_toolkit.er7 import Message, decode
from adapters.hl7_toolkit.header import Header, ack
from adapters.hl7v2.peer.server import PasPeer
from gateway.app import create_app
from gateway.config import load as load_config
from gateway.hl7 import HL7_FRONT_DOOR
from gateway.hl7.listener import MllpServer
from gateway.http.exchange import RUNTIME, STORE
from gateway.service import BookingService
from gateway.store import NoticeState, Store
from tests.hl7_front_door.legacy import Legacy
from tests.hl7v2.helpers import DEMO_MAPPINGS, UTC_SERVICE
from tests.stores import store_yaml

ROOT = Path(__file__).resolve().parents[2]
DOOR_TABLES = ROOT / "mappings" / "hl7_front_door" / "demo"
SERVICE_CODE = "PAS-UTC"


class ConsumerEndpoint:
    """The legacy consumer's SIU listener: keeps every message, answers with the next code
    of ``answers`` (the last one repeats)."""

    def __init__(self, port: int, answers: tuple[str, ...] = ("AA",)) -> None:
        self.port, self.answers = port, list(answers)
        self.received: list[bytes] = []
        self._server: MllpServer | None = None

    async def _handle(self, payload: bytes) -> bytes:
        self.received.append(payload)
        message = decode(payload)
        code = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        header = Header("CAS-APP", "CAS-NORTH", "UEC-GATEWAY", "GATEWAY")
        trigger = message.message_type[1]
        answer = ack(header, trigger, message.control_id, f"A{len(self.received)}", utcnow(), code)
        return answer.to_er7().encode()

    async def start(self) -> None:
        self._server = MllpServer(self._handle, max_frame=1_048_576)
        await self._server.start("127.0.0.1", self.port, None)

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.close()
            self._server = None

    def messages(self) -> list[Message]:
        return [decode(p) for p in self.received]


def write_config(folder: Path, port: int, peer: PasPeer, listen: int, notify: int) -> Path:
    tables = folder / "door-tables"
    if not tables.exists():
        shutil.copytree(DOOR_TABLES, tables)
        with (tables / "services.csv").open("a", encoding="utf-8") as out:
            out.write(f"{SERVICE_CODE},{UTC_SERVICE},the demo UTC at the reference PAS\n")
    text = f"""
server:
  host: 127.0.0.1
  port: {port}
  service_root: http://127.0.0.1:{port}/STU3/1/careconnect/appointment
store:
  {store_yaml(folder / "gateway.sqlite3")}
adapters:
  - name: pas
    kind: hl7v2
    options:
      host: 127.0.0.1
      port: {peer.port}
      mappings: {DEMO_MAPPINGS}
      database: {folder / "hl7v2-journal.sqlite3"}
      listen: {{host: 127.0.0.1, port: {listen}}}
      reconcile_interval_s: 3600
services:
  - id: "{UTC_SERVICE}"
    adapter: pas
hl7_front_door:
  host: 127.0.0.1
  port: 0
  mappings: {tables}
  notify_retry: {{first_delay_s: 0.1, max_delay_s: 0.4, poll_interval_s: 0.05}}
  consumers:
    - sending_facility: CAS-NORTH
      ods_code: A1001
      notify: {{host: 127.0.0.1, port: {notify}, timeout_s: 1}}
    - sending_facility: CAS-SOUTH
      ods_code: A2002
"""
    path = folder / "gateway.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class Rig:
    """The PAS peer, a (restartable) gateway over it and the consumer's endpoint."""

    peer: PasPeer
    config: Path
    port: int
    consumer: ConsumerEndpoint
    client: TestClient[web.Request, web.Application] | None = None
    legacies: list[Legacy] = field(default_factory=list)

    @property
    def app(self) -> web.Application:
        assert self.client is not None
        return self.client.app  # type: ignore[return-value]

    @property
    def store(self) -> Store:
        return self.app[STORE]

    @property
    def service(self) -> BookingService:
        current = self.app[RUNTIME].current
        assert current is not None
        return current.service

    async def start_gateway(self) -> None:
        app = create_app(load_config(self.config), self.config)
        self.client = TestClient(TestServer(app, host="127.0.0.1", port=self.port))
        await self.client.start_server()

    async def stop_gateway(self) -> None:
        for legacy in self.legacies:
            await legacy.close()
        self.legacies = []
        if self.client is not None:
            await self.client.close()
            self.client = None

    def legacy(self, facility: str = "CAS-NORTH") -> Legacy:
        host, port = self.app[HL7_FRONT_DOOR].address or ("", 0)
        legacy = Legacy(host, port, facility=facility)
        self.legacies.append(legacy)
        return legacy

    async def notices(self, appointment_id: str) -> list[NoticeState]:
        return await self.store.hl7_notices(appointment_id)


async def wait_for(check: Callable[[], Awaitable[bool]], wait_s: float = 8.0) -> None:
    """Poll an async check until it holds (bounded)."""
    for _ in range(int(wait_s / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest_asyncio.fixture
async def rig(tmp_path: Path, unused_tcp_port_factory: Callable[[], int]) -> AsyncIterator[Rig]:
    """A PAS peer, a gateway over it (HL7 door on), and a consumer endpoint not yet started."""
    peer = await PasPeer.start(str(tmp_path / "pas.sqlite3"), horizon_days=2)
    listen, port, notify = (unused_tcp_port_factory() for _ in range(3))
    config = write_config(tmp_path, port, peer, listen, notify)
    rig = Rig(peer, config, port, ConsumerEndpoint(notify))
    peer.notify_to(("127.0.0.1", listen))
    await rig.start_gateway()
    yield rig
    await rig.stop_gateway()
    await rig.consumer.stop()
    await peer.close()
