"""adapters/_sqlite_thread.py: whole functions on one connection thread, one hop each."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters._sqlite_thread import SqliteThread

ROOT = Path(__file__).resolve().parents[2]


def _schema(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
    conn.execute("CREATE TABLE IF NOT EXISTS counter (n INTEGER)")
    if conn.execute("SELECT COUNT(*) FROM counter").fetchone()[0] == 0:
        conn.execute("INSERT INTO counter VALUES (0)")


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[SqliteThread]:
    opened = await SqliteThread.open(str(tmp_path / "t.db"), _schema)
    try:
        yield opened
    finally:
        await opened.close()


def _rows(conn: sqlite3.Connection) -> list[int]:
    return [row[0] for row in conn.execute("SELECT x FROM t ORDER BY x")]


def _in_transaction(conn: sqlite3.Connection) -> bool:
    return conn.in_transaction


def _increment(conn: sqlite3.Connection) -> None:
    """A read-modify-write: lost updates would show if two writers interleaved."""
    (n,) = conn.execute("SELECT n FROM counter").fetchone()
    conn.execute("UPDATE counter SET n = ?", (n + 1,))


class Stop(BaseException):
    """Not an Exception: what a transaction must roll back on too."""


async def test_a_transaction_runs_the_whole_function_and_commits(db: SqliteThread) -> None:
    """Every statement of a transaction function is committed, and its result returned."""

    def write(conn: sqlite3.Connection) -> int:
        conn.executemany("INSERT INTO t VALUES (?)", [(1,), (2,), (3,)])
        return conn.total_changes

    assert await db.transaction(write) >= 3
    assert await db.run(_rows) == [1, 2, 3]
    assert not await db.run(_in_transaction)


@pytest.mark.parametrize("error", [ValueError("bad"), Stop()], ids=["exception", "base"])
async def test_any_exception_rolls_the_whole_function_back(
    db: SqliteThread, error: BaseException
) -> None:
    """An Exception or a BaseException raised half-way reaches the caller; nothing is kept."""

    def write(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t VALUES (1)")
        raise error

    with pytest.raises(type(error)):
        await db.transaction(write)
    assert await db.run(_rows) == []
    assert not await db.run(_in_transaction)


async def test_a_caller_cancelled_mid_transaction_gets_it_applied_whole(db: SqliteThread) -> None:
    """Cancelling the awaiting task while its function runs: it finishes and commits whole."""
    started = threading.Event()

    def slow(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t VALUES (1)")
        started.set()
        time.sleep(0.1)
        conn.execute("INSERT INTO t VALUES (2)")

    task = asyncio.create_task(db.transaction(slow))
    await asyncio.to_thread(started.wait, 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await db.run(_rows) == [1, 2]
    assert not await db.run(_in_transaction)


async def test_a_caller_cancelled_before_its_turn_is_never_run(db: SqliteThread) -> None:
    """A function whose caller was cancelled while it waited behind another never runs."""
    release = threading.Event()
    blocker = asyncio.create_task(db.run(lambda conn: release.wait(5)))
    queued = asyncio.create_task(
        db.transaction(lambda conn: conn.execute("INSERT INTO t VALUES (1)"))
    )
    await asyncio.sleep(0.01)
    queued.cancel()
    with pytest.raises(asyncio.CancelledError):
        await queued
    release.set()
    assert await blocker is True
    assert await db.run(_rows) == []


async def test_calls_run_one_at_a_time_in_order(db: SqliteThread) -> None:
    """Functions sent at once run in the order sent, never interleaved."""
    writes = [
        db.transaction(lambda conn, n=n: conn.execute("INSERT INTO t VALUES (?)", (n,)))
        for n in range(20)
    ]
    await asyncio.gather(*writes)
    assert await db.run(lambda conn: [r[0] for r in conn.execute("SELECT x FROM t")]) == list(
        range(20)
    )


async def test_close_finishes_what_was_sent_then_refuses_more(tmp_path: Path) -> None:
    """close() lets queued calls finish; a call after it is refused as on a closed sqlite3
    connection."""
    db = await SqliteThread.open(str(tmp_path / "t.db"), _schema)
    sent = [
        asyncio.create_task(
            db.transaction(lambda conn, n=n: conn.execute("INSERT INTO t VALUES (?)", (n,)))
        )
        for n in range(5)
    ]
    await asyncio.sleep(0)
    await db.close()
    await db.close()  # idempotent
    await asyncio.gather(*sent)
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        await db.run(_rows)
    with sqlite3.connect(tmp_path / "t.db") as raw:
        assert raw.execute("SELECT COUNT(*) FROM t").fetchone() == (5,)
    raw.close()


async def test_a_file_that_cannot_be_opened_fails_open(tmp_path: Path) -> None:
    """Opening a folder as a database raises the driver's error from open()."""
    with pytest.raises(sqlite3.OperationalError):
        await SqliteThread.open(str(tmp_path))


