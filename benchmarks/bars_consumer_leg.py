"""The benchmark's BaRS consumer leg: a legacy HL7 v2 consumer books at a BaRS receiver.

Issue: "MLLP -> gateway -> mock proxy -> receiver vs FHIR straight to the receiver".
Started from ``benchmarks.bench`` (``--no-bars-consumer`` leaves it out); the
servers are child processes on 127.0.0.1 (``benchmarks._bars_consumer_setup``):
a receiver gateway serving the BaRS door over a fresh embedded diary, the mock
national proxy (``uec-gateway simulate bars-proxy``: token endpoint, header
checks, routing by ``NHSD-Target-Identifier``) and a consumer gateway whose HL7 v2
front door books through the ``bars`` adapter.

Scenarios, each an untimed warm-up then a measured phase:

- *bars-consumer-slot-search* via **consumer**: ``SQM^S25`` for ``UTC-DEMO`` over a
  window holding exactly ``CONSUMER_SLOTS`` free slots (MLLP -> front door -> bars
  adapter -> proxy -> receiver's ``GET /Slot``), every answer ``AA``;
- ... via **bare**: the BaRS ``GET /Slot`` for that window, with the BaRS headers,
  straight to the receiver;
- *bars-consumer-book+cancel* via **consumer**: ``SRM^S01`` then ``SRM^S04`` (the
  adapter reads the receiver's capabilities once, books, and reads before it
  cancels, through the proxy with its access token);
- ... via **bare**: a ``$process-message`` booking-request then its cancellation,
  straight to the receiver (``benchmarks._bars_ops.book_cancel_op``), on a
  disjoint pool of slots.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import structlog
from yarl import URL

from adapters.bars_toolkit import messages
from adapters.hl7_toolkit import scheduling as sched
from adapters.hl7_toolkit.mllp_client import MllpClient
from benchmarks import _bars_ops
from benchmarks._bars_consumer_setup import SCENARIOS, BarsChain, assemble
from benchmarks._bars_setup import TARGET, search_url
from benchmarks._children import Children
from benchmarks._constants import HORIZON_DAYS, WARMUP_CAP_S
from benchmarks._consumer_setup import CONSUMER_SLOTS, WAIT_S
from benchmarks._fhir import candidate_windows, new_session, slot_start
from benchmarks._legacy import Legacy, Offer, mllp_book_cancel_op, mllp_search_op, refused
from benchmarks._options import Options
from benchmarks._phases import PhaseResult
from benchmarks._report import print_errors, print_table
from benchmarks.consumer_leg import phases, ratios
from gateway.bars_sender import journeys

Json = dict[str, Any]


@dataclass
class BarsConsumerCalibration:
    free_slots: int
    first: datetime
    last: datetime
    bare_search: URL
    offers: list[Offer]
    bare_pool: list[str]
    bodies: dict[str, bytes]


async def _free_slots(session: aiohttp.ClientSession, receiver: str) -> list[journeys.Bookable]:
    """Every free slot of the receiver's horizon (the pages of one BaRS search)."""
    now = datetime.now(UTC)
    url: URL | None = search_url(receiver, now, now + timedelta(days=HORIZON_DAYS + 1))
    slots: list[journeys.Bookable] = []
    while url is not None:
        async with session.get(url, headers=_bars_ops.headers(TARGET)) as resp:
            if resp.status != 200:
                raise RuntimeError(f"receiver slot search: {resp.status} {await resp.text()}")
            page = await resp.json(content_type=None)
        slots += journeys.bookables(page, now)
        following = [link["url"] for link in page.get("link") or [] if link["relation"] == "next"]
        url = URL(following[0], encoded=True) if following else None
    return slots


def _offer(slot: Json) -> Offer:
    schedule = str(slot["schedule"]["reference"]).rpartition("/")[2]
    return Offer(schedule, slot_start(slot), datetime.fromisoformat(str(slot["end"])))


