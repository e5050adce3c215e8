"""The benchmark's BaRS leg: the gateway's BaRS door against a bare baseline, in one run.

Started from ``benchmarks.bench`` (``--no-bars`` leaves it out). It launches a gateway
serving the BaRS door (FHIR R4, ``/bars/FHIR/R4``) over a fresh embedded diary, and
``benchmarks.bars_bare`` replaying the door's captured answers, then measures against
each in turn:

- *bars-slot-search*: ``GET /Slot`` with the BaRS parameters (``status=free``,
  ``start=ge/le``, ``_include`` Slot:schedule and Schedule:actor:HealthcareService),
  a window of exactly 50 free slots;
- *bars-book+cancel*: a ``$process-message`` booking-request for a pooled slot, then
  a ``$process-message`` cancellation of the Appointment it answers (latency of the
  pair), each with the full BaRS header set.

Results go to their own table and the JSON's ``bars`` key; failures count toward the
run's exit code like the rest.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

from yarl import URL

from benchmarks._bars_ops import BARS_PATH, book_cancel_op, headers, search_op, tickets
from benchmarks._bars_setup import TARGET, BarsCalibration, bars_config, calibrate
from benchmarks._children import Children, python_module
from benchmarks._constants import SLOTS_WANTED, WARMUP_CAP_S
from benchmarks._fhir import new_session
from benchmarks._options import Options
from benchmarks._phases import Op, PhaseResult, run_phase
from benchmarks._report import print_errors, print_table
from benchmarks.bars_bare import BarsFixtures

SCENARIOS = ("bars-slot-search", "bars-book+cancel")
TARGETS = ("gateway", "bare")


async def _phase(opts: Options, scenario: str, target: str, make: Any) -> PhaseResult:
    """An untimed warm-up, then the measured phase; each op built (headers minted) first."""
    if opts.warmup:
        warm: Op = make(opts.warmup)
        cap = min(opts.seconds, WARMUP_CAP_S)
        await run_phase(scenario, target, warm, opts.warmup, cap, opts.concurrency)
    op: Op = make(opts.requests)
    return await run_phase(scenario, target, op, opts.requests, opts.seconds, opts.concurrency)


async def _measure(
    opts: Options, root: str, target: str, cal: BarsCalibration
) -> list[PhaseResult]:
    url = URL(f"{root}{BARS_PATH}/Slot").with_query(cal.url.query)
    results = []
    async with new_session(opts) as session:

        def searches(count: int) -> Op:
            return search_op(session, url, [headers(TARGET) for _ in range(count)], SLOTS_WANTED)

        results.append(await _phase(opts, SCENARIOS[0], target, searches))
        pool: asyncio.Queue[str] = asyncio.Queue()
        for slot_id in cal.pool:
            pool.put_nowait(slot_id)

        def bookings(count: int) -> Op:
            return book_cancel_op(session, root, TARGET, tickets(TARGET, count), pool, cal.bodies)

        results.append(await _phase(opts, SCENARIOS[1], target, bookings))
    return results


async def run_bars_leg(opts: Options, folder: Path) -> list[PhaseResult]:
    """Start the BaRS gateway and its bare baseline, measure both, stop them."""
    children = Children()
    try:
        gateway = await children.launch(
            "gateway-bars",
            lambda port: python_module(
                "gateway", "serve", "--config", str(bars_config(folder, port))
            ),
            folder / "gateway-bars.log",
        )
        async with new_session(opts) as session:
            cal = await calibrate(opts, gateway, session)
        fixtures_path = folder / "bars-fixtures.json"
        fixtures: BarsFixtures = {
            "base_path": BARS_PATH,
            "search": cal.search,
            "book": cal.book,
            "cancel": cal.cancel,
        }
        fixtures_path.write_text(json.dumps(fixtures), encoding="utf-8")
        bare = await children.launch(
            "bare-bars",
            lambda port: python_module(
                "benchmarks.bars_bare", "--port", str(port), "--fixtures", str(fixtures_path)
            ),
            folder / "bare-bars.log",
        )
        print(f"bars gateway: {gateway.command}  (port {gateway.port})")
        print(
            f"bars search:  {_composition(cal)}; {cal.free_slots} free slots in the pool's horizon"
        )
        by_target = {}
        for target, child in (("gateway", gateway), ("bare", bare)):
            by_target[target] = await _measure(opts, child.url, target, cal)
            gateway.check_alive()
            bare.check_alive()
        return [r for scenario in range(2) for r in (by_target[t][scenario] for t in TARGETS)]
    finally:
        stopped = children.stop_all()
        print("bars servers stopped: " + ", ".join(f"{n} exit {c}" for n, c in stopped.items()))


def _composition(cal: BarsCalibration) -> str:
    body = cal.search["body"]
    kinds = Counter(e["resource"]["resourceType"] for e in json.loads(body)["entry"])
    return ", ".join(f"{n} {kind}" for kind, n in kinds.items()) + f"; {len(body)} bytes"


def _ratio(results: list[PhaseResult], scenario: str) -> dict[str, float]:
    by = {(r.scenario, r.target): r for r in results}
    gw, bare = by.get((scenario, "gateway")), by.get((scenario, "bare"))
    if not (gw and bare and bare.rate and bare.pct_ms(50)):
        return {}
    return {
        "throughput_gateway_over_bare": gw.rate / bare.rate,
        "p50_gateway_over_bare": gw.pct_ms(50) / bare.pct_ms(50),
    }


def report_bars(results: list[PhaseResult]) -> dict[str, Any]:
    """Print the BaRS table and its gateway/bare ratios; the facts for --json."""
    print()
    print("BaRS leg: the gateway's BaRS door (FHIR R4) and a bare app replaying its answers")
    print_table(results, 17)
    ratios = {}
    for scenario in SCENARIOS:
        ratio = _ratio(results, scenario)
        if ratio:
            ratios[scenario] = ratio
            print(
                f"ratio {scenario}: throughput gateway/bare = "
                f"{ratio['throughput_gateway_over_bare']:.3f}, p50 latency gateway/bare = "
                f"{ratio['p50_gateway_over_bare']:.2f}"
            )
    print_errors(results)
    failures = sum(r.failures for r in results)
    print(f"bars failures: {failures}")
    return {
        "slots_per_search": SLOTS_WANTED,
        "results": [r.as_dict() for r in results],
        "ratios": ratios,
        "failures": failures,
    }
