"""`uec-gateway report --json` carries the cross-border tables, DNAs included."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.domain import BookingStatus
from gateway.cli import main
from gateway.store import AuditEntry
from gateway.store.sqlite import SqliteStore
from tests.store.contract import make_version


async def _fill(path: Path, now: datetime) -> None:
    def booked(appointment_id: str, at: datetime, region: str, payer: str) -> AuditEntry:
        return AuditEntry(
            at=at,
            interaction="book",
            method="POST",
            path="/Appointment",
            status=201,
            appointment_id=appointment_id,
            consumer_region=region,
            provider_region="north-east",
            commissioner=payer,
            cross_border=region != "north-east",
            policy_rule="book:any",
        )

    recent = now - timedelta(minutes=1)
    store = SqliteStore(path)
    await store.open()
    try:
        await store.record_audits(
            [
                booked("old", now - timedelta(days=20), "south-west", "QOX"),
                booked("new", recent, "south-west", "QOX"),
                booked("local", recent, "north-east", "QHM"),
                dataclasses.replace(booked("new", recent, "south-west", "QOX"), status=409),
            ]
        )
        await store.add_version(make_version("old", 1))
        noshow = make_version("old", 2, status=BookingStatus.NOSHOW)
        await store.add_version(dataclasses.replace(noshow, last_modified=recent))
    finally:
        await store.close()


def test_report_json_has_bookings_and_dnas_by_region_pair_and_commissioner(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The JSON report counts the period's bookings and a DNA of an older booking, marked."""
    now = datetime.now(UTC)
    database = tmp_path / "gateway.sqlite3"
    asyncio.run(_fill(database, now))
    config = tmp_path / "gateway.yaml"
    config.write_text(f"store:\n  path: {database}\n")
    yesterday = (now - timedelta(days=1)).strftime("%Y-%m-%d")
    today = now.strftime("%Y-%m-%d")

    argv = ["report", "--config", str(config), "--from", yesterday, "--to", today, "--json"]
    assert main(argv) == 0
    borders = json.loads(capsys.readouterr().out)["cross_border"]
    assert borders["by_region_pair"] == [
        {
            "consumer_region": "north-east",
            "provider_region": "north-east",
            "cross_border": False,
            "bookings": 1,
            "cancellations": 0,
            "dnas": 0,
        },
        {
            "consumer_region": "south-west",
            "provider_region": "north-east",
            "cross_border": True,
            "bookings": 1,
            "cancellations": 0,
            "dnas": 1,
        },
    ]
    assert borders["by_commissioner"] == [
        {
            "commissioner": "QHM",
            "cross_border": False,
            "bookings": 1,
            "cancellations": 0,
            "dnas": 0,
        },
        {"commissioner": "QOX", "cross_border": True, "bookings": 1, "cancellations": 0, "dnas": 1},
    ]


def test_report_text_ends_with_the_cross_border_tables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The text report shows the region pair and commissioner tables, cross-border marked."""
    now = datetime.now(UTC)
    database = tmp_path / "gateway.sqlite3"
    asyncio.run(_fill(database, now))
    config = tmp_path / "gateway.yaml"
    config.write_text(f"store:\n  path: {database}\n")
    today = now.strftime("%Y-%m-%d")
    start = (now - timedelta(days=1)).strftime("%Y-%m-%d")

    assert main(["report", "--config", str(config), "--from", start, "--to", today]) == 0
    out = capsys.readouterr().out
    assert "south-west -> north-east [cross-border]: bookings 1, cancellations 0, DNAs 1" in out
    assert "QOX [cross-border]: bookings 1, cancellations 0, DNAs 1" in out
