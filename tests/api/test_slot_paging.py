"""Issue 9 row 8: slot searches are paged, and a large XML search never stalls the gateway."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

from yarl import URL

from tests.api.conftest import READ_SLOTS, SERVICE_ROOT_PATH, Consumer, Gateway

SEARCH = f"{SERVICE_ROOT_PATH}/Slot?service=918999198999&_include=Slot:schedule"


async def _get(consumer: Consumer, url: str) -> dict[str, Any]:
    resp = await consumer.client.get(url, headers=consumer.headers(READ_SLOTS, "read:slot"))
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json(content_type=None)
    return body


def _slots(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]


def _next(consumer: Consumer, bundle: dict[str, Any]) -> str | None:
    for link in bundle["link"]:
        if link["relation"] == "next":
            url = URL(link["url"])
            assert str(url).startswith(consumer.root + "/Slot?")
            return url.path_qs
    return None


async def test_row_8_next_links_walk_every_slot_once_in_start_order(gateway: Gateway) -> None:
    """Row 8: following `next` with _count=7 yields every slot once, in start order."""
    consumer = await gateway(max_slots_per_page=1000)
    whole = _slots(await _get(consumer, SEARCH))
    assert len(whole) > 50
    seen: list[dict[str, Any]] = []
    url: str | None = SEARCH + "&_count=7"
    first_total = None
    while url is not None:
        page = await _get(consumer, url)
        first_total = first_total or page["total"]
        slots = _slots(page)
        assert 0 < len(slots) <= 7 or (slots and len({s["start"] for s in slots}) == 1)
        # Only the Schedules of this page's slots are included (search_slots.md).
        schedules = {e["resource"]["id"] for e in page["entry"] if e["search"]["mode"] == "include"}
        assert schedules == {s["schedule"]["reference"].split("/")[1] for s in slots}
        seen.extend(slots)
        url = _next(consumer, page)
    assert first_total == len(whole)
    assert Counter(s["id"] for s in seen) == Counter(s["id"] for s in whole)
    assert [s["start"] for s in seen] == sorted(s["start"] for s in seen)


async def test_row_8_slot_searches_are_capped_by_the_configured_maximum(gateway: Gateway) -> None:
    """Row 8: at most max_slots_per_page slots per answer, whatever _count asks; total is all."""
    consumer = await gateway(max_slots_per_page=20)
    everything = await _get(consumer, SEARCH + "&_count=5000")
    plain = await _get(consumer, SEARCH)
    for bundle in (everything, plain):
        assert len(_slots(bundle)) <= 20 and bundle["total"] > 20
        assert _next(consumer, bundle) is not None
    metadata = await consumer.client.get(
        f"{SERVICE_ROOT_PATH}/metadata", headers=consumer.headers(READ_SLOTS, "read:metadata")
    )
    slot = next(
        r
        for r in (await metadata.json(content_type=None))["rest"][0]["resource"]
        if r["type"] == "Slot"
    )
    count = next(p for p in slot["searchParam"] if p["name"] == "_count")
    assert "at most 20" in count["documentation"]
    for bad in ("0", "-1", "ten", "1.5", ""):
        resp = await consumer.client.get(
            SEARCH + f"&_count={bad}", headers=consumer.headers(READ_SLOTS, "read:slot")
        )
        assert resp.status == 400, bad
        outcome = await resp.json(content_type=None)
        assert outcome["issue"][0]["expression"] == ["_count"]


async def test_row_8_the_next_link_keeps_the_window_end(gateway: Gateway) -> None:
    """Row 8: a paged search with an upper start bound keeps it on every next page."""
    consumer = await gateway()
    whole = _slots(await _get(consumer, SEARCH))
    last = whole[len(whole) // 3]["start"]
    bound = URL.build(query={"start": "lt" + last}).query_string
    url: str | None = SEARCH + f"&_count=4&{bound}"
    seen = []
    while url is not None:
        page = await _get(consumer, url)
        seen.extend(_slots(page))
        url = _next(consumer, page)
    assert seen and all(s["start"] < last for s in seen)
    assert len(seen) == sum(1 for s in whole if s["start"] < last)


async def test_row_8_health_answers_while_a_large_xml_search_is_written(gateway: Gateway) -> None:
    """Row 8: /health and /metadata keep answering while a whole-horizon XML search is written."""
    # Four weeks of slots: an answer long enough to write that other requests meet it.
    consumer = await gateway(horizon_days=28, max_slots_per_page=10_000)
    big_url = SEARCH + "&_format=xml"
    # Warm-up: the first XML answer also builds the writer's per-type plans.
    await consumer.client.get(big_url, headers=consumer.headers(READ_SLOTS, "read:slot"))
    metadata_headers = consumer.headers(READ_SLOTS, "read:metadata")
    started = time.perf_counter()
    # Another page size than the warm-up's, so the answer is written afresh, not a kept page
    # (gateway/fhir/slot_pages.py).
    fresh_url = big_url + "&_count=9999"
    big = asyncio.ensure_future(
        consumer.client.get(fresh_url, headers=consumer.headers(READ_SLOTS, "read:slot"))
    )
    waits: list[float] = []
    while not big.done():
        # /health also pings the diary, which the search holds while it reads; /metadata
        # needs only the event loop, so its wait measures the loop alone.
        health = await consumer.client.get("/health")
        assert health.status == 200, await health.text()
        asked = time.perf_counter()
        metadata = await consumer.client.get(
            f"{SERVICE_ROOT_PATH}/metadata", headers=metadata_headers
        )
        assert metadata.status == 200
        await metadata.read()
        waits.append(time.perf_counter() - asked)
    answer = await big
    assert answer.status == 200 and answer.headers["Content-Type"].startswith(
        "application/fhir+xml"
    )
    assert len(await answer.read()) > 500_000
    took = time.perf_counter() - started
    # Relative to this run: no request waited as long as half the big search took.
    assert len(waits) >= 2 and max(waits) < took / 2, (waits, took)
