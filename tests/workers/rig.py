"""``python -m gateway serve --workers N`` as a real process over real sockets.

One configuration per test in its own folder: a store (``tests/stores.py``: an SQLite
file, or PostgreSQL under ``UEC_TEST_STORE=postgresql``), an embedded diary file and a
private copy of the demo diary's data (a test may break it), the HL7 v2 front door on
a fixed port, JSON logs. The supervisor's stdout (JSON log events of every process)
and stderr are read as they come, so its pipes never fill. Every wait is on the event
loop (``tests/processes.py``): the suite also runs under a moved clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks._children import free_port
from tests.crash._rig import DEMO_DATA, ROOT, SERVICE_ROOT_PATH
from tests.hl7_front_door.conftest import TABLES
from tests.replicas.processes import PUBLIC_ROOT, SERVICE
from tests.stores import store_yaml

ADMIN_TOKEN_ENV, ADMIN_TOKEN = "UEC_TEST_WORKERS_ADMIN", "reload-every-worker"

CONFIG = """
server:
  host: 127.0.0.1
  port: {port}
  service_root: {public}
  request_timeout_s: 10
  admin_token_env: {token_env}
security:
  ssp: {{enforcement: "off"}}
store:
  {store}
logging: {{format: json, level: info}}
adapters:
  - name: diary
    kind: embedded
    options: {{database: {tmp}/embedded.sqlite3, data_dir: {data}, horizon_days: 2}}
services:
  - id: "{service}"
    adapter: diary
hl7_front_door:
  host: 127.0.0.1
  port: {mllp}
  mappings: {tables}
  consumers:
    - sending_facility: CAS-NORTH
      ods_code: A1001
      name: North CAS
"""


def write_config(tmp: Path, port: int, mllp: int) -> Path:
    """The gateway's configuration in ``tmp``, over ``tmp/data`` (a copy of the demo's)."""
    data = tmp / "data"
    if not data.exists():
        shutil.copytree(DEMO_DATA, data)
    path = tmp / "gateway.yaml"
    path.write_text(
        CONFIG.format(
            port=port, public=PUBLIC_ROOT, token_env=ADMIN_TOKEN_ENV,
            store=store_yaml(tmp / "gateway.sqlite3"), tmp=tmp, data=data,
            service=SERVICE, mllp=mllp, tables=TABLES,
        ),
        encoding="utf-8",
    )  # fmt: skip
    return path


@dataclass
class Served:
    """The supervisor process, what it has printed so far, and where it serves."""

    process: asyncio.subprocess.Process
    port: int
    mllp: int
    events: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _readers: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def root(self) -> str:
        return f"{self.url}{SERVICE_ROOT_PATH}"

    def read(self) -> None:
        """Collect stdout's JSON events and stderr's lines until the process ends."""
        assert self.process.stdout is not None and self.process.stderr is not None
        self._readers = [
            asyncio.create_task(self._lines(self.process.stdout, self._event)),
            asyncio.create_task(self._lines(self.process.stderr, self.errors.append)),
        ]

    async def _lines(self, stream: asyncio.StreamReader, keep: Any) -> None:
        while line := await stream.readline():
            keep(line.decode(errors="replace").rstrip("\n"))

    def _event(self, line: str) -> None:
        with contextlib.suppress(ValueError):
            self.events.append(json.loads(line))

    def named(self, event: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("event") == event]

    async def wait_for(self, event: str, timeout_s: float = 60.0, count: int = 1) -> None:
        """Until ``event`` has been logged ``count`` times; fail if the process ends first."""
        deadline = time.monotonic() + timeout_s
        while len(self.named(event)) < count:
            assert self.process.returncode is None, f"ended: {self.errors}"
            assert time.monotonic() < deadline, f"no {event} within {timeout_s}s: {self.errors}"
            await asyncio.sleep(0.05)

    async def finished(self, timeout_s: float = 90.0) -> int:
        """The exit status, once the process and its output have ended."""
        code = await asyncio.wait_for(self.process.wait(), timeout_s)
        await asyncio.wait_for(asyncio.gather(*self._readers), 10)
        return code

    async def close(self) -> None:
        """SIGTERM if it still runs, then SIGKILL if it lingers."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 60)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        for reader in self._readers:
            reader.cancel()


async def serve(tmp: Path, workers: int = 2, port: int | None = None) -> Served:
    """Start ``python -m gateway serve --workers N`` on a configuration in ``tmp``."""
    port = port or free_port()
    mllp = free_port()
    config = write_config(tmp, port, mllp)
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


async def health(url: str) -> tuple[int, dict[str, Any]]:
    """GET /health on a connection of its own: (status, body)."""
    connector = aiohttp.TCPConnector(force_close=True)
    timeout = aiohttp.ClientTimeout(total=10)
    async with (
        aiohttp.ClientSession(connector=connector, timeout=timeout) as http,
        http.get(f"{url}/health") as resp,
    ):
        return resp.status, await resp.json()


async def worker_pids(url: str, count: int, tries: int = 200) -> dict[int, int]:
    """Worker index -> pid, from /health on new connections until ``count`` have answered."""
    seen: dict[int, int] = {}
    for _ in range(tries):
        status, body = await health(url)
        assert status == 200, body
        seen[body["worker"]["index"]] = body["worker"]["pid"]
        if len(seen) == count:
            return seen
    raise AssertionError(f"only workers {sorted(seen)} answered {tries} new connections")


def alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (a zombie counts: it has not been reaped)."""
    return Path(f"/proc/{pid}").exists()
