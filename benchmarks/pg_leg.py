"""The benchmark's PostgreSQL leg: one and two replicas on PostgreSQL against SQLite.

Started from ``benchmarks.bench`` (``--no-pg`` leaves it out). It makes two throwaway
schemas in ``--pg-dsn`` (the store's and the embedded diary's), starts one gateway on
them and measures the main leg's two scenarios (50-slot search, book+cancel); then
starts a second gateway process on the same schemas (as a replica behind a load
balancer: the same public service root, so the same JWT audience) and measures again
with requests alternating between the two. The SQLite figures are the main leg's
``gateway`` rows of the same run; the ratios are PostgreSQL over SQLite.
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any

import asyncpg

from benchmarks._bench_setup import Calibration, calibrate
from benchmarks._children import Children, python_module
from benchmarks._constants import (
    BASE_PATH,
    DEMO_DATA,
    HORIZON_DAYS,
    SERVICE_ID,
    SLOTS_WANTED,
    SSP_TO,
    WARMUP_CAP_S,
)
from benchmarks._fhir import (
    book_cancel_op,
    book_tickets,
    new_session,
    search_op,
    search_tickets,
    search_url,
)
from benchmarks._options import Options
from benchmarks._phases import Op, PhaseResult, run_phase
from benchmarks._report import print_errors, print_table

TARGETS = ("pg-1", "pg-2")


def pg_config(folder: Path, public_port: int, dsn: str, store: str, diary: str) -> Path:
    """The main leg's configuration with the store and the diary in PostgreSQL."""
    text = f"""\
server:
  host: 127.0.0.1
  port: {public_port}
  service_root: http://127.0.0.1:{public_port}{BASE_PATH}
security:
  ssp:
    enforcement: "off"
    asid: "{SSP_TO}"
store:
  kind: postgresql
  dsn: {dsn}
  schema_name: {store}
logging:
  format: json
  level: warning
adapters:
  - name: diary
    kind: embedded
    options:
      dsn: {dsn}
      schema: {diary}
      data_dir: {DEMO_DATA}
      horizon_days: {HORIZON_DAYS}
services:
  - id: "{SERVICE_ID}"
    adapter: diary
"""
    path = folder / "gateway-pg.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _alternating(ops: list[Op]) -> Op:
    """Request ``i`` goes to replica ``i mod n`` (a round-robin balancer)."""

    async def op(index: int, deadline: float) -> Any:
        return await ops[index % len(ops)](index, deadline)

    return op


async def _phase(opts: Options, scenario: str, target: str, make: Any) -> PhaseResult:
    if opts.warmup:
        cap = min(opts.seconds, WARMUP_CAP_S)
        await run_phase(scenario, target, make(opts.warmup), opts.warmup, cap, opts.concurrency)
    op: Op = make(opts.requests)
    return await run_phase(scenario, target, op, opts.requests, opts.seconds, opts.concurrency)


async def _measure(
    opts: Options, roots: list[str], target: str, audience: str, cal: Calibration
) -> list[PhaseResult]:
    async with new_session(opts) as session:

        def searches(count: int) -> Op:
            tickets = search_tickets(count, audience)
            return _alternating(
                [
                    search_op(session, search_url(r, cal.window), tickets, SLOTS_WANTED)
                    for r in roots
                ]
            )

        pool: asyncio.Queue[str] = asyncio.Queue()
        for slot_id in cal.pool:
            pool.put_nowait(slot_id)

        def bookings(count: int) -> Op:
            tickets = book_tickets(count, audience)
            return _alternating(
                [book_cancel_op(session, r, tickets, pool, cal.bodies) for r in roots]
            )

        return [
            await _phase(opts, "slot-search", target, searches),
            await _phase(opts, "book+cancel", target, bookings),
        ]


async def _drop(dsn: str, schemas: tuple[str, ...]) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for schema in schemas:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


async def run_pg_leg(opts: Options, folder: Path) -> list[PhaseResult]:
    """One gateway on PostgreSQL, then two; both measured; schemas dropped afterwards."""
    tag = secrets.token_hex(4)
    store, diary = f"bench_{tag}_store", f"bench_{tag}_diary"
    dsn = opts.pg_dsn
    children = Children()
    try:
        first = await children.launch(
            "gateway-pg-1",
            lambda port: python_module(
                "gateway",
                "serve",
                "--config",
                str(pg_config(folder, port, dsn, store, diary)),
            ),
            folder / "gateway-pg-1.log",
        )
        audience = f"{first.url}{BASE_PATH}"
        config = folder / "gateway-pg.yaml"
        cal = await calibrate(opts, first, audience)
        print(f"pg gateway 1: {first.command}  (port {first.port})")
        results = await _measure(opts, [first.url], "pg-1", audience, cal)
        second = await children.launch(
            "gateway-pg-2",
            lambda port: python_module(
                "gateway", "serve", "--config", str(config), "--port", str(port)
            ),
            folder / "gateway-pg-2.log",
        )
        print(f"pg gateway 2: {second.command}  (port {second.port})")
        results += await _measure(opts, [first.url, second.url], "pg-2", audience, cal)
        first.check_alive()
        second.check_alive()
        return results
    finally:
        stopped = children.stop_all()
        print("pg servers stopped: " + ", ".join(f"{n} exit {c}" for n, c in stopped.items()))
        await _drop(opts.pg_dsn, (store, diary))


def report_pg(results: list[PhaseResult], sqlite: list[PhaseResult]) -> dict[str, Any]:
    """Print the PostgreSQL table and its ratios to the main leg's SQLite gateway rows."""
    print()
    print(
        "PostgreSQL leg: store and embedded diary in PostgreSQL, one gateway (pg-1) and two "
        "(pg-2, requests alternating), vs the SQLite gateway rows above"
    )
    print_table(results, 12)
    base = {r.scenario: r for r in sqlite if r.target == "gateway"}
    ratios: dict[str, dict[str, float]] = {}
    for r in results:
        ref = base.get(r.scenario)
        if ref is None or not ref.rate or not ref.pct_ms(50):
            continue
        key = f"{r.scenario} {r.target}"
        ratios[key] = {
            "throughput_over_sqlite": r.rate / ref.rate,
            "p50_over_sqlite": r.pct_ms(50) / ref.pct_ms(50),
        }
        print(
            f"ratio {key}: throughput /sqlite = {ratios[key]['throughput_over_sqlite']:.3f}, "
            f"p50 /sqlite = {ratios[key]['p50_over_sqlite']:.2f}"
        )
    print_errors(results)
    return {
        "results": [
            {
                "scenario": r.scenario,
                "target": r.target,
                "requests": r.requests,
                "failures": r.failures,
                "rate": r.rate,
                "p50_ms": r.pct_ms(50),
                "p99_ms": r.pct_ms(99),
            }
            for r in results
        ],
        "ratios": ratios,
        "failures": sum(r.failures for r in results),
    }
