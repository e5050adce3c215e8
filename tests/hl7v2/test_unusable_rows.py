"""A schedules.csv row the PAS does not know: the rest of its service served, the row reported."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest_asyncio
from structlog.testing import capture_logs

from adapters.hl7v2.peer.server import PasPeer
from tests.api.conftest import READ_SLOTS, SERVICE_ROOT_PATH
from tests.hl7v2.gateway import PasConsumer, gateway_over
from tests.hl7v2.helpers import PHONE_SERVICE, demo_tables


def _unknown_codes(text: str) -> str:
    """A new UTC row with a code the PAS lacks; the phone service's only row renamed likewise."""
    text = text.replace("pas-ooh-gp,918999196666,OOHTEL,", "pas-ooh-gp,918999196666,OOHNEW,")
    return text + "pas-utc-minors,918999197777,UTCMIN,\n"


@pytest_asyncio.fixture
async def consumer(
    peer: PasPeer, tmp_path: Path, unused_tcp_port_factory: Callable[[], int]
) -> AsyncIterator[PasConsumer]:
    """A gateway over the PAS peer whose schedules.csv names two codes the PAS does not know."""
    tables = demo_tables(tmp_path / "tables", schedules=_unknown_codes)
    async with gateway_over(peer, tmp_path, unused_tcp_port_factory, mappings=tables) as gateway:
        yield gateway


async def _bundle(consumer: PasConsumer, service: str) -> tuple[int, dict[str, Any]]:
    resp = await consumer.client.get(
        f"{SERVICE_ROOT_PATH}/Slot?service={service}",
        headers=consumer.headers(READ_SLOTS, "read:slot"),
    )
    return resp.status, await resp.json(content_type=None)


async def test_an_unknown_schedule_code_leaves_the_rest_of_the_service_served(
    consumer: PasConsumer, peer: PasPeer
) -> None:
    """The UTC service still offers its known schedules; the bad row is logged once, by ids."""
    with capture_logs() as logs:
        resp = await consumer.search()
        assert resp.status == 200, await resp.text()
        bundle = await resp.json(content_type=None)
        schedules = {
            e["resource"]["schedule"]["reference"]
            for e in bundle["entry"]
            if e["resource"]["resourceType"] == "Slot"
        }
        assert schedules == {"Schedule/pas-utc-nurse", "Schedule/pas-utc-gp"}
        asked = peer.received.count("SQM^S25")
        assert (await consumer.search()).status == 200
        assert peer.received.count("SQM^S25") == asked + 1, "the bad code is not asked again"
    (row,) = [e for e in logs if e["event"] == "mapping_row_unusable"]
    assert (row["table"], row["line"], row["pas_schedule"]) == ("schedules.csv", 5, "UTCMIN")
    assert row["schedule_id"] == "pas-utc-minors" and row["service_id"] == "918999197777"


async def test_a_service_whose_only_row_is_unknown_is_empty_not_404(
    consumer: PasConsumer,
) -> None:
    """A configured service whose every schedule code is unknown answers 200 with no slots."""
    status, bundle = await _bundle(consumer, PHONE_SERVICE)
    assert status == 200, bundle
    assert bundle["resourceType"] == "Bundle" and bundle.get("total") == 0


async def test_health_names_the_unusable_rows(consumer: PasConsumer) -> None:
    """/health keeps passing (the service is served) and names each unusable row and its line."""
    await consumer.search()
    await _bundle(consumer, PHONE_SERVICE)
    resp = await consumer.client.get("/health")
    body = await resp.json()
    assert resp.status == 200 and body["status"] == "pass"
    detail = body["checks"]["pas"]["detail"]
    assert "schedules.csv line 4 (OOHNEW, schedule pas-ooh-gp) unusable" in detail
    assert "schedules.csv line 5 (UTCMIN, schedule pas-utc-minors) unusable" in detail
