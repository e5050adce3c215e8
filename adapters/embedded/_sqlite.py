"""The embedded diary on SQLite: one file (or ``:memory:``), one connection.

Instants are stored as ISO 8601 UTC text of fixed width so they sort as they
compare. The patient and document are stored as pydantic JSON. Every write runs
in ``BEGIN IMMEDIATE``, so another process sharing the file waits its turn.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite

from adapters._sqlite_wal import use_wal
from adapters.domain import (
    Booking,
    BookingRequest,
    BookingStatus,
    Referral,
    Slot,
    SlotStatus,
)
from adapters.embedded import _referrals as kept
from adapters.embedded._db import DiaryTx, Redacted, booking_from_row, precise, slot_from_row, stamp
from adapters.embedded._templates import GeneratedSlot

SCHEMA = """
CREATE TABLE IF NOT EXISTS slots (
    id TEXT PRIMARY KEY,
    identifier TEXT NOT NULL UNIQUE,
    schedule_id TEXT NOT NULL,
    start TEXT NOT NULL,
    "end" TEXT NOT NULL,
    status TEXT NOT NULL,
    delivery_channel TEXT
);
CREATE INDEX IF NOT EXISTS slots_by_schedule_start ON slots (schedule_id, start);
CREATE TABLE IF NOT EXISTS bookings (
    supplier_ref TEXT PRIMARY KEY,
    request_id TEXT NOT NULL UNIQUE,
    slot_id TEXT NOT NULL REFERENCES slots (id),
    service_id TEXT NOT NULL,
    status TEXT NOT NULL,
    start TEXT NOT NULL,
    "end" TEXT NOT NULL,
    description TEXT NOT NULL,
    patient TEXT NOT NULL,
    document TEXT,
    referral_reference TEXT,
    created TEXT NOT NULL,
    updated TEXT NOT NULL
);
-- A slot carries at most one live booking, whatever the code above tries.
CREATE UNIQUE INDEX IF NOT EXISTS one_live_booking_per_slot
    ON bookings (slot_id) WHERE status = 'booked';
"""

_SLOT_COLUMNS = 'id, identifier, schedule_id, start, "end", status, delivery_channel'
_BOOKING_COLUMNS = (
    'b.supplier_ref, b.status, b.service_id, b.start, b."end", b.description, b.patient, '
    "b.document, b.referral_reference, b.created, "
    's.id, s.identifier, s.schedule_id, s.start, s."end", s.status, s.delivery_channel'
)


async def connect(database: str) -> SqliteDiary:
    """Open the diary file (creating its folder) with transactions left to the caller."""
    if database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None: transactions are ours (BEGIN IMMEDIATE), not the driver's.
    pending = aiosqlite.connect(database, isolation_level=None, timeout=5.0)
    try:
        conn = await pending
    except BaseException:
        # aiosqlite stops its worker thread on a failed connect without waiting for it;
        # wait here, so the thread never reports to an event loop that has since closed.
        worker = getattr(pending, "_thread", None)
        if isinstance(worker, threading.Thread):
            await asyncio.to_thread(worker.join, 5.0)
        raise
    try:
        if database != ":memory:":
            await use_wal(conn)  # retried: other processes may be opening the file too
        await conn.execute("PRAGMA foreign_keys = ON")
    except BaseException:
        await conn.close()
        raise
    return SqliteDiary(conn)


class SqliteDiary:
    """A ``DiaryDb`` on one aiosqlite connection, used by one call at a time."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._tx = SqliteTx(conn)
        self.gate: asyncio.Lock | asyncio.Semaphore = asyncio.Lock()

    async def create_schema(self) -> None:
        """The tables, in one write transaction: processes opening a new file together
        (``serve --workers N``) take turns instead of one failing "database is locked"."""
        try:
            await self._conn.executescript(f"BEGIN IMMEDIATE;\n{SCHEMA}\n{kept.SCHEMA}\nCOMMIT;")
        except BaseException:
            with suppress(sqlite3.Error, ValueError):
                await self._conn.execute("ROLLBACK")
            raise

    @asynccontextmanager
    async def write(self) -> AsyncIterator[DiaryTx]:
        await self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._tx
        except BaseException:
            # Statements run in order on the connection's thread, so this rollback
            # follows whatever a cancelled await had already queued.
            with suppress(sqlite3.Error, ValueError):
                await self._conn.execute("ROLLBACK")
            raise
        try:
            await self._conn.execute("COMMIT")
        except BaseException:
            with suppress(sqlite3.Error, ValueError):
                await self._conn.execute("ROLLBACK")
            raise

    @asynccontextmanager
    async def read(self) -> AsyncIterator[DiaryTx]:
        yield self._tx

    async def ping(self) -> None:
        async with self._conn.execute("SELECT count(*) FROM slots WHERE 0") as cursor:
            await cursor.fetchone()

    async def close(self) -> None:
        await self._conn.close()


