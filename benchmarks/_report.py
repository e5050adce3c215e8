"""What every leg's report shares: the results table, the error lines, the machine."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

import aiohttp

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
