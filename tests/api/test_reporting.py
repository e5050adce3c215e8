"""fs_reporting.md metrics computed from what really happened through the API."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.http.exchange import AUDIT
from tests.api.conftest import ROOT, Gateway, booking_body


async def test_report_counts_searches_bookings_failures_and_cancels(
    gateway: Gateway, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """After real traffic, `uec-gateway report` counts each metric for the service."""
    consumer = await gateway()
    far = (datetime.now(UTC) + timedelta(days=300)).strftime("%Y-%m-%d")
    assert (await consumer.search(f"&start=ge{far}&start=le{far}")).status == 200
    first, second = await consumer.free_slots(2)
    booked = await (await consumer.book(booking_body(first))).json(content_type=None)
    assert (await consumer.book(booking_body(first))).status == 422
    assert (await consumer.book(booking_body(second))).status == 201
    cancel = {**booked, "status": "cancelled"}
    assert (await consumer.cancel(booked["id"], cancel, **{"If-Match": 'W/"1"'})).status == 200
    await consumer.client.app[AUDIT].flush()  # type: ignore[index]

    today = datetime.now(UTC).strftime("%Y-%m-%d")
    capsys.readouterr()  # the request log lines so far
    code = await asyncio.to_thread(
        main,
        [
            "report",
            "--config",
            str(tmp_path / "gateway.yaml"),
            "--from",
            today,
            "--to",
            today,
            "--json",
        ],
    )
    assert code == 0
    metrics = json.loads(capsys.readouterr().out)["metrics"]
    service = "918999198999"
    assert metrics["rep-cons-01"] == {service: 2}
    assert metrics["rep-cons-02"] == {service: 1}
    assert metrics["rep-cons-04"] == {service: 1}
    assert metrics["rep-cons-06"] == {"SLOT_NOT_FREE": 1}
    assert metrics["rep-cons-07"] == {service: 1}
    assert metrics["rep-prov-05"] == {"all": 1}
    assert metrics["rep-prov-03"][service] > 0


def test_report_text_names_what_cannot_be_derived(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The text report lists every metric, including those the gateway cannot know, and why."""
    config = tmp_path / "empty.yaml"
    config.write_text(f"store:\n  path: {tmp_path / 'g.sqlite3'}\n")
    assert (
        main(["report", "--config", str(config), "--from", "2026-01-01", "--to", "2026-01-31"]) == 0
    )
    out = capsys.readouterr().out
    assert "rep-cons-01" in out and "rep-cons-05  not derivable" in out


#: A policy for the demo service with no release rules or reasons, so any free slot is
#: bookable from anywhere at any hour (the demo's own rules are explained in tests/policy/).
OPEN_POLICY = """\
services:
  "918999198999":
    region: north-east
    commissioner: QHM
"""


async def test_report_counts_stu3_bookings_and_cancels_across_borders(
    gateway: Gateway, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """STU3 bookings and a cancel under a policy land in their region pair and payer, once."""
    folder = tmp_path / "policy"
    folder.mkdir()
    (folder / "policy.yaml").write_text(OPEN_POLICY)
    regions = (ROOT / "mappings" / "policy" / "demo" / "regions.csv").read_text()
    (folder / "regions.csv").write_text(regions)
    consumer = await gateway(extra_services=f"policy:\n  folder: {folder}\n")
    local, away = await consumer.free_slots(2)
    booked = await (await consumer.book(booking_body(local))).json(content_type=None)
    cancel = {**booked, "status": "cancelled"}
    assert (await consumer.cancel(booked["id"], cancel, **{"If-Match": 'W/"1"'})).status == 200
    consumer.ods = "B2001"  # south-west
    resend = {"X-Request-ID": str(uuid.uuid4())}
    assert (await consumer.book(booking_body(away), **resend)).status == 201
    assert (await consumer.book(booking_body(away), **resend)).status == 409
    await consumer.client.app[AUDIT].flush()  # type: ignore[index]

    today = datetime.now(UTC).strftime("%Y-%m-%d")
    capsys.readouterr()
    argv = ["report", "--config", str(tmp_path / "gateway.yaml"), "--from", today, "--to", today]
    assert await asyncio.to_thread(main, [*argv, "--json"]) == 0
    borders = json.loads(capsys.readouterr().out)["cross_border"]
    pairs = {
        (r["consumer_region"], r["provider_region"], r["cross_border"]): (
            r["bookings"],
            r["cancellations"],
        )
        for r in borders["by_region_pair"]
    }
    assert pairs == {
        ("north-east", "north-east", False): (1, 1),
        ("south-west", "north-east", True): (1, 0),
    }
    payers = {
        (r["commissioner"], r["cross_border"]): r["bookings"] for r in borders["by_commissioner"]
    }
    assert payers == {("QHM", False): 1, ("QOX", True): 1}
