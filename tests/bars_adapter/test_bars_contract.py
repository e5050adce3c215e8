"""The ``bars`` adapter passes the shared contract suite: adapter -> mock national proxy ->
this gateway's own BaRS door over the embedded demo diary, all over 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from adapters.contract import SupplierAdapter
from tests.bars_adapter.rig import SERVICE_ID, Rig
from tests.contract.suite import AdapterContract


class TestBarsContractByMessage(AdapterContract):
    """Booking by $process-message (the receiver declares booking-request)."""

    @pytest_asyncio.fixture
    async def adapter(self, bars_rig: Rig) -> AsyncIterator[SupplierAdapter]:
        yield await bars_rig.make_adapter()

    @pytest.fixture
    def service_id(self) -> str:
        return SERVICE_ID


class TestBarsContractByRest(AdapterContract):
    """Booking by POST /Appointment (the REST pattern)."""

    @pytest_asyncio.fixture
    async def adapter(self, bars_rig: Rig) -> AsyncIterator[SupplierAdapter]:
        yield await bars_rig.make_adapter(booking="rest")

    @pytest.fixture
    def service_id(self) -> str:
        return SERVICE_ID
