"""A booking service over the real embedded diary and store; optionally a referral inbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from adapters.contract import SupplierAdapter
from gateway.config import ServiceRoute
from gateway.routing import Router
from gateway.service import BookingService
from gateway.store.sqlite import SqliteStore
from tests.embedded.helpers import UTC_SERVICE, Clock, open_diary
from tests.referrals._rig import ReferringDiary


@dataclass
class Rig:
    service: BookingService
    store: SqliteStore
    clock: Clock
    inbox: ReferringDiary | None


async def _rig(tmp_path: Path, *, referring: bool) -> AsyncIterator[Rig]:
    clock = Clock()
    diary = await open_diary(tmp_path / "diary.sqlite3", clock)
    inbox = ReferringDiary(diary) if referring else None
    adapter: SupplierAdapter = inbox if inbox is not None else diary
    store = SqliteStore(tmp_path / "gateway.sqlite3")
    await store.open()
    router = Router(
        {adapter.name: adapter}, {UTC_SERVICE: ServiceRoute(id=UTC_SERVICE, adapter=adapter.name)}
    )
    service = BookingService(store, router, local_patient_system="urn:test:local", clock=clock)
    try:
        yield Rig(service, store, clock, inbox)
    finally:
        await adapter.close()
        await store.close()


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    """Over the plain embedded diary, which takes no referrals (they are only stored)."""
    async for value in _rig(tmp_path, referring=False):
        yield value


@pytest.fixture
async def referring(tmp_path: Path) -> AsyncIterator[Rig]:
    """Over the embedded diary with a referral inbox declaring ``Capability.REFERRAL``."""
    async for value in _rig(tmp_path, referring=True):
        yield value
