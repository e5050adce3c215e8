"""Credentials (API key, OAuth2 client credentials) and option validation of the REST adapter."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from adapters.domain import SlotQuery
from adapters.errors import SupplierUnavailable
from adapters.rest_diary import RestDiaryConfigError, create
from tests.contract.builders import call_context
from tests.rest_diary.conftest import (
    CLIENT_SECRET,
    KEY_ENV,
    MIU_SERVICE,
    AdapterFactory,
    api_key_options,
    oauth_options,
    open_peer,
)

QUERY = SlotQuery(service_id=MIU_SERVICE)


async def test_oauth_token_is_fetched_once_for_a_burst(
    make_adapter: AdapterFactory, tmp_path: Path
) -> None:
    """Ten concurrent searches share one cached token."""
    peer = await open_peer(tmp_path / "p.sqlite3", kind="oauth2")
    try:
        adapter = await make_adapter(oauth_options(peer))
        await asyncio.gather(*(adapter.search_slots(QUERY, call_context()) for _ in range(10)))
        assert peer.state.stats["token"] == 1
    finally:
        await peer.stop()


async def test_revoked_token_is_renewed_and_the_call_succeeds(
    make_adapter: AdapterFactory, tmp_path: Path
) -> None:
    """A 401 drops the cached token; the adapter fetches another and resends once."""
    peer = await open_peer(tmp_path / "p.sqlite3", kind="oauth2")
    try:
        adapter = await make_adapter(oauth_options(peer))
        await adapter.search_slots(QUERY, call_context())
        peer.state.tokens.clear()
        result = await adapter.search_slots(QUERY, call_context())
        assert result.slots
        assert peer.state.stats["token"] == 2
    finally:
        await peer.stop()


async def test_expiring_token_is_renewed_before_it_expires(
    make_adapter: AdapterFactory, tmp_path: Path
) -> None:
    """A 1 s token is reused at once and replaced once past half its life, without a 401."""
    peer = await open_peer(tmp_path / "p.sqlite3", kind="oauth2", token_ttl_s=1.0)
    try:
        adapter = await make_adapter(oauth_options(peer))
        await adapter.search_slots(QUERY, call_context())
        await adapter.search_slots(QUERY, call_context())
        assert peer.state.stats["token"] == 1
        await asyncio.sleep(0.6)
        await adapter.search_slots(QUERY, call_context())
        assert peer.state.stats["token"] == 2
    finally:
        await peer.stop()


async def test_wrong_client_secret_is_unavailable_and_not_logged(
    make_adapter: AdapterFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused client credentials give SupplierUnavailable; the secret is in no log line."""
    peer = await open_peer(tmp_path / "p.sqlite3", kind="oauth2")
    monkeypatch.setenv("WRONG_SECRET_ENV", "wrong-secret-value")
    try:
        options = oauth_options(peer)
        options["auth"] = {**options["auth"], "client_secret_env": "WRONG_SECRET_ENV"}
        adapter = await make_adapter(options)
        with capture_logs() as events, pytest.raises(SupplierUnavailable):
            await adapter.search_slots(QUERY, call_context())
        assert "supplier_token_refused" in [e["event"] for e in events]
        assert all("wrong-secret-value" not in repr(e) for e in events)
    finally:
        await peer.stop()


async def test_wrong_api_key_is_unavailable(
    make_adapter: AdapterFactory, peer: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key the supplier refuses (401 UNAUTHORISED) is SupplierUnavailable, not resent."""
    monkeypatch.setenv(KEY_ENV, "not-the-key")
    adapter = await make_adapter(api_key_options(peer))  # type: ignore[arg-type]
    with pytest.raises(SupplierUnavailable):
        await adapter.search_slots(QUERY, call_context())


async def test_unset_secret_variable_is_a_config_error(
    peer: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unset *_env variable fails create() with a message naming the variable."""
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(RestDiaryConfigError, match=KEY_ENV):
        await create("rest", api_key_options(peer), tmp_path)  # type: ignore[arg-type]


async def test_bad_options_name_the_option(peer: object, tmp_path: Path) -> None:
    """Unknown zones, relative URLs and unknown keys are refused with the option's name."""
    base = api_key_options(peer)  # type: ignore[arg-type]
    cases = {
        "timezone": {**base, "timezone": "Mars/Olympus"},
        "base_url": {**base, "base_url": "diary.example"},
        "colour": {**base, "colour": "blue"},
        "auth": {**base, "auth": {"kind": "kerberos"}},
    }
    for option, options in cases.items():
        with pytest.raises(RestDiaryConfigError, match=option):
            await create("rest", options, tmp_path)


def test_secrets_are_read_from_the_environment_only() -> None:
    """The client secret used by tests is not written in any option or mapping file."""
    mappings = Path(__file__).resolve().parents[2] / "mappings" / "rest_diary"
    for path in mappings.rglob("*"):
        if path.is_file():
            assert CLIENT_SECRET not in path.read_text(encoding="utf-8")
