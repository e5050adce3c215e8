"""Shared fixtures for the embedded adapter's tests."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.embedded.helpers import DEMO
from tests.embedded.pg import Where, fresh_schema


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A private, editable copy of the demo data files."""
    target = tmp_path / "data"
    shutil.copytree(DEMO, target)
    return target


@pytest_asyncio.fixture(params=["sqlite", "postgresql"])
async def where(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Where]:
    """A fresh diary location: an SQLite file, then a PostgreSQL schema."""
    if request.param == "sqlite":
        yield tmp_path / "diary.sqlite3"
        return
    async with fresh_schema() as target:
        yield target
