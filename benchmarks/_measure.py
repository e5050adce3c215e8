"""One measured phase of the main run: its operation, an untimed warm-up, the timed run.

JWTs, request ids and booking bodies are prepared before each (warm-up or timed)
run, outside the timed region; each phase has its own keep-alive session with as
many connections as its concurrency.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiohttp

from benchmarks._big import BIG_SCENARIO, BigSearch, probe_health
from benchmarks._constants import SLOTS_WANTED, WARMUP_CAP_S
from benchmarks._fhir import (
    book_cancel_op,
    book_tickets,
    new_session,
    search_op,
    search_tickets,
    search_url,
    xml_slot_count,
)
from benchmarks._options import Options
from benchmarks._phases import Op, PhaseResult, run_phase
from benchmarks._rounds import XML_SCENARIO, Measured, PhaseSpec
from benchmarks._targets import Target

#: How a phase's operation is made for ``count`` requests (tickets minted here, untimed).
MakeOp = Callable[[int], Op]


def _maker(
    spec: PhaseSpec, target: Target, session: aiohttp.ClientSession, big: BigSearch
) -> MakeOp:
    cal, audience = target.cal, target.audience
    if spec.scenario == "book+cancel":
        pool: asyncio.Queue[str] = asyncio.Queue()
        for slot_id in cal.pool:
            pool.put_nowait(slot_id)
        return lambda n: book_cancel_op(
            session, target.root, book_tickets(n, audience), pool, cal.bodies
        )
    if spec.scenario == XML_SCENARIO:
        url = search_url(target.root, cal.window + "&_format=xml")
        return lambda n: search_op(
            session, url, search_tickets(n, audience), SLOTS_WANTED, xml_slot_count
        )
    if spec.scenario == BIG_SCENARIO:
        big_url = search_url(target.root, big.window)
        return lambda n: search_op(session, big_url, search_tickets(n, audience), big.slots)
    url = search_url(target.root, cal.window)
    return lambda n: search_op(session, url, search_tickets(n, audience), SLOTS_WANTED)


async def _warm_up(opts: Options, spec: PhaseSpec, make: MakeOp) -> None:
    if opts.warmup:
        cap = min(opts.seconds, WARMUP_CAP_S)
        await run_phase(
            spec.scenario, spec.target, make(opts.warmup), opts.warmup, cap, spec.concurrency
        )


async def _timed(opts: Options, spec: PhaseSpec, op: Op) -> PhaseResult:
    return await run_phase(
        spec.scenario, spec.target, op, opts.requests, opts.seconds, spec.concurrency
    )


async def _beside_health(opts: Options, spec: PhaseSpec, op: Op, root: str) -> Measured:
    """The timed phase with /health probed from another task throughout."""
    stop = asyncio.Event()
    probes = asyncio.create_task(probe_health(opts, root, stop))
    try:
        result = await _timed(opts, spec, op)
    finally:
        stop.set()
        health = await probes
    return Measured(result, health)


async def measure(opts: Options, spec: PhaseSpec, target: Target, big: BigSearch) -> Measured:
    """An untimed warm-up, then the timed phase (beside /health probes for the big search)."""
    async with new_session(opts, spec.concurrency) as session:
        make = _maker(spec, target, session, big)
        await _warm_up(opts, spec, make)
        op = make(opts.requests)
        if spec.scenario == BIG_SCENARIO:
            return await _beside_health(opts, spec, op, target.root)
        return Measured(await _timed(opts, spec, op))
