"""The `circuits:` section as check-config sees it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gateway.cli import main

ROOT = Path(__file__).resolve().parents[2]


def demo_with_override(tmp_path: Path, name: str) -> Path:
    """The shipped REST diary demo, its circuits section given an override for ``name``."""
    shutil.copytree(ROOT / "config", tmp_path / "config")
    shutil.copytree(ROOT / "mappings", tmp_path / "mappings")
    path = tmp_path / "config" / "demo-rest-diary.yaml"
    with path.open("a", encoding="utf-8") as out:
        out.write(f"  adapters:\n    {name}: {{failures: 2, reset_s: 5}}\n")
    return path


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REST_DIARY_CLIENT_SECRET", "not-a-secret")


def test_an_override_for_a_known_adapter_checks_clean(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Per-adapter failures and reset_s for a configured adapter are accepted."""
    path = demo_with_override(tmp_path, "fernbrook-rest")
    assert main(["check-config", str(path)]) == 0, capsys.readouterr().err


def test_an_override_for_no_adapter_is_reported_with_a_suggestion(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A misspelt adapter name under circuits.adapters is named, at its line, with a guess."""
    path = demo_with_override(tmp_path, "fernbrook-rst")
    assert main(["check-config", str(path)]) == 1
    err = capsys.readouterr().err
    assert ": circuits.adapters: no adapter 'fernbrook-rst'; did you mean 'fernbrook-rest'?" in err
    assert f"{path}:" in err


def test_a_circuit_that_could_never_close_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """failures below 1 is a configuration error with its position, not a silent default."""
    path = tmp_path / "gateway.yaml"
    path.write_text("circuits:\n  default: {failures: 0}\n")
    assert main(["check-config", str(path)]) == 1
    assert "circuits.default.failures" in capsys.readouterr().err
