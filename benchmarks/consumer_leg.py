"""The benchmark's consumer leg: a legacy HL7 v2 consumer books at a national FHIR provider.

"Legacy consumers connect unchanged": MLLP in, FHIR out, round trip, against a
bare baseline in the same run. Started from ``benchmarks.bench``
(``--no-consumer`` leaves it out). Everything runs on 127.0.0.1 as child processes:

1. the **provider**: ``python -m gateway serve`` over a fresh embedded demo diary
   (``bench.gateway_config``: own store, ``horizon_days: 3``, logging ``warning``,
   SSP enforcement off), in its own sub-folder of the run's temporary folder;
2. the **SSP**: ``python -m benchmarks.ssp_proxy``. The national FHIR adapter
   cannot run without one (``ssp_url`` is a required option and every request
   goes to ``<ssp_url>/<service root>/<path>``), so this pass-through proxy
   checks the ``Ssp-*`` headers, strips its prefix and forwards to the provider
   only (byte for byte, keep-alive);
3. the **consumer** gateway: ``python -m gateway serve`` with the HL7 v2 front
   door on (tables ``mappings/hl7_front_door/demo``, so service code
   ``UTC-DEMO`` is service ``918999198999``; one consumer, sending facility
   ``CAS-BENCH`` = ODS ``A1001``) and one adapter, ``kind: national-fhir``,
   whose directory CSV (written to the temporary folder) routes
   ``918999198999`` to the provider's service root via the proxy.

Scenarios, each an untimed warm-up then a measured phase bounded by
``--requests`` and ``--seconds`` at ``--concurrency``:

- *consumer-slot-search* via **consumer**: ``SQM^S25`` for ``UTC-DEMO`` and a
  start window holding ``CONSUMER_SLOTS`` free slots, over one pipelined
  ``MllpClient`` connection to the consumer's front door; every answer must be
  MSA ``AA`` and the first must hold ``CONSUMER_SLOTS`` SCH groups;
- *consumer-slot-search* via **bare**: the request the adapter makes for that
  query (``adapters.national_fhir._search.slot_params``: same service, window,
  status and ``_include`` chain) sent with aiohttp straight to the provider;
- *consumer-book+cancel* via **consumer**: ``SRM^S01`` then ``SRM^S04`` with
  the SRR's filler id, fresh MSH-10 each, both ``AA`` (the cancel's SCH says
  ``Cancelled``); a pool of free slots is cycled, a slot is given back only
  once cancelled; latency is the sum of the two exchanges;
- *consumer-book+cancel* via **bare**: ``POST /Appointment`` + ``PUT`` cancel
  straight to the provider (``bench.book_cancel_op``), on a disjoint pool.

So the ratio consumer/bare prices the whole detour of a legacy consumer: MLLP,
the front door, the consumer gateway's ledger and audit, the adapter (which asks
for gzip, and, to book, first finds the slot by a search of that instant and, to
cancel, reads the appointment before the PUT) and the proxy hop. Results go to
their own table and the JSON's ``consumer`` key; failures count toward the exit code.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

import structlog

from adapters.hl7_toolkit.mllp_client import MllpClient
from benchmarks._children import Children
from benchmarks._constants import WARMUP_CAP_S
from benchmarks._consumer_calibrate import Calibration, bare_search_url, calibrate
from benchmarks._consumer_setup import (
    CONSUMER_ASID,
    CONSUMER_ODS,
    CONSUMER_SLOTS,
    FACILITY,
    LONDON,
    PROVIDER_ASID,
    SCENARIOS,
    SERVICE_CODE,
    TABLES,
    TARGETS,
    WAIT_S,
    Chain,
    assemble,
    consumer_config,
    wait_for_port,
    write_directory,
)
from benchmarks._fhir import book_cancel_op, book_tickets, new_session, search_op, search_tickets
from benchmarks._legacy import Legacy, Offer, mllp_book_cancel_op, mllp_search_op, pid
from benchmarks._options import Options
from benchmarks._phases import Op, PhaseResult, run_phase
from benchmarks._report import print_errors, print_table

# Set-up, messages and calibration moved to private modules; they stay importable from here.
__all__ = [
    "CONSUMER_ASID",
    "CONSUMER_ODS",
    "CONSUMER_SLOTS",
    "FACILITY",
    "LONDON",
    "PROVIDER_ASID",
    "SCENARIOS",
    "SERVICE_CODE",
    "TABLES",
    "TARGETS",
    "WAIT_S",
    "Calibration",
    "Chain",
    "ConsumerRun",
    "Legacy",
    "Offer",
    "assemble",
    "bare_search_url",
    "calibrate",
    "consumer_config",
    "measure",
    "mllp_book_cancel_op",
    "mllp_search_op",
    "phases",
    "pid",
    "ratios",
    "report_consumer",
    "run_consumer_leg",
    "wait_for_port",
    "write_directory",
]


# --------------------------------------------------------------------------- measuring


async def phases(
    opts: Options, scenario: str, target: str, make: Callable[[int], Op]
) -> PhaseResult:
    """``make(count)`` builds a fresh op (fresh tickets) for a warm-up then a measured phase."""
    if opts.warmup:
        await run_phase(
            scenario,
            target,
            make(opts.warmup),
            opts.warmup,
            min(opts.seconds, WARMUP_CAP_S),
            opts.concurrency,
        )
    return await run_phase(
        scenario, target, make(opts.requests), opts.requests, opts.seconds, opts.concurrency
    )


@dataclass
class ConsumerRun:
    chain: Chain
    cal: Calibration
    results: list[PhaseResult]


async def measure(opts: Options, chain: Chain, client: MllpClient, legacy: Legacy) -> ConsumerRun:
    cal = await calibrate(opts, chain, client, legacy)
    root = chain.provider_root
    window = (cal.first, cal.last)
    results: list[PhaseResult] = []
    # consumer-slot-search
    results.append(
        await phases(
            opts,
            SCENARIOS[0],
            "consumer",
            lambda _n: mllp_search_op(client, legacy, window),
        )
    )
    async with new_session(opts) as session:
        results.append(
            await phases(
                opts,
                SCENARIOS[0],
                "bare",
                lambda n: search_op(
                    session, cal.bare_search, search_tickets(n, root), CONSUMER_SLOTS
                ),
            )
        )
    # consumer-book+cancel
    offers: asyncio.Queue[Offer] = asyncio.Queue()
    for offer in cal.offers:
        offers.put_nowait(offer)
    results.append(
        await phases(
            opts,
            SCENARIOS[1],
            "consumer",
            lambda _n: mllp_book_cancel_op(client, legacy, offers),
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
                lambda n: book_cancel_op(
                    session, chain.provider.url, book_tickets(n, root), slots, cal.bodies
                ),
            )
        )
    return ConsumerRun(chain, cal, results)


async def run_consumer_leg(opts: Options, folder: Path) -> ConsumerRun:
    """Start provider, proxy and consumer gateway, measure, stop them; the run's facts."""
    # The benchmark's own MLLP client logs at info; keep the report readable.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    folder = folder / "consumer-leg"
    folder.mkdir(exist_ok=True)
    children = Children()
    try:
        chain = await assemble(children, folder)
        for name, child in (
            ("provider", chain.provider),
            ("ssp proxy", chain.proxy),
            ("consumer", chain.consumer),
        ):
            print(f"consumer leg {name + ':':<10} {child.command}  (port {child.port})")
        print(f"consumer leg mllp:      127.0.0.1:{chain.hl7_port} (front door of the consumer)")
        client = MllpClient("127.0.0.1", chain.hl7_port, log_name="bench-consumer")
        try:
            run = await measure(opts, chain, client, Legacy())
        finally:
            await client.close()
        for child in children.started:
            child.check_alive()
        return run
    finally:
        stopped = children.stop_all()
        print("consumer servers stopped: " + ", ".join(f"{n} exit {c}" for n, c in stopped.items()))


