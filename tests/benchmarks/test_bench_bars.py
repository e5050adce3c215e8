"""Smoke test of the benchmark's BaRS leg (GET /Slot and $process-message); no timing asserted."""

from __future__ import annotations

import json
from pathlib import Path

from tests.processes import run_python

ROOT = Path(__file__).resolve().parents[2]


async def test_benchmark_reports_the_bars_leg_with_no_failures(tmp_path: Path) -> None:
    """A tiny run of the BaRS leg exits 0 with both ratio lines, its table and no failures."""
    out = tmp_path / "bench.json"
    done = await run_python(
        [
            "-m",
            "benchmarks.bench",
            *("--rounds", "1", "--workers", "1"),
            *("--requests", "10", "--seconds", "10", "--warmup", "2", "--pool", "16"),
            *("--no-hl7", "--no-consumer", "--no-pg", "--json", str(out)),
        ],
        ROOT,
        timeout_s=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for scenario in ("bars-slot-search", "bars-book+cancel"):
        prefix = f"ratio {scenario}: throughput gateway/bare = "
        assert any(line.startswith(prefix) for line in lines), done.stdout
    assert "bars failures: 0" in lines
    assert "bars servers stopped: bare-bars exit 0, gateway-bars exit 0" in lines
    summary = json.loads(out.read_text(encoding="utf-8"))
    bars = summary["bars"]
    assert bars["failures"] == 0 and summary["failures"] == 0
    assert [(r["scenario"], r["target"], r["requests"]) for r in bars["results"]] == [
        ("bars-slot-search", "gateway", 10),
        ("bars-slot-search", "bare", 10),
        ("bars-book+cancel", "gateway", 10),
        ("bars-book+cancel", "bare", 10),
    ]
    assert set(bars["ratios"]) == {"bars-slot-search", "bars-book+cancel"}
