"""The REST diary adapter passes the shared contract suite against its reference peer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.contract import SupplierAdapter
from adapters.rest_diary import create
from adapters.rest_diary.peer import RunningPeer
from tests.contract.suite import AdapterContract
from tests.rest_diary.conftest import MIU_SERVICE, api_key_options, oauth_options, open_peer


class TestRestDiaryContractApiKey(AdapterContract):
    """API-key authentication, two clinics behind one national service."""

    @pytest.fixture
    async def adapter(self, peer: RunningPeer, tmp_path: Path) -> AsyncIterator[SupplierAdapter]:
        adapter = await create("rest-contract", api_key_options(peer), tmp_path)
        yield adapter
        await adapter.close()

    @pytest.fixture
    def service_id(self) -> str:
        return MIU_SERVICE


class TestRestDiaryContractOAuth(AdapterContract):
    """The same contract with OAuth2 client credentials and seven-slot pages."""

    @pytest.fixture
    async def adapter(self, tmp_path: Path) -> AsyncIterator[SupplierAdapter]:
        peer = await open_peer(tmp_path / "oauth-peer.sqlite3", kind="oauth2")
        adapter = await create("rest-oauth", oauth_options(peer, page_size=7), tmp_path)
        yield adapter
        await adapter.close()
        await peer.stop()

    @pytest.fixture
    def service_id(self) -> str:
        return MIU_SERVICE
