"""A real gateway on 127.0.0.1 with its HL7 v2 front door listening, and a legacy consumer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters import registry
from gateway.app import create_app
from gateway.config import load as load_config
from gateway.hl7 import HL7_FRONT_DOOR
from gateway.http.exchange import AUDIT, RUNTIME
from gateway.service import BookingService
from tests.hl7_front_door.legacy import Legacy
from tests.stores import store_yaml

ROOT = Path(__file__).resolve().parents[2]
DEMO_DATA = ROOT / "mappings" / "embedded" / "demo"
TABLES = ROOT / "mappings" / "hl7_front_door" / "demo"
SERVICE_ID = "918999198999"
FAULTY_SERVICE = "555000111"


def door_section(
    tables: Path = TABLES, budget_s: float = 5.0, tls: str = "", consumers: str = ""
) -> str:
    """The front door section; ``consumers``: more ``consumers:`` entries, as YAML lines."""
    return f"""hl7_front_door:{tls}
  host: 127.0.0.1
  port: 0
  mappings: {tables}
  time_budget_s: {budget_s}
  consumers:
    - sending_facility: CAS-NORTH
      ods_code: A1001
      name: North CAS
{consumers}"""


def write_config(
    tmp: Path,
    port: int,
    *,
    adapters: str = "",
    services: str = "",
    budget_s: float = 5.0,
    tls: str = "",
    consumers: str = "",
    policy: Path | None = None,
) -> Path:
    policy_yaml = f"policy:\n  folder: {policy}\n" if policy is not None else ""
    text = f"""
server:
  host: 127.0.0.1
  port: {port}
  service_root: http://127.0.0.1:{port}/STU3/1/careconnect/appointment
  request_timeout_s: 10
store:
  {store_yaml(tmp / "gateway.sqlite3")}
logging:
  format: json
adapters:
  - name: diary
    kind: embedded
    options:
      database: {tmp / "embedded.sqlite3"}
      data_dir: {DEMO_DATA}
      horizon_days: 3
{adapters}services:
  - id: "{SERVICE_ID}"
    adapter: diary
{services}{door_section(budget_s=budget_s, tls=tls, consumers=consumers)}{policy_yaml}"""
    path = tmp / "gateway.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def faulty(behaviour: str, *, booking_only: bool = False) -> dict[str, str]:
    """Config pieces for the misbehaving test supplier serving FAULTY_SERVICE."""
    return {
        "adapters": "  - name: faulty\n    kind: faulty\n"
        f"    options: {{behaviour: {behaviour}}}\n",
        "services": f'  - id: "{FAULTY_SERVICE}"\n    adapter: faulty\n'
        f"    booking_only: {str(booking_only).lower()}\n",
    }


@dataclass
class Door:
    """A running gateway, its HL7 listener address and a legacy consumer connected to it."""

    client: TestClient[web.Request, web.Application]
    legacy: Legacy
    config: Path

    @property
    def app(self) -> web.Application:
        return self.client.app  # type: ignore[return-value]

    @property
    def service(self) -> BookingService:
        runtime = self.app[RUNTIME]
        assert runtime.current is not None
        return runtime.current.service

    @property
    def hl7_address(self) -> tuple[str, int]:
        """Where the front door's MLLP listener is."""
        return self.legacy.client.host, self.legacy.client.port

    async def flush_audit(self) -> None:
        await self.app[AUDIT].flush()


Start = Callable[..., Awaitable[Door]]


@pytest.fixture
def faulty_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """Register the misbehaving test supplier (tests/api) as adapter kind 'faulty'."""
    monkeypatch.setitem(registry.ADAPTERS, "faulty", "tests.api.faulty_supplier:create")


@pytest.fixture
async def start_door(
    tmp_path: Path, unused_tcp_port_factory: Callable[[], int]
) -> AsyncIterator[Start]:
    """Start gateways with the HL7 front door on 127.0.0.1; all are closed at the end."""
    doors: list[Door] = []

    async def start(**options: Any) -> Door:
        port = unused_tcp_port_factory()
        path = write_config(tmp_path, port, **options)
        app = create_app(load_config(path), path)
        client = TestClient(TestServer(app, host="127.0.0.1", port=port))
        await client.start_server()
        host, hl7_port = app[HL7_FRONT_DOOR].address or ("", 0)
        door = Door(client, Legacy(host, hl7_port), path)
        doors.append(door)
        return door

    yield start
    for door in doors:
        await door.legacy.close()
        await door.client.close()


@pytest.fixture
async def door(start_door: Start) -> Door:
    return await start_door()
