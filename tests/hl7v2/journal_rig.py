"""A real gateway over the PAS peer whose SIU messages are journaled (``journal:``), with
an admin token, started from its configuration file so that reloads re-read it."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from adapters.hl7v2.peer.desk import DeskPatient
from adapters.hl7v2.peer.server import PasPeer
from gateway.app import create_app
from gateway.config import load as load_config
from gateway.http.exchange import STORE
from gateway.store import Store
from gateway.store.messages import MessageRecord
from tests.hl7v2.gateway import PasConsumer, write_config

TOKEN_ENV = "UEC_TEST_JOURNAL_ADMIN"
KEY_ENV = "UEC_TEST_JOURNAL_KEY"
TOKEN = "journal-admin-token"
KEY = base64.b64encode(bytes(range(32))).decode()


def journal_config(
    folder: Path, port: int, pas_port: int, listen_port: int, mappings: Path, journal: str
) -> Path:
    """``tests/hl7v2/gateway.write_config`` plus an admin token and a ``journal:`` section."""
    path = write_config(folder, port, pas_port, listen_port, mappings=mappings)
    text = path.read_text(encoding="utf-8")
    text = text.replace("server:\n", f"server:\n  admin_token_env: {TOKEN_ENV}\n", 1)
    path.write_text(f"{text}journal:\n{journal}", encoding="utf-8")
    return path


@asynccontextmanager
async def journaled_gateway(
    peer: PasPeer,
    folder: Path,
    ports: Callable[[], int],
    mappings: Path,
    journal: str = f"  key_env: {KEY_ENV}\n",
) -> AsyncIterator[tuple[PasConsumer, Path]]:
    """The gateway fronting ``peer`` and its configuration file."""
    port, listen_port = ports(), ports()
    path = journal_config(folder, port, peer.port, listen_port, mappings, journal)
    settings = load_config(path)
    client = TestClient(TestServer(create_app(settings, path), host="127.0.0.1", port=port))
    await client.start_server()
    peer.notify_to(("127.0.0.1", listen_port))
    try:
        yield PasConsumer(client, settings), path
    finally:
        await client.close()


def store_of(consumer: PasConsumer) -> Store:
    return consumer.client.server.app[STORE]


async def admin_post(consumer: PasConsumer, path: str, body: Any = None) -> Any:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    resp = await consumer.client.post(path, json=body, headers=headers)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def desk_bookings(
    peer: PasPeer, consumer: PasConsumer, patient: DeskPatient, count: int
) -> list[str]:
    """``count`` bookings made at the PAS desk, each told to the gateway by SIU^S12."""
    slots = await consumer.free_slots(count)
    fillers = []
    for slot in slots:
        schedule = "UTCNP" if slot["schedule"]["reference"].endswith("nurse") else "UTCGP"
        start = datetime.fromisoformat(slot["start"])
        fillers.append(await peer.book_locally(schedule, start, patient))
    return fillers


async def journaled(consumer: PasConsumer, since: datetime, until: datetime) -> list[MessageRecord]:
    return await store_of(consumer).messages_between(since, until)
