"""One SQLite connection on a thread of its own, running whole functions for the event loop.

A database call from asyncio has to leave the loop: sqlite3 blocks. Sending each
statement (and each fetch) to a connection thread separately makes one GIL
hand-off per statement; here the caller sends the whole operation instead, a
plain function ``fn(conn) -> T``, and the loop hears back once:

- ``run(fn)``: ``fn`` on the connection (a read, or a single statement);
- ``transaction(fn)``: ``BEGIN IMMEDIATE``, ``fn``, ``COMMIT``, or ``ROLLBACK`` on any
  exception (``BaseException`` too), all in that one hop. ``IMMEDIATE`` takes the
  write lock up front, so another process on the same file waits (``busy_timeout``)
  instead of failing half-way through.

Functions run one at a time, in the order they were sent. Cancelling the task that
awaits one never leaves a transaction open or half applied: a function that has not
started is dropped and never runs; one that has started runs to completion (commit
or rollback) on the thread and its result is dropped. ``close`` lets everything sent
before it finish, then closes the connection and ends the thread.

Both the gateway's store and the embedded diary use it (``adapters`` never imports
``gateway``, so the shared part lives here).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any, Generic, TypeVar

__all__ = ["Setup", "SqliteThread"]

T = TypeVar("T")

#: Run once on the new connection, on its thread (pragmas, schema), before any call.
Setup = Callable[[sqlite3.Connection], None]

_PENDING, _RUNNING, _DROPPED = "pending", "running", "dropped"


class _Job(Generic[T]):
    """One function sent to the thread, and the future its caller awaits."""

    __slots__ = ("fn", "future", "state")

    def __init__(self, fn: Callable[[sqlite3.Connection], T], future: asyncio.Future[T]) -> None:
        self.fn = fn
        self.future = future
        self.state = _PENDING


class SqliteThread:
    """A ``sqlite3.Connection`` owned by one dedicated thread (see the module docstring)."""

    def __init__(self, database: str, *, busy_timeout_s: float, name: str) -> None:
        self._database = database
        self._busy_timeout_s = busy_timeout_s
        self._queue: SimpleQueue[_Job[Any] | None] = SimpleQueue()
        # Guards each job's move out of "pending": the thread starting it, or its
        # cancelled caller dropping it; whichever comes first wins.
        self._states = threading.Lock()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._closed = False
        self._ended: asyncio.Future[None] | None = None

    @classmethod
    async def open(
        cls,
        database: str,
        setup: Setup | None = None,
        *,
        busy_timeout_s: float = 5.0,
        name: str = "sqlite",
    ) -> SqliteThread:
        """Start the thread, connect (transactions left to us) and run ``setup``.

        A failure closes the connection and waits for the thread before raising.
        """
        opened = cls(database, busy_timeout_s=busy_timeout_s, name=name)
        loop = asyncio.get_running_loop()
        opened._ended = loop.create_future()
        opened._thread.start()
        try:
            # Run even without ``setup``: a file that cannot be opened fails here.
            await opened.run(setup or _nothing)
        except BaseException:
            await asyncio.shield(opened.close())
            raise
        return opened

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn(conn)`` on the connection's thread; its result or its exception."""
        if self._closed:
            # As sqlite3 itself says of a closed connection.
            raise sqlite3.ProgrammingError(f"SQLite connection to {self._database!r} is closed")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        job = _Job(fn, future)
        self._queue.put(job)
        try:
            return await job.future
        except asyncio.CancelledError:
            with self._states:
                if job.state == _PENDING:
                    job.state = _DROPPED
            raise

    async def transaction(
        self, fn: Callable[[sqlite3.Connection], T], *, durable: bool = True
    ) -> T:
        """``fn(conn)`` in one ``BEGIN IMMEDIATE`` ... ``COMMIT`` (rolled back if it raises).

        ``durable=False`` commits with ``synchronous = NORMAL`` (the connection's own
        setting is restored after): in WAL mode that commit survives a crash of the
        process but not of the machine, until the next synchronous commit on the file
        (which syncs the whole WAL) or a checkpoint. Only for rows whose loss with the
        machine loses nothing: a lease held by a process that died with it.
        """
        if durable:
            return await self.run(lambda conn: _in_transaction(conn, fn))
        return await self.run(lambda conn: _relaxed(conn, fn))

    async def close(self) -> None:
        """Finish what was sent, close the connection, end the thread (idempotent)."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
        if self._ended is not None:
            await asyncio.shield(self._ended)

    # -- the thread ----------------------------------------------------------------

    def _serve(self) -> None:
        conn: sqlite3.Connection | None = None
        failure: BaseException | None = None
        try:
            conn = sqlite3.connect(
                self._database,
                timeout=self._busy_timeout_s,
                isolation_level=None,
                check_same_thread=True,
            )
        except BaseException as exc:  # reported to every caller, the first one included
            failure = exc
        while (job := self._queue.get()) is not None:
            with self._states:
                if job.state == _DROPPED:
                    continue
                job.state = _RUNNING
            if conn is None:
                _report(job.future, None, failure or RuntimeError("not connected"))
                continue
            try:
                result = job.fn(conn)
            except BaseException as exc:
                _report(job.future, None, exc)
            else:
                _report(job.future, result, None)
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        if self._ended is not None:
            _report(self._ended, None, None)


def _nothing(conn: sqlite3.Connection) -> None:
    return None


def _in_transaction(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise
    return result


def _relaxed(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    level = conn.execute("PRAGMA synchronous").fetchone()[0]
    conn.execute("PRAGMA synchronous = NORMAL")
    try:
        return _in_transaction(conn, fn)
    finally:
        conn.execute(f"PRAGMA synchronous = {int(level)}")


def _report(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    """Resolve ``future`` on its own loop; dropped if the loop is gone or nobody waits."""
    with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is left to tell
        future.get_loop().call_soon_threadsafe(_resolve, future, result, error)


def _resolve(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the caller was cancelled; the result is dropped
        return
    if isinstance(error, StopIteration):  # a future cannot carry one
        future.set_exception(RuntimeError(f"StopIteration escaped a SQLite call: {error!r}"))
    elif error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
