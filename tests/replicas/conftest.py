"""Gateway replicas side by side, on either backend (issue 13).

``replicas`` starts N gateways (real sockets on 127.0.0.1) with one configuration
each but sharing their state: on ``sqlite`` one store file and one embedded diary
file; on ``postgresql`` one store schema and one diary schema in the local server
(fresh per test, dropped afterwards: ``tests/embedded/pg.py``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from adapters.embedded import PgTarget
from gateway.app import create_app
from gateway.config import load as load_config
from tests.api.conftest import (
    DEMO_DATA,
    PHONE_SERVICE_ID,
    SERVICE_ID,
    SERVICE_ROOT_PATH,
    Consumer,
    GatewayTestServer,
)
from tests.embedded.pg import fresh_schema


@dataclass
class Replicas:
    """Start gateways on the shared state; read the shared diary's bookings."""

    #: ``start(n, routes=1, extra=None)``: n gateways; ``routes=2`` adds a second
    #: supplier; ``extra(i)`` adds adapters and services to replica ``i``.
    start: Callable[..., Awaitable[list[Consumer]]]
    diary: Path | PgTarget

    async def bookings(self) -> list[tuple[str, str]]:
        """(slot id, status) of every booking the shared diary holds."""
        sql = "SELECT slot_id, status FROM bookings ORDER BY slot_id"
        if isinstance(self.diary, PgTarget):
            conn = await asyncpg.connect(self.diary.dsn)
            try:
                await conn.execute(f"SET search_path TO {self.diary.schema}")
                return [(r[0], r[1]) for r in await conn.fetch(sql)]
            finally:
                await conn.close()
        with sqlite3.connect(self.diary) as db:
            return [(r[0], r[1]) for r in db.execute(sql).fetchall()]


def _second_route(tmp: Path) -> tuple[str, str]:
    """A second supplier (another embedded diary) for the phone service."""
    adapter = f"""  - name: diary2
    kind: embedded
    options:
      database: {tmp / "embedded-2.sqlite3"}
      data_dir: {DEMO_DATA}
      horizon_days: 3
"""
    service = f"""  - id: "{PHONE_SERVICE_ID}"
    adapter: diary2
"""
    return adapter, service


#: Extra ``adapters:`` and ``services:`` entries for the replica of a given index.
Extra = Callable[[int], tuple[str, str]]


def _config(
    tmp: Path,
    port: int,
    diary: Path | PgTarget,
    store: Path | PgTarget,
    more: tuple[str, str],
) -> Path:
    more_adapters, more_services = more
    if isinstance(store, PgTarget):
        store_text = f"kind: postgresql\n  dsn: {store.dsn}\n  schema_name: {store.schema}"
    else:
        store_text = f"path: {store}"
    if isinstance(diary, PgTarget):
        diary_text = f"dsn: {diary.dsn}\n      schema: {diary.schema}"
    else:
        diary_text = f"database: {diary}"
    text = f"""
server:
  host: 127.0.0.1
  port: {port}
  service_root: http://127.0.0.1:{port}{SERVICE_ROOT_PATH}
  request_timeout_s: 10
security:
  ssp:
    enforcement: warn
    asid: "200000000115"
store:
  {store_text}
logging:
  format: json
adapters:
  - name: diary
    kind: embedded
    options:
      {diary_text}
      data_dir: {DEMO_DATA}
      horizon_days: 3
{more_adapters}services:
  - id: "{SERVICE_ID}"
    adapter: diary
{more_services}"""
    path = tmp / f"gateway-{port}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def replicas(
    backend: str, tmp_path: Path, unused_tcp_port_factory: Callable[[], int]
) -> AsyncIterator[Replicas]:
    """Start ``n`` gateways sharing one store and one diary; all closed at the end."""
    clients: list[TestClient[web.Request, web.Application]] = []
    async with fresh_schema() as diary_pg, fresh_schema() as store_pg:
        diary: Path | PgTarget = tmp_path / "embedded.sqlite3"
        store: Path | PgTarget = tmp_path / "gateway.sqlite3"
        if backend == "postgresql":
            diary, store = diary_pg, store_pg

        async def start(n: int, routes: int = 1, extra: Extra | None = None) -> list[Consumer]:
            started = []
            for index in range(n):
                port = unused_tcp_port_factory()
                more = _second_route(tmp_path) if routes > 1 else ("", "")
                if extra is not None:
                    added = extra(index)
                    more = (more[0] + added[0], more[1] + added[1])
                path = _config(tmp_path, port, diary, store, more)
                settings = load_config(path)
                server = GatewayTestServer(create_app(settings, path), host="127.0.0.1", port=port)
                client = TestClient(server)
                await client.start_server()
                clients.append(client)
                started.append(Consumer(client, settings))
            return started

        try:
            yield Replicas(start, diary)
        finally:
            for client in clients:
                await client.close()
