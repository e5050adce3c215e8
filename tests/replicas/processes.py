"""Gateway replicas as real ``uec-gateway serve`` processes on one PostgreSQL.

Each replica is its own process on its own port, configured alike (one public
service root, as behind a load balancer), sharing one store schema and one
embedded-diary schema in the local server. A consumer talks to any of them.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from adapters.embedded import PgTarget
from benchmarks._children import Child, free_port
from gateway.security.tokens import mint_token
from tests.crash._rig import DEMO_DATA, SERVICE_ROOT_PATH, kill, stop
from tests.integration.cli import UEC_GATEWAY

SERVICE = "918999198999"
CONSUMER_ASID = "200000000359"
#: The one public root every replica answers for (the load balancer's), so the JWT
#: audience is the same whichever replica a request reaches.
PUBLIC_ROOT = f"http://gateway.example{SERVICE_ROOT_PATH}"

CONFIG = """
server:
  host: 127.0.0.1
  port: 8080
  service_root: {public}
  request_timeout_s: 10
security:
  ssp: {{enforcement: "off"}}
store:
  kind: postgresql
  dsn: {store.dsn}
  schema_name: {store.schema}
  claim_lease_s: {lease_s}
logging: {{format: json, level: info}}
adapters:
  - name: diary
    kind: embedded
    options:
      dsn: {diary.dsn}
      schema: {diary.schema}
      data_dir: {demo}
      horizon_days: 2
services:
  - id: "{service}"
    adapter: diary
"""


@dataclass
class Cluster:
    """N replica processes over one store schema and one diary schema."""

    tmp: Path
    store: PgTarget
    diary: PgTarget
    lease_s: float = 1.0
    replicas: list[Child] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.config = self.tmp / "replica.yaml"
        self.config.write_text(
            CONFIG.format(
                public=PUBLIC_ROOT,
                store=self.store,
                diary=self.diary,
                lease_s=self.lease_s,
                demo=DEMO_DATA,
                service=SERVICE,
            ),
            encoding="utf-8",
        )

    def _child(self, index: int, port: int | None = None) -> Child:
        port = port or free_port()
        argv = [str(UEC_GATEWAY), "serve", "--config", str(self.config), "--port", str(port)]
        return Child(f"replica-{index}", argv, port, self.tmp / f"replica-{index}.log")

    async def start(self, n: int) -> None:
        for index in range(n):
            child = self._child(index)
            self.replicas.append(child)
            child.start()
        for child in self.replicas:
            await child.wait_ready(60)

    async def restart(self, index: int) -> None:
        """Start replica ``index`` again (same port), after a kill."""
        child = self._child(index, self.replicas[index].port)
        self.replicas[index] = child
        child.start()
        await child.wait_ready(60)

    async def kill(self, index: int) -> None:
        await kill(self.replicas[index])

    async def close(self) -> None:
        for child in self.replicas:
            await stop(child)

    def root(self, index: int) -> str:
        return f"{self.replicas[index].url}{SERVICE_ROOT_PATH}"

    async def diary_bookings(self) -> list[tuple[str, str, str]]:
        """(request id, slot id, status) of every booking in the shared diary."""
        conn = await asyncpg.connect(self.diary.dsn)
        try:
            await conn.execute(f"SET search_path TO {self.diary.schema}")
            rows = await conn.fetch("SELECT request_id, slot_id, status FROM bookings")
        finally:
            await conn.close()
        return [(r[0], r[1], r[2]) for r in rows]

    async def store_appointments(self) -> set[str]:
        """Every appointment id the shared store holds."""
        conn = await asyncpg.connect(self.store.dsn)
        try:
            await conn.execute(f"SET search_path TO {self.store.schema}")
            rows = await conn.fetch("SELECT DISTINCT appointment_id FROM appointment_versions")
        finally:
            await conn.close()
        return {r[0] for r in rows}


def headers(scope: str, interaction: str, request_id: str | None = None) -> dict[str, str]:
    token = mint_token(scope=scope, audience=PUBLIC_ROOT, organisation_ods="A1001")
    return {
        "Authorization": f"Bearer {token}",
        "Ssp-TraceID": str(uuid.uuid4()),
        "Ssp-From": CONSUMER_ASID,
        "Ssp-To": "200000000115",
        "Ssp-InteractionID": f"urn:nhs:names:services:careconnect:fhir:rest:{interaction}",
        "X-Request-ID": request_id or str(uuid.uuid4()),
    }


async def free_slots(http: aiohttp.ClientSession, root: str) -> list[dict[str, Any]]:
    """Free slots starting more than an hour from now, soonest first."""
    url = f"{root}/Slot?service={SERVICE}&_include=Slot:schedule"
    async with http.get(url, headers=headers("organization/slot.read", "read:slot")) as resp:
        assert resp.status == 200, await resp.text()
        bundle = await resp.json(content_type=None)
    earliest = datetime.now(UTC) + timedelta(hours=1)
    slots = [
        e["resource"]
        for e in bundle.get("entry", [])
        if e["resource"]["resourceType"] == "Slot"
        and datetime.fromisoformat(e["resource"]["start"]) > earliest
    ]
    return sorted(slots, key=lambda s: datetime.fromisoformat(s["start"]))


async def book(
    http: aiohttp.ClientSession, root: str, body: dict[str, Any], request_id: str
) -> tuple[int, Any]:
    """POST the booking: (status, parsed body)."""
    hdrs = {
        **headers("patient/appointment.write", "create:appointment", request_id),
        "Content-Type": "application/fhir+json",
    }
    async with http.post(f"{root}/Appointment", json=body, headers=hdrs) as resp:
        return resp.status, await resp.json(content_type=None)


async def read(http: aiohttp.ClientSession, root: str, appointment_id: str) -> int:
    hdrs = headers("patient/appointment.read", "read:appointment")
    async with http.get(f"{root}/Appointment/{appointment_id}", headers=hdrs) as resp:
        await resp.read()
        return resp.status


async def settle(seconds: float) -> None:
    await asyncio.sleep(seconds)
