"""Alert rules posted to a real webhook receiver when a supplier goes down and comes back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters.rest_diary.peer import PeerAuth, RunningPeer, start_peer
from gateway.app import create_app
from gateway.config import ConfigError
from gateway.config import load as load_config
from tests.alerts.webhook import Webhook
from tests.api.conftest import READ_SLOTS, SERVICE_ROOT_PATH, Consumer
from tests.rest_diary.conftest import (
    API_KEY,
    CLIENT_SECRET,
    KEY_ENV,
    MAPPINGS,
    MIU_SERVICE,
    open_peer,
)
from tests.rest_diary.conftest import _secrets as _secrets  # an autouse fixture
from tests.rest_diary.test_end_to_end import CONFIG as REST_CONFIG
from tests.stores import store_yaml

#: The REST diary end-to-end configuration, with alerts to the test's webhook.
CONFIG = (
    REST_CONFIG
    + """alerts:
  webhook: {hook}
  webhook_token_env: UEC_TEST_HOOK_TOKEN
  interval_s: 0.1
  repeat_s: 0
  rules:
    - name: supplier-down
      kind: adapter_down
      subject: acme-rest
    - name: in-doubt
      kind: in_doubt
"""
)


@pytest.fixture
async def webhook() -> AsyncIterator[Webhook]:
    hook = Webhook()
    await hook.start()
    yield hook
    await hook.stop()


@pytest.fixture
async def peer(tmp_path: Path) -> AsyncIterator[list[RunningPeer]]:
    """The REST diary peer; a list so a test can replace it with one on the same port."""
    running = [await open_peer(tmp_path / "peer.sqlite3")]
    yield running
    await running[-1].stop()


def _config(tmp_path: Path, port: int, peer: RunningPeer, hook: str) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(
        CONFIG.format(
            port=port,
            root=SERVICE_ROOT_PATH,
            store=store_yaml(tmp_path / "gateway.sqlite3"),
            api=peer.api,
            mappings=MAPPINGS,
            key_env=KEY_ENV,
            service=MIU_SERVICE,
            hook=hook,
        ),
        encoding="utf-8",
    )
    return path


@pytest.fixture
async def started(
    tmp_path: Path,
    peer: list[RunningPeer],
    webhook: Webhook,
    unused_tcp_port_factory: Callable[[], int],
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    monkeypatch.setenv("UEC_TEST_HOOK_TOKEN", "hook-secret")
    port = unused_tcp_port_factory()
    path = _config(tmp_path, port, peer[0], webhook.url)
    client: TestClient[web.Request, web.Application] = TestClient(
        TestServer(create_app(load_config(path), path), host="127.0.0.1", port=port)
    )
    await client.start_server()
    yield client
    await client.close()


async def test_a_supplier_that_goes_down_fires_once_and_resolves_when_back(
    started: TestClient[web.Request, web.Application],
    peer: list[RunningPeer],
    webhook: Webhook,
    tmp_path: Path,
) -> None:
    """Peer stopped: one 'firing' for supplier-down; peer back on its port: one 'resolved'."""
    await asyncio.sleep(0.5)
    assert webhook.received == []  # all well: nothing is said
    port = peer[0].port
    await peer[0].stop()
    (firing,) = await webhook.wait_for(1)
    assert (firing["alert"], firing["subject"], firing["state"]) == (
        "supplier-down",
        "acme-rest",
        "firing",
    )
    assert (firing["kind"], firing["value"], firing["threshold"]) == ("adapter_down", 1.0, 0.5)
    auth = PeerAuth(kind="api_key", api_key=API_KEY, client_secret=CLIENT_SECRET)
    peer.append(await start_peer(str(tmp_path / "peer.sqlite3"), days=2, auth=auth, port=port))
    _, resolved = await webhook.wait_for(2)
    assert (resolved["alert"], resolved["state"], resolved["since"]) == (
        "supplier-down",
        "resolved",
        resolved["at"],
    )
    await asyncio.sleep(0.5)
    assert len(webhook.received) == 2  # repeat_s 0: nothing more while all is well
    assert set(webhook.authorizations) == {"Bearer hook-secret"}


async def test_a_webhook_that_was_down_hears_the_alert_once_it_is_back(
    started: TestClient[web.Request, web.Application],
    peer: list[RunningPeer],
    webhook: Webhook,
) -> None:
    """While the receiver answers 503 the alert is kept and tried again; it arrives once."""
    webhook.status = 503
    await peer[0].stop()
    await webhook.wait_refused(3)
    assert webhook.received == []
    webhook.status = 200
    (firing,) = await webhook.wait_for(1)
    assert firing["state"] == "firing"
    await asyncio.sleep(0.5)
    assert [a["state"] for a in webhook.received] == ["firing"]


def test_a_rule_name_used_twice_is_refused_by_the_configuration(tmp_path: Path) -> None:
    """Two rules of one name make the configuration invalid, naming the rule."""
    text = (
        "alerts:\n  webhook: http://127.0.0.1:9/hook\n  rules:\n"
        "    - {name: a, kind: in_doubt}\n    - {name: a, kind: adapter_down}\n"
    )
    (tmp_path / "gateway.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="rule names must be unique: a"):
        load_config(tmp_path / "gateway.yaml")


async def test_an_open_circuit_fires_its_alert_and_shows_on_the_dashboard(
    tmp_path: Path,
    peer: list[RunningPeer],
    webhook: Webhook,
    unused_tcp_port_factory: Callable[[], int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two failed searches with the supplier down open its circuit: the circuit-open rule
    posts 'firing' for acme-rest, and the dashboard's data says the circuit is open."""
    monkeypatch.setenv("UEC_ADMIN", "ops")
    port = unused_tcp_port_factory()
    path = _config(tmp_path, port, peer[0], webhook.url)
    text = path.read_text(encoding="utf-8").replace(
        "      subject: acme-rest\n",
        "      subject: acme-rest\n    - {name: open, kind: circuit_open}\n",
    )
    text = text.replace("server:\n", "server:\n  admin_token_env: UEC_ADMIN\n", 1)
    path.write_text(
        text + "circuits:\n  adapters:\n    acme-rest: {failures: 2, reset_s: 60}\n",
        encoding="utf-8",
    )
    client: TestClient[web.Request, web.Application] = TestClient(
        TestServer(create_app(load_config(path), path), host="127.0.0.1", port=port)
    )
    await client.start_server()
    try:
        consumer = Consumer(client, load_config(path))
        await peer[0].stop()
        for _ in range(2):
            resp = await consumer.client.get(
                f"{SERVICE_ROOT_PATH}/Slot?service={MIU_SERVICE}&status=free",
                headers=consumer.headers(READ_SLOTS, "read:slot"),
            )
            assert resp.status == 500  # SUPPLIER_UNAVAILABLE, as the STU3 error table has it
        async with asyncio.timeout(10):
            while not [a for a in webhook.received if a["alert"] == "open"]:
                await webhook.wait_for(len(webhook.received) + 1)
        (opened,) = [a for a in webhook.received if a["alert"] == "open"]
        assert (opened["subject"], opened["state"]) == ("acme-rest", "firing")
        data = await (
            await client.get("/admin/dashboard/data", headers={"Authorization": "Bearer ops"})
        ).json()
        assert data["circuits"]["acme-rest"]["state"] == "open"
    finally:
        await client.close()