class SqliteTx:
    """The diary's statements on the one connection (``DiaryTx``)."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def add_slots(self, slots: Sequence[GeneratedSlot]) -> int:
        rows = [
            (
                s.id,
                s.id,
                s.schedule_id,
                stamp(s.start),
                stamp(s.end),
                SlotStatus.FREE.value,
                s.delivery_channel.value if s.delivery_channel else None,
            )
            for s in slots
        ]
        if not rows:
            return 0
        sql = f"INSERT OR IGNORE INTO slots ({_SLOT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
        async with self._conn.executemany(sql, rows) as cursor:
            return max(cursor.rowcount, 0)

    async def find_slots(
        self,
        schedule_ids: Sequence[str],
        statuses: Iterable[SlotStatus],
        start_from: datetime | None,
        start_to: datetime | None,
    ) -> list[Slot]:
        wanted = sorted(s.value for s in statuses)
        if not schedule_ids or not wanted:
            return []
        sql = (
            f"SELECT {_SLOT_COLUMNS} FROM slots WHERE schedule_id IN ({_marks(schedule_ids)}) "
            f"AND status IN ({_marks(wanted)})"
        )
        params: list[str] = [*schedule_ids, *wanted]
        if start_from is not None:
            sql += " AND start >= ?"
            params.append(stamp(start_from))
        if start_to is not None:
            sql += " AND start <= ?"
            params.append(stamp(start_to))
        async with self._conn.execute(sql + " ORDER BY start, schedule_id, id", params) as cursor:
            return [slot_from_row(tuple(row), _instant) for row in await cursor.fetchall()]

    async def slot_by_ref(self, ref: str) -> Slot | None:
        sql = f"SELECT {_SLOT_COLUMNS} FROM slots WHERE id = ? OR identifier = ? LIMIT 1"
        async with self._conn.execute(sql, (ref, ref)) as cursor:
            row = await cursor.fetchone()
        return None if row is None else slot_from_row(tuple(row), _instant)

    async def set_slot_status(
        self, slot_id: str, status: SlotStatus, *, only_if: SlotStatus
    ) -> bool:
        sql = "UPDATE slots SET status = ? WHERE id = ? AND status = ?"
        async with self._conn.execute(sql, (status.value, slot_id, only_if.value)) as cursor:
            return cursor.rowcount == 1

    async def insert_booking(
        self,
        supplier_ref: str,
        request_id: str,
        service_id: str,
        request: BookingRequest,
        slot_id: str,
        created: datetime,
    ) -> bool:
        document = request.document.model_dump_json() if request.document else None
        cursor = await self._conn.execute(
            "INSERT INTO bookings (supplier_ref, request_id, slot_id, service_id, status, start, "
            '"end", description, patient, document, referral_reference, created, updated) '
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (request_id) DO NOTHING",
            Redacted(
                (
                    supplier_ref,
                    request_id,
                    slot_id,
                    service_id,
                    BookingStatus.BOOKED.value,
                    precise(request.start),
                    precise(request.end),
                    request.description,
                    request.patient.model_dump_json(),
                    document,
                    request.referral_reference,
                    precise(created),
                    precise(created),
                )
            ),
        )
        return cursor.rowcount == 1

    async def set_booking_status(
        self, supplier_ref: str, status: BookingStatus, at: datetime, *, only_if: BookingStatus
    ) -> bool:
        cursor = await self._conn.execute(
            "UPDATE bookings SET status = ?, updated = ? WHERE supplier_ref = ? AND status = ?",
            (status.value, precise(at), supplier_ref, only_if.value),
        )
        return cursor.rowcount == 1

    async def booking_by_ref(self, supplier_ref: str) -> Booking | None:
        return await self._booking_where("b.supplier_ref = ?", supplier_ref)

    async def booking_by_request(self, request_id: str) -> Booking | None:
        return await self._booking_where("b.request_id = ?", request_id)

    async def insert_referral(self, referral: Referral, request_id: str, now: datetime) -> bool:
        return await kept.insert(self._conn, referral, request_id, now)

    async def current_referral(self, referral_id: str) -> Referral | None:
        return await kept.current(self._conn, referral_id)

    async def referrals_for_booking(self, supplier_ref: str) -> list[Referral]:
        return await kept.for_booking(self._conn, supplier_ref)

    async def _booking_where(self, where: str, value: str) -> Booking | None:
        sql = (
            f"SELECT {_BOOKING_COLUMNS} FROM bookings b JOIN slots s ON s.id = b.slot_id "
            f"WHERE {where}"
        )
        async with self._conn.execute(sql, (value,)) as cursor:
            row = await cursor.fetchone()
        return None if row is None else booking_from_row(tuple(row), _instant)


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" * len(values))
