"""Referrals into an ITK-only provider through the BaRS and ITK doors, over real sockets."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from lxml import etree

from adapters.itk.peer import FaultSpec, Mode, RunningReceiver
from adapters.itk_toolkit.message import read_message
from adapters.soap_toolkit.envelope import SoapVersion
from gateway.app import create_app
from gateway.config import load as load_config
from gateway.examples import EXAMPLE_NHS_NUMBER
from gateway.itk.door import CLOCK
from tests.api.conftest import DEMO_DATA, SERVICE_ID, GatewayTestServer
from tests.bars.conftest import BARS_ROOT_PATH, Sender, appointment_body, bars_section
from tests.itk import messages, samples
from tests.itk.conftest import Clock, itk_section
from tests.itk.sender_rig import MAPPINGS, SENDER, peer_fixture  # noqa: F401  (fixture)
from tests.stores import store_yaml

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "spec" / "bars" / "examples"
REFREQ01 = EXAMPLES / "REFREQ01_-_Referral_Service_Request_New_Full_-_111_to_ED.xml"
#: The published example's NHS number fails its check digit; every door refuses it.
BAD_NHS_NUMBER = b"3478526985"

Start = Callable[[], Awaitable["Door"]]


@dataclass
class Door:
    """The gateway under test: its BaRS sender, and its app (for the ITK door's clock)."""

    bars: Sender
    app: web.Application
    clock: Clock


def _config(tmp: Path, port: int, peer: RunningReceiver) -> Path:
    text = f"""
server:
  host: 127.0.0.1
  port: {port}
  service_root: http://127.0.0.1:{port}/STU3/1/careconnect/appointment
  request_timeout_s: 10
security:
  jwt: {{allow_unsigned: true}}
  ssp: {{enforcement: off, asid: "200000000115"}}
store:
  {store_yaml(tmp / "gateway.sqlite3")}
logging:
  format: json
adapters:
  - name: ed-itk
    kind: itk
    options:
      endpoint: {peer.endpoint}
      mappings: {MAPPINGS}
      sender_address: {SENDER}
      timeout_s: 1
      retry: {{attempts: 3, first_delay_s: 0.05, max_delay_s: 0.2}}
      business_ack: {{mode: await, wait_s: 2}}
      bookings:
        kind: embedded
        options: {{database: {tmp / "embedded.sqlite3"}, data_dir: {DEMO_DATA}, horizon_days: 3}}
services:
  - id: "{SERVICE_ID}"
    adapter: ed-itk
"""
    path = tmp / "gateway.yaml"
    path.write_text(text + bars_section(port, SERVICE_ID) + itk_section(), encoding="utf-8")
    return path


@pytest.fixture
async def start(
    tmp_path: Path, unused_tcp_port_factory: Callable[[], int], peer: RunningReceiver
) -> AsyncIterator[Start]:
    """Start a gateway whose service books in the embedded diary and refers over ITK."""
    clients: list[TestClient[web.Request, web.Application]] = []

    async def begin() -> Door:
        port = unused_tcp_port_factory()
        path = _config(tmp_path, port, peer)
        settings = load_config(path)
        app = create_app(settings, path)
        clock = Clock()
        now: Callable[[], datetime] = clock
        app[CLOCK] = now
        client = TestClient(GatewayTestServer(app, host="127.0.0.1", port=port))
        await client.start_server()
        clients.append(client)
        return Door(Sender(client, settings), app, clock)

    yield begin
    for client in clients:
        await client.close()


def _refreq01() -> bytes:
    return REFREQ01.read_bytes().replace(BAD_NHS_NUMBER, EXAMPLE_NHS_NUMBER.encode())


async def _refer(sender: Sender, **headers: str) -> tuple[int, dict[str, Any]]:
    hdrs = sender.headers(**{"Content-Type": "application/fhir+xml", **headers})
    async with sender.client.post(
        f"{BARS_ROOT_PATH}/$process-message", data=_refreq01(), headers=hdrs
    ) as resp:
        return resp.status, json.loads(await resp.read())


@pytest.fixture
def example() -> None:
    if not REFREQ01.is_file():
        pytest.skip(f"shared sample absent: {REFREQ01}")


@pytest.mark.usefixtures("example")
async def test_a_bars_referral_reaches_the_itk_provider_once(
    start: Start, peer: RunningReceiver
) -> None:
    """REFREQ01 through the BaRS door is one ITK report at the receiver (its CDA names the
    patient); the same X-Request-Id sent again is 409 and sends nothing more."""
    sender = (await start()).bars
    request_id = "4bb0a5f4-46b1-4b8b-9f2a-7a0f1b0c0d01"
    status, answer = await _refer(sender, **{"X-Request-Id": request_id})
    assert status == 200, answer
    [stored] = peer.received
    assert stored.addresses == ("urn:nhs-uk:addressing:ods:RYE02",)
    assert EXAMPLE_NHS_NUMBER.encode() in stored.payloads[0]
    again, _ = await _refer(sender, **{"X-Request-Id": request_id})
    assert again == 409
    assert len(peer.received) == 1 and peer.received[0].seen == 1


@pytest.mark.usefixtures("example")
async def test_a_business_nack_is_answered_as_a_refusal_and_nothing_is_kept(
    start: Start, peer: RunningReceiver
) -> None:
    """The provider's system refuses the report: the BaRS sender gets a 422 business-rule
    OperationOutcome, and the referral is not stored as accepted."""
    sender = (await start()).bars
    peer.fault(FaultSpec(mode=Mode.BUSINESS_NACK, code="ERR1"))
    status, outcome = await _refer(sender)
    assert status == 422, outcome
    assert outcome["resourceType"] == "OperationOutcome"
    found = await sender.get(
        f"/ServiceRequest?patient:identifier=https://fhir.nhs.uk/Id/nhs-number|{EXAMPLE_NHS_NUMBER}"
    )
    bundle = json.loads(await found.read())
    assert [e for e in bundle.get("entry", []) if e.get("search", {}).get("mode") == "match"] == []


def _bytes(path: Path) -> bytes:
    return path.read_bytes()


def _c14n(element: etree._Element) -> bytes:
    return etree.tostring(element, method="c14n2", strip_text=True)


async def test_an_itk_report_received_reaches_the_itk_provider_unchanged(
    start: Start, peer: RunningReceiver
) -> None:
    """A 111 supplier's report arriving at the ITK door goes out to the ITK-only provider in a
    new envelope (our tracking id) with the very CDA it carried; a resend is answered as before
    and delivered nothing more."""
    path = samples.CDA_DIR / "cleric-itk-ooh-referral-dx09-itk-request.xml"
    if not path.is_file():
        pytest.skip(f"shared sample absent: {path}")
    door = await start()
    body = _bytes(path)
    door.clock.at = messages.created(body)
    headers = SoapVersion.V11.headers("urn:nhs-itk:services:201005:SendNHS111Report-v2-0")
    for _ in range(2):
        async with door.bars.client.post("/itk", data=body, headers=headers) as resp:
            answer = await resp.text()
            assert resp.status == 200, answer
    received = read_message(body, max_bytes=4 << 20, max_depth=200).distribution
    assert f"OK:{received.tracking_id}" in answer
    [stored] = peer.received
    assert stored.tracking_id != received.tracking_id and stored.seen == 1
    original = received.payloads[0].element
    assert original is not None
    assert _c14n(etree.fromstring(stored.payloads[0])) == _c14n(original)


def _service_request(answer: dict[str, Any]) -> dict[str, Any]:
    [request] = [
        e["resource"] for e in answer["entry"] if e["resource"]["resourceType"] == "ServiceRequest"
    ]
    return request


@pytest.mark.usefixtures("example")
async def test_a_bars_sender_books_and_refers_into_the_itk_provider(
    start: Start, peer: RunningReceiver, tmp_path: Path
) -> None:
    """A BaRS sender refers (REFREQ01) and then books a slot based on that referral into an
    ITK-only provider: the report reaches its ITK receiver once, the slot is held in the
    diary beside it for the patient, and the two are one journey over BaRS."""
    sender = (await start()).bars
    status, answer = await _refer(sender)
    assert status == 200, answer
    referral = _service_request(answer)
    slot = (await sender.free_slots())[0]
    based_on = [{"reference": f"ServiceRequest/{referral['id']}"}]
    body = {**appointment_body(slot), "basedOn": based_on}
    booked = await sender.send("POST", "/Appointment", body)
    assert booked.status == 201, await booked.text()
    appointment = json.loads(await booked.read())
    assert appointment["basedOn"] == based_on
    assert len(peer.received) == 1 and peer.received[0].seen == 1
    sql = (
        "SELECT b.status, b.patient FROM bookings b JOIN slots s ON s.id = b.slot_id "
        "WHERE s.identifier = ?"
    )
    with closing(sqlite3.connect(tmp_path / "embedded.sqlite3")) as conn:
        [(held, patient)] = conn.execute(sql, (slot["id"],)).fetchall()
    assert held == "booked" and json.loads(patient)["nhs_number"] == EXAMPLE_NHS_NUMBER
    resp = await sender.get(f"/ServiceRequest/{referral['id']}")
    linked = json.loads(await resp.read())
    assert {"reference": f"Appointment/{appointment['id']}", "display": "Booking"} in linked[
        "supportingInfo"
    ]
