"""WAL mode for an SQLite file that several processes may be opening at the same moment.

The gateway's store, the embedded diary and the HL7 v2 journal are SQLite files in
WAL mode, and ``uec-gateway serve --workers N`` starts N processes that open them
at once. Turning a new file to WAL needs the file to itself, and SQLite answers
``database is locked`` at once when another connection is doing the same: the
busy timeout does not cover the journal-mode change. So the change is retried
here, with short jittered pauses, for as long as a busy timeout would have waited.
Its answer (the mode, one row) is read to the end, so the statement leaves no read
open behind it: a read left open makes the connection's next ``BEGIN IMMEDIATE``
fail at once while another process writes, instead of waiting its turn.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time

import aiosqlite

#: How long to keep trying, as the connections' own busy timeout (5 s).
WITHIN_S = 5.0


async def use_wal(conn: aiosqlite.Connection, within_s: float = WITHIN_S) -> None:
    """``PRAGMA journal_mode = WAL``, retried while another connection holds the file."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            async with conn.execute("PRAGMA journal_mode = WAL") as cursor:
                await cursor.fetchall()  # done with, so no read is left open
            return
        except sqlite3.OperationalError as exc:
            busy = getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY
            if not busy or time.monotonic() > deadline:
                raise
        await asyncio.sleep(random.uniform(0.005, 0.03))


def use_wal_now(conn: sqlite3.Connection, within_s: float = WITHIN_S) -> None:
    """``use_wal`` on a connection's own thread (``adapters._sqlite_thread``)."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL").fetchall()
            return
        except sqlite3.OperationalError as exc:
            busy = getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY
            if not busy or time.monotonic() > deadline:
                raise
        time.sleep(random.uniform(0.005, 0.03))
