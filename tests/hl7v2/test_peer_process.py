"""The peer as integrators run it (``python -m adapters.hl7v2.peer``), killed with SIGKILL."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path

from adapters.domain import BookingStatus
from adapters.hl7v2 import Hl7v2Adapter, create
from tests.contract.builders import bookable, booking_request, call_context
from tests.hl7v2.helpers import DEMO_MAPPINGS, ROOT, UTC_SERVICE
from tests.processes import wait_exit


def _start(port: int, database: Path, *faults: str) -> subprocess.Popen[str]:
    argv = [
        sys.executable,
        "-m",
        "adapters.hl7v2.peer",
        "--port",
        str(port),
        "--database",
        str(database),
        "--horizon-days",
        "2",
    ]
    for fault in faults:
        argv += ["--fault", fault]
    process = subprocess.Popen(
        argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert process.stdout is not None
    for _ in range(20):  # log lines first, then "PAS peer listening on HOST:PORT"
        line = process.stdout.readline()
        if line.startswith("PAS peer listening on") or not line:
            break
    assert line.startswith("PAS peer listening on"), line
    return process


def _live(database: Path) -> list[str]:
    with sqlite3.connect(database) as conn:
        rows = conn.execute("SELECT filler_id FROM appointments WHERE status = 'Booked'")
        return [str(r[0]) for r in rows]


async def test_sigkill_mid_booking_then_restart_books_exactly_once(
    tmp_path: Path, unused_tcp_port: int
) -> None:
    """kill -9 after the PAS stored the booking, restart: the adapter finds it; one booking."""
    database = tmp_path / "pas.sqlite3"
    process = _start(unused_tcp_port, database, "drop-ack:SRM^S01")
    options = {
        "host": "127.0.0.1",
        "port": unused_tcp_port,
        "mappings": str(DEMO_MAPPINGS),
        "ack_timeout_s": 1.0,
        "time_budget_s": 6.0,
    }
    adapter = await create("pas", options, tmp_path)
    assert isinstance(adapter, Hl7v2Adapter)
    try:
        result = await adapter.search_slots(bookable(UTC_SERVICE), call_context())
        booking = asyncio.create_task(
            adapter.book(booking_request(result.slots[0]), call_context())
        )
        for _ in range(200):
            if database.exists() and _live(database):
                break
            await asyncio.sleep(0.02)
        process.kill()
        await wait_exit(process, 5)
        process = _start(unused_tcp_port, database)
        booked = await asyncio.wait_for(booking, 10)
        assert booked.status is BookingStatus.BOOKED
        assert _live(database) == [booked.supplier_ref]
    finally:
        await adapter.close()
        process.terminate()
        assert await wait_exit(process, 5) == 0
