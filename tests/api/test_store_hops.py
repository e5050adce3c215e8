"""What a booking and a cancel through the STU3 door cost the SQLite files: hops and commits.

Each store or diary call is one hand-off to its connection's thread
(``adapters._sqlite_thread``); these pin how many a booking and a cancel make, so
a change that adds a round trip or a commit to the hot path shows here. The audit
entry is written after the answer, grouped with other requests' (gateway/audit.py),
and is not counted.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters._sqlite_thread import SqliteThread
from tests.api.conftest import Consumer, booking_body
from tests.stores import on_postgresql


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[tuple[str, str]]]:
    """Counts ("hop" | "commit" | "relaxed", database file name) of every SqliteThread call
    (``relaxed``: a transaction committed without an fsync, ``durable=False``)."""
    counted: Counter[tuple[str, str]] = Counter()
    run, transaction = SqliteThread.run, SqliteThread.transaction

    def counting(kind: str, real: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def call(self: SqliteThread, fn: Any, durable: bool = True) -> Any:
            counted[(kind if durable else "relaxed", Path(self._database).name)] += 1
            if kind == "hop":
                return await real(self, fn)
            return await real(self, fn, durable=durable)

        return call

    monkeypatch.setattr(SqliteThread, "run", counting("hop", run))
    monkeypatch.setattr(SqliteThread, "transaction", counting("commit", transaction))
    yield counted


async def _settled(hops: Counter[tuple[str, str]]) -> None:
    """Let queued audit entries be written, then start counting afresh."""
    await asyncio.sleep(0.2)
    hops.clear()


def _cost(hops: Counter[tuple[str, str]], database: str) -> tuple[int, int]:
    return hops[("hop", database)], hops[("commit", database)]


async def test_a_booking_and_a_cancel_take_few_hops_and_commits(
    consumer: Consumer, hops: Counter[tuple[str, str]]
) -> None:
    """A booking: 1 diary hop (1 commit) and at most 5 store hops (2 fsynced commits: claim,
    then version with completion); a cancel: 1 diary hop and at most 7 store hops (2 fsynced
    commits, and the lock's 2 without)."""
    (slot,) = await consumer.free_slots()
    await _settled(hops)
    made = await consumer.book(booking_body(slot))
    assert made.status == 201, await made.text()
    booked = dict(hops)
    await _settled(hops)
    body = await made.json(content_type=None)
    cancelled = await consumer.cancel(
        body["id"], {**body, "status": "cancelled"}, **{"If-Match": made.headers["ETag"]}
    )
    assert cancelled.status == 200, await cancelled.text()

    assert _cost(Counter(booked), "embedded.sqlite3") == (1, 1)
    assert _cost(hops, "embedded.sqlite3") == (1, 1)
    if on_postgresql():
        return  # the store is not on SQLite in this pass
    book_hops, book_commits = _cost(Counter(booked), "gateway.sqlite3")
    cancel_hops, cancel_commits = _cost(hops, "gateway.sqlite3")
    assert (book_hops <= 5, book_commits, booked.get(("relaxed", "gateway.sqlite3"))) == (
        True,
        2,
        None,
    )
    # The request's claim, then the version with its completion, both fsynced; the
    # appointment lock (a shared file) taken and released without an fsync (a lock
    # lost with the machine lost its holder too: gateway/store/sqlite.py).
    relaxed = hops[("relaxed", "gateway.sqlite3")]
    assert (cancel_hops <= 7, cancel_commits, relaxed) == (True, 2, 2)
