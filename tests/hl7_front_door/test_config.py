"""The front door's configuration and tables: the example loads, bad tables are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import load as load_config
from gateway.hl7.tables import DataFileError, load_tables
from tests.hl7_front_door.conftest import ROOT, TABLES


def test_example_configuration_loads_with_its_tables() -> None:
    """config/example-hl7-front-door.yaml validates and its mapping folder loads."""
    settings = load_config(ROOT / "config" / "example-hl7-front-door.yaml")
    door = settings.hl7_front_door
    assert door is not None and door.consumers[0].ods_code == "A1001"
    assert [s.booking_only for s in settings.services] == [False, True]
    tables = load_tables(settings.resolve(door.mappings))
    assert tables.service_id("UTC-DEMO") == "918999198999"


def test_error_table_missing_a_kind_is_refused(tmp_path: Path) -> None:
    """An errors.csv without a row for some ErrorKind stops the start, naming the kind."""
    for name in ("services.csv", "genders.csv", "identifier_systems.csv"):
        (tmp_path / name).write_text((TABLES / name).read_text())
    rows = (TABLES / "errors.csv").read_text().splitlines()
    (tmp_path / "errors.csv").write_text(
        "\n".join(r for r in rows if not r.startswith("SUPPLIER_TIMEOUT,")) + "\n"
    )
    with pytest.raises(DataFileError, match="SUPPLIER_TIMEOUT"):
        load_tables(tmp_path)


def test_error_table_with_a_bad_ack_code_names_the_row(tmp_path: Path) -> None:
    """An ack_code other than AE/AR is an error with the file and line."""
    for name in ("services.csv", "genders.csv", "identifier_systems.csv", "errors.csv"):
        (tmp_path / name).write_text((TABLES / name).read_text())
    text = (tmp_path / "errors.csv").read_text().replace("BAD_REQUEST,AR,", "BAD_REQUEST,AA,")
    (tmp_path / "errors.csv").write_text(text)
    with pytest.raises(DataFileError, match=r"errors.csv line 2: column ack_code"):
        load_tables(tmp_path)


def test_check_config_reports_a_broken_front_door_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`check-config` validates the front door's tables and names the broken row."""
    import shutil

    from gateway.cli import main

    shutil.copytree(ROOT / "config", tmp_path / "config")
    shutil.copytree(ROOT / "mappings", tmp_path / "mappings")
    services = tmp_path / "mappings/hl7_front_door/demo/services.csv"
    services.write_text(services.read_text() + "UTC-DEMO,918999198999,a duplicate code\n")
    assert main(["check-config", str(tmp_path / "config/example-hl7-front-door.yaml")]) == 1
    err = capsys.readouterr().err
    assert "hl7_front_door" in err and "services.csv" in err


def test_reload_refuses_front_door_table_changes(tmp_path: Path) -> None:
    """A changed front door table changes the restart-only fingerprint; consumers do not."""
    import shutil

    from gateway.runtime import front_door_fingerprint

    shutil.copytree(ROOT / "config", tmp_path / "config")
    shutil.copytree(ROOT / "mappings", tmp_path / "mappings")
    config = tmp_path / "config/example-hl7-front-door.yaml"
    before = front_door_fingerprint(load_config(config))
    text = config.read_text()
    config.write_text(text.replace("time_budget_s: 8", "time_budget_s: 9"))
    assert front_door_fingerprint(load_config(config)) == before
    genders = tmp_path / "mappings/hl7_front_door/demo/genders.csv"
    genders.write_text(genders.read_text() + "\n")
    assert front_door_fingerprint(load_config(config)) != before
