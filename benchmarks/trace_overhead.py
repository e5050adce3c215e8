"""What recording the journey trace costs a booking: the same loop with ``trace.enabled``
off and on, on fresh in-process gateways over the embedded diary (docs/ops/trace.md).

    python -m benchmarks.trace_overhead [--bookings 40] [--rounds 2]

Each booking is followed by its cancel; the figures are the client-side latencies
of the bookings and of the cancels (median and 95th percentile, ms).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import socket
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from benchmarks._bench_setup import gateway_config
from benchmarks._constants import BASE_PATH
from benchmarks._fhir import consumer_headers, search_url, slots_of
from gateway.app import create_app
from gateway.config import load as load_config
from gateway.examples import booking_body
from gateway.security import Scope

Samples = dict[str, list[float]]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _timed(call: Any) -> tuple[float, aiohttp.ClientResponse, Any]:
    started = time.perf_counter()
    async with call as resp:
        body = await resp.json(content_type=None)
    return (time.perf_counter() - started) * 1000, resp, body


async def _loop(session: aiohttp.ClientSession, host: str, count: int) -> Samples:
    root = f"{host}{BASE_PATH}"
    headers = consumer_headers(Scope.SLOT_READ, "read:slot", root)
    async with session.get(search_url(host), headers=headers) as resp:
        slots = slots_of(await resp.json(content_type=None))[:count]
    samples: Samples = {"book": [], "cancel": []}
    for slot in slots:
        hdrs = consumer_headers(Scope.APPOINTMENT_WRITE, "create:appointment", root)
        hdrs["Content-Type"] = "application/fhir+json"
        data = json.dumps(booking_body(slot))
        ms, resp, booked = await _timed(
            session.post(f"{root}/Appointment", data=data, headers=hdrs)
        )
        assert resp.status == 201, booked
        samples["book"].append(ms)
        cancel = copy.deepcopy(booked)
        cancel["status"] = "cancelled"
        hdrs = consumer_headers(Scope.APPOINTMENT_WRITE, "update:appointment", root)
        hdrs.update({"Content-Type": "application/fhir+json", "If-Match": 'W/"1"'})
        url = f"{root}/Appointment/{booked['id']}"
        ms, resp, _ = await _timed(session.put(url, data=json.dumps(cancel), headers=hdrs))
        assert resp.status == 200
        samples["cancel"].append(ms)
    return samples


async def run_once(traced: bool, count: int) -> Samples:
    """``count`` bookings and cancels on a fresh gateway with the trace on or off."""
    with tempfile.TemporaryDirectory() as tmp:
        port = _free_port()
        path = gateway_config(Path(tmp), port)
        with path.open("a", encoding="utf-8") as out:
            out.write(f"trace:\n  enabled: {str(traced).lower()}\n")
        runner = web.AppRunner(create_app(load_config(path), path))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            async with aiohttp.ClientSession() as session:
                return await _loop(session, f"http://127.0.0.1:{port}", count)
        finally:
            await runner.cleanup()


def _summary(values: list[float]) -> str:
    p95 = statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]
    return f"median {statistics.median(values):6.2f} ms  p95 {p95:6.2f} ms  (n={len(values)})"


async def main(count: int, rounds: int) -> None:
    found: dict[bool, Samples] = {flag: {"book": [], "cancel": []} for flag in (False, True)}
    for _ in range(rounds):
        for traced in (False, True):
            for op, values in (await run_once(traced, count)).items():
                found[traced][op].extend(values)
    for traced, samples in found.items():
        for op, values in samples.items():
            print(f"trace {'on ' if traced else 'off'}  {op:<6}  {_summary(values)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bookings", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    asyncio.run(main(args.bookings, args.rounds))