async def _bare_count(session: aiohttp.ClientSession, url: URL) -> int:
    async with session.get(url, headers=_bars_ops.headers(TARGET)) as resp:
        return len(messages.entries_of(await resp.json(content_type=None), "Slot"))


async def _window(
    session: aiohttp.ClientSession,
    chain: BarsChain,
    client: MllpClient,
    legacy: Legacy,
    slots: list[Json],
    earliest: datetime,
) -> tuple[datetime, datetime]:
    """A start window with exactly CONSUMER_SLOTS free slots, asked both ways."""
    for tried, (first, last) in enumerate(candidate_windows(slots, earliest, CONSUMER_SLOTS)):
        if tried >= 25:
            break
        bare = await _bare_count(session, search_url(chain.receiver.url, first, last))
        payload, control = legacy.search(first, last)
        answer = await client.exchange(payload, control, WAIT_S)
        error = refused(answer, "SQR^S25")
        if error is not None:
            raise RuntimeError(f"consumer slot search through the BaRS chain failed: {error}")
        if bare == CONSUMER_SLOTS == len(sched.groups(answer)):
            return first, last
    raise RuntimeError(
        f"no start window gives exactly {CONSUMER_SLOTS} free slots both via the consumer "
        f"and at the receiver ({len(slots)} free slots)"
    )