async def test_two_connections_to_one_file_serialise_their_transactions(tmp_path: Path) -> None:
    """Two threads' read-modify-write transactions on one file never lose an update."""
    path = str(tmp_path / "shared.db")
    left = await SqliteThread.open(path, _schema)
    right = await SqliteThread.open(path, _schema)
    try:
        await asyncio.gather(*(side.transaction(_increment) for side in (left, right) * 50))
        assert (
            await left.run(lambda conn: conn.execute("SELECT n FROM counter").fetchone()[0]) == 100
        )
    finally:
        await left.close()
        await right.close()


_OTHER_PROCESS = """
import asyncio, sys
from adapters._sqlite_thread import SqliteThread
from tests.unit.test_sqlite_thread import _increment, _schema

async def main() -> None:
    db = await SqliteThread.open(sys.argv[1], _schema)
    print("ready", flush=True)
    await asyncio.gather(*(db.transaction(_increment) for _ in range(300)))
    await db.close()

asyncio.run(main())
"""


async def test_two_processes_on_one_file_serialise_their_transactions(tmp_path: Path) -> None:
    """Another process incrementing the same file meanwhile: every increment of both is kept."""
    path = str(tmp_path / "shared.db")
    db = await SqliteThread.open(path, _schema)
    other = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _OTHER_PROCESS, path, cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert other.stdout is not None
        assert await asyncio.wait_for(other.stdout.readline(), 60) == b"ready\n"
        await asyncio.gather(*(db.transaction(_increment) for _ in range(300)))
        assert await asyncio.wait_for(other.wait(), 60) == 0
        count = await db.run(lambda conn: conn.execute("SELECT n FROM counter").fetchone()[0])
        assert count == 600
    finally:
        if other.returncode is None:
            other.kill()
            await other.wait()
        await db.close()


def _synchronous(conn: sqlite3.Connection) -> int:
    level: int = conn.execute("PRAGMA synchronous").fetchone()[0]
    return level


async def test_a_relaxed_transaction_commits_without_fsync_then_restores_full(
    db: SqliteThread,
) -> None:
    """durable=False commits under synchronous NORMAL (1), and the connection is back at
    FULL (2) afterwards, whether the function committed or raised."""
    await db.run(lambda conn: conn.execute("PRAGMA synchronous = FULL"))

    def insert_seeing_level(conn: sqlite3.Connection) -> int:
        conn.execute("INSERT INTO t VALUES (7)")
        return _synchronous(conn)

    assert await db.transaction(insert_seeing_level, durable=False) == 1
    assert await db.run(_synchronous) == 2
    assert await db.run(_rows) == [7]

    def failing(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t VALUES (8)")
        raise ValueError("no")

    with pytest.raises(ValueError):
        await db.transaction(failing, durable=False)
    assert (await db.run(_synchronous), await db.run(_rows)) == (2, [7])
    assert await db.transaction(insert_seeing_level) == 2  # the default stays durable
