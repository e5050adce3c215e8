"""Smoke test of the consumer leg's BaRS path (MLLP in, BaRS out via the mock proxy); no timing."""

from __future__ import annotations

import json
from pathlib import Path

from tests.processes import run_python

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ("bars-consumer-slot-search", "bars-consumer-book+cancel")


async def test_benchmark_reports_the_bars_consumer_path_with_no_failures(tmp_path: Path) -> None:
    """A tiny run reports both BaRS consumer ratios, every call answered, all servers stopped."""
    out = tmp_path / "bench.json"
    done = await run_python(
        [
            "-m",
            "benchmarks.bench",
            *("--rounds", "1", "--workers", "1"),
            *("--requests", "10", "--seconds", "10", "--warmup", "2", "--pool", "16"),
            *("--no-hl7", "--no-bars", "--no-pg", "--json", str(out)),
        ],
        ROOT,
        timeout_s=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for scenario in SCENARIOS:
        prefix = f"ratio {scenario}: throughput consumer/bare = "
        assert any(line.startswith(prefix) for line in lines), done.stdout
    assert "BaRS consumer failures: 0" in lines
    assert (
        "BaRS consumer servers stopped: consumer exit 0, bars-proxy exit 0, receiver exit 0"
        in lines
    )
    summary = json.loads(out.read_text(encoding="utf-8"))
    leg = summary["bars_consumer"]
    assert leg["failures"] == 0 and summary["failures"] == 0
    assert [(r["scenario"], r["target"], r["requests"]) for r in leg["results"]] == [
        (SCENARIOS[0], "consumer", 10),
        (SCENARIOS[0], "bare", 10),
        (SCENARIOS[1], "consumer", 10),
        (SCENARIOS[1], "bare", 10),
    ]
