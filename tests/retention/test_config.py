"""The ``retention:`` section: defaults, periods that keep for ever, and refused values."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway import config as config_module
from gateway.config import RetentionSettings


def _config(tmp_path: Path, retention: str) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(f"adapters: []\nservices: []\nretention:\n{retention}")
    return path


def test_the_defaults_keep_the_audit_and_purge_the_rest() -> None:
    """By default the audit is kept for ever; the ledger, journals and receipts go after 30
    days, slot homes after 7, every hour."""
    found = config_module.Settings().retention
    assert found == RetentionSettings(
        interval_s=3600,
        audit_days=None,
        ledger_days=30,
        journal_days=30,
        receipts_days=30,
        slot_homes_days=7,
    )


def test_periods_are_read_and_null_keeps_for_ever(tmp_path: Path) -> None:
    """Periods set in the file are used; ``null`` keeps that kind for ever."""
    path = _config(
        tmp_path, "  interval_s: 600\n  audit_days: 3650\n  ledger_days: null\n  journal_days: 2\n"
    )
    found = config_module.load(path).retention
    assert (found.interval_s, found.audit_days, found.ledger_days, found.journal_days) == (
        600,
        3650,
        None,
        2,
    )


@pytest.mark.parametrize("days", [0, -1])
def test_a_ledger_period_under_a_day_is_refused(tmp_path: Path, days: int) -> None:
    """ledger_days below 1 fails validation, saying a claim must outlive the retry window."""
    with pytest.raises(config_module.ConfigError, match="ledger_days must be at least 1"):
        config_module.load(_config(tmp_path, f"  ledger_days: {days}\n"))


@pytest.mark.parametrize(
    "option",
    [
        "audit_days: 0",
        "journal_days: 0",
        "receipts_days: -3",
        "slot_homes_days: 0",
        "interval_s: 1",
    ],
)
def test_other_nonsense_values_are_refused(tmp_path: Path, option: str) -> None:
    """A period under a day or an interval under a minute is refused, naming the option."""
    with pytest.raises(config_module.ConfigError, match=option.partition(":")[0]):
        config_module.load(_config(tmp_path, f"  {option}\n"))


def test_an_unknown_option_is_refused(tmp_path: Path) -> None:
    """A misspelt option is an error, not silently a default period."""
    with pytest.raises(config_module.ConfigError, match="audit_day"):
        config_module.load(_config(tmp_path, "  audit_day: 30\n"))
