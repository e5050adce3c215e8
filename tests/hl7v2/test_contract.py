"""The HL7 v2 adapter passes the shared contract suite against the reference PAS peer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from adapters.contract import SupplierAdapter
from adapters.hl7v2 import Hl7v2Adapter
from adapters.hl7v2.peer import PasPeer
from tests.contract.suite import AdapterContract
from tests.hl7v2.helpers import UTC_SERVICE, adapter_over


class TestHl7v2Contract(AdapterContract):
    """SRR answers (the default booking_answer)."""

    @pytest_asyncio.fixture
    async def adapter(self, hl7: Hl7v2Adapter) -> AsyncIterator[SupplierAdapter]:
        yield hl7

    @pytest.fixture
    def service_id(self) -> str:
        return UTC_SERVICE


class TestHl7v2ContractAckThenSiu(AdapterContract):
    """booking_answer: ack-then-siu: SRM^S01 is ACKed and the booking arrives as SIU^S12."""

    @pytest_asyncio.fixture
    async def adapter(self, peer: PasPeer, tmp_path: Path) -> AsyncIterator[SupplierAdapter]:
        peer.logic.booking_answer = "ack-then-siu"
        async with adapter_over(peer, tmp_path, booking_answer="ack-then-siu") as adapter:
            yield adapter

    @pytest.fixture
    def service_id(self) -> str:
        return UTC_SERVICE
