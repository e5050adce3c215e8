"""Smoke test of the benchmark's consumer leg (MLLP in, FHIR out); no timing is asserted."""

from __future__ import annotations

import json
from pathlib import Path

from tests.processes import run_python

ROOT = Path(__file__).resolve().parents[2]


async def test_benchmark_reports_the_consumer_leg_with_no_failures(tmp_path: Path) -> None:
    """A tiny run without the HL7 leg exits 0 with both consumer ratio lines and no failures."""
    out = tmp_path / "bench.json"
    done = await run_python(
        [
            "-m",
            "benchmarks.bench",
            *("--rounds", "1", "--workers", "1"),
            *("--requests", "10", "--seconds", "10", "--warmup", "2", "--pool", "16"),
            *("--no-hl7", "--no-bars-consumer", "--no-pg", "--json", str(out)),
        ],
        ROOT,
        timeout_s=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for scenario in ("consumer-slot-search", "consumer-book+cancel"):
        prefix = f"ratio {scenario}: throughput consumer/bare = "
        assert any(line.startswith(prefix) for line in lines), done.stdout
    assert "consumer failures: 0" in lines
    assert "failures: 0" in lines
    assert "consumer servers stopped: consumer exit 0, ssp-proxy exit 0, provider exit 0" in lines
    summary = json.loads(out.read_text(encoding="utf-8"))
    assert "hl7" not in summary
    consumer = summary["consumer"]
    assert consumer["failures"] == 0 and summary["failures"] == 0
    assert [(r["scenario"], r["target"], r["requests"]) for r in consumer["results"]] == [
        ("consumer-slot-search", "consumer", 10),
        ("consumer-slot-search", "bare", 10),
        ("consumer-book+cancel", "consumer", 10),
        ("consumer-book+cancel", "bare", 10),
    ]
    assert set(consumer["ratios"]["consumer-book+cancel"]) == {
        "throughput_consumer_over_bare",
        "p50_consumer_over_bare",
    }
