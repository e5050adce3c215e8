"""The embedded adapter passes the shared contract suite, on a file and in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from adapters.contract import SupplierAdapter
from adapters.embedded import create
from tests.contract.suite import AdapterContract
from tests.embedded.helpers import DEMO, UTC_SERVICE


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
