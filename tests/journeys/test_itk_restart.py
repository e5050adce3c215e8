"""A gateway killed between an ITK report's receipt and its delivery loses nothing, doubles nothing.

A real gateway process (``uec-gateway serve``) receives the report for an ITK-only
provider whose reference receiver holds the delivery; the gateway is SIGKILLed
while it waits, restarted on the same store, and the 111 sender resends the same
tracking id (as ITK senders do when no ack came) until acknowledged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from lxml import etree

from adapters.itk.peer import FaultSpec, Mode, RunningReceiver, start_receiver
from adapters.itk_toolkit.names import WSU
from adapters.soap_toolkit.envelope import SoapVersion
from benchmarks._children import Child, free_port
from tests.crash._rig import kill, stop
from tests.integration.cli import UEC_GATEWAY
from tests.itk import messages
from tests.itk.conftest import ITK_PATH, itk_section
from tests.itk.sender_rig import MAPPINGS, SENDER
from tests.stores import store_yaml

SERVICE_ID = "918999198999"
ACTION = "urn:nhs-itk:services:201005:SendNHS111Report-v2-0"
#: The door's budget for one message: its tracking-id claim outlives a killed holder
#: by 2 x this + 5 s, after which a resend is worked on afresh.
BUDGET_S = 3


def _config(tmp: Path, port: int, peer: RunningReceiver) -> str:
    return f"""
server:
  host: 127.0.0.1
  port: {port}
  service_root: http://127.0.0.1:{port}/STU3/1/careconnect/appointment
store:
  {store_yaml(tmp / "gateway.sqlite3")}
  claim_lease_s: 1
logging: {{format: json, level: info}}
adapters:
  - name: ed-itk
    kind: itk
    options:
      endpoint: {peer.endpoint}
      mappings: {MAPPINGS}
      sender_address: {SENDER}
      timeout_s: 2.5
      retry: {{attempts: 3, first_delay_s: 0.05, max_delay_s: 0.2}}
      business_ack: {{mode: "off"}}
services:
  - id: "{SERVICE_ID}"
    adapter: ed-itk
{itk_section()}  time_budget_s: {BUDGET_S}
"""


def _fresh(body: bytes) -> bytes:
    """The sample as its sender writes it now (WS-Security Created/Expires of this minute)."""
    now = datetime.now(UTC).replace(microsecond=0)

    def stamp(root: etree._Element) -> None:
        for name, at in (("Created", now), ("Expires", now + timedelta(minutes=10))):
            for node in root.iter(WSU.q(name)):
                node.text = at.isoformat().replace("+00:00", "Z")

    return messages.edit(body, stamp)


class Gateway:
    """One gateway process, restartable on the same store."""

    def __init__(self, tmp: Path, peer: RunningReceiver) -> None:
        self.tmp, self.port = tmp, free_port()
        self.config = tmp / "gateway.yaml"
        self.config.write_text(_config(tmp, self.port, peer), encoding="utf-8")
        self.child = self._child()

    def _child(self) -> Child:
        argv = [str(UEC_GATEWAY), "serve", "--config", str(self.config), "--port", str(self.port)]
        return Child("gateway", argv, self.port, self.tmp / "gateway.log")

    async def start(self) -> None:
        self.child = self._child()
        self.child.start()
        await self.child.wait_ready()

    async def post(self, body: bytes, timeout_s: float = 20) -> tuple[int, bytes]:
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.post(
                f"{self.child.url}{ITK_PATH}", data=body, headers=SoapVersion.V11.headers(ACTION)
            ) as resp,
        ):
            return resp.status, await resp.read()

    async def resend_until_acked(self, body: bytes, within_s: float = 45) -> bytes:
        """Send again, as an ITK sender does, until the infrastructure ack comes."""
        deadline = time.monotonic() + within_s
        while True:
            status, answer = await self.post(body)
            if status == 200:
                return answer
            assert time.monotonic() < deadline, f"no ack: {status} {answer[:300]!r}"
            await asyncio.sleep(0.5)


@pytest.fixture
async def peer() -> AsyncIterator[RunningReceiver]:
    """The ITK-only provider's reference receiver, holding its first delivery for 20 s."""
    running = await start_receiver(fault=FaultSpec(mode=Mode.SLOW, times=1, delay_s=20))
    yield running
    await running.stop()


@pytest.fixture
async def gateway(tmp_path: Path, peer: RunningReceiver) -> AsyncIterator[Gateway]:
    running = Gateway(tmp_path, peer)
    await running.start()
    try:
        yield running
    finally:
        await stop(running.child)


async def _posted(peer: RunningReceiver, within_s: float = 15) -> None:
    deadline = time.monotonic() + within_s
    while peer.state.posts < 1:
        assert time.monotonic() < deadline, "the gateway never posted the report"
        await asyncio.sleep(0.02)


async def test_a_kill_mid_delivery_then_a_resend_delivers_the_report_once(
    gateway: Gateway, peer: RunningReceiver
) -> None:
    """SIGKILL while the receiver holds the report; after restart the resend is acked and the
    provider holds the report once; a further resend is answered as before, never redelivered."""
    body = _fresh(messages.sample())
    first = asyncio.create_task(gateway.post(body))
    await _posted(peer)
    await kill(gateway.child)
    with pytest.raises(aiohttp.ClientError):
        await first
    assert peer.received == []
    await gateway.start()
    answer = await gateway.resend_until_acked(body)
    assert b"SimpleMessageResponse>OK:" + messages.tracking_id(body).encode() in answer
    (received,) = peer.received
    assert received.document_id == messages.document_id(body) and received.seen == 1
    assert await gateway.post(body) == (200, answer)
    assert len(peer.received) == 1 and peer.received[0].seen == 1


async def test_a_tracking_id_answered_before_a_kill_is_never_delivered_again(
    gateway: Gateway, peer: RunningReceiver
) -> None:
    """Acked, then SIGKILLed and restarted: the resend gets the first answer, nothing is sent."""
    peer.fault(None)
    body = _fresh(messages.sample())
    status, answer = await gateway.post(body)
    assert status == 200 and len(peer.received) == 1
    await kill(gateway.child)
    await gateway.start()
    assert await gateway.post(body) == (200, answer)
    assert len(peer.received) == 1 and peer.received[0].seen == 1 and peer.state.posts == 1
