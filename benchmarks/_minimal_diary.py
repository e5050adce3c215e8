"""The minimal app's diary work: the embedded diary's statements on its SQLite file.

The same tables and the same SQL as ``adapters/embedded/_sqlite.py`` (slot search by
schedule, status and start; a conditional ``UPDATE`` taking the slot; the booking
row; the cancel's two conditional updates), on one aiosqlite connection as the
embedded diary keeps, one call at a time, each write in one ``BEGIN IMMEDIATE``
transaction. Left out: the diary's replay lookup by request id, its re-read of
the booking after writing it, and its checks (times fit the slot, not started).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any

import aiosqlite

SLOT_COLUMNS = 'id, identifier, schedule_id, start, "end", status, delivery_channel'
_FIND = f"SELECT {SLOT_COLUMNS} FROM slots WHERE schedule_id IN ({{marks}}) AND status IN (?)"
_SLOT_BY_REF = f"SELECT {SLOT_COLUMNS} FROM slots WHERE id = ? OR identifier = ? LIMIT 1"
_TAKE = "UPDATE slots SET status = 'busy' WHERE id = ? AND status = 'free'"
_INSERT = (
    "INSERT INTO bookings (supplier_ref, request_id, slot_id, service_id, status, start, "
    '"end", description, patient, document, referral_reference, created, updated) '
    "VALUES (?, ?, ?, ?, 'booked', ?, ?, ?, ?, ?, NULL, ?, ?) ON CONFLICT (request_id) DO NOTHING"
)
_CANCEL = (
    "UPDATE bookings SET status = 'cancelled', updated = ? "
    "WHERE supplier_ref = ? AND status = 'booked' "
    'RETURNING slot_id, start, "end", description, patient, document, created'
)
_FREE = (
    f"UPDATE slots SET status = 'free' WHERE id = ? AND status = 'busy' RETURNING {SLOT_COLUMNS}"
)

Row = tuple[Any, ...]


@dataclass(frozen=True)
class NewBooking:
    """One booking row's values, as the minimal app takes them from the request body."""

    supplier_ref: str
    request_id: str
    slot_ref: str
    service_id: str
    start: str
    end: str
    description: str
    patient: str
    document: str | None
    created: str


class MinimalDiary:
    """The diary file on one aiosqlite connection, one call at a time (as the diary's lock)."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._gate = asyncio.Lock()

    @classmethod
    async def open(cls, path: str) -> MinimalDiary:
        conn = await aiosqlite.connect(path, isolation_level=None, timeout=5.0)
        await conn.execute("PRAGMA journal_mode = WAL")
        await conn.execute("PRAGMA foreign_keys = ON")
        return cls(conn)

    async def close(self) -> None:
        await self._conn.close()

    async def free_slots(
        self, schedule_ids: Sequence[str], start_from: str | None, start_to: str | None
    ) -> list[Row]:
        """Free slots of these schedules by start, bounds inclusive (the diary's query)."""
        sql = _FIND.format(marks=", ".join("?" * len(schedule_ids)))
        params: list[str] = [*schedule_ids, "free"]
        if start_from is not None:
            sql += " AND start >= ?"
            params.append(start_from)
        if start_to is not None:
            sql += " AND start <= ?"
            params.append(start_to)
        async with (
            self._gate,
            self._conn.execute(sql + " ORDER BY start, schedule_id, id", params) as cur,
        ):
            return [tuple(row) for row in await cur.fetchall()]

    async def book(self, new: NewBooking) -> Row | None:
        """Take the slot and store the booking; the slot's row, or None if it was not free."""
        async with self._gate, self._transaction():
            async with self._conn.execute(_SLOT_BY_REF, (new.slot_ref, new.slot_ref)) as cur:
                slot = await cur.fetchone()
            if slot is None:
                return None
            async with self._conn.execute(_TAKE, (slot[0],)) as cur:
                if cur.rowcount != 1:
                    return None
            params = (
                new.supplier_ref,
                new.request_id,
                slot[0],
                new.service_id,
                new.start,
                new.end,
                new.description,
                new.patient,
                new.document,
                new.created,
                new.created,
            )
            await self._conn.execute(_INSERT, params)
        return (*slot[:5], "busy", slot[6])

    async def cancel(self, supplier_ref: str, at: str) -> tuple[Row, Row] | None:
        """Cancel a live booking and free its slot: (booking row, slot row), or None."""
        async with self._gate, self._transaction():
            async with self._conn.execute(_CANCEL, (at, supplier_ref)) as cur:
                booking = await cur.fetchone()
            if booking is None:
                return None
            async with self._conn.execute(_FREE, (booking[0],)) as cur:
                slot = await cur.fetchone()
        if slot is None:
            return None
        return tuple(booking), tuple(slot)

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[None]:
        await self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            with suppress(sqlite3.Error, ValueError):
                await self._conn.execute("ROLLBACK")
            raise
        await self._conn.execute("COMMIT")
