"""The BaRS door over peer-backed suppliers: search, book, read and cancel end to end.

Each supplier is its reference peer on 127.0.0.1 (HL7 v2 PAS over MLLP, REST,
SOAP), reached through its unchanged adapter; the diary the peer keeps is what
the gateway's free-slot search shows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.hl7v2.peer.server import PasPeer
from adapters.rest_diary.peer import PeerAuth
from adapters.rest_diary.peer import start_peer as start_rest_peer
from adapters.soap_diary.peer import start_peer as start_soap_peer
from gateway.app import create_app
from gateway.config import load as load_config
from tests.bars.conftest import Sender, bars_section
from tests.selftest import backends as b
from tests.stores import store_yaml

Ports = Callable[[], int]


@asynccontextmanager
async def _gateway(tmp: Path, ports: Ports, adapter: str, service: str) -> AsyncIterator[Sender]:
    port = ports()
    path = tmp / "gateway.yaml"
    store = store_yaml(tmp / "gateway.sqlite3")
    head = b.HEAD.format(port=port, root=b.SERVICE_ROOT_PATH, tmp=tmp, store=store, jwt="")
    tail = b.SERVICES.format(service=service, other=service + "0")
    path.write_text(head + adapter + tail + bars_section(port, service))
    settings = load_config(path)
    client = TestClient(TestServer(create_app(settings, path), host="127.0.0.1", port=port))
    await client.start_server()
    try:
        yield Sender(client, settings)
    finally:
        await client.close()


@asynccontextmanager
async def _hl7v2(tmp: Path, ports: Ports) -> AsyncIterator[Sender]:
    pas = await PasPeer.start(str(tmp / "pas.sqlite3"), horizon_days=b.DAYS)
    listen = ports()
    adapter = f"""  - name: backend
    kind: hl7v2
    options:
      host: 127.0.0.1
      port: {pas.port}
      mappings: {b.ROOT}/mappings/hl7v2/demo
      database: {tmp}/hl7v2-journal.sqlite3
      listen: {{host: 127.0.0.1, port: {listen}}}
"""
    try:
        async with _gateway(tmp, ports, adapter, "918999197777") as sender:
            pas.notify_to(("127.0.0.1", listen))
            yield sender
    finally:
        await pas.close()


@asynccontextmanager
async def _rest(tmp: Path, ports: Ports) -> AsyncIterator[Sender]:
    auth = PeerAuth(kind="api_key", api_key=b.REST_KEY)
    peer = await start_rest_peer(str(tmp / "rest.sqlite3"), days=b.DAYS, auth=auth)
    adapter = f"""  - name: backend
    kind: rest-diary
    options:
      base_url: {peer.api}
      mappings: {b.ROOT}/mappings/rest_diary/demo
      auth: {{kind: api_key, key_env: {b.REST_KEY_ENV}}}
"""
    try:
        async with _gateway(tmp, ports, adapter, "918999197001") as sender:
            yield sender
    finally:
        await peer.stop()


@asynccontextmanager
async def _soap(tmp: Path, ports: Ports) -> AsyncIterator[Sender]:
    peer = await start_soap_peer(
        str(tmp / "soap.sqlite3"), days=b.DAYS, basic=f"gateway:{b.SOAP_PASSWORD}"
    )
    adapter = f"""  - name: backend
    kind: soap-diary
    options:
      endpoint: {peer.endpoint}
      mappings: {b.ROOT}/mappings/soap_diary/demo
      soap_version: "1.2"
      username: gateway
      password_env: {b.SOAP_PASSWORD_ENV}
"""
    try:
        async with _gateway(tmp, ports, adapter, "918999196001") as sender:
            yield sender
    finally:
        await peer.stop()


PEERS = {"hl7v2": _hl7v2, "rest-diary": _rest, "soap-diary": _soap}


@pytest.mark.parametrize("backend", sorted(PEERS))
async def test_search_book_read_cancel_over_a_peer(
    backend: str,
    tmp_path: Path,
    unused_tcp_port_factory: Ports,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Over each peer: a BaRS booking takes the supplier's slot; its cancel frees it again."""
    monkeypatch.setenv(b.REST_KEY_ENV, b.REST_KEY)
    monkeypatch.setenv(b.SOAP_PASSWORD_ENV, b.SOAP_PASSWORD)
    async with PEERS[backend](tmp_path, unused_tcp_port_factory) as sender:
        slot = (await sender.free_slots())[0]
        booked = await sender.book(slot)
        assert booked.status == 201, await booked.text()
        appt = await booked.json(content_type=None)
        assert slot["id"] not in await sender.offered(), "the supplier no longer offers it"
        read = await sender.get(f"/Appointment/{appt['id']}")
        assert read.status == 200
        current = await read.json(content_type=None)
        assert current["status"] == "booked"
        cancel = await sender.send(
            "PUT", f"/Appointment/{appt['id']}", {**current, "status": "cancelled"}
        )
        assert cancel.status == 200, await cancel.text()
        assert (await cancel.json(content_type=None))["meta"]["versionId"] == "2"
        assert slot["id"] in await sender.offered(), "the supplier offers it again"