async def calibrate(
    opts: Options, chain: BarsChain, client: MllpClient, legacy: Legacy
) -> BarsConsumerCalibration:
    """The search window, two disjoint slot pools, and one real booking through the chain."""
    async with new_session(opts) as session:
        free = await _free_slots(session, chain.receiver.url)
        everything = [b.slot for b in free]
        earliest = datetime.now(UTC) + timedelta(seconds=600 + 4 * (opts.seconds + WARMUP_CAP_S))
        first, last = await _window(session, chain, client, legacy, everything, earliest)
    others = sorted(
        (
            b
            for b in free
            if slot_start(b.slot) >= earliest and not first <= slot_start(b.slot) <= last
        ),
        key=lambda b: slot_start(b.slot),
    )
    size = min(opts.pool, len(others) // 2)
    if size < opts.concurrency:
        raise RuntimeError(
            f"only {len(others)} free slots outside the search window; BaRS consumer "
            f"book+cancel needs two pools of at least --concurrency={opts.concurrency}"
        )
    offers = [_offer(b.slot) for b in others[:size]]
    bare = others[size : 2 * size]
    env = _bars_ops.envelope(TARGET)
    bodies = {b.slot["id"]: json.dumps(journeys.booking_message(env, b)).encode() for b in bare}
    pool: asyncio.Queue[Offer] = asyncio.Queue()
    pool.put_nowait(offers[0])
    check = mllp_book_cancel_op(client, legacy, pool)
    outcome = await check(0, asyncio.get_running_loop().time() + WAIT_S)
    if outcome.error is not None:
        raise RuntimeError(f"the start-up booking through the BaRS chain failed: {outcome.error}")
    return BarsConsumerCalibration(
        len(everything),
        first,
        last,
        search_url(chain.receiver.url, first, last),
        offers,
        [b.slot["id"] for b in bare],
        bodies,
    )


@dataclass
class BarsConsumerRun:
    chain: BarsChain
    cal: BarsConsumerCalibration
    results: list[PhaseResult]


async def measure(
    opts: Options, chain: BarsChain, client: MllpClient, legacy: Legacy
) -> BarsConsumerRun:
    cal = await calibrate(opts, chain, client, legacy)
    window = (cal.first, cal.last)
    receiver = chain.receiver.url
    search = mllp_search_op
    results = [
        await phases(opts, SCENARIOS[0], "consumer", lambda _n: search(client, legacy, window))
    ]
    async with new_session(opts) as session:
        results.append(
            await phases(
                opts,
                SCENARIOS[0],
                "bare",
                lambda n: _bars_ops.search_op(
                    session,
                    cal.bare_search,
                    [_bars_ops.headers(TARGET) for _ in range(n)],
                    CONSUMER_SLOTS,
                ),
            )
        )
    offers: asyncio.Queue[Offer] = asyncio.Queue()
    for offer in cal.offers:
        offers.put_nowait(offer)
    results.append(
        await phases(
            opts, SCENARIOS[1], "consumer", lambda _n: mllp_book_cancel_op(client, legacy, offers)
        )
    )
    async with new_session(opts) as session:
        slots: asyncio.Queue[str] = asyncio.Queue()
        for slot_id in cal.bare_pool:
            slots.put_nowait(slot_id)
        results.append(
            await phases(
                opts,
                SCENARIOS[1],
                "bare",
                lambda n: _bars_ops.book_cancel_op(
                    session, receiver, TARGET, _bars_ops.tickets(TARGET, n), slots, cal.bodies
                ),
            )
        )
    return BarsConsumerRun(chain, cal, results)


async def run_bars_consumer_leg(opts: Options, folder: Path) -> BarsConsumerRun:
    """Start receiver, proxy and consumer gateway, measure, stop them; the run's facts."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    folder = folder / "bars-consumer-leg"
    folder.mkdir(exist_ok=True)
    children = Children()
    try:
        chain = await assemble(children, folder)
        for name, child in (
            ("receiver", chain.receiver),
            ("proxy", chain.proxy),
            ("consumer", chain.consumer),
        ):
            print(f"BaRS consumer leg {name + ':':<10} {child.command}  (port {child.port})")
        print(f"BaRS consumer leg mllp:      127.0.0.1:{chain.hl7_port} (front door)")
        client = MllpClient("127.0.0.1", chain.hl7_port, log_name="bench-bars-consumer")
        try:
            run = await measure(opts, chain, client, Legacy())
        finally:
            await client.close()
        for child in children.started:
            child.check_alive()
        return run
    finally:
        stopped = children.stop_all()
        print(
            "BaRS consumer servers stopped: "
            + ", ".join(f"{n} exit {c}" for n, c in stopped.items())
        )


def report_bars_consumer(run: BarsConsumerRun) -> dict[str, Any]:
    """Print the table and the consumer/bare ratios; the facts for --json."""
    cal, results = run.cal, run.results
    print()
    print(
        "BaRS consumer leg: legacy HL7 v2 consumer -> MLLP -> consumer gateway -> bars adapter "
        "-> mock national proxy -> BaRS receiver (consumer), "
        "vs BaRS straight to the receiver (bare)"
    )
    lower, upper = (t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for t in (cal.first, cal.last))
    print(
        f"window:      {lower} .. {upper} -> {CONSUMER_SLOTS} slots of {cal.free_slots} free; "
        f"book+cancel cycles {len(cal.offers)} (consumer) and {len(cal.bare_pool)} (bare) others"
    )
    print_table(results, 26)
    ratio = ratios(results, SCENARIOS)
    for scenario, values in ratio.items():
        print(
            f"ratio {scenario}: throughput consumer/bare = "
            f"{values['throughput_consumer_over_bare']:.3f}, "
            f"p50 latency consumer/bare = {values['p50_consumer_over_bare']:.2f}"
        )
    print_errors(results)
    failures = sum(r.failures for r in results)
    print(f"BaRS consumer failures: {failures}")
    return {
        "servers": {
            name: {"command": child.command, "port": child.port}
            for name, child in (
                ("receiver", run.chain.receiver),
                ("bars_proxy", run.chain.proxy),
                ("consumer", run.chain.consumer),
            )
        },
        "mllp_port": run.chain.hl7_port,
        "slots_per_search": CONSUMER_SLOTS,
        "search_window": {"start_ge": lower, "start_le": upper},
        "pools": {"consumer": len(cal.offers), "bare": len(cal.bare_pool)},
        "results": [r.as_dict() for r in results],
        "ratios": ratio,
        "failures": failures,
    }
