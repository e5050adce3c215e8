"""A national consumer's FHIR calls: headers, slot-search URLs, and the timed operations."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
from lxml import etree
from yarl import URL

from benchmarks._constants import (
    BASE_PATH,
    INCLUDES,
    REQUEST_TIMEOUT_S,
    SERVICE_ID,
    SSP_FROM,
    SSP_TO,
)
from benchmarks._options import Options
from benchmarks._phases import Op, Outcome
from benchmarks.bare import CannedResponse
from gateway.security import Scope
from gateway.security.tokens import mint_token

FHIR_NS = "http://hl7.org/fhir"


def consumer_headers(scope: Scope, interaction: str, audience: str) -> dict[str, str]:
    """What a national consumer sends: a fresh JWT, SSP headers and a fresh X-Request-ID."""
    token = mint_token(scope=scope.value, audience=audience, organisation_ods="A1001")
    return {
        "Authorization": f"Bearer {token}",
        "Ssp-TraceID": str(uuid.uuid4()),
        "Ssp-From": SSP_FROM,
        "Ssp-To": SSP_TO,
        "Ssp-InteractionID": f"urn:nhs:names:services:careconnect:fhir:rest:{interaction}",
        "X-Request-ID": str(uuid.uuid4()),
    }


def search_url(root: str, window: str = "") -> URL:
    return URL(f"{root}{BASE_PATH}/Slot?service={SERVICE_ID}{INCLUDES}{window}", encoded=True)


def window_query(first: datetime, last: datetime) -> str:
    lower, upper = (t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for t in (first, last))
    return f"&start=ge{lower}&start=le{upper}"


def slots_of(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        e["resource"]
        for e in bundle.get("entry") or []
        if e.get("resource", {}).get("resourceType") == "Slot"
    ]


def slot_start(slot: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(slot["start"]))


def candidate_windows(
    slots: list[dict[str, Any]], earliest: datetime, size: int
) -> Iterator[tuple[datetime, datetime]]:
    """Runs of consecutive start times, from ``earliest`` on, holding exactly ``size`` slots."""
    per_start = Counter(slot_start(s) for s in slots)
    starts = sorted(per_start)
    for i, first in enumerate(starts):
        if first < earliest:
            continue
        total = 0
        for last in starts[i:]:
            total += per_start[last]
            if total == size:
                yield first, last
            if total >= size:
                break


def json_slot_count(raw: bytes) -> int:
    return len(slots_of(json.loads(raw)))


def xml_slot_count(raw: bytes) -> int:
    """Slots in a searchset Bundle written in FHIR XML."""
    root = etree.fromstring(raw, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    return len(root.findall(f"{{{FHIR_NS}}}entry/{{{FHIR_NS}}}resource/{{{FHIR_NS}}}Slot"))


def search_op(
    session: aiohttp.ClientSession,
    url: URL,
    tickets: list[dict[str, str]],
    expect: int,
    count_slots: Callable[[bytes], int] = json_slot_count,
) -> Op:
    async def op(index: int, _deadline: float) -> Outcome:
        try:
            started = time.perf_counter()
            async with session.get(url, headers=tickets[index]) as resp:
                raw = await resp.read()
            latency = time.perf_counter() - started
        except (aiohttp.ClientError, TimeoutError) as exc:
            return Outcome(None, f"GET /Slot: {type(exc).__name__}")
        if resp.status != 200:
            return Outcome(None, f"GET /Slot -> {resp.status}")
        if index == 0:  # the first answer of every phase is checked, outside the timing
            found = count_slots(raw)
            if found != expect:
                return Outcome(None, f"GET /Slot -> {found} slots, expected {expect}")
        return Outcome(latency, None, len(raw))

    return op


@dataclass(frozen=True)
class BookTicket:
    book_headers: dict[str, str]
    cancel_headers: dict[str, str]


def book_tickets(count: int, audience: str) -> list[BookTicket]:
    json_type = {"Content-Type": "application/fhir+json"}
    return [
        BookTicket(
            {
                **consumer_headers(Scope.APPOINTMENT_WRITE, "create:appointment", audience),
                **json_type,
            },
            {
                **consumer_headers(Scope.APPOINTMENT_WRITE, "update:appointment", audience),
                **json_type,
            },
        )
        for _ in range(count)
    ]


def search_tickets(count: int, audience: str) -> list[dict[str, str]]:
    return [consumer_headers(Scope.SLOT_READ, "read:slot", audience) for _ in range(count)]


@dataclass
class Captured:
    book: CannedResponse
    cancel: CannedResponse


def canned(status: int, headers: Any, raw: bytes) -> CannedResponse:
    return {"status": status, "headers": dict(headers), "body": raw.decode("utf-8")}


def book_cancel_op(
    session: aiohttp.ClientSession,
    root: str,
    tickets: list[BookTicket],
    pool: asyncio.Queue[str],
    bodies: dict[str, bytes],
    capture: list[Captured] | None = None,
) -> Op:
    """Take a free slot, book it, cancel the booking, give the slot back (only if both worked)."""
    appointments = URL(f"{root}{BASE_PATH}/Appointment", encoded=True)
    loop = asyncio.get_running_loop()

    async def op(index: int, deadline: float) -> Outcome:
        ticket = tickets[index]
        try:
            slot_id = await asyncio.wait_for(pool.get(), max(deadline - loop.time(), 1.0))
        except TimeoutError:
            return Outcome(None, "no free slot left in the pool")
        try:
            started = time.perf_counter()
            async with session.post(
                appointments, data=bodies[slot_id], headers=ticket.book_headers
            ) as resp:
                booked_raw = await resp.read()
            book_s = time.perf_counter() - started
            if resp.status != 201:
                return Outcome(None, f"POST /Appointment -> {resp.status}")
            etag = resp.headers.get("ETag", 'W/"1"')
            booked_headers = resp.headers
            # The consumer's work between the calls: not part of either call's latency.
            appointment = json.loads(booked_raw)
            appointment["status"] = "cancelled"
            cancel_body = json.dumps(appointment).encode()
            cancel_url = appointments / str(appointment["id"])
            started = time.perf_counter()
            async with session.put(
                cancel_url, data=cancel_body, headers={**ticket.cancel_headers, "If-Match": etag}
            ) as resp:
                cancelled_raw = await resp.read()
            cancel_s = time.perf_counter() - started
            if resp.status != 200:
                return Outcome(None, f"PUT /Appointment/{{id}} -> {resp.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            return Outcome(None, f"book+cancel: {type(exc).__name__}")
        pool.put_nowait(slot_id)  # cancelled, so free again
        if capture is not None:
            capture.append(
                Captured(
                    canned(201, booked_headers, booked_raw),
                    canned(200, resp.headers, cancelled_raw),
                )
            )
        return Outcome(book_s + cancel_s, None, len(booked_raw) + len(cancelled_raw), book_s=book_s)

    return op


def new_session(opts: Options, limit: int | None = None) -> aiohttp.ClientSession:
    """Keep-alive connections, at most ``limit`` (default: the first ``--concurrency``)."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit or opts.concurrency),
        timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
        headers={"Accept-Encoding": "gzip" if opts.gzip else "identity"},
    )
