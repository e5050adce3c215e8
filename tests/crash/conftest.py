"""The crash rig: the REST peer process and a gateway process on private files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.crash._rig import REST_KEY, REST_KEY_ENV, Consumer, Rig

#: Claims outlive a killed gateway this long (store.claim_lease_s): short, to keep tests quick.
LEASE_S = 1.0


@pytest.fixture
async def rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Rig]:
    """The REST peer and a gateway, both running; stopped (or killed) at the end."""
    monkeypatch.setenv(REST_KEY_ENV, REST_KEY)
    rig = Rig(tmp_path, LEASE_S)
    try:
        await rig.start_peer()
        await rig.start_gateway()
        yield rig
    finally:
        await rig.close()


@pytest.fixture
async def consumer(rig: Rig) -> AsyncIterator[Consumer]:
    """A consumer of the rig's gateway, with its own HTTP session."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http:
        yield Consumer(rig, http)
