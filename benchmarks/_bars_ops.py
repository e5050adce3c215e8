"""The BaRS leg's measured operations: a slot search, and a booking then its cancellation.

Both go through ``$process-message`` as a BaRS sender's would: a booking-request
(reason new) for a pooled slot, then, from the Appointment the answer names, a
cancellation (reason delete, the version just read). Headers are prepared before
the phase; building the cancellation between the two calls is the sender's work and
not part of either call's latency (as ``benchmarks._fhir.book_cancel_op``).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
from yarl import URL

from adapters.bars_toolkit import messages
from adapters.bars_toolkit.headers import JSON_TYPE, Target, request_headers
from benchmarks._fhir import canned
from benchmarks._phases import Op, Outcome
from benchmarks.bare import CannedResponse
from gateway.bars_sender import journeys
from gateway.bars_sender._http import sender_context

BARS_PATH = "/bars/FHIR/R4"
SENDER_ODS = "A1001"
Ticket = tuple[dict[str, str], dict[str, str]]
Json = dict[str, Any]


def headers(target: Target, *, body: bool = False) -> dict[str, str]:
    """A BaRS request's headers with fresh transaction ids."""
    ctx = sender_context(SENDER_ODS, "100334993514")
    return request_headers(target, ctx, content_type=JSON_TYPE if body else None)


def tickets(target: Target, count: int) -> list[Ticket]:
    """(booking headers, cancellation headers) per request, fresh ids each."""
    return [(headers(target, body=True), headers(target, body=True)) for _ in range(count)]


def envelope(target: Target) -> messages.Envelope:
    return journeys.envelope(SENDER_ODS, target, "X26")


def search_op(
    session: aiohttp.ClientSession, url: URL, tickets: list[dict[str, str]], expect: int
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
        if index == 0:  # the first answer of a phase is checked, outside the timing
            found = len(messages.entries_of(json.loads(raw), "Slot"))
            if found != expect:
                return Outcome(None, f"GET /Slot -> {found} slots, expected {expect}")
        return Outcome(latency, None, len(raw))

    return op


def _cancellation(target: Target, booked: Json) -> bytes:
    appointment = booked["entry"][1]["resource"]
    patient = next(c for c in appointment["contained"] if c["resourceType"] == "Patient")
    return json.dumps(messages.cancellation(envelope(target), appointment, patient)).encode()


def book_cancel_op(
    session: aiohttp.ClientSession,
    root: str,
    target: Target,
    tickets: list[Ticket],
    pool: asyncio.Queue[str],
    bodies: dict[str, bytes],
    capture: list[tuple[CannedResponse, CannedResponse]] | None = None,
) -> Op:
    """Take a pooled slot, book it by message, cancel it by message, give the slot back."""
    url = URL(f"{root}{BARS_PATH}/$process-message", encoded=True)
    loop = asyncio.get_running_loop()

    async def op(index: int, deadline: float) -> Outcome:
        book_headers, cancel_headers = tickets[index]
        try:
            slot_id = await asyncio.wait_for(pool.get(), max(deadline - loop.time(), 1.0))
        except TimeoutError:
            return Outcome(None, "no free slot left in the pool")
        try:
            started = time.perf_counter()
            async with session.post(url, data=bodies[slot_id], headers=book_headers) as resp:
                booked_raw, booked_headers = await resp.read(), resp.headers
            book_s = time.perf_counter() - started
            if resp.status != 200:
                return Outcome(None, f"$process-message booking -> {resp.status}")
            cancel_body = _cancellation(target, json.loads(booked_raw))
            started = time.perf_counter()
            async with session.post(url, data=cancel_body, headers=cancel_headers) as resp:
                cancelled_raw = await resp.read()
            cancel_s = time.perf_counter() - started
            if resp.status != 200:
                return Outcome(None, f"$process-message cancellation -> {resp.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            return Outcome(None, f"book+cancel: {type(exc).__name__}")
        pool.put_nowait(slot_id)
        if capture is not None:
            capture.append(
                (
                    canned(200, booked_headers, booked_raw),
                    canned(200, resp.headers, cancelled_raw),
                )
            )
        return Outcome(book_s + cancel_s, None, len(booked_raw) + len(cancelled_raw))

    return op
