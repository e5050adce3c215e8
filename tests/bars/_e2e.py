"""One gateway serving both doors over each supplier, and what that supplier itself holds.

Each supplier is real: the embedded diary (its SQLite file), the HL7 v2 PAS peer
over MLLP (its appointments, SIU sent back to the gateway), the REST diary peer
and the SOAP diary peer (each on 127.0.0.1). ``Supplier.held`` reads what the
supplier stored for a slot from the supplier's own side, never from the gateway:
the embedded diary's tables, the PAS's appointment store, the REST peer's
``GET /appointments/{ref}`` and the SOAP peer's ``GetAppointment``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import aiosqlite
from aiohttp.test_utils import TestClient
from lxml import etree

from adapters.hl7v2._siu import slot_uuid
from adapters.hl7v2.peer.server import PasPeer
from adapters.rest_diary.peer import PeerAuth, RunningPeer
from adapters.rest_diary.peer import start_peer as start_rest_peer
from adapters.soap_diary.peer import RunningSoapPeer
from adapters.soap_diary.peer import start_peer as start_soap_peer
from gateway.app import create_app
from gateway.config import load as load_config
from tests.api.conftest import Consumer, GatewayTestServer
from tests.bars.conftest import Sender, bars_section
from tests.selftest import backends as b
from tests.stores import store_yaml

Json = dict[str, Any]
Ports = Callable[[], int]
ADAPTER = "backend"
SOAP_NS = "http://schemas.fernbrook-diary.example/booking/2019"


@dataclass(frozen=True, slots=True)
class Held:
    """One appointment in a slot, as the supplier's own store holds it."""

    status: str  # "booked" or "cancelled"
    nhs_number: str | None
    start: datetime
    end: datetime


Reader = Callable[[Json], Awaitable[list[Held]]]


@dataclass
class Supplier:
    """A gateway over one supplier: its BaRS sender, its STU3 consumer, its own diary."""

    name: str
    service: str
    bars: Sender
    stu3: Consumer
    held: Reader

    async def live(self, slot: Json) -> list[Held]:
        """The bookings the supplier holds in ``slot`` that are not cancelled."""
        return [h for h in await self.held(slot) if h.status == "booked"]


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _local(text: str, zone: ZoneInfo) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone).astimezone(UTC)


@asynccontextmanager
async def _gateway(
    tmp: Path, ports: Ports, adapter: str, service: str
) -> AsyncIterator[tuple[Sender, Consumer]]:
    port = ports()
    path = tmp / "gateway.yaml"
    store = store_yaml(tmp / "gateway.sqlite3")
    head = b.HEAD.format(port=port, root=b.SERVICE_ROOT_PATH, tmp=tmp, store=store, jwt="")
    services = f'services:\n  - id: "{service}"\n    adapter: {ADAPTER}\n'
    path.write_text(head + adapter + services + bars_section(port, service))
    settings = load_config(path)
    server = GatewayTestServer(create_app(settings, path), host="127.0.0.1", port=port)
    client = TestClient(server)
    await client.start_server()
    try:
        yield Sender(client, settings), Consumer(client, settings)
    finally:
        await client.close()


# -- the embedded diary: its own SQLite tables ------------------------------------------


def _embedded_reader(database: Path) -> Reader:
    sql = (
        'SELECT b.status, b.patient, b.start, b."end" FROM bookings b '
        "JOIN slots s ON s.id = b.slot_id WHERE s.identifier = ? ORDER BY b.created, b.rowid"
    )

    async def held(slot: Json) -> list[Held]:
        async with aiosqlite.connect(database) as conn, conn.execute(sql, (slot["id"],)) as cur:
            rows = await cur.fetchall()
        return [
            Held(str(r[0]), json.loads(r[1]).get("nhs_number"), instant(r[2]), instant(r[3]))
            for r in rows
        ]

    return held


@asynccontextmanager
async def embedded(tmp: Path, ports: Ports) -> AsyncIterator[Supplier]:
    database = tmp / "embedded.sqlite3"
    adapter = f"""  - name: {ADAPTER}
    kind: embedded
    options:
      database: {database}
      data_dir: {b.ROOT}/mappings/embedded/demo
      horizon_days: {b.DAYS}
"""
    service = "918999198999"
    async with _gateway(tmp, ports, adapter, service) as (bars, stu3):
        yield Supplier("embedded", service, bars, stu3, _embedded_reader(database))


# -- the HL7 v2 PAS: its appointment store, slots being (schedule, start) ---------------


def _nhs_in_pid(pid: str) -> str | None:
    fields = pid.split("|")
    ids = fields[3].split("~") if len(fields) > 3 else []
    found = [i.split("^")[0] for i in ids if i.split("^")[4:5] == ["NH"]]
    return found[0] if found else None


def _pas_reader(pas: PasPeer) -> Reader:
    async def held(slot: Json) -> list[Held]:
        return [
            Held(a.status.lower(), _nhs_in_pid(a.pid), a.start, a.end)
            for a in await pas.appointments()
            if slot_uuid(ADAPTER, a.schedule, a.start) == slot["id"]
        ]

    return held


