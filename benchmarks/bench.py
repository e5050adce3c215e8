# The N-worker gateway target is named as the table prints it, with a multiplication sign.
# ruff: noqa: RUF002

"""Gateway vs bare aiohttp vs a minimal same-work app: slot search and book+cancel, one run.

    .venv/bin/python -m benchmarks.bench [--requests 2000] [--seconds 20]
        [--concurrency 1,8] [--rounds 3] [--workers 2] [--json FILE]

What it does:

1. starts ``python -m gateway serve`` on a temporary configuration (fresh store,
   fresh embedded diary over the demo data, ``horizon_days: 10`` so one search can
   hold 1,000 slots, ``max_slots_per_page: 5000``, logging at ``warning`` in text, so
   ``serve`` prints its "serving" line) on a free 127.0.0.1 port, and waits for
   ``/health`` and that line;
2. finds a slot-search start window that returns exactly 50 free slots with the
   full ``_include`` chain, a pool of other free slots to book and cancel, and a
   window of 1,000 free slots; captures one real search, booking and cancel;
   every slot chosen starts after the whole run could have ended;
3. starts the baselines, each on its own free port:
   ``benchmarks.bare`` serves those captured bytes (no work at all);
   ``benchmarks.minimal`` does the gateway's SQL and serialisation with none of
   its checks, on its own copy of the gateway's diary file (made with SQLite's
   backup API), so gateway/minimal is the gateway's own overhead;
4. unless ``--workers 1``, starts a second gateway, ``serve --workers N``, on its
   own fresh configuration (folder, store, diary), waits for its "serving" line
   (printed once every worker listens) and calibrates it as in step 2;
5. runs ``--rounds`` interleaved rounds; each round runs, in the same order:
   both scenarios at each ``--concurrency`` on each target (gateway, bare,
   minimal, gateway×N); ``slot-search-xml`` (the same search with
   ``_format=xml``) on the gateway at the highest concurrency; and
   ``slot-search-1000`` on the gateway at concurrency 2 while another task
   probes ``GET /health`` every 20 ms. Each phase has its own keep-alive
   ``ClientSession`` (as many connections as its concurrency) and is bounded by
   a request count and a time cap, after an untimed warm-up;
6. prints a table with, per phase, the median round by req/s (requests,
   failures, req/s, p50/p99, and for book+cancel the POST's own p50/p99) and
   every round's req/s; then the ratios: gateway/bare, gateway/minimal and
   gateway×N/gateway throughput for each scenario and concurrency, the
   booking POST's p50/p99 at c=1, XML over JSON (p50 and time per search),
   and /health's p50/p99/max beside the 1,000-slot search; then the failure
   count over every round (which must be 0; the exit code is 1 otherwise);
   ``--json FILE`` writes all of it, every round included. The servers stop.

A "request" of the book+cancel scenario is one POST /Appointment then one PUT
/Appointment/{id} (status cancelled, ``If-Match`` from the booking's ETag); its
latency is the sum of the two calls, and the POST is also timed alone (the
single booking). Cancelling frees the slot, so a small pool of slots is cycled,
one operation per slot at a time. JWTs, request ids and booking bodies are
prepared before each phase, outside the timed region.

The legs below run after the main run, at the first ``--concurrency``:

7. unless ``--no-hl7``, runs the HL7 leg (``benchmarks.hl7_leg``): the PAS peer, a
   gateway fronting it over MLLP, and bare MLLP to the same peer, in the same run.
8. unless ``--no-bars``, runs the BaRS leg (``benchmarks.bars_leg``): a gateway serving
   the BaRS door, ``GET /Slot`` and ``$process-message`` booking+cancel, against a bare
   app replaying its captured answers, in the same run.
9. unless ``--no-pg``, runs the PostgreSQL leg (``benchmarks.pg_leg``): the same two
   scenarios against one gateway, then two gateway processes (requests alternating),
   whose store and embedded diary are in PostgreSQL, beside the SQLite gateway's
   median rows of step 6.
10. unless ``--no-consumer``, runs the consumer leg (``benchmarks.consumer_leg``): a
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
from typing import Any

from benchmarks._big import BigSearch, calibrate_big
from benchmarks._children import ChildError, Children
from benchmarks._constants import SCENARIOS, TARGETS
from benchmarks._main_report import report
from benchmarks._measure import measure
from benchmarks._options import Options, parse_args
from benchmarks._phases import PhaseResult
from benchmarks._report import machine_info
from benchmarks._rounds import PhaseSpec, Row, plan, rows_for
from benchmarks._targets import (
    Target,
    launch_bare,
    launch_gateway,
    launch_minimal,
    workers_target,
)

__all__ = ["launch", "main", "measure", "parse_args", "run", "run_legs", "run_rounds"]


def _phases(opts: Options) -> int:
    """Measured phases in the whole run (how far ahead the booked slots must start)."""
    names = list(TARGETS)
    if opts.workers > 1:
        names.append(workers_target(opts.workers))
    return len(plan(opts.concurrencies, names)) * opts.rounds


async def launch(opts: Options, children: Children, folder: Path) -> tuple[list[Target], BigSearch]:
    """The gateway (calibrated), bare, minimal and, unless --workers 1, the N-worker gateway."""
    phases = _phases(opts)
    gateway = await launch_gateway(opts, children, folder / "gateway", "gateway", 1, phases)
    big = await calibrate_big(opts, gateway)
    targets = [
        gateway,
        await launch_bare(children, folder, gateway),
        await launch_minimal(children, folder / "gateway", folder, gateway),
    ]
    if opts.workers > 1:
        name = workers_target(opts.workers)
        workers = await launch_gateway(
            opts, children, folder / "workers", name, opts.workers, phases
        )
        targets.append(workers)
    return targets, big


async def run_rounds(opts: Options, targets: list[Target], big: BigSearch) -> dict[PhaseSpec, Row]:
    """Every phase once per round, rounds one after another; every server checked after each."""
    by_name = {t.name: t for t in targets}
    rows = rows_for(plan(opts.concurrencies, list(by_name)))
    for _ in range(opts.rounds):
        for spec, row in rows.items():
            row.rounds.append(await measure(opts, spec, by_name[spec.target], big))
            for target in targets:
                target.child.check_alive()
    return rows


def _sqlite_rows(opts: Options, rows: dict[PhaseSpec, Row]) -> list[PhaseResult]:
    """The gateway's median rows at the legs' concurrency (what the PostgreSQL leg compares)."""
    return [
        row.median.result
        for spec, row in rows.items()
        if spec.target == "gateway"
        and spec.concurrency == opts.concurrency
        and spec.scenario in SCENARIOS
    ]


async def run_legs(
    opts: Options, folder: Path, rows: dict[PhaseSpec, Row], summary: dict[str, Any]
) -> None:
    """The legs not left out, each adding its facts and failures to ``summary``."""
    if opts.pg:
        from benchmarks.pg_leg import report_pg, run_pg_leg

        summary["postgresql"] = report_pg(await run_pg_leg(opts, folder), _sqlite_rows(opts, rows))
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


async def run(opts: Options, children: Children, folder: Path, command: str) -> int:
    targets, big = await launch(opts, children, folder)
    rows = await run_rounds(opts, targets, big)
    summary = report(opts, command, machine_info(), targets, big, rows)
    await run_legs(opts, folder, rows, summary)
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
