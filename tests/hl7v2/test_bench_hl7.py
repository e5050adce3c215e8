"""The benchmark's HL7 leg runs in the same run and reports no failures (no timing asserted)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.hl7v2.helpers import ROOT
from tests.processes import run_python


async def test_benchmark_reports_the_hl7_leg(tmp_path: Path) -> None:
    """A tiny run has gateway and bare-MLLP slot searches and HL7 bookings, all successful."""
    out = tmp_path / "bench.json"
    done = await run_python(
        [
            "-m",
            "benchmarks.bench",
            *("--rounds", "1", "--workers", "1"),
            *("--requests", "10", "--seconds", "10", "--warmup", "2", "--json", str(out)),
            "--no-pg",
        ],
        ROOT,
        timeout_s=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "hl7 servers stopped: gateway-hl7 exit 0, pas-peer exit 0" in done.stdout
    hl7 = json.loads(out.read_text(encoding="utf-8"))["hl7"]
    assert hl7["failures"] == 0
    assert [(r["scenario"], r["target"], r["requests"]) for r in hl7["results"]] == [
        ("hl7-slot-search", "gateway", 10),
        ("hl7-slot-search", "mllp", 10),
        ("hl7-book+cancel", "gateway", 10),
    ]
    assert "throughput_gateway_over_mllp" in hl7["ratios"]
