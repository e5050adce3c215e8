"""The embedded diary on SQLite: one file (or ``:memory:``), one connection on its own thread.

Instants are stored as ISO 8601 UTC text of fixed width so they sort as they
compare. The patient and document are stored as pydantic JSON. The connection
lives on a ``SqliteThread`` (``adapters._sqlite_thread``): each adapter call's
work, however many statements, is sent there whole and runs in one hop, a write
in one ``BEGIN IMMEDIATE`` transaction, so another process sharing the file
waits its turn.

``SqliteTx`` keeps the ``DiaryTx`` shape the adapter's work is written against
(the PostgreSQL backend's is truly asynchronous), but its methods only ever run
on the connection's thread and never suspend: they call ``sqlite3`` directly,
and ``_finish`` runs the adapter's work there from start to end in one go.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TypeVar, cast

from adapters._sqlite_thread import SqliteThread
from adapters._sqlite_wal import use_wal_now
from adapters.domain import (
    Booking,
    BookingRequest,
    BookingStatus,
    Referral,
    Slot,
    SlotStatus,
)
from adapters.embedded import _referrals as kept
from adapters.embedded import _versions
from adapters.embedded._db import DiaryTx, Redacted, booking_from_row, precise, slot_from_row, stamp
from adapters.embedded._templates import GeneratedSlot

T = TypeVar("T")

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
    """Open the diary file (creating its folder) on a connection thread of its own."""
    memory = database == ":memory:"
    if not memory:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    db = await SqliteThread.open(
        database, partial(_setup, wal=not memory), busy_timeout_s=5.0, name="embedded-diary"
    )
    return SqliteDiary(db)


def _setup(conn: sqlite3.Connection, *, wal: bool) -> None:
    if wal:
        use_wal_now(conn)  # retried: other processes may be opening the file too
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")


class SqliteDiary:
    """A ``DiaryDb`` on one connection thread, used by one call at a time."""

    def __init__(self, db: SqliteThread) -> None:
        self._db = db
        self.gate: asyncio.Lock | asyncio.Semaphore = asyncio.Lock()

    async def create_schema(self) -> None:
        """The tables, in one write transaction: processes opening a new file together
        (``serve --workers N``) take turns instead of one failing "database is locked"."""
        script = f"BEGIN IMMEDIATE;\n{SCHEMA}\n{kept.SCHEMA}\n{_versions.SQLITE_SCHEMA}\nCOMMIT;"
        await self._db.run(partial(_run_script, script))

    async def write(
        self, work: Callable[[DiaryTx], Awaitable[T]], committing: Callable[[], None]
    ) -> T:
        # The work and its commit are one hop: once it is sent, the commit may land.
        committing()
        return await self._db.transaction(lambda conn: _finish(work(SqliteTx(conn))))

    async def read(self, work: Callable[[DiaryTx], Awaitable[T]]) -> T:
        return await self._db.run(lambda conn: _finish(work(SqliteTx(conn))))

    async def ping(self) -> None:
        await self._db.run(lambda conn: conn.execute("SELECT count(*) FROM slots WHERE 0").close())

    async def close(self) -> None:
        await self._db.close()


def _run_script(script: str, conn: sqlite3.Connection) -> None:
    try:
        conn.executescript(script).close()
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _finish(work: Awaitable[T]) -> T:
    """Run work over ``SqliteTx`` (which never suspends) from start to end, right here."""
    steps = work.__await__()
    try:
        steps.send(None)
    except StopIteration as done:
        return cast(T, done.value)
    close = getattr(steps, "close", None)
    if close is not None:
        close()
    raise RuntimeError("diary work waited for something on the SQLite connection's thread")


class SqliteTx:
    """The diary's statements on the one connection (``DiaryTx``), run on its thread only."""

    def __init__(self, conn: sqlite3.Connection) -> None:
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
        return max(self._conn.executemany(sql, rows).rowcount, 0)

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
        rows = self._conn.execute(sql + " ORDER BY start, schedule_id, id", params)
        return [slot_from_row(row, _instant) for row in rows]

    async def diary_version(self) -> int:
        row = self._conn.execute(_versions.SELECT_VERSION).fetchone()
        return int(row[0]) if row else 0

    async def slot_by_ref(self, ref: str) -> Slot | None:
        sql = f"SELECT {_SLOT_COLUMNS} FROM slots WHERE id = ? OR identifier = ? LIMIT 1"
        row = self._conn.execute(sql, (ref, ref)).fetchone()
        return None if row is None else slot_from_row(row, _instant)

    async def set_slot_status(
        self, slot_id: str, status: SlotStatus, *, only_if: SlotStatus
    ) -> bool:
        sql = "UPDATE slots SET status = ? WHERE id = ? AND status = ?"
        return self._conn.execute(sql, (status.value, slot_id, only_if.value)).rowcount == 1

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
        cursor = self._conn.execute(
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
        cursor = self._conn.execute(
            "UPDATE bookings SET status = ?, updated = ? WHERE supplier_ref = ? AND status = ?",
            (status.value, precise(at), supplier_ref, only_if.value),
        )
        return cursor.rowcount == 1

    async def booking_by_ref(self, supplier_ref: str) -> Booking | None:
        return self._booking_where("b.supplier_ref = ?", supplier_ref)

    async def booking_by_request(self, request_id: str) -> Booking | None:
        return self._booking_where("b.request_id = ?", request_id)

    async def insert_referral(self, referral: Referral, request_id: str, now: datetime) -> bool:
        return kept.insert(self._conn, referral, request_id, now)

    async def current_referral(self, referral_id: str) -> Referral | None:
        return kept.current(self._conn, referral_id)

    async def referrals_for_booking(self, supplier_ref: str) -> list[Referral]:
        return kept.for_booking(self._conn, supplier_ref)

    def _booking_where(self, where: str, value: str) -> Booking | None:
        sql = (
            f"SELECT {_BOOKING_COLUMNS} FROM bookings b JOIN slots s ON s.id = b.slot_id "
            f"WHERE {where}"
        )
        row = self._conn.execute(sql, (value,)).fetchone()
        return None if row is None else booking_from_row(row, _instant)


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" * len(values))
