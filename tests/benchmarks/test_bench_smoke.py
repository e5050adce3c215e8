"""Smoke test of the benchmark tool: it runs end to end; no timing is asserted."""

from __future__ import annotations

import json
from pathlib import Path

from tests.processes import run_python

ROOT = Path(__file__).resolve().parents[2]


async def test_benchmark_runs_and_reports_ratios_with_no_failures(tmp_path: Path) -> None:
    """A tiny run exits 0 with every phase, ratio line and zero failures, PostgreSQL leg too."""
    out = tmp_path / "bench.json"
    done = await run_python(
        [
            "-m",
            "benchmarks.bench",
            *("--requests", "20", "--seconds", "10", "--warmup", "5", "--json", str(out)),
            *("--rounds", "1", "--workers", "1"),
        ],
        ROOT,
        timeout_s=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for scenario in ("slot-search", "book+cancel"):
        for c in (1, 8):
            prefix = f"ratio {scenario} c={c}: throughput gateway/bare = "
            assert any(line.startswith(prefix) and "gateway/minimal = " in line for line in lines)
    assert any(line.startswith("booking POST alone c=1 (gateway): p50 = ") for line in lines)
    assert any(line.startswith("ratio slot-search-xml c=8: XML/JSON p50 = ") for line in lines)
    assert any(line.startswith("health beside slot-search-1000 c=2 ") for line in lines)
    assert "failures: 0" in lines
    assert "servers stopped: minimal exit 0, bare exit 0, gateway exit 0" in lines
    summary = json.loads(out.read_text(encoding="utf-8"))
    assert summary["failures"] == 0
    assert summary["search_entries"]["Slot"] == 50
    assert summary["big_search"]["slots"] == 1000
    phases = [
        (r["scenario"], r["concurrency"], r["target"], r["requests"]) for r in summary["results"]
    ]
    assert phases == [
        *(
            (scenario, c, target, 20)
            for scenario in ("slot-search", "book+cancel")
            for c in (1, 8)
            for target in ("gateway", "bare", "minimal")
        ),
        ("slot-search-xml", 8, "gateway", 20),
        ("slot-search-1000", 2, "gateway", 20),
    ]
    booking = next(r for r in summary["results"] if r["scenario"] == "book+cancel")
    assert 0 < booking["post_p50_ms"] < booking["p50_ms"]
    assert summary["results"][-1]["health"]["probes"] > 0
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
