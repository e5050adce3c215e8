"""The embedded diary on PostgreSQL: one diary shared by several gateway replicas.

The tables are those of ``_sqlite`` with instants as ``timestamptz``. What makes
sharing safe:

- each write is one transaction (READ COMMITTED) on a pooled connection;
- a slot is taken by ``UPDATE ... WHERE status = 'free'``: a second replica's
  update waits for the first's row lock and then finds the slot busy;
- ``bookings.request_id`` is unique and inserted ``ON CONFLICT DO NOTHING``, so a
  request id sent to two replicas at once stores one booking;
- slot generation and schema creation each hold a transaction-scoped advisory
  lock, so replicas starting together create every table and slot once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import asyncpg

from adapters.domain import (
    Booking,
    BookingRequest,
    BookingStatus,
    Referral,
    Slot,
    SlotStatus,
)
from adapters.embedded import _versions
from adapters.embedded._db import DiaryTx, PgTarget, booking_from_row, seconds, slot_from_row
from adapters.embedded._templates import GeneratedSlot

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS slots (
    id text PRIMARY KEY,
    identifier text NOT NULL UNIQUE,
    schedule_id text NOT NULL,
    start timestamptz NOT NULL,
    "end" timestamptz NOT NULL,
    status text NOT NULL,
    delivery_channel text
);
CREATE INDEX IF NOT EXISTS slots_by_schedule_start ON slots (schedule_id, start);
CREATE TABLE IF NOT EXISTS bookings (
    supplier_ref text PRIMARY KEY,
    request_id text NOT NULL UNIQUE,
    slot_id text NOT NULL REFERENCES slots (id),
    service_id text NOT NULL,
    status text NOT NULL,
    start timestamptz NOT NULL,
    "end" timestamptz NOT NULL,
    description text NOT NULL,
    patient text NOT NULL,
    document text,
    referral_reference text,
    created timestamptz NOT NULL,
    updated timestamptz NOT NULL
);
-- A slot carries at most one live booking, whatever the code above tries.
CREATE UNIQUE INDEX IF NOT EXISTS one_live_booking_per_slot
    ON bookings (slot_id) WHERE status = 'booked';
CREATE TABLE IF NOT EXISTS referrals (
    referral_id text NOT NULL,
    version integer NOT NULL,
    status text NOT NULL,
    service_id text NOT NULL,
    appointment_id text,
    document_id text,
    request_id text NOT NULL,
    received timestamptz NOT NULL,
    referral text NOT NULL,
    PRIMARY KEY (referral_id, version)
);
CREATE INDEX IF NOT EXISTS referrals_by_document ON referrals (document_id);
CREATE INDEX IF NOT EXISTS referrals_by_appointment ON referrals (appointment_id);
"""

_LOCK = "SELECT pg_advisory_xact_lock(hashtext($1))"
_SLOT_COLUMNS = 'id, identifier, schedule_id, start, "end", status, delivery_channel'
_BOOKING_COLUMNS = (
    'b.supplier_ref, b.status, b.service_id, b.start, b."end", b.description, b.patient, '
    "b.document, b.referral_reference, b.created, "
    's.id, s.identifier, s.schedule_id, s.start, s."end", s.status, s.delivery_channel'
)
#: Ids sort byte-wise, as SQLite sorts them, whatever the database's collation.
_ORDER = 'ORDER BY start, schedule_id COLLATE "C", id COLLATE "C"'


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def connect(target: PgTarget) -> PgDiary:
    """A pool of connections to the diary, its ``search_path`` set to the target schema."""
    settings = {"search_path": quote_ident(target.schema)} if target.schema else {}
    pool = await asyncpg.create_pool(
        target.dsn,
        password=target.password,
        min_size=1,
        max_size=target.pool_size,
        timeout=10.0,
        server_settings=settings,
    )
    return PgDiary(pool, target)


class PgDiary:
    """A ``DiaryDb`` on an asyncpg pool; as many calls at once as the pool has connections."""

    def __init__(self, pool: Any, target: PgTarget) -> None:
        self._pool = pool
        self._schema = target.schema
        #: Advisory lock names: one diary (schema) never waits for another.
        self._key = f"uec-gateway:embedded:{target.schema or ''}"
        self.gate: asyncio.Lock | asyncio.Semaphore = asyncio.Semaphore(target.pool_size)

    async def create_schema(self) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(_LOCK, self._key + ":schema")
            if self._schema:
                await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(self._schema)}")
            await conn.execute(SCHEMA)
            await conn.execute(_versions.PG_SCHEMA)

    async def write(
        self, work: Callable[[DiaryTx], Awaitable[T]], committing: Callable[[], None]
    ) -> T:
        async with self._pool.acquire() as conn, conn.transaction():
            result = await work(PgTx(conn, self._key))
            committing()
        return result

    async def read(self, work: Callable[[DiaryTx], Awaitable[T]]) -> T:
        async with self._pool.acquire() as conn:
            return await work(PgTx(conn, self._key))

    async def ping(self) -> None:
        async with self._pool.acquire() as conn:
            await conn.fetchval("SELECT count(*) FROM slots WHERE false")

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self._pool.close(), 5.0)
        except TimeoutError:
            self._pool.terminate()


