"""Fixtures of the HL7 v2 tests: a reference PAS peer on 127.0.0.1 with its own diary."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from adapters.hl7v2 import Hl7v2Adapter
from adapters.hl7v2.peer.server import PasPeer
from tests.hl7v2.helpers import adapter_over


@pytest_asyncio.fixture
async def peer(tmp_path: Path) -> AsyncIterator[PasPeer]:
    """A PAS peer with a fresh SQLite diary, two days of slots."""
    pas = await PasPeer.start(str(tmp_path / "pas.sqlite3"), horizon_days=2)
    yield pas
    await pas.close()


@pytest_asyncio.fixture
async def hl7(peer: PasPeer, tmp_path: Path) -> AsyncIterator[Hl7v2Adapter]:
    """The adapter over ``peer``; the peer sends its SIU messages to the adapter."""
    async with adapter_over(peer, tmp_path) as adapter:
        yield adapter
