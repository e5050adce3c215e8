"""Mapping tables load with row-precise errors, and a missing code is never passed through."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from structlog.testing import capture_logs

from adapters._csvtable import DataFileError
from adapters.diary_toolkit.mappings import fhir_id, local_to_utc
from adapters.domain import DeliveryChannel, Gender, SlotQuery
from adapters.errors import MappingError
from adapters.rest_diary import load_mappings
from adapters.rest_diary.peer import RunningPeer
from tests.contract.builders import call_context
from tests.rest_diary.conftest import MAPPINGS, MIU_SERVICE, AdapterFactory, api_key_options

LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def tables(tmp_path: Path) -> Path:
    """An editable copy of the demo mapping tables."""
    return Path(shutil.copytree(MAPPINGS, tmp_path / "maps"))


def test_demo_tables_load_both_ways() -> None:
    """The demo tables map supplier codes to domain values and back."""
    maps = load_mappings(MAPPINGS)
    assert maps.genders.domain("F") is Gender.FEMALE and maps.genders.supplier(Gender.MALE) == "M"
    assert maps.channels.domain("TEL") is DeliveryChannel.TELEPHONE
    assert [e.supplier_code for e in maps.by_service[MIU_SERVICE]] == ["MIU-MAIN", "MIU-ANNEX"]
    assert maps.role("GP").code == "R0260"


@pytest.mark.parametrize(
    ("table", "text", "expected"),
    [
        (
            "genders.csv",
            "supplier_code,gender\nM,male\nF,female\nX,other\nU,blue\n",
            "genders.csv line 5: column gender: 'blue' is not a valid Gender",
        ),
        (
            "genders.csv",
            "supplier_code,gender\nM,male\nF,female\nX,other\n",
            "genders.csv: no row for unknown",
        ),
        (
            "roles.csv",
            "supplier_code,sds_role_code,sds_role_display\nGP,R0260,GP\nGP,R0260,GP\n",
            "roles.csv line 3: column supplier_code: duplicate 'GP' (first on line 2)",
        ),
        (
            "roles.csv",
            "supplier_code,sds_role_code,sds_role_display\nGP,0260,GP\n",
            "roles.csv line 2: column sds_role_code: '0260' is not an SDS job role code",
        ),
        (
            "services.csv",
            "service_id,service_name,supplier_code,ods_code\n",
            "services.csv line 1: missing column(s) organisation_name",
        ),
        (
            "slot_statuses.csv",
            "supplier_code,status\nOPEN,\n",
            "slot_statuses.csv line 2: column status: a value is required",
        ),
    ],
)
def test_bad_rows_name_file_line_and_column(
    tables: Path, table: str, text: str, expected: str
) -> None:
    """Each broken table fails the load with its file, line and column."""
    (tables / table).write_text(text, encoding="utf-8")
    with pytest.raises(DataFileError) as caught:
        load_mappings(tables)
    assert str(caught.value).startswith(expected)


async def test_unmapped_staff_grade_is_a_mapping_error(
    tables: Path, make_adapter: AdapterFactory, peer: RunningPeer
) -> None:
    """A clinician whose grade has no row fails the search with MappingError, logged."""
    (tables / "roles.csv").write_text(
        "supplier_code,sds_role_code,sds_role_display\nGP,R0260,General Medical Practitioner\n",
        encoding="utf-8",
    )
    adapter = await make_adapter(api_key_options(peer, mappings=str(tables)))
    with capture_logs() as events, pytest.raises(MappingError, match="ANP"):
        await adapter.search_slots(SlotQuery(service_id=MIU_SERVICE), call_context())
    assert any(e["event"] == "mapping_missed" for e in events)


def test_local_times_become_utc_in_summer_and_winter() -> None:
    """Supplier wall-clock times are read in Europe/London: BST is UTC+1, GMT is UTC+0."""
    assert local_to_utc(datetime(2026, 7, 1, 10, 0), LONDON) == datetime(2026, 7, 1, 9, tzinfo=UTC)
    assert local_to_utc(datetime(2026, 12, 1, 10), LONDON) == datetime(2026, 12, 1, 10, tzinfo=UTC)
    # The repeated hour when clocks go back: the first (BST) occurrence is taken.
    assert local_to_utc(datetime(2026, 10, 25, 1, 30), LONDON) == datetime(
        2026, 10, 25, 0, 30, tzinfo=UTC
    )
    with pytest.raises(ValueError, match="does not exist"):
        local_to_utc(datetime(2026, 3, 29, 1, 30), LONDON)


def test_fhir_ids_are_readable_or_hashed() -> None:
    """Supplier codes become FHIR ids as they are when legal, else a stable hash."""
    assert fhir_id("rest", "staff", "STF001") == "rest-staff-STF001"
    odd = fhir_id("rest", "staff", "Dr Who/1")
    assert odd == fhir_id("rest", "staff", "Dr Who/1") and len(odd) == 32 and odd.isalnum()
