"""The main run's report: its table (median rounds), the ratios asked of it, and --json facts."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from benchmarks._big import BIG_CONCURRENCY, BIG_SCENARIO, BigSearch
from benchmarks._constants import SCENARIOS, SERVICE_ID
from benchmarks._options import Options
from benchmarks._rounds import XML_SCENARIO, PhaseSpec, Row
from benchmarks._targets import MAIN_HORIZON_DAYS, Target, workers_target

#: What the performance issue asks of a single booking at c=1, and of the rest.
POST_P50_TARGET_MS = 2.5
POST_P99_TARGET_MS = 6.0
XML_TARGET = 3.0
HEALTH_TARGET_MS = 50.0


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2f}"


def _over(top: float, bottom: float) -> float:
    return top / bottom if bottom and not math.isnan(bottom) else float("nan")


def print_rows(rows: Sequence[Row]) -> None:
    """One line per phase: its median round, and every round's req/s."""
    header = (
        f"{'scenario':<16} {'c':>2} {'target':<10} {'requests':>8} {'failures':>8} "
        f"{'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'POST p50':>8} {'POST p99':>8}  "
        "req/s by round"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        r = row.median.result
        by_round = " ".join(f"{m.result.rate:.1f}" for m in row.rounds)
        print(
            f"{r.scenario:<16} {r.concurrency:>2} {r.target:<10} {r.requests:>8} "
            f"{r.failures:>8} {r.rate:>8.1f} {_ms(r.pct_ms(50)):>8} {_ms(r.pct_ms(99)):>8} "
            f"{_ms(r.book_pct_ms(50)):>8} {_ms(r.book_pct_ms(99)):>8}  {by_round}"
        )


def _throughput_ratios(
    rows: dict[PhaseSpec, Row], scenario: str, concurrency: int, workers: str | None
) -> dict[str, float]:
    def rate(target: str) -> float:
        row = rows.get(PhaseSpec(scenario, concurrency, target))
        return row.median.result.rate if row else float("nan")

    out = {
        "throughput_gateway_over_bare": _over(rate("gateway"), rate("bare")),
        "throughput_gateway_over_minimal": _over(rate("gateway"), rate("minimal")),
    }
    if workers is not None:
        out["throughput_workers_over_gateway"] = _over(rate(workers), rate("gateway"))
    return out


def _print_throughput(key: str, values: dict[str, float], workers: str | None) -> None:
    line = (
        f"ratio {key}: throughput gateway/bare = {values['throughput_gateway_over_bare']:.3f}, "
        f"gateway/minimal = {values['throughput_gateway_over_minimal']:.3f}"
    )
    if workers is not None:
        line += f", {workers}/gateway = {values['throughput_workers_over_gateway']:.3f}"
    print(line)


def _booking(rows: dict[PhaseSpec, Row], concurrency: int) -> dict[str, float] | None:
    row = rows.get(PhaseSpec("book+cancel", concurrency, "gateway"))
    if row is None:
        return None
    r = row.median.result
    p50, p99 = r.book_pct_ms(50), r.book_pct_ms(99)
    print(
        f"booking POST alone c={concurrency} (gateway): p50 = {p50:.2f} ms "
        f"(target <= {POST_P50_TARGET_MS}), p99 = {p99:.2f} ms (target <= {POST_P99_TARGET_MS})"
    )
    return {"post_p50_ms": p50, "post_p99_ms": p99}


def _xml(rows: dict[PhaseSpec, Row], concurrency: int) -> dict[str, float] | None:
    xml = rows.get(PhaseSpec(XML_SCENARIO, concurrency, "gateway"))
    json_row = rows.get(PhaseSpec("slot-search", concurrency, "gateway"))
    if xml is None or json_row is None:
        return None
    x, j = xml.median.result, json_row.median.result
    out = {
        "p50_xml_over_json": _over(x.pct_ms(50), j.pct_ms(50)),
        "time_xml_over_json": _over(j.rate, x.rate),
    }
    print(
        f"ratio {XML_SCENARIO} c={concurrency}: XML/JSON p50 = {out['p50_xml_over_json']:.2f}, "
        f"XML/JSON time per search (JSON req/s over XML req/s) = "
        f"{out['time_xml_over_json']:.2f} (target <= {XML_TARGET:g})"
    )
    return out


def _health(rows: dict[PhaseSpec, Row], big: BigSearch) -> dict[str, float] | None:
    row = rows.get(PhaseSpec(BIG_SCENARIO, BIG_CONCURRENCY, "gateway"))
    health = row.median.health if row else None
    if row is None or health is None:
        return None
    search = row.median.result
    print(
        f"health beside {BIG_SCENARIO} c={BIG_CONCURRENCY} (gateway, {big.slots} slots, "
        f"{search.requests} searches): /health p50 = {health.pct_ms(50):.2f} ms, "
        f"p99 = {health.pct_ms(99):.2f} ms, max = {health.max_ms:.2f} ms over "
        f"{len(health.latencies_s)} probes (target < {HEALTH_TARGET_MS:g}); "
        f"big search p50 = {search.pct_ms(50):.2f} ms"
    )
    return {
        "health_p50_ms": health.pct_ms(50),
        "health_p99_ms": health.pct_ms(99),
        "health_max_ms": health.max_ms,
        "big_search_p50_ms": search.pct_ms(50),
    }


def print_ratios(
    opts: Options, rows: dict[PhaseSpec, Row], big: BigSearch, workers: str | None
) -> dict[str, Any]:
    """Every ratio at the end of the main run; the same values for --json."""
    out: dict[str, Any] = {}
    for scenario in SCENARIOS:
        for concurrency in opts.concurrencies:
            key = f"{scenario} c={concurrency}"
            out[key] = _throughput_ratios(rows, scenario, concurrency, workers)
            _print_throughput(key, out[key], workers)
    extras = {
        "booking c=1": _booking(rows, 1),
        XML_SCENARIO: _xml(rows, opts.most_concurrent),
        "health": _health(rows, big),
    }
    out.update({k: v for k, v in extras.items() if v is not None})
    return out


def print_errors(rows: Sequence[Row]) -> None:
    for row in rows:
        for index, measured in enumerate(row.rounds, 1):
            r = measured.result
            errors = r.errors + (measured.health.errors if measured.health else Counter())
            for error, n in errors.most_common():
                print(f"  round {index} {r.scenario} c={r.concurrency} {r.target}: {n} x {error}")


def print_header(
    opts: Options, command: str, machine: dict[str, Any], targets: Sequence[Target], big: BigSearch
) -> None:
    gateway = targets[0]
    cal = gateway.cal
    print("uec-gateway benchmark: gateway vs bare aiohttp and a minimal same-work app")
    print(f"command:     {command}")
    print(
        f"machine:     {machine['cpu_count']} CPUs ({machine['cpus_usable']} usable), "
        f"{machine['cpu_model']}; {machine['platform']}"
    )
    print(f"python:      {machine['python']}, aiohttp {machine['aiohttp']}")
    print(
        f"settings:    requests={opts.requests} seconds={opts.seconds:g} "
        f"concurrency={','.join(map(str, opts.concurrencies))} rounds={opts.rounds} "
        f"workers={opts.workers} warmup={opts.warmup} pool={len(cal.pool)} "
        f"accept-encoding={'gzip' if opts.gzip else 'identity'}"
    )
    for target in targets:
        print(f"{target.name + ':':<12} {target.child.command}  (port {target.child.port})")
    included = ", ".join(f"{n} {k}" for k, n in cal.search_entries.items())
    print(
        f"diary:       {cal.free_slots} free slots for service {SERVICE_ID} over "
        f"horizon_days={MAIN_HORIZON_DAYS}; book+cancel cycles {len(cal.pool)} others"
    )
    print(
        f"search:      {cal.window.lstrip('&')} -> {included}; "
        f"{len(cal.search['body'].encode())} bytes"
    )
    print(f"big search:  {big.window.lstrip('&')} -> {big.slots} Slot (and the same includes)")


def summary(
    opts: Options,
    command: str,
    machine: dict[str, Any],
    targets: Sequence[Target],
    big: BigSearch,
    rows: Sequence[Row],
    ratios: dict[str, Any],
) -> dict[str, Any]:
    """The facts of the main run for --json."""
    cal = targets[0].cal
    return {
        "command": command,
        "machine": machine,
        "settings": {
            "requests": opts.requests,
            "seconds": opts.seconds,
            "concurrency": list(opts.concurrencies),
            "rounds": opts.rounds,
            "workers": opts.workers,
            "warmup": opts.warmup,
            "pool": len(cal.pool),
            "accept_encoding": "gzip" if opts.gzip else "identity",
        },
        "servers": {t.name: {"command": t.child.command, "port": t.child.port} for t in targets},
        "diary_free_slots": cal.free_slots,
        "horizon_days": MAIN_HORIZON_DAYS,
        "search_window": cal.window.lstrip("&"),
        "search_entries": dict(cal.search_entries),
        "big_search": {"window": big.window.lstrip("&"), "slots": big.slots},
        "results": [row.as_dict() for row in rows],
        "ratios": ratios,
        "failures": sum(row.failures for row in rows),
    }


def report(
    opts: Options,
    command: str,
    machine: dict[str, Any],
    targets: Sequence[Target],
    big: BigSearch,
    rows: dict[PhaseSpec, Row],
) -> dict[str, Any]:
    """Print the plain-text report of the main run; return the same facts for --json."""
    print_header(opts, command, machine, targets, big)
    print()
    print_rows(list(rows.values()))
    print()
    workers = workers_target(opts.workers) if opts.workers > 1 else None
    ratios = print_ratios(opts, rows, big, workers)
    facts = summary(opts, command, machine, targets, big, list(rows.values()), ratios)
    print_errors(list(rows.values()))
    print(f"failures: {facts['failures']}")
    print(
        "notes: rows are the median of the rounds by req/s; book+cancel = POST /Appointment + "
        "PUT /Appointment/{id} (If-Match), latency summed, POST also alone; JWTs/bodies "
        "prepared untimed; the load generator shares this machine's CPUs."
    )
    return facts
