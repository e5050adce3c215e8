"""Shared fixtures for the embedded adapter's tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.embedded.helpers import DEMO


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A private, editable copy of the demo data files."""
    target = tmp_path / "data"
    shutil.copytree(DEMO, target)
    return target
