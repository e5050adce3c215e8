"""What the embedded diary needs from a database, whichever database holds it.

Two backends keep the same tables with the same rules: ``_sqlite`` (one file,
one connection) and ``_pg`` (PostgreSQL, a connection pool, shared by several
gateway replicas). The adapter speaks only to the protocols below:

- ``DiaryDb`` runs a piece of work (a function of a ``DiaryTx``) in one
  transaction or as a plain read, creates the schema, pings and closes;
- ``DiaryTx`` is the work done on one connection, inside a transaction when it
  came from ``DiaryDb.write``.

A whole piece of work goes to the database at once, so on SQLite (whose
connection lives on a thread of its own) an adapter call costs one hop.

Rules every backend keeps, so a slot is booked at most once whoever asks:
``set_slot_status`` is a conditional update that reports whether it moved the
slot; ``bookings.request_id`` is unique (``insert_booking`` reports a request id
already used instead of failing); at most one live booking per slot (a partial
unique index); ``add_slots`` leaves a slot already held untouched. Instants come
back as timezone-aware UTC datetimes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from adapters.domain import (
    Booking,
    BookingRequest,
    BookingStatus,
    DeliveryChannel,
    Patient,
    Referral,
    Slot,
    SlotStatus,
    SupportingDocument,
)
from adapters.embedded._templates import GeneratedSlot

T = TypeVar("T")


class DiaryTx(Protocol):
    """Reads and writes of slots, bookings and referrals on one connection."""

    async def add_slots(self, slots: Sequence[GeneratedSlot]) -> int:
        """Insert slots not yet held (an existing one is left untouched); how many were new."""
        ...

    async def find_slots(
        self,
        schedule_ids: Sequence[str],
        statuses: Iterable[SlotStatus],
        start_from: datetime | None,
        start_to: datetime | None,
    ) -> list[Slot]:
        """Slots of these schedules in these states, by start (bounds inclusive, to the second)."""
        ...

    async def diary_version(self) -> int:
        """The diary's version (``_versions``): moves with every change to any slot."""
        ...

    async def slot_by_ref(self, ref: str) -> Slot | None:
        """The slot whose id or identifier (its UUID) is ``ref``."""
        ...

    async def set_slot_status(
        self, slot_id: str, status: SlotStatus, *, only_if: SlotStatus
    ) -> bool:
        """Conditionally move a slot between states; False if it was not in ``only_if``."""
        ...

    async def insert_booking(
        self,
        supplier_ref: str,
        request_id: str,
        service_id: str,
        request: BookingRequest,
        slot_id: str,
        created: datetime,
    ) -> bool:
        """Store a live booking; False (nothing stored) if ``request_id`` already booked."""
        ...

    async def set_booking_status(
        self, supplier_ref: str, status: BookingStatus, at: datetime, *, only_if: BookingStatus
    ) -> bool:
        """Conditionally move a booking between states; False if it was not in ``only_if``."""
        ...

    async def booking_by_ref(self, supplier_ref: str) -> Booking | None: ...

    async def booking_by_request(self, request_id: str) -> Booking | None: ...

    async def insert_referral(self, referral: Referral, request_id: str, now: datetime) -> bool:
        """Keep this referral version; False if it was already kept (a resend)."""
        ...

    async def current_referral(self, referral_id: str) -> Referral | None:
        """The latest version of one referral kept here."""
        ...

    async def referrals_for_booking(self, supplier_ref: str) -> list[Referral]:
        """Latest versions of the referrals whose document the booking carries."""
        ...


class DiaryDb(Protocol):
    """An open diary database."""

    #: Held by each adapter call: a lock where the connection is single, else a
    #: semaphore as wide as the pool.
    gate: asyncio.Lock | asyncio.Semaphore

    async def create_schema(self) -> None:
        """Create the tables if missing; safe when several processes start at once."""
        ...

    async def write(
        self, work: Callable[[DiaryTx], Awaitable[T]], committing: Callable[[], None]
    ) -> T:
        """``work`` in one transaction: committed when it returns, rolled back if it raises.

        ``committing`` is called once the commit may land (before the commit is sent),
        so a caller whose deadline passes after it knows the outcome is unknown.
        """
        ...

    async def read(self, work: Callable[[DiaryTx], Awaitable[T]]) -> T:
        """``work`` on a connection, outside any explicit transaction."""
        ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class PgTarget:
    """Where a PostgreSQL diary lives. The password is never part of the configuration."""

    dsn: str
    password: str | None = None
    #: Schema holding the tables (created if missing); None: the server's search_path.
    schema: str | None = None
    pool_size: int = 5

    def __repr__(self) -> str:
        return f"PgTarget(dsn={self.dsn!r}, schema={self.schema!r})"


class Redacted(tuple[Any, ...]):
    """Statement parameters whose repr hides their values.

    A driver's error or a debugger may show a statement's arguments; a booking's
    parameters hold the patient, which must never reach a log (STYLE.md).
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<{len(self)} redacted parameters>"


def seconds(instant: datetime) -> datetime:
    """``instant`` in UTC without its fraction of a second (how slot bounds compare)."""
    return instant.astimezone(UTC).replace(microsecond=0)


def stamp(instant: datetime) -> str:
    """Fixed-width UTC text (seconds precision) that sorts like the instant."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def precise(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat()


#: How a backend reads a stored instant back (SQLite text, PostgreSQL timestamptz).
Instant = Callable[[Any], datetime]


def slot_from_row(row: tuple[Any, ...], instant: Instant) -> Slot:
    """A slot row (id, identifier, schedule, start, end, status, channel), either backend."""
    return Slot(
        id=row[0],
        identifier=row[1],
        schedule_id=row[2],
        start=instant(row[3]),
        end=instant(row[4]),
        status=SlotStatus(row[5]),
        delivery_channel=DeliveryChannel(row[6]) if row[6] else None,
    )


def booking_from_row(row: tuple[Any, ...], instant: Instant) -> Booking:
    """A booking row followed by its slot's columns, either backend."""
    return Booking(
        supplier_ref=row[0],
        status=BookingStatus(row[1]),
        service_id=row[2],
        start=instant(row[3]),
        end=instant(row[4]),
        description=row[5],
        patient=Patient.model_validate_json(row[6]),
        document=SupportingDocument.model_validate_json(row[7]) if row[7] else None,
        referral_reference=row[8],
        created=instant(row[9]),
        slot=slot_from_row(row[10:], instant),
    )
