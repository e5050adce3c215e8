"""The SOAP diary adapter passes the shared contract suite against its peer, in SOAP 1.1 and 1.2."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.contract import SupplierAdapter
from adapters.soap_diary import create
from adapters.soap_diary.peer import RunningSoapPeer
from tests.contract.suite import AdapterContract
from tests.soap_diary.conftest import MIU_SERVICE, soap_options


class TestSoapDiaryContract11(AdapterContract):
    """SOAP 1.1: text/xml with a SOAPAction header."""

    @pytest.fixture
    async def adapter(
        self, peer: RunningSoapPeer, tmp_path: Path
    ) -> AsyncIterator[SupplierAdapter]:
        adapter = await create("soap-11", soap_options(peer, soap_version="1.1"), tmp_path)
        yield adapter
        await adapter.close()

    @pytest.fixture
    def service_id(self) -> str:
        return MIU_SERVICE


class TestSoapDiaryContract12(AdapterContract):
    """SOAP 1.2: application/soap+xml with the action parameter."""

    @pytest.fixture
    async def adapter(
        self, peer: RunningSoapPeer, tmp_path: Path
    ) -> AsyncIterator[SupplierAdapter]:
        adapter = await create("soap-12", soap_options(peer, soap_version="1.2"), tmp_path)
        yield adapter
        await adapter.close()

    @pytest.fixture
    def service_id(self) -> str:
        return MIU_SERVICE
