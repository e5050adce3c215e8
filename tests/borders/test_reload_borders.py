"""A reload swaps the booking policy atomically: no request sees half of two policies."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.api.conftest import Gateway
from tests.api.conftest import gateway as gateway
from tests.api.test_reload import TOKEN_ENV, reload
from tests.borders.rig import IN_AREA, OUT_OF_AREA, as_org, policy_copy


async def test_a_reload_mid_traffic_changes_the_rules_between_whole_requests(
    gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Searches racing a reload each see the old rules or the new, by their mapping version."""
    monkeypatch.setenv(TOKEN_ENV, "let-me-reload")
    folder = policy_copy(tmp_path)
    consumer = await gateway(policy_folder=folder, admin_token_env=TOKEN_ENV)
    consumer.ods = IN_AREA
    away = as_org(consumer, OUT_OF_AREA)
    seen: list[tuple[str, int]] = []
    stop = asyncio.Event()
    enough = {8: asyncio.Event()}

    async def search_until_stopped() -> None:
        while not stop.is_set():
            resp = await away.search()
            assert resp.status == 200
            bundle = await resp.json(content_type=None)
            count = sum(
                1 for e in bundle.get("entry", []) if e["resource"]["resourceType"] == "Slot"
            )
            seen.append((resp.headers["X-Mapping-Version"], count))
            for wanted, event in list(enough.items()):
                if len(seen) >= wanted:
                    event.set()

    searches = [asyncio.create_task(search_until_stopped()) for _ in range(4)]
    await asyncio.wait_for(enough[8].wait(), 30)
    policy = folder / "policy.yaml"
    policy.write_text(policy.read_text().replace("    book: [any]", "    book: [in-area]"))
    status, _ = await reload(consumer)
    assert status == 200
    after = len(seen)
    enough[after + 8] = asyncio.Event()
    await asyncio.wait_for(enough[after + 8].wait(), 30)
    stop.set()
    await asyncio.gather(*searches)

    versions = list(dict.fromkeys(version for version, _ in seen))
    assert len(versions) == 2, versions
    old, new = versions
    assert all(count > 0 for version, count in seen if version == old)
    assert all(count == 0 for version, count in seen if version == new)
    assert all(version == new for version, _ in seen[after + 4 :])


async def test_a_policy_that_does_not_validate_is_refused_and_the_old_one_kept(
    gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bad group name: the reload fails naming file:line, and the old rules still apply."""
    monkeypatch.setenv(TOKEN_ENV, "let-me-reload")
    folder = policy_copy(tmp_path)
    consumer = await gateway(policy_folder=folder, admin_token_env=TOKEN_ENV)
    away = as_org(consumer, OUT_OF_AREA)
    before = await away.search()
    policy = folder / "policy.yaml"
    policy.write_text(policy.read_text().replace("    book: [any]", "    book: [everyone]"))
    status, body = await reload(consumer)
    assert status != 200
    assert "policy.yaml:" in str(body) and "'everyone' is not a group" in str(body)
    after = await away.search()
    assert after.headers["X-Mapping-Version"] == before.headers["X-Mapping-Version"]
    assert (await after.json(content_type=None))["total"] == (await before.json(content_type=None))[
        "total"
    ]
