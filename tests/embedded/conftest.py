"""Shared fixtures for the embedded adapter's tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

#: The demo data shipped with the adapter.
DEMO = Path(__file__).resolve().parents[2] / "mappings" / "embedded" / "demo"
UTC_SERVICE = "918999198999"
OOH_SERVICE = "918999198888"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A private, editable copy of the demo data files."""
    target = tmp_path / "data"
    shutil.copytree(DEMO, target)
    return target
