"""The embedded adapter passes the shared contract suite: SQLite file, memory, PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from adapters.contract import SupplierAdapter
from adapters.embedded import create
from tests.contract.suite import AdapterContract
from tests.embedded.helpers import DEMO, UTC_SERVICE
from tests.embedded.pg import fresh_schema


class TestEmbeddedContractOnFile(AdapterContract):
    """A fresh SQLite file per test, demo data from mappings/embedded/demo."""

    @pytest_asyncio.fixture
    async def adapter(self, tmp_path: Path) -> AsyncIterator[SupplierAdapter]:
        options = {"database": "var/diary.sqlite3", "data_dir": str(DEMO)}
        adapter = await create("contract-file", options, tmp_path)
        yield adapter
        await adapter.close()

    @pytest.fixture
    def service_id(self) -> str:
        return UTC_SERVICE


class TestEmbeddedContractInMemory(AdapterContract):
    """The same contract with ``database: ":memory:"``."""

    @pytest_asyncio.fixture
    async def adapter(self, tmp_path: Path) -> AsyncIterator[SupplierAdapter]:
        options = {"database": ":memory:", "data_dir": str(DEMO), "horizon_days": 3}
        adapter = await create("contract-memory", options, tmp_path)
        yield adapter
        await adapter.close()

    @pytest.fixture
    def service_id(self) -> str:
        return UTC_SERVICE


class TestEmbeddedContractOnPostgres(AdapterContract):
    """The same contract with ``dsn:``, a fresh PostgreSQL schema per test."""

    @pytest_asyncio.fixture
    async def adapter(self, tmp_path: Path) -> AsyncIterator[SupplierAdapter]:
        async with fresh_schema() as target:
            options = {
                "dsn": target.dsn,
                "schema": target.schema,
                "data_dir": str(DEMO),
                "horizon_days": 3,
            }
            adapter = await create("contract-pg", options, tmp_path)
            yield adapter
            await adapter.close()

    @pytest.fixture
    def service_id(self) -> str:
        return UTC_SERVICE
