"""A legacy 111 system books over HL7 v2 (ARQ-24 the CDA id) and sends the ITK report: one journey.

Both orders, and both kinds of provider: the embedded diary (booking and referral in
its own database) and an ITK-only provider (``kind: itk`` with a ``bookings:``
diary), whose reference ITK receiver holds the report.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters.hl7_toolkit.er7 import Message, Segment, comp
from adapters.itk.peer import RunningReceiver
from gateway.app import create_app
from gateway.config import load as load_config
from gateway.hl7 import HL7_FRONT_DOOR
from gateway.itk.door import CLOCK
from gateway.store import Store
from tests.hl7_front_door.conftest import DEMO_DATA, SERVICE_ID, door_section
from tests.hl7_front_door.legacy import Legacy, ack_of, appointment
from tests.itk import messages
from tests.itk.conftest import Clock, Sender, itk_section
from tests.itk.sender_rig import MAPPINGS, SENDER, peer_fixture  # noqa: F401  (fixture)
from tests.stores import store_yaml


def _diary(tmp: Path) -> str:
    return f"""  - name: diary
    kind: embedded
    options: {{database: {tmp / "embedded.sqlite3"}, data_dir: {DEMO_DATA}, horizon_days: 3}}
"""


def _itk_provider(tmp: Path, peer: RunningReceiver) -> str:
    return f"""  - name: diary
    kind: itk
    options:
      endpoint: {peer.endpoint}
      mappings: {MAPPINGS}
      sender_address: {SENDER}
      timeout_s: 2
      retry: {{attempts: 3, first_delay_s: 0.05, max_delay_s: 0.2}}
      business_ack: {{mode: await, wait_s: 3}}
      bookings:
        kind: embedded
        options: {{database: {tmp / "embedded.sqlite3"}, data_dir: {DEMO_DATA}, horizon_days: 3}}
"""


def _config(tmp: Path, port: int, adapter: str) -> Path:
    text = f"""
server:
  host: 127.0.0.1
  port: {port}
  service_root: http://127.0.0.1:{port}/STU3/1/careconnect/appointment
store:
  {store_yaml(tmp / "gateway.sqlite3")}
logging:
  format: json
adapters:
{adapter}services:
  - id: "{SERVICE_ID}"
    adapter: diary
{door_section()}{itk_section()}"""
    path = tmp / "gateway.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class Journey:
    """The legacy 111 system's two channels into one gateway: HL7 v2 (MLLP) and ITK (SOAP)."""

    hl7: Legacy
    itk: Sender
    diary: Path

    @property
    def store(self) -> Store:
        return self.itk.store

    async def book(self, document_id: str) -> str:
        """SRM^S01 for the first free slot an hour ahead, ARQ-24 naming the CDA."""
        (offer,) = await self.hl7.offers()
        message = self.hl7.booking(offer)
        arq = list(message.segments[1].fields)
        arq[24] = comp(document_id, "CAS")
        segments = list(message.segments)
        segments[1] = Segment(tuple(arq), segments[1].delimiters)
        answer = await self.hl7.send(Message(tuple(segments)))
        assert ack_of(answer).code == "AA", answer.to_er7()
        return appointment(answer).filler_id

    async def report(self, body: bytes) -> None:
        self.itk.clock.at = messages.created(body)
        assert (await self.itk.send(body)).status == 200

    def diary_rows(self, sql: str) -> list[tuple[object, ...]]:
        with sqlite3.connect(self.diary) as conn:
            return list(conn.execute(sql).fetchall())


Start = Callable[[str], Awaitable[Journey]]


@pytest.fixture
async def start(tmp_path: Path, unused_tcp_port_factory: Callable[[], int]) -> AsyncIterator[Start]:
    """Start a gateway with both legacy doors over the given ``adapters:`` entry."""
    running: list[tuple[Legacy, TestClient[web.Request, web.Application]]] = []

    async def begin(adapter: str) -> Journey:
        port = unused_tcp_port_factory()
        path = _config(tmp_path, port, adapter)
        settings = load_config(path)
        app = create_app(settings, path)
        clock = Clock()
        app[CLOCK] = clock
        client = TestClient(TestServer(app, host="127.0.0.1", port=port))
        await client.start_server()
        host, hl7_port = app[HL7_FRONT_DOOR].address or ("", 0)
        legacy = Legacy(host, hl7_port)
        running.append((legacy, client))
        return Journey(legacy, Sender(client, settings, app, clock), tmp_path / "embedded.sqlite3")

    yield begin
    for legacy, client in running:
        await legacy.close()
        await client.close()


async def _linked(journey: Journey, document_id: str, appointment_id: str) -> str:
    stored = await journey.store.find_referral_by_document(document_id)
    assert stored is not None and stored.referral.appointment_id == appointment_id
    return stored.referral_id


def _booked_documents(journey: Journey) -> list[str]:
    rows = journey.diary_rows("SELECT document FROM bookings WHERE status = 'booked'")
    return [json.loads(str(document))["identifier"] for (document,) in rows]


@pytest.mark.parametrize("report_first", [False, True], ids=["booking-first", "report-first"])
async def test_hl7_booking_and_itk_report_reach_the_embedded_diary_linked(
    start: Start, tmp_path: Path, report_first: bool
) -> None:
    """Either order: the gateway links them; the diary holds the booking and the referral."""
    journey = await start(_diary(tmp_path))
    body = messages.sample()
    document_id = messages.document_id(body)
    if report_first:
        await journey.report(body)
    appointment_id = await journey.book(document_id)
    if not report_first:
        await journey.report(body)
    referral_id = await _linked(journey, document_id, appointment_id)
    assert _booked_documents(journey) == [document_id]
    kept = journey.diary_rows("SELECT referral_id, document_id FROM referrals")
    assert set(kept) == {(referral_id, document_id)}


@pytest.mark.parametrize("report_first", [False, True], ids=["booking-first", "report-first"])
async def test_hl7_booking_and_itk_report_reach_an_itk_provider_linked(
    start: Start, tmp_path: Path, peer: RunningReceiver, report_first: bool
) -> None:
    """Either order: the booking (and the referral) in the provider's diary, the ITK receiver
    holds the report once; the gateway links booking and referral."""
    journey = await start(_itk_provider(tmp_path, peer))
    body = messages.sample()
    document_id = messages.document_id(body)
    if report_first:
        await journey.report(body)
    appointment_id = await journey.book(document_id)
    if not report_first:
        await journey.report(body)
    referral_id = await _linked(journey, document_id, appointment_id)
    assert _booked_documents(journey) == [document_id]
    kept = journey.diary_rows("SELECT referral_id, document_id FROM referrals")
    assert set(kept) == {(referral_id, document_id)}
    (received,) = peer.received
    assert received.document_id == document_id and received.seen == 1
