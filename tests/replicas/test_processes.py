"""Two ``uec-gateway serve`` processes on one PostgreSQL (issue 13 "Done when").

Real processes, real sockets, one shared store schema and one shared diary schema:
bookings and resends split across the replicas book once; a replica killed with
SIGKILL mid-booking, again and again, loses nothing while the other keeps serving,
and a resend of what it left in doubt resolves at the other within the lease.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.examples import booking_body
from tests.embedded.pg import fresh_schema
from tests.replicas.processes import Cluster, book, free_slots, read

#: Replay a failure with REPLICA_SEED=<the seed in its message>.
SEED = int(os.environ.get("REPLICA_SEED", "130613"))
LEASE_S = 1.0


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    """Two replica processes started on fresh schemas; stopped and dropped afterwards."""
    async with fresh_schema() as store, fresh_schema() as diary:
        running = Cluster(tmp_path, store, diary, lease_s=LEASE_S)
        try:
            await running.start(2)
            yield running
        finally:
            await running.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
        yield session


async def test_100_bookings_of_one_slot_split_across_two_processes_make_one(
    cluster: Cluster, http: aiohttp.ClientSession
) -> None:
    """100 concurrent bookings of one slot, 50 at each process: exactly one 201."""
    (slot, *_) = await free_slots(http, cluster.root(0))
    body = booking_body(slot)
    answers = await asyncio.gather(
        *(book(http, cluster.root(n % 2), body, str(uuid.uuid4())) for n in range(100))
    )
    statuses = sorted(status for status, _ in answers)
    assert statuses.count(201) == 1, statuses
    assert set(statuses) - {201} <= {409, 422}, statuses
    booked = [b for b in await cluster.diary_bookings() if b[2] == "booked"]
    assert [b[1] for b in booked] == [slot["id"]]


async def test_50_resends_of_one_request_id_split_across_two_processes_book_once(
    cluster: Cluster, http: aiohttp.ClientSession
) -> None:
    """One X-Request-ID sent 50 times at once, 25 at each process: one booking."""
    (slot, *_) = await free_slots(http, cluster.root(1))
    body, request_id = booking_body(slot), str(uuid.uuid4())
    answers = await asyncio.gather(
        *(book(http, cluster.root(n % 2), body, request_id) for n in range(50))
    )
    statuses = [status for status, _ in answers]
    assert statuses.count(201) == 1, statuses
    assert set(statuses) <= {201, 409}, statuses
    assert len(await cluster.diary_bookings()) == 1


async def _resolve(
    http: aiohttp.ClientSession, root: str, body: dict[str, Any], request_id: str
) -> tuple[int, Any]:
    """Resend until the answer is final: not a 409 'in progress' (which says Retry-After)."""
    deadline = time.monotonic() + LEASE_S * 3 + 10
    while True:
        status, answer = await book(http, root, body, request_id)
        issue = (answer.get("issue") or [{}])[0] if isinstance(answer, dict) else {}
        if not (status == 409 and issue.get("code") == "conflict") and status < 500:
            return status, answer
        assert time.monotonic() < deadline, f"not resolved: {status} {answer}"
        await asyncio.sleep(0.1)


async def test_a_replica_killed_mid_booking_loses_nothing_while_the_other_serves(
    cluster: Cluster, http: aiohttp.ClientSession
) -> None:
    """SIGKILL replica 0 mid-booking (3 rounds): every 201 readable at both, no slot
    booked twice or orphaned, in-doubt resends resolved at replica 1 soon after the lease."""
    rng = random.Random(SEED)
    made: set[str] = set()
    lost = 0
    for round_no in range(3):
        slots = (await free_slots(http, cluster.root(1)))[:12]
        work = [(booking_body(s), str(uuid.uuid4()), n % 2) for n, s in enumerate(slots)]

        async def send(body: dict[str, Any], request_id: str, at: int) -> tuple[int, Any] | None:
            try:
                return await book(http, cluster.root(at), body, request_id)
            except (aiohttp.ClientError, TimeoutError):
                return None  # the answer was lost with the process

        sending = [asyncio.create_task(send(*w)) for w in work]
        await asyncio.sleep(rng.uniform(0.0, 0.15))
        await cluster.kill(0)
        killed_at = time.monotonic()
        outcomes = await asyncio.gather(*sending)
        for (body, request_id, _), outcome in zip(work, outcomes, strict=True):
            if outcome is None or outcome[0] >= 500:
                lost += 1
                outcome = await _resolve(http, cluster.root(1), body, request_id)
                waited = time.monotonic() - killed_at
                assert waited < LEASE_S + 5, f"seed {SEED} round {round_no}: {waited:.1f}s"
            status, answer = outcome
            assert status in (201, 409), f"seed {SEED} round {round_no}: {status} {answer}"
            if status == 201:
                made.add(answer["id"])
            elif status == 409:
                assert answer["issue"][0]["code"] == "duplicate", answer
        await cluster.restart(0)

    assert lost > 0, f"seed {SEED}: no booking was cut short; the kill came too late"
    for appointment_id in made:
        assert await read(http, cluster.root(0), appointment_id) == 200
        assert await read(http, cluster.root(1), appointment_id) == 200
    booked = [b for b in await cluster.diary_bookings() if b[2] == "booked"]
    assert len({b[1] for b in booked}) == len(booked), "a slot booked twice"
    assert len({b[0] for b in booked}) == len(booked), "one request booked twice"
    assert len(booked) == len(await cluster.store_appointments()), "an orphan booking"
    assert len(booked) >= len(made)