@asynccontextmanager
async def hl7v2(tmp: Path, ports: Ports) -> AsyncIterator[Supplier]:
    pas = await PasPeer.start(str(tmp / "pas.sqlite3"), horizon_days=b.DAYS)
    listen = ports()
    adapter = f"""  - name: {ADAPTER}
    kind: hl7v2
    options:
      host: 127.0.0.1
      port: {pas.port}
      mappings: {b.ROOT}/mappings/hl7v2/demo
      database: {tmp}/hl7v2-journal.sqlite3
      listen: {{host: 127.0.0.1, port: {listen}}}
"""
    service = "918999197777"
    try:
        async with _gateway(tmp, ports, adapter, service) as (bars, stu3):
            pas.notify_to(("127.0.0.1", listen))
            yield Supplier("hl7v2", service, bars, stu3, _pas_reader(pas))
    finally:
        await pas.close()


# -- the REST and SOAP diary peers: their own APIs --------------------------------------


async def _refs(peer: RunningPeer | RunningSoapPeer, slot: Json) -> list[str]:
    """The peer's appointment references in a slot (its own diary table)."""
    sql = "SELECT ref FROM appointments WHERE slot_id = ? ORDER BY seq"
    async with peer.diary.conn.execute(sql, (slot["id"],)) as cur:
        return [str(r[0]) for r in await cur.fetchall()]


def _rest_reader(peer: RunningPeer) -> Reader:
    async def held(slot: Json) -> list[Held]:
        out = []
        async with aiohttp.ClientSession(headers={"X-Api-Key": b.REST_KEY}) as http:
            for ref in await _refs(peer, slot):
                async with http.get(f"{peer.api}/appointments/{ref}") as resp:
                    assert resp.status == 200, await resp.text()
                    appt = await resp.json()
                start = _local(appt["slot"]["startLocal"], peer.diary.zone)
                minutes = int(appt["slot"]["durationMins"])
                out.append(
                    Held(
                        appt["status"].lower(),
                        appt["patient"].get("nhsNumber"),
                        start,
                        datetime.fromtimestamp(start.timestamp() + 60 * minutes, UTC),
                    )
                )
        return out

    return held


@asynccontextmanager
async def rest_diary(tmp: Path, ports: Ports) -> AsyncIterator[Supplier]:
    auth = PeerAuth(kind="api_key", api_key=b.REST_KEY)
    peer = await start_rest_peer(str(tmp / "rest.sqlite3"), days=b.DAYS, auth=auth)
    adapter = f"""  - name: {ADAPTER}
    kind: rest-diary
    options:
      base_url: {peer.api}
      mappings: {b.ROOT}/mappings/rest_diary/demo
      auth: {{kind: api_key, key_env: {b.REST_KEY_ENV}}}
"""
    service = "918999197001"
    try:
        async with _gateway(tmp, ports, adapter, service) as (bars, stu3):
            yield Supplier("rest-diary", service, bars, stu3, _rest_reader(peer))
    finally:
        await peer.stop()


_GET_APPOINTMENT = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope" xmlns:d="{ns}">'
    "<soap:Body><d:GetAppointment><d:AppointmentId>{id}</d:AppointmentId></d:GetAppointment>"
    "</soap:Body></soap:Envelope>"
)


def _soap_reader(peer: RunningSoapPeer) -> Reader:
    basic = base64.b64encode(f"gateway:{b.SOAP_PASSWORD}".encode()).decode()
    headers = {
        "Content-Type": 'application/soap+xml; charset=utf-8; action="GetAppointment"',
        "Authorization": f"Basic {basic}",
    }
    d = {"d": SOAP_NS}

    async def held(slot: Json) -> list[Held]:
        out = []
        async with aiohttp.ClientSession(headers=headers) as http:
            for ref in await _refs(peer, slot):
                body = _GET_APPOINTMENT.format(ns=SOAP_NS, id=int(ref.removeprefix("APT-")))
                async with http.post(peer.endpoint, data=body.encode()) as resp:
                    assert resp.status == 200, await resp.text()
                    root = etree.fromstring(await resp.read())
                appt = root.find(".//d:GetAppointmentResponse/d:Appointment", d)
                assert appt is not None, "GetAppointment answers the appointment"
                status = {"BKD": "booked", "CXL": "cancelled"}[appt.findtext("d:Status", "", d)]
                out.append(
                    Held(
                        status,
                        appt.findtext("d:Patient/d:NhsNumber", None, d),
                        _local(appt.findtext("d:Slot/d:StartLocal", "", d), peer.diary.zone),
                        _local(appt.findtext("d:Slot/d:EndLocal", "", d), peer.diary.zone),
                    )
                )
        return out

    return held


@asynccontextmanager
async def soap_diary(tmp: Path, ports: Ports) -> AsyncIterator[Supplier]:
    peer = await start_soap_peer(
        str(tmp / "soap.sqlite3"), days=b.DAYS, basic=f"gateway:{b.SOAP_PASSWORD}"
    )
    adapter = f"""  - name: {ADAPTER}
    kind: soap-diary
    options:
      endpoint: {peer.endpoint}
      mappings: {b.ROOT}/mappings/soap_diary/demo
      soap_version: "1.2"
      username: gateway
      password_env: {b.SOAP_PASSWORD_ENV}
"""
    service = "918999196001"
    try:
        async with _gateway(tmp, ports, adapter, service) as (bars, stu3):
            yield Supplier("soap-diary", service, bars, stu3, _soap_reader(peer))
    finally:
        await peer.stop()


Start = Callable[[Path, Ports], AbstractAsyncContextManager[Supplier]]

#: Every supplier kind a BaRS sender is tested against, end to end.
SUPPLIERS: dict[str, Start] = {
    "embedded": embedded,
    "hl7v2": hl7v2,
    "rest-diary": rest_diary,
    "soap-diary": soap_diary,
}
