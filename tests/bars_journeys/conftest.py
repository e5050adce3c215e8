"""A legacy 111 system's gateway booking and referring into a BaRS receiver, all on 127.0.0.1.

Three real servers, the way they meet in production:
- the **receiver**: a gateway serving the BaRS door over the embedded demo diary
  (the DoS id of ``tests.bars.conftest`` routed to the demo service);
- the **proxy**: the mock national proxy (``gateway.bars_proxy``) with its token
  endpoint, routing that DoS id to the receiver, fault control on;
- the **consumer** gateway: the HL7 v2 front door and the ITK door of a legacy
  CAS/111 system, the demo service routed to a ``kind: bars`` adapter that signs its
  client assertion with a key made here and sends every call through the proxy.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway.app import create_app
from gateway.bars_proxy import API_ROOT, ProxySettings
from gateway.bars_proxy.app import create_app as create_proxy
from gateway.config import load as load_config
from gateway.hl7 import HL7_FRONT_DOOR
from gateway.http.exchange import RUNTIME
from gateway.itk.door import CLOCK
from gateway.service import BookingService
from gateway.store import Store
from tests.api.conftest import SERVICE_ID, write_config
from tests.bars.conftest import BARS_ROOT_PATH, DOS, DOS_ID, bars_section
from tests.hl7_front_door.conftest import door_section
from tests.hl7_front_door.legacy import Legacy
from tests.itk.conftest import Clock, itk_section
from tests.itk.conftest import Sender as ItkSender
from tests.stores import store_yaml

CLIENT_ID = "legacy-cas-gateway"
KID = "cas-1"
RECEIVER_ODS = "X26"
#: Where the consumer's bars adapter hears a receiver's updates (Asynchronous-Workflow).
CALLBACK = "/sender/FHIR/R4"


def _keys(folder: Path) -> tuple[Path, str]:
    """A fresh RSA key for the sending application: (private key file, public PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = folder / "sender-key.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public.decode()


def bars_adapter(folder: Path, proxy: ProxySettings, key: Path, **overrides: Any) -> str:
    """The consumer's ``adapters:`` entry: ``kind: bars`` through ``proxy``."""
    targets = folder / "bars-targets.csv"
    targets.write_text(
        "service_id,target_system,target_value,ods_code,name\n"
        f"{SERVICE_ID},{DOS},{DOS_ID},{RECEIVER_ODS},Demo urgent treatment centre\n",
        encoding="utf-8",
    )
    options = {
        "proxy_url": f"{proxy.base_url}{API_ROOT}",
        "token_url": proxy.token_url,
        "client_id": CLIENT_ID,
        "kid": KID,
        "private_key_file": str(key),
        "targets": str(targets),
        "organisation": {"ods_code": "A1001", "name": "North CAS"},
        "software": {"name": "uec-gateway", "version": "0.1.0"},
        "timeout_s": 4,
        "backoff_s": 0.05,
        **overrides,
    }
    return f"""  - name: bars
    kind: bars
    options: {json.dumps(options)}
"""


def _consumer_config(folder: Path, port: int, adapter: str, notify_port: int | None) -> Path:
    door = door_section(budget_s=6.0)
    if notify_port is not None:
        # The legacy CAS's own SIU listener (issue 12 item 4: updates passed on by SIU).
        door = door.replace(
            "      name: North CAS\n",
            "      name: North CAS\n"
            f"      notify: {{host: 127.0.0.1, port: {notify_port}, timeout_s: 1}}\n",
        ) + "  notify_retry: {first_delay_s: 0.1, max_delay_s: 0.4, poll_interval_s: 0.05}\n"
    text = f"""
server:
  host: 127.0.0.1
  port: {port}
  service_root: http://127.0.0.1:{port}/STU3/1/careconnect/appointment
store:
  {store_yaml(folder / "consumer.sqlite3")}
logging:
  format: json
adapters:
{adapter}services:
  - id: "{SERVICE_ID}"
    adapter: bars
{door}{itk_section()}"""
    path = folder / "consumer.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class Chain:
    """The three servers of one journey and the ways a test talks to them."""

    folder: Path
    receiver: TestClient[web.Request, web.Application]
    proxy: ProxySettings
    session: aiohttp.ClientSession
    hl7: Legacy
    itk: ItkSender

    @property
    def receiver_service(self) -> BookingService:
        """The receiver gateway's booking service (what the BaRS receiver holds)."""
        runtime = self.receiver.app[RUNTIME]  # type: ignore[index]
        assert runtime.current is not None
        return runtime.current.service

    @property
    def consumer_store(self) -> Store:
        return self.itk.store

    @property
    def diary(self) -> Path:
        return self.folder / "receiver" / "embedded.sqlite3"

    def diary_rows(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.diary) as conn:
            return list(conn.execute(sql, args).fetchall())

    def booked(self) -> list[tuple[Any, ...]]:
        """The receiver's diary rows of bookings still booked."""
        return self.diary_rows("SELECT * FROM bookings WHERE status = 'booked'")

    async def fault(self, **spec: Any) -> None:
        """Queue a fault at the proxy (``gateway.bars_proxy`` fault control)."""
        url = f"{self.proxy.base_url}/_control/faults"
        async with self.session.post(url, json=spec) as resp:
            assert resp.status == 201, await resp.text()

    async def seen(self) -> list[dict[str, Any]]:
        """What the proxy saw (no bodies): method, path, status, ids, NHSD headers."""
        async with self.session.get(f"{self.proxy.base_url}/_control/requests") as resp:
            assert resp.status == 200
            found: list[dict[str, Any]] = await resp.json()
            return found


Start = Callable[..., Any]


@pytest.fixture
async def chain(tmp_path: Path, unused_tcp_port_factory: Callable[[], int]) -> AsyncIterator[Chain]:
    """Receiver, proxy and consumer gateway started on 127.0.0.1 (real sockets)."""
    async with start_chain(tmp_path, unused_tcp_port_factory) as started:
        yield started


@contextlib.asynccontextmanager
async def start_chain(
    tmp_path: Path,
    unused_tcp_port_factory: Callable[[], int],
    *,
    callback_port: int | None = None,
    notify_port: int | None = None,
) -> AsyncIterator[Chain]:
    """The three servers; ``callback_port`` opens the bars adapter's own $process-message
    endpoint there, ``notify_port`` names the legacy CAS's SIU listener."""
    receiver_dir = tmp_path / "receiver"
    receiver_dir.mkdir()
    port = unused_tcp_port_factory()
    path = write_config(receiver_dir, port)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(bars_section(port, SERVICE_ID))
    receiver_app = create_app(load_config(path), path)
    receiver = TestClient(TestServer(receiver_app, host="127.0.0.1", port=port))
    await receiver.start_server()

    key, public = _keys(tmp_path)
    proxy = ProxySettings(
        port=unused_tcp_port_factory(),
        routes={f"{DOS}|{DOS_ID}": f"http://127.0.0.1:{port}{BARS_ROOT_PATH}"},
        clients={CLIENT_ID: {KID: public}},
        control=True,
        receiver_timeout_s=3.0,
    )
    proxy_server = TestServer(create_proxy(proxy), host="127.0.0.1", port=proxy.port)
    await proxy_server.start_server()

    consumer_port = unused_tcp_port_factory()
    overrides: dict[str, Any] = {}
    if callback_port is not None:
        overrides["callback"] = {"host": "127.0.0.1", "port": callback_port, "path": CALLBACK}
    adapter = bars_adapter(tmp_path, proxy, key, **overrides)
    config = _consumer_config(tmp_path, consumer_port, adapter, notify_port)
    settings = load_config(config)
    consumer_app = create_app(settings, config)
    clock = Clock()
    consumer_app[CLOCK] = clock
    consumer = TestClient(TestServer(consumer_app, host="127.0.0.1", port=consumer_port))
    await consumer.start_server()
    host, hl7_port = consumer_app[HL7_FRONT_DOOR].address or ("", 0)
    legacy = Legacy(host, hl7_port)
    session = aiohttp.ClientSession()
    try:
        yield Chain(
            tmp_path,
            receiver,
            proxy,
            session,
            legacy,
            ItkSender(consumer, settings, consumer_app, clock),
        )
    finally:
        await session.close()
        await legacy.close()
        await consumer.close()
        await proxy_server.close()
        await receiver.close()
