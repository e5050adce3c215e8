"""The main run's set-up: the gateway's configuration and the calibration against it."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks._children import Child
from benchmarks._constants import (
    BASE_PATH,
    DEMO_DATA,
    HORIZON_DAYS,
    REQUEST_TIMEOUT_S,
    SERVICE_ID,
    SLOTS_WANTED,
    SSP_TO,
    WARMUP_CAP_S,
)
from benchmarks._fhir import (
    Captured,
    book_cancel_op,
    book_tickets,
    candidate_windows,
    canned,
    consumer_headers,
    new_session,
    search_url,
    slot_start,
    slots_of,
    window_query,
)
from benchmarks._options import Options
from benchmarks.bare import CannedResponse
from gateway.examples import booking_body
from gateway.security import Scope


def diary_path(folder: Path) -> Path:
    """The embedded diary's SQLite file in a configuration ``gateway_config`` wrote."""
    return folder / "embedded.sqlite3"


def gateway_config(
    folder: Path,
    port: int,
    *,
    horizon_days: int = HORIZON_DAYS,
    max_slots_per_page: int = 200,
    log_format: str = "json",
) -> Path:
    """A configuration like tests/api/conftest.py's, quiet logs, everything in ``folder``.

    ``log_format: text`` makes ``serve`` print its "serving" line (in JSON it is an
    info event, below the ``warning`` level kept here).
    """
    text = f"""\
server:
  host: 127.0.0.1
  port: {port}
  service_root: http://127.0.0.1:{port}{BASE_PATH}
  max_slots_per_page: {max_slots_per_page}
security:
  ssp:
    enforcement: "off"
    asid: "{SSP_TO}"
store:
  path: {folder / "gateway.sqlite3"}
logging:
  format: {log_format}
  level: warning
adapters:
  - name: diary
    kind: embedded
    options:
      database: {diary_path(folder)}
      data_dir: {DEMO_DATA}
      horizon_days: {horizon_days}
services:
  - id: "{SERVICE_ID}"
    adapter: diary
"""
    path = folder / "gateway.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class Calibration:
    free_slots: int
    window: str
    search_entries: Counter[str]
    search: CannedResponse
    pool: list[str]
    bodies: dict[str, bytes]
    captured: Captured
    #: Every free slot of the service at calibration, as the gateway rendered it.
    slots: list[dict[str, Any]]
    #: The earliest start of any slot chosen (windows and pool start after it).
    earliest: datetime


async def calibrate(opts: Options, gateway: Child, audience: str, phases: int = 4) -> Calibration:
    """Window of exactly 50 slots, the pool of other free slots, and the responses to replay.

    Every slot chosen starts after ``phases`` measured phases could have run from now
    (each with its warm-up), and ten minutes more.
    """
    async with new_session(opts) as session:
        headers = consumer_headers(Scope.SLOT_READ, "read:slot", audience)
        async with session.get(search_url(gateway.url), headers=headers) as resp:
            if resp.status != 200:
                raise RuntimeError(f"slot search failed: {resp.status} {await resp.text()}")
            everything = slots_of(await resp.json(content_type=None))
        margin = timedelta(seconds=600 + phases * (opts.seconds + WARMUP_CAP_S))
        earliest = datetime.now(UTC) + margin
        window = ""
        search: CannedResponse | None = None
        kinds: Counter[str] = Counter()
        in_window: set[str] = set()
        tried = 0
        for first, last in candidate_windows(everything, earliest, SLOTS_WANTED):
            tried += 1
            if tried > 25:
                break
            window = window_query(first, last)
            headers = consumer_headers(Scope.SLOT_READ, "read:slot", audience)
            async with session.get(search_url(gateway.url, window), headers=headers) as resp:
                raw = await resp.read()
                if resp.status != 200:
                    continue
                bundle = json.loads(raw)
                found = slots_of(bundle)
                if len(found) == SLOTS_WANTED:  # else: move the window and try again
                    search = canned(resp.status, resp.headers, raw)
                    kinds = Counter(e["resource"]["resourceType"] for e in bundle["entry"])
                    in_window = {s["id"] for s in found}
                    break
        if search is None:
            raise RuntimeError(
                f"no start window gives exactly {SLOTS_WANTED} free slots "
                f"({len(everything)} free slots in the diary, {tried} windows tried)"
            )
        pool_slots = [
            s for s in everything if s["id"] not in in_window and slot_start(s) >= earliest
        ][: opts.pool]
        if len(pool_slots) < opts.most_concurrent:
            raise RuntimeError(
                f"only {len(pool_slots)} free slots outside the search window; "
                f"book+cancel needs at least the highest --concurrency={opts.most_concurrent}"
            )
        bodies = {s["id"]: json.dumps(booking_body(s)).encode() for s in pool_slots}
        # One real booking and cancel: checks the cycle works and gives the bodies to replay.
        queue: asyncio.Queue[str] = asyncio.Queue()
        queue.put_nowait(pool_slots[0]["id"])
        captured: list[Captured] = []
        op = book_cancel_op(
            session, gateway.url, book_tickets(1, audience), queue, bodies, captured
        )
        outcome = await op(0, asyncio.get_running_loop().time() + REQUEST_TIMEOUT_S)
        if outcome.error is not None:
            raise RuntimeError(f"the start-up booking failed: {outcome.error}")
    return Calibration(
        free_slots=len(everything),
        window=window,
        search_entries=kinds,
        search=search,
        pool=[s["id"] for s in pool_slots],
        bodies=bodies,
        captured=captured[0],
        slots=everything,
        earliest=earliest,
    )
