"""The BaRS leg's set-up: a gateway serving the BaRS door, and the calibration against it.

The window holds exactly ``SLOTS_WANTED`` free slots (with the BaRS ``_include`` set);
a pool of other free slots is booked and cancelled by ``$process-message``, each
booking-request built before the phase by ``adapters.bars_toolkit`` (as the reference
sender builds them). One real book+cancel captures the answers the bare app replays.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from yarl import URL

from adapters.bars_toolkit import messages
from adapters.bars_toolkit.headers import Target
from benchmarks._bars_ops import BARS_PATH, book_cancel_op, envelope, headers, tickets
from benchmarks._children import Child
from benchmarks._constants import DEMO_DATA, HORIZON_DAYS, SERVICE_ID, SLOTS_WANTED, WARMUP_CAP_S
from benchmarks._fhir import candidate_windows, canned
from benchmarks._options import Options
from benchmarks.bare import CannedResponse
from gateway.bars_sender import journeys

TARGET = Target("https://fhir.nhs.uk/Id/dos-service-id", SERVICE_ID)
INCLUDES = ("Slot:schedule", "Schedule:actor:HealthcareService")
Json = dict[str, Any]


def bars_config(folder: Path, port: int) -> Path:
    """The benchmark gateway's configuration with the BaRS door, quiet logs, in ``folder``."""
    text = f"""\
server:
  host: 127.0.0.1
  port: {port}
  service_root: http://127.0.0.1:{port}/STU3/1/careconnect/appointment
security:
  ssp:
    enforcement: "off"
store:
  path: {folder / "gateway-bars.sqlite3"}
logging:
  format: json
  level: warning
adapters:
  - name: diary
    kind: embedded
    options:
      database: {folder / "embedded-bars.sqlite3"}
      data_dir: {DEMO_DATA}
      horizon_days: {HORIZON_DAYS}
services:
  - id: "{SERVICE_ID}"
    adapter: diary
bars:
  service_root: http://127.0.0.1:{port}{BARS_PATH}
"""
    path = folder / "gateway-bars.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def search_url(root: str, first: datetime, last: datetime) -> URL:
    """GET /Slot with the BaRS parameters: free, start ge/le, the _include set."""
    lower, upper = (t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for t in (first, last))
    query = [("status", "free"), ("start", f"ge{lower}"), ("start", f"le{upper}")]
    query += [("_include", i) for i in INCLUDES]
    return URL(f"{root}{BARS_PATH}/Slot").with_query(query)


@dataclass
class BarsCalibration:
    free_slots: int
    url: URL
    search: CannedResponse
    book: CannedResponse
    cancel: CannedResponse
    pool: list[str]
    bodies: dict[str, bytes]


async def _everything(session: aiohttp.ClientSession, root: str) -> Json:
    """Every free slot of the horizon: the pages of one search, joined."""
    now = datetime.now(UTC)
    url: URL | None = search_url(root, now, now + timedelta(days=HORIZON_DAYS + 1))
    joined: Json = {"entry": []}
    while url is not None:
        async with session.get(url, headers=headers(TARGET)) as resp:
            if resp.status != 200:
                raise RuntimeError(f"BaRS slot search failed: {resp.status} {await resp.text()}")
            page = await resp.json(content_type=None)
        joined["entry"].extend(page.get("entry") or [])
        following = [link["url"] for link in page.get("link") or [] if link["relation"] == "next"]
        url = URL(following[0], encoded=True) if following else None
    return joined


async def _window(
    session: aiohttp.ClientSession, root: str, slots: list[Json], earliest: datetime
) -> tuple[URL, CannedResponse, set[str]]:
    for tried, (first, last) in enumerate(candidate_windows(slots, earliest, SLOTS_WANTED)):
        if tried > 25:
            break
        url = search_url(root, first, last)
        async with session.get(url, headers=headers(TARGET)) as resp:
            raw = await resp.read()
        found = messages.entries_of(json.loads(raw), "Slot")
        if resp.status == 200 and len(found) == SLOTS_WANTED:
            return url, canned(resp.status, resp.headers, raw), {s["id"] for s in found}
    raise RuntimeError(f"no BaRS start window gives exactly {SLOTS_WANTED} free slots")


async def calibrate(
    opts: Options, gateway: Child, session: aiohttp.ClientSession
) -> BarsCalibration:
    """The 50-slot window, the pool and its booking bodies, and the answers to replay."""
    margin = timedelta(seconds=600 + 4 * (opts.seconds + WARMUP_CAP_S))
    earliest = datetime.now(UTC) + margin
    free = journeys.bookables(await _everything(session, gateway.url), earliest)
    slots = [b.slot for b in free]
    url, search, in_window = await _window(session, gateway.url, slots, earliest)
    pool = [b for b in free if b.slot["id"] not in in_window][: opts.pool]
    if len(pool) < opts.concurrency:
        raise RuntimeError(f"only {len(pool)} free slots for the BaRS book+cancel pool")
    env = envelope(TARGET)
    bodies = {b.slot["id"]: json.dumps(journeys.booking_message(env, b)).encode() for b in pool}
    queue: asyncio.Queue[str] = asyncio.Queue()
    queue.put_nowait(pool[0].slot["id"])
    captured: list[tuple[CannedResponse, CannedResponse]] = []
    op = book_cancel_op(session, gateway.url, TARGET, tickets(TARGET, 1), queue, bodies, captured)
    outcome = await op(0, asyncio.get_running_loop().time() + 30)
    if outcome.error is not None:
        raise RuntimeError(f"the BaRS start-up booking failed: {outcome.error}")
    book, cancel = captured[0]
    return BarsCalibration(
        len(slots), url, search, book, cancel, [b.slot["id"] for b in pool], bodies
    )
