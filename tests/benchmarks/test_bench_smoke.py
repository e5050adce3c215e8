"""Smoke test of the benchmark tool: it runs end to end; no timing is asserted."""

from __future__ import annotations

import json
from pathlib import Path

from tests.processes import run_python

ROOT = Path(__file__).resolve().parents[2]


async def test_benchmark_runs_and_reports_ratios_with_no_failures(tmp_path: Path) -> None:
    """A tiny run exits 0 and prints both ratio lines and zero failures."""
    out = tmp_path / "bench.json"
    done = await run_python(
        [
            "-m",
            "benchmarks.bench",
            *("--requests", "20", "--seconds", "10", "--warmup", "5", "--json", str(out)),
        ],
        ROOT,
        timeout_s=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("ratio slot-search: throughput gateway/bare = ") for line in lines)
    assert any(line.startswith("ratio book+cancel: throughput gateway/bare = ") for line in lines)
    assert "failures: 0" in lines
    assert "servers stopped: bare exit 0, gateway exit 0" in lines
    summary = json.loads(out.read_text(encoding="utf-8"))
    assert summary["failures"] == 0
    assert summary["search_entries"]["Slot"] == 50
    assert [(r["scenario"], r["target"], r["requests"]) for r in summary["results"]] == [
        ("slot-search", "gateway", 20),
        ("slot-search", "bare", 20),
        ("book+cancel", "gateway", 20),
        ("book+cancel", "bare", 20),
    ]
