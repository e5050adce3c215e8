"""A real gateway process over real suppliers, killed and restarted at will.

The gateway runs as ``uec-gateway serve`` (the installed command) over the
embedded diary (a SQLite file inside the gateway process) and the REST diary
reference peer (``python -m adapters.rest_diary.peer``, its own process).
Every wait is on the event loop (``tests/processes.py``): the suite also runs
under a moved clock, where ``time.sleep`` fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from adapters.rest_diary import idempotency_key as rest_key
from benchmarks._children import Child, ChildError, free_port
from gateway.examples import EXAMPLE_NHS_NUMBER, booking_body
from gateway.security.tokens import mint_token
from gateway.service import idempotency_key
from tests.integration.cli import UEC_GATEWAY
from tests.processes import wait_exit
from tests.stores import store_yaml

ROOT = Path(__file__).resolve().parents[2]
DEMO_DATA = ROOT / "mappings" / "embedded" / "demo"
SERVICE_ROOT_PATH = "/STU3/1/careconnect/appointment"
EMBEDDED_SERVICE, REST_SERVICE = "918999198999", "918999197001"
REST_KEY_ENV, REST_KEY = "CRASH_REST_KEY", "crash-rest-key-not-a-secret"
#: The consumer's ASID (Ssp-From): the scope of its X-Request-IDs.
CONSUMER_ASID = "200000000359"
SCOPE = f"asid:{CONSUMER_ASID}"

CONFIG = """
server:
  host: 127.0.0.1
  port: {port}
  service_root: http://127.0.0.1:{port}{root}
  request_timeout_s: 10
security:
  ssp: {{enforcement: "off"}}
store:
  {store}
  claim_lease_s: {lease_s}
logging: {{format: json, level: info}}
adapters:
  - name: diary
    kind: embedded
    options: {{database: {tmp}/embedded.sqlite3, data_dir: {demo}, horizon_days: 2}}
  - name: acme-rest
    kind: rest-diary
    options:
      base_url: {rest}/api/v2
      mappings: {root_dir}/mappings/rest_diary/demo
      auth: {{kind: api_key, key_env: {key_env}}}
services:
  - id: "{embedded}"
    adapter: diary
  - id: "{rest_service}"
    adapter: acme-rest
"""


async def _wait_answering(child: Child, path: str, timeout_s: float = 30.0) -> None:
    """Poll ``path`` until the child answers at all; fail early if it dies."""
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
        while True:
            child.check_alive()
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with http.get(f"{child.url}{path}") as resp:
                    await resp.read()
                    return
            if time.monotonic() > deadline:
                raise ChildError(f"{child.name} not answering:\n{child.log_tail()}")
            await asyncio.sleep(0.05)


async def kill(child: Child) -> None:
    """SIGKILL: no shutdown code runs, as when a host dies or the OOM killer strikes."""
    if child.process is not None and child.process.poll() is None:
        child.process.kill()
        await wait_exit(child.process, 10)
    child.stop()  # closes the log file; the process has already gone


async def stop(child: Child) -> None:
    """SIGTERM, waited for on the event loop; then SIGKILL if it lingers."""
    process = child.process
    if process is not None and process.poll() is None:
        process.terminate()
        with contextlib.suppress(TimeoutError):
            await wait_exit(process, 10)
    await kill(child)


@dataclass
class Rig:
    """The REST peer and one gateway process, restartable on the same store."""

    tmp: Path
    lease_s: float
    peer: Child = field(init=False)
    gateway: Child = field(init=False)
    port: int = field(default_factory=free_port)
    starts: int = 0

    def __post_init__(self) -> None:
        peer_port = free_port()
        self.peer = Child(
            "rest-peer",
            [sys.executable, "-m", "adapters.rest_diary.peer", "--port", str(peer_port),
             "--db", str(self.tmp / "rest-peer.sqlite3"), "--days", "2",
             "--auth", "api_key", "--api-key-env", REST_KEY_ENV],
            peer_port,
            self.tmp / "rest-peer.log",
        )  # fmt: skip
        self.config = self.tmp / "gateway.yaml"
        self.config.write_text(
            CONFIG.format(
                port=self.port,
                root=SERVICE_ROOT_PATH,
                tmp=self.tmp,
                store=store_yaml(self.tmp / "gateway.sqlite3"),
                lease_s=self.lease_s,
                demo=DEMO_DATA,
                rest=self.peer.url,
                root_dir=ROOT,
                key_env=REST_KEY_ENV,
                embedded=EMBEDDED_SERVICE,
                rest_service=REST_SERVICE,
            )
        )
        self.gateway = self._gateway_child()

    def _gateway_child(self) -> Child:
        argv = [str(UEC_GATEWAY), "serve", "--config", str(self.config), "--port", str(self.port)]
        return Child("gateway", argv, self.port, self.tmp / "gateway.log")

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}{SERVICE_ROOT_PATH}"

    async def start_peer(self) -> None:
        self.peer.start()
        await _wait_answering(self.peer, "/_peer/stats")

    async def start_gateway(self) -> None:
        """Start (or restart) the gateway on the same store and diary files."""
        if self.starts:
            self.gateway = self._gateway_child()
        self.starts += 1
        self.gateway.start()
        await self.gateway.wait_ready()

    async def close(self) -> None:
        await stop(self.gateway)
        await stop(self.peer)

    async def peer_json(self, method: str, path: str, body: Any = None) -> Any:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
            http.request(method, f"{self.peer.url}{path}", json=body) as resp,
        ):
            assert resp.status == 200, await resp.text()
            return await resp.json()

    def gateway_events(self, event: str) -> int:
        """How many times any gateway process of this rig logged ``event``."""
        text = (self.tmp / "gateway.log").read_text(encoding="utf-8", errors="replace")
        return sum(record.get("event") == event for record in _json_lines(text))

    def supplier_bookings(self) -> dict[str, str]:
        """Every live booking at either supplier: its idempotency key -> its slot."""
        found = _rows(
            self.tmp / "embedded.sqlite3",
            "SELECT request_id, slot_id FROM bookings WHERE status = 'booked'",
        )
        rest = _rows(
            self.tmp / "rest-peer.sqlite3",
            "SELECT idem_key, slot_id FROM appointments WHERE status = 'BOOKED'",
        )
        assert len(set(found.values())) == len(found), "the embedded diary booked a slot twice"
        assert len(set(rest.values())) == len(rest), "the REST peer booked a slot twice"
        return {**found, **rest}


def _json_lines(text: str) -> list[dict[str, Any]]:
    """The log's JSON records; a killed process may leave its last line cut short."""
    records = []
    for line in text.splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if isinstance(record, dict):
                records.append(record)
    return records


