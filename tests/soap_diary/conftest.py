"""Fixtures for the SOAP diary adapter: its reference peer on 127.0.0.1 and adapters for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.soap_diary import SoapDiaryAdapter, create
from adapters.soap_diary.peer import RunningSoapPeer, start_peer

ROOT = Path(__file__).resolve().parents[2]
MAPPINGS = ROOT / "mappings" / "soap_diary" / "demo"
MIU_SERVICE = "918999196001"
PASSWORD = "soap-test-password-not-a-secret"
PASSWORD_ENV = "SOAP_DIARY_TEST_PASSWORD"

AdapterFactory = Callable[..., Awaitable[SoapDiaryAdapter]]


def soap_options(peer: RunningSoapPeer, **overrides: Any) -> dict[str, Any]:
    """Adapter options for ``peer``: SOAP 1.1, HTTP Basic with the password from PASSWORD_ENV."""
    return {
        "endpoint": peer.endpoint,
        "mappings": str(MAPPINGS),
        "username": "gateway",
        "password_env": PASSWORD_ENV,
        "timeout_s": 2.0,
        **overrides,
    }


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)


async def open_peer(path: Path) -> RunningSoapPeer:
    return await start_peer(str(path), days=2, basic=f"gateway:{PASSWORD}")


@pytest.fixture
async def peer(tmp_path: Path) -> AsyncIterator[RunningSoapPeer]:
    """The reference SOAP peer on a free 127.0.0.1 port with a fresh diary."""
    running = await open_peer(tmp_path / "soap-peer.sqlite3")
    yield running
    await running.stop()


@pytest.fixture
async def make_adapter(tmp_path: Path) -> AsyncIterator[AdapterFactory]:
    """Build adapters from options; every one is closed at the end."""
    made: list[SoapDiaryAdapter] = []

    async def build(options: dict[str, Any], name: str = "soap") -> SoapDiaryAdapter:
        adapter = await create(name, options, tmp_path)
        assert isinstance(adapter, SoapDiaryAdapter)
        made.append(adapter)
        return adapter

    yield build
    for adapter in made:
        await adapter.close()
