"""The HL7 leg's set-up: the PAS peer, the gateway configuration over it, the calibration."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from yarl import URL

from benchmarks._children import ROOT, Child, ChildError, Children, free_port, python_module
from benchmarks._constants import BASE_PATH, WARMUP_CAP_S
from benchmarks._fhir import consumer_headers, new_session, slot_start, slots_of, window_query
from benchmarks._options import Options
from gateway.examples import booking_body
from gateway.security import Scope

HL7_SERVICE = "918999197777"
HL7_SCHEDULES = ("UTCNP", "UTCGP")
HL7_SLOTS = 24
MAPPINGS = ROOT / "mappings" / "hl7v2" / "demo"
LONDON = ZoneInfo("Europe/London")


def hl7_config(folder: Path, port: int, pas_port: int, listen_port: int) -> Path:
    text = f"""\
server:
  host: 127.0.0.1
  port: {port}
  service_root: http://127.0.0.1:{port}{BASE_PATH}
security:
  ssp:
    enforcement: "off"
store:
  path: {folder / "gateway-hl7.sqlite3"}
logging:
  format: json
  level: warning
adapters:
  - name: pas
    kind: hl7v2
    options:
      host: 127.0.0.1
      port: {pas_port}
      mappings: {MAPPINGS}
      database: {folder / "hl7v2-journal.sqlite3"}
      listen: {{host: 127.0.0.1, port: {listen_port}}}
services:
  - id: "{HL7_SERVICE}"
    adapter: pas
"""
    path = folder / "gateway-hl7.yaml"
    path.write_text(text, encoding="utf-8")
    return path


async def wait_for_port(child: Child, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        child.check_alive()
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", child.port), timeout=0.5),
        ):
            return
        if time.monotonic() > deadline:
            raise ChildError(f"{child.name} not listening after {timeout_s:.0f}s")
        await asyncio.sleep(0.1)


async def launch_peer(children: Children, folder: Path, listen_port: int) -> Child:
    port = free_port()
    argv = python_module(
        "adapters.hl7v2.peer",
        "--port",
        str(port),
        "--database",
        str(folder / "pas.sqlite3"),
        "--horizon-days",
        "3",
        "--notify",
        f"127.0.0.1:{listen_port}",
    )
    child = Child("pas-peer", argv, port, folder / "pas-peer.log")
    children.started.append(child)
    child.start()
    await wait_for_port(child)
    return child


@dataclass
class Hl7Calibration:
    window: str
    first: datetime
    last: datetime
    pool: list[str]
    bodies: dict[str, bytes]


async def calibrate(opts: Options, gateway: Child, audience: str) -> Hl7Calibration:
    url = URL(f"{gateway.url}{BASE_PATH}/Slot?service={HL7_SERVICE}", encoded=True)
    async with new_session(opts) as session:
        headers = consumer_headers(Scope.SLOT_READ, "read:slot", audience)
        async with session.get(url, headers=headers) as resp:
            if resp.status != 200:
                raise RuntimeError(f"HL7 slot search failed: {resp.status} {await resp.text()}")
            everything = slots_of(await resp.json(content_type=None))
    earliest = datetime.now(UTC) + timedelta(seconds=600 + 4 * (opts.seconds + WARMUP_CAP_S))
    future = sorted((s for s in everything if slot_start(s) >= earliest), key=slot_start)
    if len(future) < HL7_SLOTS + opts.concurrency:
        raise RuntimeError(f"the PAS peer offers only {len(future)} usable free slots")
    window_slots = future[:HL7_SLOTS]
    first, last = slot_start(window_slots[0]), slot_start(window_slots[-1])
    pool = [s for s in future[HL7_SLOTS:] if slot_start(s) > last][: opts.pool]
    return Hl7Calibration(
        window=window_query(first, last),
        first=first,
        last=last,
        pool=[s["id"] for s in pool],
        bodies={s["id"]: json.dumps(booking_body(s)).encode() for s in pool},
    )
