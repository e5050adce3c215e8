"""A real gateway on 127.0.0.1 whose adapter is ``kind: hl7v2`` over a PAS peer (like tests/api)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from adapters.hl7v2.peer.server import PasPeer
from gateway.app import create_app
from gateway.config import load as load_config
from tests.api.conftest import READ_SLOTS, SERVICE_ROOT_PATH, Consumer
from tests.hl7v2.helpers import DEMO_MAPPINGS, UTC_SERVICE
from tests.stores import store_yaml


def write_config(
    folder: Path,
    port: int,
    pas_port: int,
    listen_port: int,
    timeout_s: float = 10,
    mappings: Path = DEMO_MAPPINGS,
    **options: Any,
) -> Path:
    extra = "".join(f"      {key}: {value}\n" for key, value in options.items())
    text = f"""
server:
  host: 127.0.0.1
  port: {port}
  service_root: http://127.0.0.1:{port}{SERVICE_ROOT_PATH}
  request_timeout_s: {timeout_s}
security:
  ssp:
    enforcement: warn
store:
  {store_yaml(folder / "gateway.sqlite3")}
logging:
  format: json
adapters:
  - name: pas
    kind: hl7v2
    options:
      host: 127.0.0.1
      port: {pas_port}
      mappings: {mappings}
      database: {folder / "hl7v2-journal.sqlite3"}
      listen: {{host: 127.0.0.1, port: {listen_port}}}
{extra}services:
  - id: "{UTC_SERVICE}"
    adapter: pas
"""
    path = folder / "gateway.yaml"
    path.write_text(text, encoding="utf-8")
    return path


class PasConsumer(Consumer):
    """tests/api's consumer, searching the PAS-backed service."""

    async def search(self, query: str = "", **headers: str) -> ClientResponse:
        params = f"service={UTC_SERVICE}&_include=Slot:schedule{query}"
        return await self.client.get(
            f"{SERVICE_ROOT_PATH}/Slot?{params}",
            headers={**self.headers(READ_SLOTS, "read:slot"), **headers},
        )


@asynccontextmanager
async def gateway_over(
    peer: PasPeer,
    folder: Path,
    ports: Callable[[], int],
    mappings: Path = DEMO_MAPPINGS,
    **options: Any,
) -> AsyncIterator[PasConsumer]:
    """Start a gateway fronting ``peer``; the peer sends its SIU messages to its listener."""
    port, listen_port = ports(), ports()
    settings = load_config(
        write_config(folder, port, peer.port, listen_port, mappings=mappings, **options)
    )
    server = TestServer(create_app(settings), host="127.0.0.1", port=port)
    client = TestClient(server)
    await client.start_server()
    peer.notify_to(("127.0.0.1", listen_port))
    try:
        yield PasConsumer(client, settings)
    finally:
        await client.close()
