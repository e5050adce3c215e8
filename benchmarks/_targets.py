"""The main run's servers: the gateway (one process and N workers), bare and minimal.

Each target is a started child with the calibration its load is drawn from: the
N-worker gateway has its own configuration folder (store, diary) and its own
calibration; bare replays the gateway's captured answers; minimal works on its
own copy of the gateway's diary file, so its bookings never touch the gateway's.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks._bench_setup import Calibration, calibrate, diary_path, gateway_config
from benchmarks._children import Child, ChildError, Children, python_module
from benchmarks._constants import BASE_PATH, SERVICE_ID
from benchmarks._options import Options
from benchmarks.bare import Fixtures
from benchmarks.minimal import MinimalFixtures

#: The diary's horizon in the main run: enough days for a search of ~1,000 slots.
MAIN_HORIZON_DAYS = 10
#: So the 1,000-slot search (and calibration's search of everything) is one page.
MAIN_MAX_SLOTS_PER_PAGE = 5000
#: What ``serve`` prints once it (every worker) listens, with ``log_format: text``.
SERVING_LINE = "uec-gateway serving "


def workers_target(workers: int) -> str:
    return f"gateway\N{MULTIPLICATION SIGN}{workers}"


@dataclass(frozen=True)
class Target:
    """A server under load, and what its requests are built from."""

    name: str
    child: Child
    cal: Calibration
    #: The JWT audience its requests carry (the gateway's service root).
    audience: str

    @property
    def root(self) -> str:
        return self.child.url


def _config(folder: Path, port: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return gateway_config(
        folder,
        port,
        horizon_days=MAIN_HORIZON_DAYS,
        max_slots_per_page=MAIN_MAX_SLOTS_PER_PAGE,
        log_format="text",
    )


async def wait_for_line(child: Child, text: str, timeout_s: float = 30.0) -> None:
    """Wait until ``text`` is in the child's log; fail early if it dies."""
    deadline = time.monotonic() + timeout_s
    while text not in child.log_tail(10_000):
        child.check_alive()
        if time.monotonic() > deadline:
            raise ChildError(f"{child.name}: no '{text.strip()}' line after {timeout_s:.0f}s")
        await asyncio.sleep(0.1)


async def launch_gateway(
    opts: Options, children: Children, folder: Path, name: str, workers: int, phases: int
) -> Target:
    """``serve`` on a fresh configuration in ``folder`` (``--workers`` if more than one)."""
    extra = ["--workers", str(workers)] if workers > 1 else []
    child = await children.launch(
        name,
        lambda port: python_module(
            "gateway", "serve", "--config", str(_config(folder, port)), *extra
        ),
        folder / "gateway.log",
    )
    await wait_for_line(child, SERVING_LINE)
    audience = f"{child.url}{BASE_PATH}"
    return Target(name, child, await calibrate(opts, child, audience, phases), audience)


async def launch_bare(children: Children, folder: Path, gateway: Target) -> Target:
    """The bare app replaying the gateway's captured search, booking and cancel."""
    path = folder / "bare-fixtures.json"
    fixtures: Fixtures = {
        "base_path": BASE_PATH,
        "search": gateway.cal.search,
        "book": gateway.cal.captured.book,
        "cancel": gateway.cal.captured.cancel,
    }
    path.write_text(json.dumps(fixtures), encoding="utf-8")
    child = await children.launch(
        "bare",
        lambda port: python_module("benchmarks.bare", "--port", str(port), "--fixtures", str(path)),
        folder / "bare.log",
    )
    return Target("bare", child, gateway.cal, gateway.audience)


def copy_diary(source: Path, target: Path) -> None:
    """A consistent copy of an SQLite file another process has open (the backup API)."""
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


async def launch_minimal(
    children: Children, gateway_folder: Path, folder: Path, gateway: Target
) -> Target:
    """The minimal same-work app on its own copy of the gateway's diary file."""
    database = folder / "minimal-diary.sqlite3"
    copy_diary(diary_path(gateway_folder), database)
    path = folder / "minimal-fixtures.json"
    fixtures: MinimalFixtures = {
        "base_path": BASE_PATH,
        "service_id": SERVICE_ID,
        "search_body": gateway.cal.search["body"],
    }
    path.write_text(json.dumps(fixtures), encoding="utf-8")
    child = await children.launch(
        "minimal",
        lambda port: python_module(
            "benchmarks.minimal",
            *("--port", str(port), "--database", str(database), "--fixtures", str(path)),
        ),
        folder / "minimal.log",
    )
    return Target("minimal", child, gateway.cal, gateway.audience)
