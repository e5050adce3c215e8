"""SIU messages from a real PAS peer in the scrape, and /health/ready following the PAS."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path

import pytest_asyncio

from adapters.hl7v2.peer.server import PasPeer
from gateway.examples import EXAMPLE_NHS_NUMBER as NHS_NUMBER
from gateway.examples import booking_body
from tests.hl7v2.conftest import peer  # noqa: F401 (fixture)
from tests.hl7v2.gateway import PasConsumer, gateway_over
from tests.metrics.scrape import Samples, scrape, value

SIU = "uec_gateway_inbound_messages_total"


@pytest_asyncio.fixture
async def pas_gateway(
    peer: PasPeer,  # noqa: F811
    tmp_path: Path,
    unused_tcp_port_factory: Callable[[], int],
) -> AsyncIterator[PasConsumer]:
    """A gateway whose only route is the PAS peer over HL7 v2."""
    async with gateway_over(peer, tmp_path, unused_tcp_port_factory) as gateway:
        yield gateway


async def _scrape_until(
    consumer: PasConsumer, before: Samples, name: str, moved: float, **labels: str
) -> Samples:
    """Scrape until ``name`` has moved by ``moved`` (an SIU is applied just after its ACK)."""
    after: Samples = before
    for _ in range(100):
        _, after = await scrape(consumer.client)
        if value(after, name, **labels) - value(before, name, **labels) >= moved:
            break
        await asyncio.sleep(0.05)
    return after


async def test_an_siu_from_the_pas_desk_is_counted_received_and_applied_once(
    pas_gateway: PasConsumer,
    peer: PasPeer,  # noqa: F811
) -> None:
    """A desk move at the PAS (SIU^S13) counts one received and one applied, none rejected."""
    offered = await pas_gateway.free_slots(10)
    first = offered[0]
    second = next(
        s for s in offered if s["schedule"] == first["schedule"] and s["start"] != first["start"]
    )
    booked = await pas_gateway.book(booking_body(first))
    assert booked.status == 201, await booked.text()
    await asyncio.sleep(0.2)  # any SIU^S12 answering our own booking has landed
    _, before = await scrape(pas_gateway.client)
    (held,) = await peer.appointments()
    await peer.move_locally(held.filler_id, datetime.fromisoformat(second["start"]))
    after = await _scrape_until(pas_gateway, before, SIU, 1, channel="hl7v2_siu", stage="applied")
    text, after = await scrape(pas_gateway.client)

    def moved(stage: str) -> float:
        return value(after, SIU, channel="hl7v2_siu", stage=stage) - value(
            before, SIU, channel="hl7v2_siu", stage=stage
        )

    assert (moved("received"), moved("applied"), moved("rejected")) == (1, 1, 0)
    assert NHS_NUMBER not in text and held.filler_id not in text


async def test_ready_is_503_while_the_pas_is_down_and_200_once_it_is_back(
    pas_gateway: PasConsumer,
    peer: PasPeer,  # noqa: F811
    tmp_path: Path,
) -> None:
    """/health/ready names the PAS route down (503) while its peer is away; live stays 200."""
    ready = await pas_gateway.client.get("/health/ready")
    body = await ready.json()
    assert ready.status == 200, body
    assert body["store"]["ok"] and body["mapping"]["generation"] == 1
    assert set(body["build"]) == {"version", "commit", "python", "started"}
    port = peer.port
    await peer.close()
    down = await pas_gateway.client.get("/health/ready")
    route = next(iter((await down.json())["routes"].values()))
    assert down.status == 503 and route["adapter"] == "pas" and not route["ok"]
    assert (await pas_gateway.client.get("/health/live")).status == 200
    back = await PasPeer.start(str(tmp_path / "pas.sqlite3"), port=port, horizon_days=2)
    try:
        assert (await pas_gateway.client.get("/health/ready")).status == 200
    finally:
        await back.close()
