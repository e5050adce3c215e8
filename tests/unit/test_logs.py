"""Production logging: JSON lines, and the redaction backstop in the real processor chain."""

from __future__ import annotations

import json

import pytest
import structlog

from gateway import logs


def test_json_logs_mask_patient_data(capsys: pytest.CaptureFixture[str]) -> None:
    """With the production set-up a stray NHS number or name never reaches the output."""
    logs.configure("json", "info")
    try:
        structlog.get_logger("t").info(
            "slip", note="called about 9434765919", family="Chalmers", appointment_id="a1"
        )
        line = capsys.readouterr().out.strip().splitlines()[-1]
    finally:
        structlog.reset_defaults()
    record = json.loads(line)
    assert record["event"] == "slip" and record["appointment_id"] == "a1"
    assert "9434765919" not in line and "Chalmers" not in line
