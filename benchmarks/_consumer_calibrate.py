"""The consumer leg's calibration: one search window both ways, two disjoint slot pools."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from yarl import URL

from adapters.domain import SlotQuery
from adapters.hl7_toolkit import scheduling as sched
from adapters.hl7_toolkit.mllp_client import MllpClient
from adapters.national_fhir._search import slot_params
from benchmarks._constants import SERVICE_ID, WARMUP_CAP_S
from benchmarks._consumer_setup import CONSUMER_SLOTS, WAIT_S, Chain
from benchmarks._fhir import candidate_windows, consumer_headers, new_session, slot_start, slots_of
from benchmarks._legacy import Legacy, Offer, mllp_book_cancel_op, refused
from benchmarks._options import Options
from gateway.examples import booking_body
from gateway.security import Scope


@dataclass
class Calibration:
    free_slots: int
    first: datetime
    last: datetime
    bare_search: URL
    offers: list[Offer]
    bare_pool: list[str]
    bodies: dict[str, bytes]


def _offer(slot: dict[str, Any]) -> Offer:
    schedule = str(slot["schedule"]["reference"]).rpartition("/")[2]
    return Offer(schedule, slot_start(slot), datetime.fromisoformat(str(slot["end"])))


def bare_search_url(root: str, first: datetime | None, last: datetime | None) -> URL:
    """The GET /Slot the national-fhir adapter sends for this query, straight to ``root``."""
    query = SlotQuery(service_id=SERVICE_ID, start_from=first, start_to=last)
    return URL(f"{root}/Slot", encoded=True).with_query(slot_params(query))


async def calibrate(opts: Options, chain: Chain, client: MllpClient, legacy: Legacy) -> Calibration:
    """A window of exactly CONSUMER_SLOTS slots both ways, and two disjoint slot pools."""
    root = chain.provider_root
    async with new_session(opts) as session:
        headers = consumer_headers(Scope.SLOT_READ, "read:slot", root)
        async with session.get(bare_search_url(root, None, None), headers=headers) as resp:
            if resp.status != 200:
                raise RuntimeError(f"provider slot search: {resp.status} {await resp.text()}")
            everything = slots_of(await resp.json(content_type=None))
        earliest = datetime.now(UTC) + timedelta(seconds=600 + 4 * (opts.seconds + WARMUP_CAP_S))
        window: tuple[datetime, datetime] | None = None
        for tried, (first, last) in enumerate(
            candidate_windows(everything, earliest, CONSUMER_SLOTS)
        ):
            if tried >= 25:
                break
            headers = consumer_headers(Scope.SLOT_READ, "read:slot", root)
            async with session.get(bare_search_url(root, first, last), headers=headers) as resp:
                bare_found = len(slots_of(await resp.json(content_type=None)))
            payload, control = legacy.search(first, last)
            answer = await client.exchange(payload, control, WAIT_S)
            error = refused(answer, "SQR^S25")
            if error is not None:
                raise RuntimeError(f"consumer slot search failed: {error}")
            if bare_found == CONSUMER_SLOTS == len(sched.groups(answer)):
                window = (first, last)
                break
        if window is None:
            raise RuntimeError(
                f"no start window gives exactly {CONSUMER_SLOTS} free slots both via the "
                f"consumer and at the provider ({len(everything)} free slots)"
            )
        first, last = window
        others = sorted(
            (
                s
                for s in everything
                if slot_start(s) >= earliest and not first <= slot_start(s) <= last
            ),
            key=slot_start,
        )
        size = min(opts.pool, len(others) // 2)
        if size < opts.concurrency:
            raise RuntimeError(
                f"only {len(others)} free slots outside the search window; consumer "
                f"book+cancel needs two pools of at least --concurrency={opts.concurrency}"
            )
        offers = [_offer(s) for s in others[:size]]
        bare_pool = others[size : 2 * size]
        # One real booking and cancel through the whole chain before anything is measured.
        pool: asyncio.Queue[Offer] = asyncio.Queue()
        pool.put_nowait(offers[0])
        check = mllp_book_cancel_op(client, legacy, pool)
        outcome = await check(0, asyncio.get_running_loop().time() + WAIT_S)
        if outcome.error is not None:
            raise RuntimeError(f"the start-up booking through the consumer failed: {outcome.error}")
    return Calibration(
        free_slots=len(everything),
        first=first,
        last=last,
        bare_search=bare_search_url(root, first, last),
        offers=offers,
        bare_pool=[s["id"] for s in bare_pool],
        bodies={s["id"]: json.dumps(booking_body(s)).encode() for s in bare_pool},
    )