class PgTx:
    """The diary's statements on one pooled connection (``DiaryTx``)."""

    def __init__(self, conn: Any, key: str) -> None:
        self._conn = conn
        self._key = key

    async def add_slots(self, slots: Sequence[GeneratedSlot]) -> int:
        if not slots:
            return 0
        ordered = sorted(slots, key=lambda s: s.id)
        # Replicas topping up the same days take turns; the second finds nothing to add.
        await self._conn.execute(_LOCK, self._key + ":slots")
        status = await self._conn.execute(
            f"INSERT INTO slots ({_SLOT_COLUMNS}) "
            "SELECT u.id, u.id, u.schedule_id, u.start, u.stop, 'free', u.channel FROM unnest("
            "$1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::text[]"
            ") AS u (id, schedule_id, start, stop, channel) ON CONFLICT DO NOTHING",
            [s.id for s in ordered],
            [s.schedule_id for s in ordered],
            [seconds(s.start) for s in ordered],
            [seconds(s.end) for s in ordered],
            [s.delivery_channel.value if s.delivery_channel else None for s in ordered],
        )
        return _count(status)

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
            f"SELECT {_SLOT_COLUMNS} FROM slots "
            "WHERE schedule_id = ANY($1::text[]) AND status = ANY($2::text[])"
        )
        params: list[Any] = [list(schedule_ids), wanted]
        if start_from is not None:
            params.append(seconds(start_from))
            sql += f" AND start >= ${len(params)}"
        if start_to is not None:
            params.append(seconds(start_to))
            sql += f" AND start <= ${len(params)}"
        rows = await self._conn.fetch(f"{sql} {_ORDER}", *params)
        return [slot_from_row(tuple(row), _utc) for row in rows]

    async def diary_version(self) -> int:
        return int(await self._conn.fetchval(_versions.SELECT_VERSION) or 0)

    async def slot_by_ref(self, ref: str) -> Slot | None:
        row = await self._conn.fetchrow(
            f"SELECT {_SLOT_COLUMNS} FROM slots WHERE id = $1 OR identifier = $1 LIMIT 1", ref
        )
        return None if row is None else slot_from_row(tuple(row), _utc)

    async def set_slot_status(
        self, slot_id: str, status: SlotStatus, *, only_if: SlotStatus
    ) -> bool:
        result = await self._conn.execute(
            "UPDATE slots SET status = $1 WHERE id = $2 AND status = $3",
            status.value,
            slot_id,
            only_if.value,
        )
        return _count(result) == 1

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
        status = await self._conn.execute(
            "INSERT INTO bookings (supplier_ref, request_id, slot_id, service_id, status, start, "
            '"end", description, patient, document, referral_reference, created, updated) '
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) "
            "ON CONFLICT (request_id) DO NOTHING",
            supplier_ref,
            request_id,
            slot_id,
            service_id,
            BookingStatus.BOOKED.value,
            request.start,
            request.end,
            request.description,
            request.patient.model_dump_json(),
            document,
            request.referral_reference,
            created,
        )
        return _count(status) == 1

    async def set_booking_status(
        self, supplier_ref: str, status: BookingStatus, at: datetime, *, only_if: BookingStatus
    ) -> bool:
        result = await self._conn.execute(
            "UPDATE bookings SET status = $1, updated = $2 WHERE supplier_ref = $3 AND status = $4",
            status.value,
            at,
            supplier_ref,
            only_if.value,
        )
        return _count(result) == 1

    async def booking_by_ref(self, supplier_ref: str) -> Booking | None:
        return await self._booking_where("b.supplier_ref = $1", supplier_ref)

    async def booking_by_request(self, request_id: str) -> Booking | None:
        return await self._booking_where("b.request_id = $1", request_id)

    async def insert_referral(self, referral: Referral, request_id: str, now: datetime) -> bool:
        status = await self._conn.execute(
            "INSERT INTO referrals (referral_id, version, status, service_id, appointment_id,"
            " document_id, request_id, received, referral)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            " ON CONFLICT (referral_id, version) DO NOTHING",
            referral.id,
            referral.version,
            referral.status.value,
            referral.service_id,
            referral.appointment_id,
            referral.document_identifier,
            request_id,
            now,
            referral.model_dump_json(),
        )
        return _count(status) == 1

    async def current_referral(self, referral_id: str) -> Referral | None:
        text = await self._conn.fetchval(
            "SELECT referral FROM referrals WHERE referral_id = $1 ORDER BY version DESC LIMIT 1",
            referral_id,
        )
        return None if text is None else Referral.model_validate_json(text)

    async def referrals_for_booking(self, supplier_ref: str) -> list[Referral]:
        # Only this booking's document is parsed as JSON, never another booking's.
        rows = await self._conn.fetch(
            "WITH b AS MATERIALIZED (SELECT document FROM bookings WHERE supplier_ref = $1)"
            " SELECT r.referral FROM referrals r JOIN b"
            " ON r.document_id = (b.document::json ->> 'identifier')"
            " WHERE r.version = (SELECT max(m.version) FROM referrals m"
            ' WHERE m.referral_id = r.referral_id) ORDER BY r.referral_id COLLATE "C"',
            supplier_ref,
        )
        return [Referral.model_validate_json(row[0]) for row in rows]

    async def _booking_where(self, where: str, value: str) -> Booking | None:
        row = await self._conn.fetchrow(
            f"SELECT {_BOOKING_COLUMNS} FROM bookings b JOIN slots s ON s.id = b.slot_id "
            f"WHERE {where}",
            value,
        )
        return None if row is None else booking_from_row(tuple(row), _utc)


def _count(status: str) -> int:
    """Rows touched, from a command tag such as ``INSERT 0 3`` or ``UPDATE 1``."""
    return int(status.rsplit(" ", 1)[-1])


def _utc(instant: datetime) -> datetime:
    return instant.astimezone(UTC)
