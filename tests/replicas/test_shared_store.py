"""Two gateway replicas on one shared store and one shared diary (issue 13 item 2).

Both serve real sockets on 127.0.0.1 sharing their state: the same store and the same
embedded diary, as SQLite files or as PostgreSQL schemas (each test runs on both).
What one replica booked the other reads; bookings and resends split across both make
one booking; concurrent cancels of one appointment
split across both reach the supplier once (``gateway/_mutex.py``).
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from typing import Any

from tests.api.conftest import Consumer, booking_body
from tests.replicas.conftest import Replicas


async def _replicas(replicas: Replicas) -> tuple[Consumer, Consumer]:
    a, b = await replicas.start(2)
    return a, b


async def test_a_booking_made_at_one_replica_is_read_at_the_other(
    replicas: Replicas
) -> None:
    """The appointment index spans replicas: book at A, read and find by patient at B."""
    a, b = await _replicas(replicas)
    (slot,) = await a.free_slots()
    made = await a.book(booking_body(slot))
    assert made.status == 201, await made.text()
    booked = await made.json(content_type=None)
    read = await b.read(f"Appointment/{booked['id']}")
    assert read.status == 200, await read.text()
    assert (await read.json(content_type=None))["slot"] == booked["slot"]


async def test_bookings_of_one_slot_split_across_replicas_make_one(
    replicas: Replicas
) -> None:
    """20 concurrent bookings of one slot, half at each replica: one 201, the rest 409/422."""
    a, b = await _replicas(replicas)
    (slot,) = await a.free_slots()
    answers = await asyncio.gather(
        *((a if n % 2 else b).book(booking_body(slot)) for n in range(20))
    )
    statuses = sorted(r.status for r in answers)
    assert statuses.count(201) == 1, statuses
    assert set(statuses) - {201} <= {409, 422}, statuses
    assert [row[1] for row in await replicas.bookings()] == ["booked"]


async def test_resends_of_one_request_id_split_across_replicas_book_once(
    replicas: Replicas
) -> None:
    """One X-Request-ID sent 20 times at once, half at each replica: one booking only."""
    a, b = await _replicas(replicas)
    (slot,) = await a.free_slots()
    body = booking_body(slot)
    request_id = str(uuid.uuid4())
    answers = await asyncio.gather(
        *((a if n % 2 else b).book(body, **{"X-Request-ID": request_id}) for n in range(20))
    )
    statuses = [r.status for r in answers]
    texts = [await r.text() for r in answers if r.status not in (201, 409)]
    assert set(statuses) <= {201, 409}, (statuses, texts)
    assert statuses.count(201) == 1, statuses
    assert len(await replicas.bookings()) == 1


def _cancelled(appointment: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(appointment)
    body["status"] = "cancelled"
    return body


async def test_concurrent_cancels_across_replicas_reach_the_supplier_once(
    replicas: Replicas
) -> None:
    """10 cancels of one version at once, split: one 200, nine 409, one cancel at the diary."""
    a, b = await _replicas(replicas)
    (slot,) = await a.free_slots()
    booked = await (await a.book(booking_body(slot))).json(content_type=None)
    body = _cancelled(booked)
    answers = await asyncio.gather(
        *(
            (a if n % 2 else b).cancel(booked["id"], body, **{"If-Match": 'W/"1"'})
            for n in range(10)
        )
    )
    statuses = sorted(r.status for r in answers)
    assert statuses == [200] + [409] * 9, statuses
    assert await replicas.bookings() == [(slot["id"], "cancelled")]
    read = await b.read(f"Appointment/{booked['id']}")
    assert (await read.json(content_type=None))["status"] == "cancelled"


async def test_with_two_suppliers_a_slot_searched_at_one_replica_books_at_the_other(
    replicas: Replicas,
) -> None:
    """Several routes: the slot's home, learnt by A's search, reaches B through the store."""
    a, b = await replicas.start(2, routes=2)
    (slot,) = await a.free_slots()
    made = await b.book(booking_body(slot))
    assert made.status == 201, await made.text()
    booked = await made.json(content_type=None)
    assert [row for row in await replicas.bookings() if row[1] == "booked"] == [
        (slot["id"], "booked")
    ], "booked in the first supplier's diary, where the slot was offered"
    read = await a.read(f"Appointment/{booked['id']}")
    assert read.status == 200