def _rows(path: Path, sql: str) -> dict[str, str]:
    if not path.exists():
        return {}
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        try:
            return {key: slot for key, slot in db.execute(sql)}
        except sqlite3.OperationalError:  # the diary has not made its tables yet
            return {}


def supplier_keys(request_id: str) -> set[str]:
    """The idempotency keys the suppliers see for one of our X-Request-IDs."""
    key = idempotency_key(SCOPE, request_id)
    return {key, rest_key(key)}


class Consumer:
    """A national booking consumer talking to the gateway over real sockets."""

    def __init__(self, rig: Rig, http: aiohttp.ClientSession) -> None:
        self.rig = rig
        self.http = http

    def headers(self, scope: str, interaction: str, request_id: str) -> dict[str, str]:
        token = mint_token(scope=scope, audience=self.rig.root, organisation_ods="A1001")
        return {
            "Authorization": f"Bearer {token}",
            "Ssp-TraceID": str(uuid.uuid4()),
            "Ssp-From": CONSUMER_ASID,
            "Ssp-To": "200000000115",
            "Ssp-InteractionID": f"urn:nhs:names:services:careconnect:fhir:rest:{interaction}",
            "X-Request-ID": request_id,
        }

    async def free_slots(self, service_id: str, after: timedelta) -> list[dict[str, Any]]:
        """Free slots of ``service_id`` starting later than now + ``after``, soonest first."""
        url = f"{self.rig.root}/Slot?service={service_id}&_include=Slot:schedule"
        headers = self.headers("organization/slot.read", "read:slot", str(uuid.uuid4()))
        async with self.http.get(url, headers=headers) as resp:
            assert resp.status == 200, await resp.text()
            bundle = await resp.json(content_type=None)
        earliest = datetime.now(UTC) + after
        slots = [
            e["resource"]
            for e in bundle.get("entry", [])
            if e["resource"]["resourceType"] == "Slot"
            and datetime.fromisoformat(e["resource"]["start"]) > earliest
        ]
        return sorted(slots, key=lambda s: datetime.fromisoformat(s["start"]))

    async def book(
        self, body: dict[str, Any], request_id: str
    ) -> tuple[int, Any, Mapping[str, str]]:
        """POST the booking: status, parsed body and headers (raises if the answer is lost)."""
        headers = {
            **self.headers("patient/appointment.write", "create:appointment", request_id),
            "Content-Type": "application/fhir+json",
        }
        data = json.dumps(body).encode()
        async with self.http.post(f"{self.rig.root}/Appointment", data=data, headers=headers) as r:
            return r.status, await r.json(content_type=None), r.headers.copy()

    async def read(self, path: str) -> tuple[int, Any, Mapping[str, str]]:
        headers = self.headers("patient/appointment.read", "read:appointment", str(uuid.uuid4()))
        async with self.http.get(f"{self.rig.root}/{path}", headers=headers) as resp:
            return resp.status, await resp.json(content_type=None), resp.headers.copy()

    async def patient_appointments(self) -> list[dict[str, Any]]:
        """Every current appointment of the demo patient (all bookings here are theirs)."""
        query = f"https://fhir.nhs.uk/Id/nhs-number|{EXAMPLE_NHS_NUMBER}"
        status, bundle, _ = await self.read(f"Appointment?patient:identifier={query}")
        assert status == 200, bundle
        return [e["resource"] for e in bundle.get("entry", [])]


def slot_identifier(resource: dict[str, Any]) -> str:
    """A slot's identifier value: a Slot, or the Slot contained in an Appointment."""
    if resource["resourceType"] == "Appointment":
        resource = next(c for c in resource["contained"] if c["resourceType"] == "Slot")
    value: str = resource["identifier"][0]["value"]
    return value


__all__ = ["Consumer", "Rig", "booking_body", "kill", "slot_identifier", "stop", "supplier_keys"]
