"""The adapter's own small state, in its SQLite file (DESIGN.md: state that must survive).

- ``attempts``: one row per booking request id: the placer id and MSH-10 sent,
  and what we know of the outcome (pending, confirmed, unknown, failed,
  compensated). Written *before* the SRM leaves, so a crash mid-booking is
  reconciled after a restart.
- ``bookings``: the last known view of every booking (ours, or the PAS desk's),
  refreshed by answers and SIU notifications; ``get`` reads it. ``held_slot``
  is the slot a booked one holds, so a search never offers it as free.
- ``inbound_messages``: the AA given to each accepted inbound message, keyed by
  its sender (MSH-3 + MSH-4) and MSH-10 with the message's content hash, kept
  for a retention period and replayed for an identical resend;
- ``events``: compensations and other facts worth keeping (ids only).

The tables and their migrations are in ``_journal_schema``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite

from adapters._sqlite_wal import use_wal
from adapters.domain import Booking, BookingStatus
from adapters.hl7v2._journal_schema import migrate
from adapters.hl7v2._redact import Redacted

#: Statuses whose slot the PAS still holds (a no-show stays busy).
_HOLDING = frozenset({BookingStatus.BOOKED, BookingStatus.NOSHOW})

PENDING, CONFIRMED, UNKNOWN, FAILED, COMPENSATED = (
    "pending",
    "confirmed",
    "unknown",
    "failed",
    "compensated",
)


@dataclass(frozen=True, slots=True)
class Seen:
    """An accepted inbound message as remembered: its content hash and our ACK."""

    content_hash: str
    ack: str


@dataclass(frozen=True, slots=True)
class Attempt:
    request_id: str
    generation: int
    placer_id: str
    control_id: str
    state: str
    supplier_ref: str | None
    updated: float


class Journal:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    @classmethod
    async def open(cls, database: str) -> Journal:
        if database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(database, isolation_level=None, timeout=5.0)
        try:
            if database != ":memory:":
                await use_wal(conn)  # retried: other processes may be opening the file too
            await migrate(conn)
        except BaseException:
            await conn.close()
            raise
        return cls(conn)

    async def close(self) -> None:
        await self.conn.close()

    # -- attempts ----------------------------------------------------------------------

    async def attempt(self, request_id: str) -> Attempt | None:
        return await self._attempt("request_id = ?", request_id)

    async def attempt_by_placer(self, placer_id: str) -> Attempt | None:
        return await self._attempt("placer_id = ?", placer_id)

    async def _attempt(self, where: str, value: str) -> Attempt | None:
        sql = (
            "SELECT request_id, generation, placer_id, control_id, state, supplier_ref, "
            f"updated FROM attempts WHERE {where}"
        )
        async with self.conn.execute(sql, (value,)) as cursor:
            row = await cursor.fetchone()
        return None if row is None else Attempt(*row)

    async def begin(self, attempt: Attempt) -> None:
        await self.conn.execute(
            "INSERT OR REPLACE INTO attempts (request_id, generation, placer_id, control_id, "
            "state, supplier_ref, updated) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                attempt.request_id,
                attempt.generation,
                attempt.placer_id,
                attempt.control_id,
                attempt.state,
                attempt.supplier_ref,
                attempt.updated,
            ),
        )

    async def settle(
        self, request_id: str, state: str, at: float, supplier_ref: str | None = None
    ) -> None:
        await self.conn.execute(
            "UPDATE attempts SET state = ?, updated = ?, "
            "supplier_ref = coalesce(?, supplier_ref) WHERE request_id = ?",
            (state, at, supplier_ref, request_id),
        )

    async def unsettled(self, older_than: float) -> list[Attempt]:
        sql = (
            "SELECT request_id, generation, placer_id, control_id, state, supplier_ref, "
            "updated FROM attempts WHERE state IN (?, ?) AND updated <= ? ORDER BY updated"
        )
        async with self.conn.execute(sql, (PENDING, UNKNOWN, older_than)) as cursor:
            return [Attempt(*row) for row in await cursor.fetchall()]

    # -- bookings ----------------------------------------------------------------------

    async def booking(self, supplier_ref: str) -> Booking | None:
        sql = "SELECT booking FROM bookings WHERE supplier_ref = ?"
        async with self.conn.execute(sql, (supplier_ref,)) as cursor:
            row = await cursor.fetchone()
        return None if row is None else Booking.model_validate_json(row[0])

    async def booking_by_placer(self, placer_id: str) -> Booking | None:
        sql = "SELECT booking FROM bookings WHERE placer_id = ?"
        async with self.conn.execute(sql, (placer_id,)) as cursor:
            row = await cursor.fetchone()
        return None if row is None else Booking.model_validate_json(row[0])

    async def placer_of(self, supplier_ref: str) -> str | None:
        sql = "SELECT placer_id FROM bookings WHERE supplier_ref = ?"
        async with self.conn.execute(sql, (supplier_ref,)) as cursor:
            row = await cursor.fetchone()
        return None if row is None or row[0] is None else str(row[0])

    async def keep(self, booking: Booking, placer_id: str | None) -> None:
        # A no-show keeps its slot busy at the PAS (filler status Noshow: busy).
        held = booking.slot.id if booking.status in _HOLDING else None
        await self.conn.execute(
            "INSERT OR REPLACE INTO bookings (supplier_ref, placer_id, booking, held_slot) "
            "VALUES (?, ?, ?, ?)",
            Redacted((booking.supplier_ref, placer_id, booking.model_dump_json(), held)),
        )

    async def held(self, slot_ids: Iterable[str]) -> set[str]:
        """Which of ``slot_ids`` a current booking holds."""
        wanted = list(dict.fromkeys(slot_ids))
        found: set[str] = set()
        for first in range(0, len(wanted), 500):  # SQLite's bound-parameter limit
            chunk = wanted[first : first + 500]
            marks = ", ".join("?" * len(chunk))
            sql = f"SELECT DISTINCT held_slot FROM bookings WHERE held_slot IN ({marks})"
            async with self.conn.execute(sql, chunk) as cursor:
                found.update(str(row[0]) for row in await cursor.fetchall())
        return found

    # -- inbound and events --------------------------------------------------------------

    async def inbound_seen(self, sender: str, control_id: str, since: float) -> Seen | None:
        """The accepted message under (sender, MSH-10) remembered at or after ``since``."""
        sql = (
            "SELECT content_hash, ack FROM inbound_messages "
            "WHERE sender = ? AND control_id = ? AND at >= ?"
        )
        async with self.conn.execute(sql, (sender, control_id, since)) as cursor:
            row = await cursor.fetchone()
        return None if row is None else Seen(str(row[0]), str(row[1]))

    async def remember_inbound(
        self,
        sender: str,
        control_id: str,
        content_hash: str,
        ack_text: str,
        at: float,
        keep_s: float,
    ) -> None:
        """Remember an accepted message's ACK; forget those older than ``keep_s``."""
        await self.conn.execute("DELETE FROM inbound_messages WHERE at < ?", (at - keep_s,))
        await self.conn.execute(
            "INSERT OR REPLACE INTO inbound_messages "
            "(sender, control_id, content_hash, ack, at) VALUES (?, ?, ?, ?, ?)",
            Redacted((sender, control_id, content_hash, ack_text, at)),
        )

    async def record(self, kind: str, placer_id: str | None, supplier_ref: str | None) -> None:
        await self.conn.execute(
            "INSERT INTO events (at, kind, placer_id, supplier_ref) VALUES (?, ?, ?, ?)",
            (datetime.now(UTC).isoformat(), kind, placer_id, supplier_ref),
        )

    async def events(self, kind: str | None = None) -> list[tuple[str, str | None, str | None]]:
        sql = "SELECT kind, placer_id, supplier_ref FROM events"
        params: tuple[str, ...] = ()
        if kind:
            sql, params = sql + " WHERE kind = ?", (kind,)
        async with self.conn.execute(sql + " ORDER BY rowid", params) as cursor:
            return [(str(r[0]), r[1], r[2]) for r in await cursor.fetchall()]
