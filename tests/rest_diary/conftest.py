"""Fixtures for the REST diary adapter: its reference peer on 127.0.0.1 and adapters for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.rest_diary import RestDiaryAdapter, create
from adapters.rest_diary.peer import PeerAuth, RunningPeer, start_peer

ROOT = Path(__file__).resolve().parents[2]
MAPPINGS = ROOT / "mappings" / "rest_diary" / "demo"
#: National service ids of the demo mapping (two clinics, and a telephone clinic).
MIU_SERVICE = "918999197001"
TEL_SERVICE = "918999197002"
API_KEY = "test-key-not-a-secret"
CLIENT_SECRET = "test-client-secret-not-a-secret"
KEY_ENV = "REST_DIARY_TEST_API_KEY"
SECRET_ENV = "REST_DIARY_TEST_CLIENT_SECRET"

AdapterFactory = Callable[..., Awaitable[RestDiaryAdapter]]


def api_key_options(peer: RunningPeer, **overrides: Any) -> dict[str, Any]:
    """Adapter options for ``peer`` with API-key auth (the key read from KEY_ENV)."""
    return {
        "base_url": peer.api,
        "mappings": str(MAPPINGS),
        "auth": {"kind": "api_key", "key_env": KEY_ENV},
        "timeout_s": 2.0,
        "page_size": 200,
        **overrides,
    }


def oauth_options(peer: RunningPeer, **overrides: Any) -> dict[str, Any]:
    """Adapter options for ``peer`` with OAuth2 client credentials (secret from SECRET_ENV)."""
    auth = {
        "kind": "oauth2",
        "token_url": f"{peer.url}/oauth/token",
        "client_id": "gateway",
        "client_secret_env": SECRET_ENV,
    }
    return api_key_options(peer, auth=auth, **overrides)


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    monkeypatch.setenv(SECRET_ENV, CLIENT_SECRET)


async def open_peer(path: Path, kind: str = "api_key", **options: Any) -> RunningPeer:
    auth = PeerAuth(kind=kind, api_key=API_KEY, client_secret=CLIENT_SECRET, **options)
    return await start_peer(str(path), days=2, auth=auth)


@pytest.fixture
async def peer(tmp_path: Path) -> AsyncIterator[RunningPeer]:
    """The reference peer (API-key auth) on a free 127.0.0.1 port with a fresh diary."""
    running = await open_peer(tmp_path / "peer.sqlite3")
    yield running
    await running.stop()


@pytest.fixture
async def make_adapter(tmp_path: Path) -> AsyncIterator[AdapterFactory]:
    """Build adapters from options; every one is closed at the end."""
    made: list[RestDiaryAdapter] = []

    async def build(options: dict[str, Any], name: str = "rest") -> RestDiaryAdapter:
        adapter = await create(name, options, tmp_path)
        assert isinstance(adapter, RestDiaryAdapter)
        made.append(adapter)
        return adapter

    yield build
    for adapter in made:
        await adapter.close()
