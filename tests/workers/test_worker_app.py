"""One worker of ``serve --workers N`` in-process: what its health says, whom its reload
tells, and which adapter files it keeps to itself."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Protocol

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.app import create_app
from gateway.config import AdapterSettings
from gateway.config import load as load_config
from gateway.workers import Worker
from gateway.workers.files import own_file, worker_options
from tests.api.conftest import GatewayTestServer, write_config
from tests.hl7v2.helpers import DEMO_MAPPINGS

TOKEN_ENV = "UEC_TEST_WORKER_ADMIN_TOKEN"
Client = TestClient[web.Request, web.Application]


class Start(Protocol):
    async def __call__(self, worker: Worker | None, path: Path | None = None) -> Client: ...


@pytest.fixture
async def started(
    tmp_path: Path, unused_tcp_port_factory: Callable[[], int], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Start]:
    """Start a gateway from a configuration file, as worker ``worker`` (or alone)."""
    monkeypatch.setenv(TOKEN_ENV, "reload-them-all")
    clients: list[Client] = []

    async def start(worker: Worker | None, path: Path | None = None) -> Client:
        port = unused_tcp_port_factory()
        path = path or write_config(tmp_path, port, admin_token_env=TOKEN_ENV)
        app = create_app(load_config(path), path, worker)
        client = TestClient(GatewayTestServer(app, host="127.0.0.1", port=port))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


async def test_health_names_the_worker_that_answered(started: Start) -> None:
    """GET /health of a worker adds worker {pid, index, of} beside its usual fields."""
    client = await started(Worker(2, 3))
    resp = await client.get("/health")
    body = await resp.json()
    assert resp.status == 200
    assert body["worker"] == {"pid": os.getpid(), "index": 2, "of": 3}
    assert {"status", "mapping_version", "checks"} <= set(body)


async def test_health_of_one_process_has_no_worker(started: Start) -> None:
    """serve without --workers answers /health exactly as before: no worker field."""
    client = await started(None)
    body = await (await client.get("/health")).json()
    assert "worker" not in body and body["status"] == "pass"


async def test_an_admin_reload_at_one_worker_asks_for_the_others(
    started: Start,
) -> None:
    """POST /admin/reload at a worker reloads it and asks the supervisor to reload the rest."""
    asked: list[str] = []
    client = await started(Worker(1, 2, reload_others=lambda: asked.append("reload")))
    auth = {"Authorization": "Bearer reload-them-all"}
    resp = await client.post("/admin/reload", headers=auth)
    assert resp.status == 200 and (await resp.json())["reloaded"] is True
    assert asked == ["reload"]
    refused = await client.post("/admin/reload", headers={"Authorization": "Bearer wrong"})
    assert refused.status == 403 and asked == ["reload"]


def test_each_worker_but_the_first_names_its_own_file() -> None:
    """Worker 1 keeps the configured file; worker i a sibling; memory stays memory."""
    assert own_file("var/journal.sqlite3", 1) == "var/journal.sqlite3"
    assert own_file("var/journal.sqlite3", 3) == "var/journal.worker-3.sqlite3"
    assert own_file("/abs/j.db", 2) == "/abs/j.worker-2.db"
    assert own_file(":memory:", 2) == ":memory:"


def test_only_per_process_files_are_renamed() -> None:
    """The HL7 v2 journal is per worker; the embedded diary (the supplier's) is shared."""
    pas = AdapterSettings(name="pas", kind="hl7v2", options={"database": "j.sqlite3", "port": 1})
    diary = AdapterSettings(name="d", kind="embedded", options={"database": "e.sqlite3"})
    assert worker_options(pas, 2) == {"database": "j.worker-2.sqlite3", "port": 1}
    assert worker_options(diary, 2) == {"database": "e.sqlite3"}
    assert pas.options["database"] == "j.sqlite3", "the settings themselves are unchanged"


async def test_a_worker_opens_its_own_journal_and_keeps_it_on_reload(
    started: Start, tmp_path: Path, unused_tcp_port_factory: Callable[[], int]
) -> None:
    """Worker 2 builds the HL7 v2 adapter on journal.worker-2.sqlite3, worker 1 on the
    configured file; both report one mapping version, after a reload too."""
    pas_port = unused_tcp_port_factory()  # nothing listens: the PAS is not needed to start
    path = tmp_path / "pas.yaml"
    path.write_text(
        f"server:\n  admin_token_env: {TOKEN_ENV}\n"
        f"store:\n  path: {tmp_path / 'gateway.sqlite3'}\n"
        "logging:\n  format: json\n"
        "adapters:\n  - name: pas\n    kind: hl7v2\n    options:\n"
        f"      host: 127.0.0.1\n      port: {pas_port}\n      mappings: {DEMO_MAPPINGS}\n"
        "      database: journal.sqlite3\n"
        "services:\n  - id: '918999198999'\n    adapter: pas\n",
        encoding="utf-8",
    )
    second = await started(Worker(2, 2), path)
    assert (tmp_path / "journal.worker-2.sqlite3").is_file()
    assert not (tmp_path / "journal.sqlite3").exists()
    first = await started(Worker(1, 2), path)
    assert (tmp_path / "journal.sqlite3").is_file()
    auth = {"Authorization": "Bearer reload-them-all"}
    reloaded = await (await second.post("/admin/reload", headers=auth)).json()
    versions = {(await (await c.get("/health")).json())["mapping_version"] for c in (first, second)}
    assert versions == {reloaded["mapping_version"]}
