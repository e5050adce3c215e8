"""The ``bars`` kind is registered, its example configuration checks, and a bad targets
row is reported with its file, line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters import registry
from adapters.bars import BarsConfigError, TargetsError

ROOT = Path(__file__).resolve().parents[2]


def _options(targets: Path, **extra: object) -> dict[str, object]:
    return {
        "proxy_url": "https://proxy.example/booking-and-referral/FHIR/R4",
        "token_url": "https://proxy.example/oauth2/token",
        "client_id": "app",
        "kid": "k1",
        "private_key_env": "NO_SUCH_ENV_FOR_TESTS",
        "targets": str(targets),
        "organisation": {"ods_code": "X26", "name": "Example"},
        **extra,
    }


async def test_example_targets_table_checks() -> None:
    """The shipped targets table and options pass ``check`` (the check-config path)."""
    await registry.check("bars", "bars", _options(ROOT / "mappings/bars_sender/targets.csv"), ROOT)


async def test_bad_row_names_file_line_and_column(tmp_path: Path) -> None:
    """A target value with '|' is refused naming targets.csv line 2 and the column."""
    table = tmp_path / "targets.csv"
    table.write_text(
        "service_id,target_system,target_value,ods_code,name\n1,https://x.example/id,a|b,RX1,\n"
    )
    problems = await registry.check_every("bars", "bars", _options(table), tmp_path)
    # The bad row, then what its loss leaves (as for every adapter's tables).
    assert len(problems) == 2 and all(isinstance(p, TargetsError) for p in problems)
    assert "line 2" in str(problems[0]) and "target_value" in str(problems[0])


async def test_options_need_exactly_one_key_source(tmp_path: Path) -> None:
    """Neither or both of private_key_file/private_key_env is a clear configuration error."""
    options = _options(ROOT / "mappings/bars_sender/targets.csv", private_key_file="k.pem")
    with pytest.raises(BarsConfigError, match="exactly one"):
        await registry.check("bars", "bars", options, tmp_path)


async def test_a_missing_key_is_named_at_start(tmp_path: Path) -> None:
    """Creating the adapter without its key says which environment variable is unset."""
    with pytest.raises(BarsConfigError, match="NO_SUCH_ENV_FOR_TESTS"):
        await registry.create(
            "bars", "bars", _options(ROOT / "mappings/bars_sender/targets.csv"), tmp_path
        )
