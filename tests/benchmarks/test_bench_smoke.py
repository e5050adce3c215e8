"""Smoke test of the benchmark tool: it runs end to end; no timing is asserted."""

from __future__ import annotations

import json
from pathlib import Path

from tests.processes import run_python

ROOT = Path(__file__).resolve().parents[2]


async def test_benchmark_runs_and_reports_ratios_with_no_failures(tmp_path: Path) -> None:
    """A tiny run exits 0, prints both ratio lines and zero failures, PostgreSQL leg included."""
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
    # The PostgreSQL leg: one and two replicas, compared with the SQLite rows above.
    pg = summary["postgresql"]
    assert pg["failures"] == 0
    assert [(r["scenario"], r["target"], r["requests"]) for r in pg["results"]] == [
        ("slot-search", "pg-1", 20),
        ("book+cancel", "pg-1", 20),
        ("slot-search", "pg-2", 20),
        ("book+cancel", "pg-2", 20),
    ]
    wanted = {f"{s} pg-{n}" for s in ("slot-search", "book+cancel") for n in (1, 2)}
    assert set(pg["ratios"]) == wanted
    assert "pg servers stopped: gateway-pg-2 exit 0, gateway-pg-1 exit 0" in lines
