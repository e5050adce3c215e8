"""`uec-gateway policy explain`: an integrator's view of the booking rules, via the CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
UTC_CENTRE = "918999198999"  # in-area-first share 0.5 until 2 h before; others see 24 h
OOH = "918999198888"  # the north east, and ods:C3001


@pytest.fixture
def config(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "mappings" / "policy" / "demo", tmp_path / "policy")
    path = tmp_path / "gateway.yaml"
    path.write_text(f"store:\n  path: {tmp_path / 'g.sqlite3'}\npolicy:\n  folder: policy\n")
    return path


def explain(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "gateway", "policy", "explain", "--config", str(config), *args]
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=60)


def as_json(config: Path, *args: str) -> Any:
    done = explain(config, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def on_grid(hours: float) -> datetime:
    """A 10-minute slot start about ``hours`` from now (UK offsets are whole hours, so
    the UTC grid is the UK one)."""
    at = datetime.now(UTC) + timedelta(hours=hours)
    return at.replace(minute=at.minute - at.minute % 10, second=0, microsecond=0)


def test_out_of_area_consumer_gets_its_region_groups_reasons_and_payer(config: Path) -> None:
    """An out-of-area consumer is told its region, the service's, the groups, reasons, payer."""
    found = as_json(config, "--service", UTC_CENTRE, "--ods", "B2001")
    assert found["consumer"]["region"] == "south-west"
    assert found["consumer"]["commissioner"] == "QOX"
    rules = found["policy"]
    assert rules["service"] == {"region": "north-east", "commissioner": "QHM"}
    assert rules["in_area"] is False
    assert rules["see"]["allowed"] and rules["book"]["group"] == "any"
    assert rules["cancel"]["allowed"] is False
    assert rules["out_of_area"] == {
        "reason_required": True,
        "reasons": ["patient-travelling", "no-local-capacity", "clinical-continuity"],
    }
    assert rules["accountable_commissioner"] == "QOX" and rules["cross_border"] is True


def test_of_two_adjacent_slots_the_in_area_share_keeps_one_until_two_hours_before(
    config: Path,
) -> None:
    """Of two neighbouring slots the half share keeps one, open to others 2 h before it starts."""
    first = on_grid(5)
    verdicts = []
    for start in (first, first + timedelta(minutes=10)):
        slot = as_json(
            config, "--service", UTC_CENTRE, "--ods", "B2001", "--slot-start", start.isoformat()
        )
        verdicts.append(slot["slot"])
    held = [v for v in verdicts if not v["shown"]]
    shown = [v for v in verdicts if v["shown"]]
    assert len(held) == 1 and len(shown) == 1
    assert held[0]["rule"] == "release:in-area-first"
    share = held[0]["rules"][0]
    assert share["in_kept_share"] is True
    opens = datetime.fromisoformat(held[0]["start"]) - timedelta(hours=2)
    assert datetime.fromisoformat(share["opens_to_out_of_area"]) == opens
    assert shown[0]["rules"][0]["in_kept_share"] is False


def test_in_area_consumer_is_shown_every_slot_in_text(config: Path) -> None:
    """For an in-area consumer neither release rule holds a slot back, whichever it is."""
    first = on_grid(5)
    for start in (first, first + timedelta(minutes=10), on_grid(40)):
        done = explain(
            config, "--service", UTC_CENTRE, "--ods", "A1001", "--slot-start", start.isoformat()
        )
        assert done.returncode == 0, done.stderr
        assert "region north-east, ICB QHM, commissioner QHM" in done.stdout
        assert "(in area for this consumer)" in done.stdout
        assert ": shown (" in done.stdout


def test_out_of_area_consumer_sees_only_the_next_day(config: Path) -> None:
    """A slot beyond the out-of-area window is held back from a consumer of another region."""
    start = on_grid(30).isoformat()
    found = as_json(config, "--service", UTC_CENTRE, "--ods", "C3001", "--slot-start", start)
    slot = found["slot"]
    assert slot["shown"] is False
    window = next(r for r in slot["rules"] if r["name"] == "out-of-area-next-day")
    assert window["shown"] is False


def test_a_consumer_missing_from_the_regions_table_is_out_of_area(config: Path) -> None:
    """An ODS code not in regions.csv is said to be out of area, and may not book a local-only
    service, while the named London CAS may."""
    done = explain(config, "--service", OOH, "--ods", "ZZZ9")
    assert done.returncode == 0, done.stderr
    assert "not in the regions table, so out of area" in done.stdout
    assert "  book: no (in none of: in-area, ods:C3001)" in done.stdout
    named = explain(config, "--service", OOH, "--ods", "C3001")
    assert "  book: yes (group 'ods:C3001')" in named.stdout


def test_a_service_with_no_policy_says_so(config: Path) -> None:
    """A service the policy does not name is explained as unrestricted, exit 0."""
    done = explain(config, "--service", "999999999999", "--ods", "B2001")
    assert done.returncode == 0, done.stderr
    assert "no policy for this service; nothing is restricted" in done.stdout


def test_unknown_config_and_bad_arguments_exit_2_with_a_message(config: Path) -> None:
    """A missing configuration or a slot start with no offset is exit 2, saying why."""
    missing = explain(config.with_name("nope.yaml"), "--service", OOH, "--ods", "A1001")
    assert missing.returncode == 2 and "nope.yaml" in missing.stderr
    naive = explain(config, "--service", OOH, "--ods", "A1001", "--slot-start", "2030-01-01T10:00")
    assert naive.returncode == 2 and "no UTC offset" in naive.stderr
    minutes = explain(config, "--service", OOH, "--ods", "A1001", "--slot-minutes", "0")
    assert minutes.returncode == 2 and "minutes" in minutes.stderr
