"""The BaRS door's configuration: the demo's targets load; a broken table is named."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gateway.bars.targets import load_targets
from gateway.cli import main
from gateway.config import load as load_config

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_serves_bars_with_its_targets() -> None:
    """config/demo.yaml mounts the BaRS door and its targets table maps the demo DoS id."""
    settings = load_config(ROOT / "config" / "demo.yaml")
    assert settings.bars is not None and settings.bars.base_path == "/bars/FHIR/R4"
    targets = {(t.system, t.value): t.service for t in load_targets(settings, settings.bars)}
    assert targets[("https://fhir.nhs.uk/Id/dos-service-id", "2000099999")] == "918999198999"


def test_check_config_names_a_target_listed_twice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`check-config` reads the targets table and names the row of a repeated target."""
    shutil.copytree(ROOT / "config", tmp_path / "config")
    shutil.copytree(ROOT / "mappings", tmp_path / "mappings")
    table = tmp_path / "mappings/bars/demo/targets.csv"
    table.write_text(
        table.read_text() + "https://fhir.nhs.uk/Id/dos-service-id,2000099999,918999198888\n"
    )
    assert main(["check-config", str(tmp_path / "config/demo.yaml")]) == 1
    err = capsys.readouterr().err
    assert "targets.csv:4" in err and "listed twice" in err


def test_check_config_refuses_a_bars_root_inside_the_stu3_root(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A BaRS service root inside the STU3 one (or around it) is a configuration problem."""
    shutil.copytree(ROOT / "config", tmp_path / "config")
    shutil.copytree(ROOT / "mappings", tmp_path / "mappings")
    config = tmp_path / "config/demo.yaml"
    config.write_text(
        config.read_text().replace("8080/bars/FHIR/R4", "8080/STU3/1/careconnect/appointment/bars")
    )
    assert main(["check-config", str(config)]) == 1
    assert "overlaps server.service_root" in capsys.readouterr().err
