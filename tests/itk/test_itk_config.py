"""The ITK door's configuration: the demo serves it; check-config names each bad table row."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.config import load as load_config
from gateway.itk.door import tables_for

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_serves_the_itk_door_with_its_tables() -> None:
    """config/demo.yaml mounts /itk and its tables map the samples' addresses to demo services."""
    settings = load_config(ROOT / "config" / "demo.yaml")
    assert settings.itk is not None and settings.itk.path == "/itk"
    tables = tables_for(settings, settings.itk)
    assert tables.service_for("ods", "EM396") == "918999198999"
    assert tables.service_for("dos", "2000006423") == "918999198999"
    assert "urn:nhs-itk:services:201005:SendNHS111Report-v2-0" in tables.services


@pytest.mark.parametrize(
    ("table", "row", "expected"),
    [
        (
            "addresses.csv",
            "ods,ZZ1,123456,unknown service\n",
            "is not a service of the configuration",
        ),
        ("addresses.csv", "fax,ZZ1,918999198999,\n", "'fax' is not one of ods, dos"),
        ("addresses.csv", "ods,EM396,918999198999,again\n", "duplicate ods address 'EM396'"),
        ("interactions.csv", "urn:nhs-itk:interaction:x-v1-0,many,\n", "'many' is not one of"),
        ("services.csv", "SendThings,\n", "is not an ITK service URN"),
    ],
    ids=["unknown-service", "bad-type", "duplicate", "bad-payloads", "bad-service"],
)
def test_check_config_names_a_bad_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], table: str, row: str, expected: str
) -> None:
    """`check-config` reads the ITK tables and names the file, line and problem of a bad row."""
    shutil.copytree(ROOT / "config", tmp_path / "config")
    shutil.copytree(ROOT / "mappings", tmp_path / "mappings")
    path = tmp_path / "mappings/itk/demo" / table
    lines = path.read_text().count("\n")
    path.write_text(path.read_text() + row)
    assert main(["check-config", str(tmp_path / "config/demo.yaml")]) == 1
    err = capsys.readouterr().err
    assert f"{table}:{lines + 1}" in err and expected in err


def test_check_config_names_a_missing_table_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An itk.mappings folder that does not exist is named."""
    shutil.copytree(ROOT / "config", tmp_path / "config")
    shutil.copytree(ROOT / "mappings", tmp_path / "mappings")
    shutil.rmtree(tmp_path / "mappings/itk/demo")
    assert main(["check-config", str(tmp_path / "config/demo.yaml")]) == 1
    assert "mapping folder not found" in capsys.readouterr().err
