"""The national FHIR adapter passes the shared contract suite against a real provider
(this gateway's own FHIR side, SSP headers enforced) reached through the stub SSP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from adapters.contract import SupplierAdapter
from tests.contract.suite import AdapterContract
from tests.national_fhir.conftest import SERVICE_ID, Rig


class TestNationalFhirContract(AdapterContract):
    """Every contract test, end to end over 127.0.0.1: adapter -> stub SSP -> provider."""

    @pytest_asyncio.fixture
    async def adapter(self, rig: Rig) -> AsyncIterator[SupplierAdapter]:
        yield rig.adapter

    @pytest.fixture
    def service_id(self) -> str:
        return SERVICE_ID
