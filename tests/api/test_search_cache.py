"""Kept slot search pages never offer a slot booked through the gateway (fhir/slot_pages.py).

A page is reused only for the diary version it was rendered at, and the embedded
diary moves its version in the same transaction as every booking or
cancellation — whichever gateway process made it.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from multidict import MultiDict

from adapters.domain import Slot, SlotSearchResult, SlotStatus
from gateway.fhir.formats import WireFormat
from gateway.fhir.search import slot_search
from gateway.fhir.slot_pages import SlotPages
from gateway.http.exchange import SLOT_PAGES
from tests.api.conftest import Consumer, Gateway, booking_body

FULL_INCLUDE = (
    "&_include=Schedule:actor:Practitioner&_include=Schedule:actor:PractitionerRole"
    "&_include=Schedule:actor:HealthcareService&_include=HealthcareService.providedBy"
    "&_include=HealthcareService.location"
)


def _pages(consumer: Consumer) -> Any:
    return consumer.client.server.app[SLOT_PAGES]


async def _slot_ids(consumer: Consumer, query: str = "") -> set[str]:
    resp = await consumer.search(query)
    assert resp.status == 200
    bundle = await resp.json(content_type=None)
    return {
        e["resource"]["id"]
        for e in bundle.get("entry", [])
        if e["resource"]["resourceType"] == "Slot"
    }


async def _book(consumer: Consumer, slot: dict[str, Any]) -> str:
    resp = await consumer.book(booking_body(slot))
    assert resp.status == 201, await resp.text()
    return str((await resp.json(content_type=None))["id"])


async def test_a_repeated_search_reuses_its_page_and_answers_the_same(consumer: Consumer) -> None:
    """The second identical search is served from the kept page, equal but for id and time."""
    first = await consumer.search(FULL_INCLUDE)
    hits = _pages(consumer).hits
    second = await consumer.search(FULL_INCLUDE)
    assert first.status == second.status == 200
    assert _pages(consumer).hits == hits + 1
    one, two = await first.json(content_type=None), await second.json(content_type=None)
    assert one["id"] != two["id"]
    for bundle in (one, two):
        del bundle["id"], bundle["meta"]
        bundle["link"] = [link for link in bundle["link"] if link["relation"] != "self"]
    assert one == two
    assert len(one["entry"]) > 10


async def test_a_booked_slot_leaves_the_kept_page_and_a_cancelled_one_returns(
    consumer: Consumer,
) -> None:
    """After a 201 the next search lacks the slot; after the cancel's 200 it offers it again."""
    slot = (await consumer.free_slots(1))[0]
    assert slot["id"] in await _slot_ids(consumer)
    appointment_id = await _book(consumer, slot)
    assert slot["id"] not in await _slot_ids(consumer)
    read = await consumer.read(f"Appointment/{appointment_id}")
    cancelled = {**(await read.json(content_type=None)), "status": "cancelled"}
    resp = await consumer.cancel(appointment_id, cancelled, **{"If-Match": read.headers["ETag"]})
    assert resp.status == 200, await resp.text()
    assert slot["id"] in await _slot_ids(consumer)


async def test_xml_pages_follow_bookings_too(consumer: Consumer) -> None:
    """A kept XML page is dropped with the version: the booked slot's id is gone from it."""
    slot = (await consumer.free_slots(1))[0]
    before = await consumer.search("&_format=xml")
    assert f'<id value="{slot["id"]}"/>' in await before.text()
    await _book(consumer, slot)
    after = await consumer.search("&_format=xml")
    text = await after.text()
    assert after.status == 200 and text.startswith("<?xml")
    assert f'<id value="{slot["id"]}"/>' not in text
    assert text.count("<entry>") > 5


async def test_no_search_started_after_a_booking_offers_its_slot(consumer: Consumer) -> None:
    """Searches throughout 12 concurrent bookings: none begun after a 201 shows that slot."""
    slots = await consumer.free_slots(12)
    booked_at: dict[str, float] = {}
    seen: list[tuple[float, set[str]]] = []
    done = asyncio.Event()

    async def book(slot: dict[str, Any]) -> None:
        await _book(consumer, slot)
        booked_at[slot["id"]] = time.monotonic()

    async def search() -> None:
        while not done.is_set():
            started = time.monotonic()
            seen.append((started, await _slot_ids(consumer)))

    searchers = [asyncio.create_task(search()) for _ in range(4)]
    await asyncio.gather(*(book(s) for s in slots))
    await asyncio.sleep(0.05)
    done.set()
    await asyncio.gather(*searchers)
    late = [ids for started, ids in seen if started > min(booked_at.values())]
    assert late, "some searches ran after the first booking"
    for started, ids in seen:
        for slot_id, at in booked_at.items():
            if started > at:
                assert slot_id not in ids


async def test_a_booking_at_another_gateway_on_the_same_diary_empties_the_page(
    gateway: Gateway, tmp_path: Path
) -> None:
    """Two gateway processes' worth of apps on one diary file: B's kept page drops A's booking."""
    shared = tmp_path / "shared"
    shared.mkdir()
    first = await gateway(shared)
    second = await gateway(shared)
    slot = (await second.free_slots(1))[0]
    assert slot["id"] in await _slot_ids(second)
    await _book(first, slot)
    assert slot["id"] not in await _slot_ids(second)


async def test_a_page_from_now_is_not_reused_once_its_first_slot_has_started() -> None:
    """A window starting 'now' reuses its page only until the page's first slot starts."""
    now = datetime.now(UTC).replace(second=10, microsecond=0)
    slots = tuple(
        Slot(
            id=f"s{i}",
            schedule_id="sch",
            identifier=f"00000000-0000-4000-8000-00000000000{i}",
            status=SlotStatus.FREE,
            start=now + timedelta(seconds=20 * i),
            end=now + timedelta(seconds=20 * i + 600),
        )
        for i in range(3)
    )
    found = SlotSearchResult(slots=slots, version="diary:1")
    pages = SlotPages()

    async def offered(at: datetime) -> list[str]:
        wanted = slot_search(MultiDict(service="x"), at)
        assert wanted.from_now
        answer = await pages.answer(
            found, wanted, base="http://g", self_url="http://g/Slot", now=at, fmt=WireFormat.JSON
        )
        bundle = json.loads(answer.body)
        return [e["resource"]["id"] for e in bundle.get("entry", [])]

    assert await offered(now) == ["s0", "s1", "s2"]
    assert await offered(now + timedelta(seconds=15)) == ["s1", "s2"]
    hits = pages.hits
    assert await offered(now + timedelta(seconds=18)) == ["s1", "s2"]
    assert pages.hits == hits + 1
    assert await offered(now + timedelta(seconds=21)) == ["s2"]
