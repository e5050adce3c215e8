"""The benchmark's HL7 leg: FHIR through the gateway to the PAS peer, and bare MLLP, in one run.

Started from ``benchmarks.bench`` (``--no-hl7`` leaves it out). It launches
the reference PAS peer (``python -m adapters.hl7v2.peer``) and a second
gateway whose only adapter is ``kind: hl7v2`` over it, then measures:

- *hl7-slot-search* via **gateway**: ``GET /Slot`` for the PAS's urgent
  treatment centre, a window holding ``HL7_SLOTS`` free slots;
- *hl7-slot-search* via **mllp**: the same ``SQM^S25`` sent straight to the
  peer over one MLLP connection (the baseline: the PAS and MLLP, no gateway);
- *hl7-book+cancel* via **gateway**: ``POST /Appointment`` then ``PUT`` cancel,
  each becoming ``SRM^S01``/``SRM^S04`` at the PAS.

Results go to their own table and the JSON's ``hl7`` key; failures count
toward the run's exit code like the rest.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import structlog
from yarl import URL

from adapters.hl7_toolkit import scheduling as sched
from adapters.hl7_toolkit.header import Header, msh
from adapters.hl7_toolkit.mllp_client import MllpClient, TransportError
from adapters.hl7_toolkit.values import short_id
from benchmarks._children import Children, free_port, python_module
from benchmarks._constants import BASE_PATH, WARMUP_CAP_S
from benchmarks._fhir import book_cancel_op, book_tickets, consumer_headers, new_session, slots_of
from benchmarks._hl7_setup import (
    HL7_SCHEDULES,
    HL7_SERVICE,
    HL7_SLOTS,
    LONDON,
    MAPPINGS,
    Hl7Calibration,
    calibrate,
    hl7_config,
    launch_peer,
)
from benchmarks._options import Options
from benchmarks._phases import Outcome, PhaseResult, run_phase
from benchmarks._report import print_errors, print_table
from gateway.security import Scope

# Set-up moved to benchmarks._hl7_setup; its public names stay importable from here.
__all__ = [
    "HL7_SCHEDULES",
    "HL7_SERVICE",
    "HL7_SLOTS",
    "LONDON",
    "MAPPINGS",
    "Hl7Calibration",
    "hl7_config",
    "report_hl7",
    "run_hl7_leg",
]


def _gateway_search_op(
    session: aiohttp.ClientSession, url: URL, tickets: list[dict[str, str]], expect: int
) -> Any:
    async def op(index: int, _deadline: float) -> Outcome:
        try:
            started = time.perf_counter()
            async with session.get(url, headers=tickets[index]) as resp:
                raw = await resp.read()
            latency = time.perf_counter() - started
        except (aiohttp.ClientError, TimeoutError) as exc:
            return Outcome(None, f"GET /Slot: {type(exc).__name__}")
        if resp.status != 200:
            return Outcome(None, f"GET /Slot -> {resp.status}")
        if index == 0 and len(slots_of(json.loads(raw))) != expect:
            return Outcome(None, f"GET /Slot -> not {expect} slots")
        return Outcome(latency, None, len(raw))

    return op


def _mllp_search_op(client: MllpClient, cal: Hl7Calibration, expect: int) -> Any:
    header = Header("UEC-GATEWAY", "GATEWAY", "PAS", "PAS", zone=LONDON)

    async def op(index: int, _deadline: float) -> Outcome:
        control = short_id(uuid.uuid4().hex)
        now = datetime.now(UTC)
        query = sched.SlotQuery(HL7_SCHEDULES, cal.first, cal.last, ("Open",), control)
        message = sched.slot_query(
            msh(header, "SQM", "S25", "SQM_S25", control, now), query, now, LONDON
        )
        payload = message.to_er7().encode("utf-8")
        try:
            started = time.perf_counter()
            answer = await client.exchange(payload, control, 30.0)
            latency = time.perf_counter() - started
        except TransportError as exc:
            return Outcome(None, f"SQM^S25: {type(exc).__name__}")
        if index == 0 and len(sched.groups(answer)) != expect:
            return Outcome(None, f"SQR^S25 -> not {expect} slots")
        return Outcome(latency, None, len(payload))

    return op


async def _measure(opts: Options, name: str, target: str, op: Any) -> PhaseResult:
    if opts.warmup:
        await run_phase(
            name, target, op, opts.warmup, min(opts.seconds, WARMUP_CAP_S), opts.concurrency
        )
    return await run_phase(name, target, op, opts.requests, opts.seconds, opts.concurrency)


async def run_hl7_leg(opts: Options, folder: Path) -> list[PhaseResult]:
    """Start the peer and an HL7-fronting gateway, measure, stop them; the phase results."""
    # The benchmark's own MLLP client logs at info; keep the report readable.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    children = Children()
    try:
        listen_port = free_port()
        peer = await launch_peer(children, folder, listen_port)
        gateway = await children.launch(
            "gateway-hl7",
            lambda port: python_module(
                "gateway",
                "serve",
                "--config",
                str(hl7_config(folder, port, peer.port, listen_port)),
            ),
            folder / "gateway-hl7.log",
        )
        audience = f"{gateway.url}{BASE_PATH}"
        cal = await calibrate(opts, gateway, audience)
        print(f"hl7 peer:    {peer.command}  (port {peer.port})")
        print(f"hl7 gateway: {gateway.command}  (port {gateway.port})")
        url = URL(
            f"{gateway.url}{BASE_PATH}/Slot?service={HL7_SERVICE}"
            f"&_include=Slot:schedule{cal.window}",
            encoded=True,
        )
        results: list[PhaseResult] = []
        async with new_session(opts) as session:
            tickets = [
                consumer_headers(Scope.SLOT_READ, "read:slot", audience)
                for _ in range(opts.requests + opts.warmup)
            ]
            op = _gateway_search_op(session, url, tickets[opts.warmup :], HL7_SLOTS)
            warm = _gateway_search_op(session, url, tickets, HL7_SLOTS)
            if opts.warmup:
                await run_phase(
                    "hl7-slot-search",
                    "gateway",
                    warm,
                    opts.warmup,
                    min(opts.seconds, WARMUP_CAP_S),
                    opts.concurrency,
                )
            results.append(
                await run_phase(
                    "hl7-slot-search", "gateway", op, opts.requests, opts.seconds, opts.concurrency
                )
            )
        client = MllpClient("127.0.0.1", peer.port, log_name="bench")
        try:
            results.append(
                await _measure(
                    opts, "hl7-slot-search", "mllp", _mllp_search_op(client, cal, HL7_SLOTS)
                )
            )
        finally:
            await client.close()
        results.append(await _book_cancel(opts, gateway.url, audience, cal))
        gateway.check_alive()
        peer.check_alive()
        return results
    finally:
        stopped = children.stop_all()
        print("hl7 servers stopped: " + ", ".join(f"{n} exit {c}" for n, c in stopped.items()))


async def _book_cancel(opts: Options, root: str, audience: str, cal: Hl7Calibration) -> PhaseResult:
    async with new_session(opts) as session:
        pool: asyncio.Queue[str] = asyncio.Queue()
        for slot_id in cal.pool:
            pool.put_nowait(slot_id)
        if opts.warmup:
            op = book_cancel_op(
                session, root, book_tickets(opts.warmup, audience), pool, cal.bodies
            )
            await run_phase(
                "hl7-book+cancel",
                "gateway",
                op,
                opts.warmup,
                min(opts.seconds, WARMUP_CAP_S),
                opts.concurrency,
            )
        op = book_cancel_op(session, root, book_tickets(opts.requests, audience), pool, cal.bodies)
        return await run_phase(
            "hl7-book+cancel", "gateway", op, opts.requests, opts.seconds, opts.concurrency
        )


def report_hl7(results: list[PhaseResult]) -> dict[str, Any]:
    """Print the HL7 table and the gateway/MLLP search ratio; the facts for --json."""
    print()
    print("HL7 leg: FHIR via the gateway to the PAS peer, and bare MLLP to the same peer")
    print_table(results, 16)
    by = {(r.scenario, r.target): r for r in results}
    gw, bare = by.get(("hl7-slot-search", "gateway")), by.get(("hl7-slot-search", "mllp"))
    ratio: dict[str, float] = {}
    if gw and bare and bare.rate and bare.pct_ms(50):
        ratio = {
            "throughput_gateway_over_mllp": gw.rate / bare.rate,
            "p50_gateway_over_mllp": gw.pct_ms(50) / bare.pct_ms(50),
        }
        print(
            f"ratio hl7-slot-search: throughput gateway/mllp = "
            f"{ratio['throughput_gateway_over_mllp']:.3f}, p50 latency gateway/mllp = "
            f"{ratio['p50_gateway_over_mllp']:.2f}"
        )
    print_errors(results)
    failures = sum(r.failures for r in results)
    print(f"hl7 failures: {failures}")
    return {
        "slots_per_search": HL7_SLOTS,
        "results": [r.as_dict() for r in results],
        "ratios": ratio,
        "failures": failures,
    }