# --------------------------------------------------------------------------- report


def ratios(
    results: list[PhaseResult], scenarios: tuple[str, ...] = SCENARIOS
) -> dict[str, dict[str, float]]:
    """consumer/bare throughput and p50 ratios of each scenario measured both ways."""
    by = {(r.scenario, r.target): r for r in results}
    out: dict[str, dict[str, float]] = {}
    for scenario in scenarios:
        via, bare = by.get((scenario, "consumer")), by.get((scenario, "bare"))
        if via is None or bare is None:
            continue
        out[scenario] = {
            "throughput_consumer_over_bare": via.rate / bare.rate if bare.rate else float("nan"),
            "p50_consumer_over_bare": via.pct_ms(50) / bare.pct_ms(50)
            if bare.pct_ms(50)
            else float("nan"),
        }
    return out


def report_consumer(run: ConsumerRun) -> dict[str, Any]:
    """Print the consumer-leg table and the consumer/bare ratios; the facts for --json."""
    cal, results = run.cal, run.results
    print()
    print(
        "Consumer leg: legacy HL7 v2 consumer -> MLLP -> consumer gateway -> national-fhir "
        "-> SSP proxy -> provider gateway (consumer), vs FHIR straight to the provider (bare)"
    )
    lower, upper = (t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for t in (cal.first, cal.last))
    print(
        f"window:      {lower} .. {upper} -> {CONSUMER_SLOTS} slots of {cal.free_slots} free; "
        f"book+cancel cycles {len(cal.offers)} (consumer) and {len(cal.bare_pool)} (bare) others"
    )
    print_table(results, 21)
    ratio = ratios(results)
    for scenario, values in ratio.items():
        print(
            f"ratio {scenario}: throughput consumer/bare = "
            f"{values['throughput_consumer_over_bare']:.3f}, "
            f"p50 latency consumer/bare = {values['p50_consumer_over_bare']:.2f}"
        )
    print_errors(results)
    failures = sum(r.failures for r in results)
    print(f"consumer failures: {failures}")
    return {
        "servers": {
            name: {"command": child.command, "port": child.port}
            for name, child in (
                ("provider", run.chain.provider),
                ("ssp_proxy", run.chain.proxy),
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
