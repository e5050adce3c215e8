"""Hot reload of mapping tables and routes: validate fully, swap atomically, never mix."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from pathlib import Path

import pytest

from tests.api.conftest import DEMO_DATA, SERVICE_ID, Consumer, Gateway

TOKEN_ENV = "UEC_TEST_ADMIN_TOKEN"


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the demo diary data that a test may edit, and an admin token."""
    monkeypatch.setenv(TOKEN_ENV, "let-me-reload")
    target = tmp_path / "data"
    shutil.copytree(DEMO_DATA, target)
    return target


def rename_service(data: Path, name: str) -> None:
    services = data / "services.csv"
    lines = services.read_text().splitlines()
    lines = [
        ",".join([cells[0], name, *cells[2:]]) if cells[0] == SERVICE_ID else line
        for line in lines
        for cells in [line.split(",")]
    ]
    services.write_text("\n".join(lines) + "\n")


async def reload(consumer: Consumer, token: str = "let-me-reload") -> tuple[int, dict[str, object]]:
    resp = await consumer.client.post("/admin/reload", headers={"Authorization": f"Bearer {token}"})
    return resp.status, await resp.json()


async def service_name(consumer: Consumer) -> tuple[str, str]:
    """(X-Mapping-Version, the HealthcareService name) from one slot search."""
    resp = await consumer.search("&_include:iterate=Schedule:actor:HealthcareService")
    assert resp.status == 200
    body = await resp.json(content_type=None)
    names = {
        e["resource"]["name"]
        for e in body["entry"]
        if e["resource"]["resourceType"] == "HealthcareService"
    }
    assert len(names) == 1
    return resp.headers["X-Mapping-Version"], names.pop()


async def test_reload_applies_changed_mapping(gateway: Gateway, data: Path) -> None:
    """After an edit and a reload, searches show the new data under a new mapping version."""
    consumer = await gateway(data_dir=data, admin_token_env=TOKEN_ENV)
    before_version, before_name = await service_name(consumer)
    rename_service(data, "Renamed Urgent Treatment Centre")
    status, body = await reload(consumer)
    assert status == 200 and body["reloaded"] is True
    after_version, after_name = await service_name(consumer)
    assert after_name == "Renamed Urgent Treatment Centre" != before_name
    assert after_version == body["mapping_version"] != before_version


async def test_broken_mapping_is_refused_and_the_old_one_kept(gateway: Gateway, data: Path) -> None:
    """A reload that fails validation keeps serving the old version and says where it failed."""
    consumer = await gateway(data_dir=data, admin_token_env=TOKEN_ENV)
    before = await service_name(consumer)
    (data / "services.csv").write_text(
        (data / "services.csv").read_text().replace("org-rx1", "org-missing", 1)
    )
    status, body = await reload(consumer)
    assert status == 409 and body["reloaded"] is False
    assert "services.csv line 2" in str(body["reason"])
    assert await service_name(consumer) == before


async def test_reload_needs_the_admin_token(gateway: Gateway, data: Path) -> None:
    """Without the configured token the reload endpoint refuses (403) and changes nothing."""
    consumer = await gateway(data_dir=data, admin_token_env=TOKEN_ENV)
    status, _ = await reload(consumer, token="guess")
    assert status == 403


async def test_reload_under_load_loses_nothing_and_mixes_nothing(
    gateway: Gateway, data: Path
) -> None:
    """Searches running through five reloads all succeed, each wholly in one mapping version."""
    consumer = await gateway(data_dir=data, admin_token_env=TOKEN_ENV)
    first_version, first_name = await service_name(consumer)
    names = {first_version: first_name}
    seen: list[tuple[str, str]] = []
    stop = asyncio.Event()

    async def searcher() -> None:
        for _ in range(400):
            if stop.is_set():
                return
            seen.append(await service_name(consumer))

    async def reloader() -> None:
        for n in range(5):
            rename_service(data, f"Centre generation {n}")
            status, body = await reload(consumer)
            assert status == 200
            names[str(body["mapping_version"])] = f"Centre generation {n}"
            await asyncio.sleep(0.05)
        stop.set()

    await asyncio.wait_for(asyncio.gather(reloader(), *(searcher() for _ in range(6))), timeout=60)
    assert len(seen) > 30
    for version, name in seen:
        assert names[version] == name, "a response mixed two mapping versions"
    assert len({v for v, _ in seen}) >= 2, "the load ran across reloads"


async def test_sighup_reloads(gateway: Gateway, data: Path) -> None:
    """SIGHUP, as for any daemon, reloads the mapping tables."""
    consumer = await gateway(data_dir=data)
    rename_service(data, "Signalled Centre")
    os.kill(os.getpid(), signal.SIGHUP)
    for _ in range(100):
        if (await service_name(consumer))[1] == "Signalled Centre":
            break
        await asyncio.sleep(0.02)
    assert (await service_name(consumer))[1] == "Signalled Centre"


async def test_server_section_changes_need_a_restart(
    gateway: Gateway, data: Path, tmp_path: Path
) -> None:
    """A reload that would change the server section is refused with the reason."""
    consumer = await gateway(data_dir=data, admin_token_env=TOKEN_ENV)
    config = tmp_path / "gateway.yaml"
    config.write_text(config.read_text().replace("request_timeout_s: 10", "request_timeout_s: 11"))
    status, body = await reload(consumer)
    assert status == 409 and "server" in str(body["reason"])
