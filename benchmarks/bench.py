"""Gateway vs bare aiohttp: slot search and book+cancel throughput and latency, in one run.

    .venv/bin/python -m benchmarks.bench [--requests 2000] [--seconds 20] [--concurrency 8]

What it does:

1. starts ``python -m gateway serve`` on a temporary configuration (fresh store,
   fresh embedded diary over the demo data, ``horizon_days: 3``, logging at
   ``warning``) on a free 127.0.0.1 port, and waits for ``/health``;
2. finds a slot-search start window that returns exactly 50 free slots with the
   full ``_include`` chain, and a pool of other free slots to book and cancel;
   captures one real search, booking and cancel response;
3. starts ``python -m benchmarks.bare`` (a bare aiohttp app that serves those
   captured bytes) on another free port, and waits for its ``/health``;
4. loads each server in turn from this process (one ``ClientSession``,
   keep-alive, bounded concurrency), each phase bounded by a request count
   and a time cap, after an untimed warm-up;
5. prints a table, the gateway/bare ratios and the failure count (which must be
   0; the exit code is 1 otherwise), optionally writes JSON, and stops both
   servers.

A "request" of the book+cancel scenario is one POST /Appointment then one PUT
/Appointment/{id} (status cancelled, ``If-Match`` from the booking's ETag); its
latency is the sum of the two calls. Cancelling frees the slot, so a small pool
of slots is cycled, one operation per slot at a time. JWTs, request ids and
booking bodies are prepared before each phase, outside the timed region.

6. unless ``--no-hl7``, runs the HL7 leg (``benchmarks.hl7_leg``): the PAS peer, a
   gateway fronting it over MLLP, and bare MLLP to the same peer, in the same run.
7. unless ``--no-bars``, runs the BaRS leg (``benchmarks.bars_leg``): a gateway serving
   the BaRS door, ``GET /Slot`` and ``$process-message`` booking+cancel, against a bare
   app replaying its captured answers, in the same run.
8. unless ``--no-pg``, runs the PostgreSQL leg (``benchmarks.pg_leg``): the same two
   scenarios against one gateway, then two gateway processes (requests alternating),
   whose store and embedded diary are in PostgreSQL, beside the SQLite rows of step 4.
9. unless ``--no-consumer``, runs the consumer leg (``benchmarks.consumer_leg``): a
   legacy HL7 v2 consumer's MLLP round trip through a gateway with the HL7 front
   door and the national-fhir adapter to a provider gateway, against FHIR sent
   straight to that provider, in the same run; and, unless ``--no-bars-consumer``,
   its BaRS path (``benchmarks.bars_consumer_leg``): the same MLLP calls through a
   gateway with the ``bars`` adapter and the mock national proxy to a BaRS receiver,
   against BaRS sent straight to that receiver.

This is a benchmark, not a test: it asserts nothing about speed.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from benchmarks._bench_setup import Calibration, calibrate, gateway_config
from benchmarks._children import ChildError, Children, python_module
from benchmarks._constants import (
    BASE_PATH,
    DEMO_DATA,
    HORIZON_DAYS,
    INCLUDES,
    MAX_SECONDS,
    REQUEST_TIMEOUT_S,
    SCENARIOS,
    SERVICE_ID,
    SLOTS_WANTED,
    SSP_FROM,
    SSP_TO,
    TARGETS,
    WARMUP_CAP_S,
)
from benchmarks._fhir import (
    BookTicket,
    Captured,
    book_cancel_op,
    book_tickets,
    candidate_windows,
    consumer_headers,
    new_session,
    search_op,
    search_tickets,
    search_url,
    slots_of,
    window_query,
)
from benchmarks._options import Options, parse_args
from benchmarks._phases import Op, Outcome, PhaseResult, percentile, run_phase
from benchmarks._report import machine_info, ratios, report
from benchmarks.bare import Fixtures

# The names above moved to the private modules; they stay importable from here.
__all__ = [
    "BASE_PATH",
    "DEMO_DATA",
    "HORIZON_DAYS",
    "INCLUDES",
    "MAX_SECONDS",
    "REQUEST_TIMEOUT_S",
    "SCENARIOS",
    "SERVICE_ID",
    "SLOTS_WANTED",
    "SSP_FROM",
    "SSP_TO",
    "TARGETS",
    "WARMUP_CAP_S",
    "BookTicket",
    "Calibration",
    "Captured",
    "Op",
    "Options",
    "Outcome",
    "PhaseResult",
    "book_cancel_op",
    "book_tickets",
    "calibrate",
    "candidate_windows",
    "consumer_headers",
    "gateway_config",
    "machine_info",
    "main",
    "measure",
    "new_session",
    "parse_args",
    "percentile",
    "ratios",
    "report",
    "run",
    "run_phase",
    "search_op",
    "search_tickets",
    "search_url",
    "slots_of",
    "window_query",
]


async def measure(
    opts: Options, scenario: str, target: str, root: str, audience: str, cal: Calibration
) -> PhaseResult:
    """An untimed warm-up, then the measured phase; tickets minted before each, untimed."""
    warmup_cap = min(opts.seconds, WARMUP_CAP_S)
    async with new_session(opts) as session:
        if scenario == "slot-search":
            url = search_url(root, cal.window)
            if opts.warmup:
                tickets = search_tickets(opts.warmup, audience)
                op = search_op(session, url, tickets, SLOTS_WANTED)
                await run_phase(scenario, target, op, opts.warmup, warmup_cap, opts.concurrency)
            tickets = search_tickets(opts.requests, audience)
            op = search_op(session, url, tickets, SLOTS_WANTED)
            return await run_phase(
                scenario, target, op, opts.requests, opts.seconds, opts.concurrency
            )
        pool: asyncio.Queue[str] = asyncio.Queue()
        for slot_id in cal.pool:
            pool.put_nowait(slot_id)
        if opts.warmup:
            op = book_cancel_op(
                session, root, book_tickets(opts.warmup, audience), pool, cal.bodies
            )
            await run_phase(scenario, target, op, opts.warmup, warmup_cap, opts.concurrency)
        op = book_cancel_op(session, root, book_tickets(opts.requests, audience), pool, cal.bodies)
        return await run_phase(scenario, target, op, opts.requests, opts.seconds, opts.concurrency)


async def run(opts: Options, children: Children, folder: Path, command: str) -> int:
    gateway = await children.launch(
        "gateway",
        lambda port: python_module(
            "gateway", "serve", "--config", str(gateway_config(folder, port))
        ),
        folder / "gateway.log",
    )
    audience = f"{gateway.url}{BASE_PATH}"
    cal = await calibrate(opts, gateway, audience)
    fixtures_path = folder / "bare-fixtures.json"
    fixtures: Fixtures = {
        "base_path": BASE_PATH,
        "search": cal.search,
        "book": cal.captured.book,
        "cancel": cal.captured.cancel,
    }
    fixtures_path.write_text(json.dumps(fixtures), encoding="utf-8")
    bare = await children.launch(
        "bare",
        lambda port: python_module(
            "benchmarks.bare", "--port", str(port), "--fixtures", str(fixtures_path)
        ),
        folder / "bare.log",
    )
    roots = {"gateway": gateway.url, "bare": bare.url}
    results: list[PhaseResult] = []
    for scenario in SCENARIOS:
        for target in TARGETS:
            result = await measure(opts, scenario, target, roots[target], audience, cal)
            results.append(result)
            gateway.check_alive()
            bare.check_alive()
    summary = report(
        opts, command, machine_info(), {"gateway": gateway, "bare": bare}, cal, results
    )
    if opts.pg:
        from benchmarks.pg_leg import report_pg, run_pg_leg

        summary["postgresql"] = report_pg(await run_pg_leg(opts, folder), results)
        summary["failures"] += summary["postgresql"]["failures"]
    if opts.hl7:
        from benchmarks.hl7_leg import report_hl7, run_hl7_leg

        summary["hl7"] = report_hl7(await run_hl7_leg(opts, folder))
        summary["failures"] += summary["hl7"]["failures"]
    if opts.bars:
        from benchmarks.bars_leg import report_bars, run_bars_leg

        summary["bars"] = report_bars(await run_bars_leg(opts, folder))
        summary["failures"] += summary["bars"]["failures"]
    if opts.consumer:
        from benchmarks.consumer_leg import report_consumer, run_consumer_leg

        summary["consumer"] = report_consumer(await run_consumer_leg(opts, folder))
        summary["failures"] += summary["consumer"]["failures"]
    if opts.consumer and opts.bars_consumer:
        from benchmarks.bars_consumer_leg import report_bars_consumer, run_bars_consumer_leg

        run = await run_bars_consumer_leg(opts, folder)
        summary["bars_consumer"] = report_bars_consumer(run)
        summary["failures"] += summary["bars_consumer"]["failures"]
    if opts.json_path is not None:
        opts.json_path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        print(f"json:        {opts.json_path}")
    return 0 if summary["failures"] == 0 else 1


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_args(argv)
    command = shlex.join(sys.orig_argv) if argv is None else shlex.join(["benchmarks.bench", *argv])
    children = Children()
    # A SIGTERM to the benchmark still runs the finally below and stops the servers.
    signal.signal(signal.SIGTERM, lambda _sig, _frame: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="uec-bench-") as tmp:
        try:
            code = asyncio.run(run(opts, children, Path(tmp), command))
        except ChildError as exc:
            print(f"benchmark aborted: {exc}", file=sys.stderr)
            code = 2
        except RuntimeError as exc:
            print(f"benchmark aborted: {exc}", file=sys.stderr)
            code = 2
        finally:
            stopped = children.stop_all()
            if stopped:
                codes = ", ".join(f"{name} exit {rc}" for name, rc in stopped.items())
                print(f"servers stopped: {codes}")
    return code


if __name__ == "__main__":
    sys.exit(main())
