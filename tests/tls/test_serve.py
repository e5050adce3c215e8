"""``uec-gateway serve`` with ``server.tls``, as real processes: one, and ``--workers 2``.

The serving line names an https URL, every worker answers over TLS on the shared
port (SO_REUSEPORT), client certificates are demanded by each of them, and a
certificate file that is missing stops the start with one line, never a traceback.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from benchmarks._children import free_port
from tests.crash._rig import ROOT, SERVICE_ROOT_PATH
from tests.replicas.processes import free_slots
from tests.tls.conftest import Pki, add_server_tls, tls_options
from tests.workers.rig import ADMIN_TOKEN, ADMIN_TOKEN_ENV, Served, write_config


async def _serve(tmp: Path, tls: dict[str, Any], workers: int) -> Served:
    """``python -m gateway serve --workers N`` over the workers' rig config with ``tls``."""
    port, mllp = free_port(), free_port()
    config = add_server_tls(write_config(tmp, port, mllp), tls, https_root=False)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "serve", "--config", str(config),
        "--workers", str(workers), cwd=ROOT,
        env={**os.environ, ADMIN_TOKEN_ENV: ADMIN_TOKEN},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    served = Served(process, port, mllp)
    served.read()
    return served


@pytest.fixture
async def served(request: pytest.FixtureRequest, tmp_path: Path, pki: Pki) -> AsyncIterator[Served]:
    """HTTPS demanding client certificates, by ``request.param`` worker processes."""
    running = await _serve(tmp_path, tls_options(pki, "required"), request.param)
    try:
        await running.wait_for("gateway_serving")
        yield running
    finally:
        await running.close()


def _https(served: Served) -> str:
    return f"https://127.0.0.1:{served.port}"


async def _health(url: str, context: ssl.SSLContext) -> dict[str, Any]:
    """GET /health over TLS on a connection of its own."""
    connector = aiohttp.TCPConnector(ssl=context, force_close=True)
    timeout = aiohttp.ClientTimeout(total=10)
    async with (
        aiohttp.ClientSession(connector=connector, timeout=timeout) as http,
        http.get(f"{url}/health") as resp,
    ):
        assert resp.status == 200, await resp.text()
        body: dict[str, Any] = await resp.json()
        return body


@pytest.mark.parametrize("served", [1], indirect=True)
async def test_one_process_serves_slots_over_https(served: Served, pki: Pki) -> None:
    """serve with server.tls: the serving line says https, and slots are found over TLS."""
    (event,) = served.named("gateway_serving")
    assert event["url"] == _https(served)
    connector = aiohttp.TCPConnector(ssl=pki.client_context(pki.client))
    async with aiohttp.ClientSession(connector=connector) as http:
        slots = await free_slots(http, f"{_https(served)}{SERVICE_ROOT_PATH}")
    assert slots


@pytest.mark.parametrize("served", [2], indirect=True)
async def test_every_worker_serves_https_and_demands_a_certificate(
    served: Served, pki: Pki
) -> None:
    """--workers 2: an https serving line; both workers answer over TLS, neither without a cert."""
    (event,) = served.named("gateway_serving")
    assert event["url"] == _https(served) and event["workers"] == 2
    seen: dict[int, int] = {}
    for _ in range(200):
        body = await _health(_https(served), pki.client_context(pki.client))
        seen[body["worker"]["index"]] = body["worker"]["pid"]
        if len(seen) == 2:
            break
    assert sorted(seen) == [1, 2] and len(set(seen.values())) == 2
    for _ in range(4):  # new connections, so both workers are asked
        with pytest.raises((aiohttp.ClientError, ssl.SSLError, ConnectionError)):
            await _health(_https(served), pki.client_context())


@pytest.mark.parametrize("workers", [1, 2])
async def test_a_missing_certificate_stops_the_start_in_one_line(
    tmp_path: Path, pki: Pki, workers: int
) -> None:
    """server.tls.cert_file that does not exist: exit 1 and one line naming it, no traceback."""
    absent = tmp_path / "absent.pem"
    tls = {**tls_options(pki, "none"), "cert_file": str(absent)}
    running = await _serve(tmp_path, tls, workers)
    try:
        code = await running.finished()
    finally:
        await running.close()
    assert code == 1
    assert running.errors == [f"uec-gateway: cannot start: cert_file {absent} does not exist"]
