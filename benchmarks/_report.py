"""The plain-text report of the main run (and the table layout every leg shares)."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks._bench_setup import Calibration
from benchmarks._children import Child
from benchmarks._constants import HORIZON_DAYS, SCENARIOS, SERVICE_ID
from benchmarks._options import Options
from benchmarks._phases import PhaseResult


def print_table(results: list[PhaseResult], width: int) -> None:
    """The results table, its scenario column ``width`` characters wide."""
    header = (
        f"{'scenario':<{width}} {'target':<8} {'requests':>9} {'failures':>9} "
        f"{'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'seconds':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.scenario:<{width}} {r.target:<8} {r.requests:>9} {r.failures:>9} "
            f"{r.rate:>9.1f} {r.pct_ms(50):>9.2f} {r.pct_ms(99):>9.2f} {r.elapsed_s:>8.2f}"
        )


def print_errors(results: list[PhaseResult]) -> None:
    for r in results:
        for error, n in r.errors.most_common():
            print(f"  {r.scenario} {r.target}: {n} x {error}")


def machine_info() -> dict[str, Any]:
    affinity = getattr(os, "sched_getaffinity", None)
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(affinity(0)) if affinity is not None else os.cpu_count(),
        "cpu_model": model,
        "platform": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "aiohttp": aiohttp.__version__,
    }


def ratios(results: list[PhaseResult]) -> dict[str, dict[str, float]]:
    by_key = {(r.scenario, r.target): r for r in results}
    out: dict[str, dict[str, float]] = {}
    for scenario in SCENARIOS:
        gw, bare = by_key.get((scenario, "gateway")), by_key.get((scenario, "bare"))
        if gw is None or bare is None:
            continue
        out[scenario] = {
            "throughput_gateway_over_bare": gw.rate / bare.rate if bare.rate else float("nan"),
            "p50_gateway_over_bare": gw.pct_ms(50) / bare.pct_ms(50)
            if bare.pct_ms(50)
            else float("nan"),
        }
    return out


def report(
    opts: Options,
    command: str,
    machine: dict[str, Any],
    children: dict[str, Child],
    cal: Calibration,
    results: list[PhaseResult],
) -> dict[str, Any]:
    """Print the plain-text report; return the same facts for --json."""
    print("uec-gateway benchmark: gateway vs bare aiohttp baseline")
    print(f"command:     {command}")
    print(
        f"machine:     {machine['cpu_count']} CPUs ({machine['cpus_usable']} usable), "
        f"{machine['cpu_model']}; {machine['platform']}"
    )
    print(f"python:      {machine['python']}, aiohttp {machine['aiohttp']}")
    print(
        f"settings:    requests={opts.requests} seconds={opts.seconds:g} "
        f"concurrency={opts.concurrency} warmup={opts.warmup} pool={len(cal.pool)} "
        f"accept-encoding={'gzip' if opts.gzip else 'identity'}"
    )
    for name, child in children.items():
        print(f"{name + ':':<12} {child.command}  (port {child.port})")
    included = ", ".join(f"{n} {k}" for k, n in cal.search_entries.items())
    print(
        f"diary:       {cal.free_slots} free slots for service {SERVICE_ID} over "
        f"horizon_days={HORIZON_DAYS}; book+cancel cycles {len(cal.pool)} others"
    )
    print(
        f"search:      {cal.window.lstrip('&')} -> {included}; "
        f"{len(cal.search['body'].encode())} bytes"
    )
    print()
    print_table(results, 12)
    print()
    ratio = ratios(results)
    for scenario, values in ratio.items():
        print(
            f"ratio {scenario}: throughput gateway/bare = "
            f"{values['throughput_gateway_over_bare']:.3f}, "
            f"p50 latency gateway/bare = {values['p50_gateway_over_bare']:.2f}"
        )
    failures = sum(r.failures for r in results)
    print_errors(results)
    print(f"failures: {failures}")
    print(
        "notes: book+cancel = POST /Appointment + PUT /Appointment/{id} (If-Match), latency "
        "summed; JWTs/bodies prepared untimed; the load generator shares this machine's CPUs."
    )
    return {
        "command": command,
        "machine": machine,
        "settings": {
            "requests": opts.requests,
            "seconds": opts.seconds,
            "concurrency": opts.concurrency,
            "warmup": opts.warmup,
            "pool": len(cal.pool),
            "accept_encoding": "gzip" if opts.gzip else "identity",
        },
        "servers": {n: {"command": c.command, "port": c.port} for n, c in children.items()},
        "diary_free_slots": cal.free_slots,
        "search_window": cal.window.lstrip("&"),
        "search_entries": dict(cal.search_entries),
        "results": [r.as_dict() for r in results],
        "ratios": ratio,
        "failures": failures,
    }
