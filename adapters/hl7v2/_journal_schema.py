"""The journal's tables and the migrations that bring an older journal file up to date.

The schema version lives in SQLite's ``user_version``. The tables and every
pending migration are made in one transaction with the version bump, so a crash
part-way leaves the file as it was and the next start runs the migrations
again. A file written by a newer adapter is refused rather than guessed at.

- version 1: inbound messages are remembered per (sender, MSH-10) with the
  message's content hash and time, and only when accepted; ``bookings.held_slot``
  is the slot a current (booked) booking holds. The old ``inbound`` table (MSH-10 alone,
  rejections included) is dropped: its rows name no sender and no content, so
  replaying them is exactly the fault version 1 fixes; a message it remembered
  that is resent is evaluated again, which is safe (applying a change twice
  gives the same booking, and the gateway records no new version for it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiosqlite

from adapters.domain import Booking, BookingStatus

VERSION = 1

BASE = """
CREATE TABLE IF NOT EXISTS attempts (
    request_id TEXT PRIMARY KEY,
    generation INTEGER NOT NULL,
    placer_id TEXT NOT NULL UNIQUE,
    control_id TEXT NOT NULL,
    state TEXT NOT NULL,
    supplier_ref TEXT,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS bookings (
    supplier_ref TEXT PRIMARY KEY,
    placer_id TEXT,
    booking TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS bookings_by_placer ON bookings (placer_id);
CREATE TABLE IF NOT EXISTS events (
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    placer_id TEXT,
    supplier_ref TEXT
);
"""

_BASE_STATEMENTS = tuple(s.strip() for s in BASE.split(";") if s.strip())

_V1 = (
    """CREATE TABLE IF NOT EXISTS inbound_messages (
        sender TEXT NOT NULL,
        control_id TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        ack TEXT NOT NULL,
        at REAL NOT NULL,
        PRIMARY KEY (sender, control_id)
    )""",
    "CREATE INDEX IF NOT EXISTS inbound_messages_by_age ON inbound_messages (at)",
    "ALTER TABLE bookings ADD COLUMN held_slot TEXT",
    "CREATE INDEX IF NOT EXISTS bookings_by_held_slot ON bookings (held_slot)",
    "DROP TABLE IF EXISTS inbound",
)


class JournalTooNew(RuntimeError):
    """The journal file was written by a newer adapter than this one."""


async def _to_v1(conn: aiosqlite.Connection) -> None:
    for statement in _V1:
        await conn.execute(statement)
    async with conn.execute("SELECT supplier_ref, booking FROM bookings") as cursor:
        rows = await cursor.fetchall()
    for supplier_ref, text in rows:
        booking = Booking.model_validate_json(text)
        if booking.status is BookingStatus.BOOKED:
            await conn.execute(
                "UPDATE bookings SET held_slot = ? WHERE supplier_ref = ?",
                (booking.slot.id, supplier_ref),
            )


_STEPS: tuple[Callable[[aiosqlite.Connection], Awaitable[None]], ...] = (_to_v1,)


async def migrate(conn: aiosqlite.Connection) -> None:
    """Create the tables of a new journal, or migrate an older one, in one transaction.

    ``BEGIN IMMEDIATE`` takes the write lock first and the version is read inside
    it, so processes opening one file at once (``serve --workers N``) take turns:
    the first creates or migrates it, the others find it done.
    """
    await conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in _BASE_STATEMENTS:
            await conn.execute(statement)
        async with conn.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        current = int(row[0]) if row else 0
        if current > VERSION:
            raise JournalTooNew(f"journal schema {current} is newer than this adapter's {VERSION}")
        for number in range(current, VERSION):
            await _STEPS[number](conn)
        if current < VERSION:
            await conn.execute(f"PRAGMA user_version = {VERSION}")
    except BaseException:
        await conn.execute("ROLLBACK")
        raise
    await conn.execute("COMMIT")
