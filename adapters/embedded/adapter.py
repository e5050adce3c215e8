"""The embedded diary: a small scheduling backend of its own, on SQLite or PostgreSQL.

For services with no diary system at all (DESIGN.md: FHIR front door + embedded
adapter). Reference data comes from CSV (``_directory``); slots are generated
from wall-clock templates and stored with bookings in one SQLite file
(``_sqlite``) or one PostgreSQL schema that several replicas share (``_pg``).

Concurrency: every write is one transaction taking its slot by a conditional
``UPDATE ... WHERE status = 'free'``, with a unique request id and a unique
index of live bookings per slot, so a slot is booked at most once and a request
id books once, whichever process or replica asks. On SQLite one connection
serves one call at a time (``BEGIN IMMEDIATE``), each call's work sent to its
thread whole (one hop); on PostgreSQL a pool serves
as many calls at once as it has connections.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import asyncpg
import structlog

from adapters import errors
from adapters.contract import Capability, Health
from adapters.domain import (
    Booking,
    BookingRequest,
    BookingStatus,
    CallContext,
    Referral,
    Slot,
    SlotQuery,
    SlotSearchResult,
    SlotStatus,
    utcnow,
)
from adapters.embedded import _pg, _sqlite
from adapters.embedded._db import DiaryDb, DiaryTx, PgTarget
from adapters.embedded._directory import Directory
from adapters.embedded._edge import Call, guarded, shown, storable
from adapters.embedded._related import ResultCache, related
from adapters.embedded._templates import generate

T = TypeVar("T")
log = structlog.get_logger(__name__)


class EmbeddedAdapter:
    """A ``SupplierAdapter`` whose supplier is its own diary database."""

    #: Every capability, referrals too: kept beside the bookings (``_referrals``).
    capabilities: frozenset[Capability] = frozenset(Capability)

    def __init__(
        self,
        name: str,
        diary: DiaryDb,
        directory: Directory,
        *,
        zone: ZoneInfo,
        horizon_days: int,
        clock: Callable[[], datetime] = utcnow,
        log_name: str | None = None,
    ) -> None:
        self.name = name
        self._db = diary
        self._directory = directory
        self._zone = zone
        self._horizon_days = horizon_days
        self._clock = clock
        self._log_name = log_name or name
        self._lock = diary.gate
        self._closed = False
        self._generated_for: date | None = None
        self._results = ResultCache()

    @classmethod
    async def open(
        cls,
        name: str,
        database: str | Path | PgTarget,
        directory: Directory,
        *,
        zone: ZoneInfo,
        horizon_days: int = 14,
        clock: Callable[[], datetime] = utcnow,
        log_name: str | None = None,
    ) -> EmbeddedAdapter:
        """Open (or create) the diary at ``database`` and top up its future slots.

        ``database`` is an SQLite file (or ``:memory:``), or a PostgreSQL target.
        """
        try:
            diary: DiaryDb = await (
                _pg.connect(database)
                if isinstance(database, PgTarget)
                else _sqlite.connect(str(database))
            )
        except (
            sqlite3.Error,
            asyncpg.PostgresError,
            asyncpg.InterfaceError,
            OSError,
            ValueError,
            TimeoutError,
        ) as exc:
            raise errors.SupplierUnavailable(
                f"embedded diary '{name}' could not be opened",
                supplier_detail=str(exc) or type(exc).__name__,
            ) from exc
        adapter = cls(
            name,
            diary,
            directory,
            zone=zone,
            horizon_days=horizon_days,
            clock=clock,
            log_name=log_name,
        )
        try:
            async with adapter._guard("open", None) as call:
                await diary.create_schema()
                added = await adapter._ensure_horizon(call)
        except errors.AdapterError:
            await adapter.close()
            raise
        log.info("embedded_diary_opened", adapter=adapter._log_name, slots_added=added)
        return adapter

    # -- the SupplierAdapter contract -------------------------------------------------

    async def search_slots(self, query: SlotQuery, ctx: CallContext) -> SlotSearchResult:
        async with self._guard("search_slots", ctx) as call:
            if query.service_id not in self._directory.services:
                raise errors.ServiceNotFound(f"no service {shown(query.service_id)} in this diary")
            await self._ensure_horizon(call)
            schedule_ids = self._directory.by_service.get(query.service_id, ())
            # The version first, then (in a later hop) the slots: see _versions.
            version = await self._db.read(lambda tx: tx.diary_version())
            known = self._results.get(query, version)
            if known is not None:
                return known
            slots = await self._db.read(
                lambda tx: tx.find_slots(
                    schedule_ids, query.statuses, query.start_from, query.start_to
                )
            )
        return self._results.put(query, version, related(slots, self._directory))

    async def book(self, request: BookingRequest, ctx: CallContext) -> Booking:
        async with self._guard("book", ctx) as call:
            booking, fresh = await self._write(
                call, lambda tx: self._book(tx, request, ctx.request_id)
            )
        event = "slot_booked" if fresh else "booking_replayed"
        log.info(
            event,
            adapter=self._log_name,
            supplier_ref=booking.supplier_ref,
            slot_id=booking.slot.id,
            service_id=booking.service_id,
            request_id=ctx.request_id,
        )
        return booking

    async def get(
        self, supplier_ref: str, ctx: CallContext, *, service_id: str | None = None
    ) -> Booking:
        async with self._guard("get", ctx):
            booking = await self._db.read(lambda tx: _booking(tx, supplier_ref))
        if booking is None:
            raise errors.BookingNotFound(f"no booking {shown(supplier_ref)} in this diary")
        return booking

    async def cancel(
        self, supplier_ref: str, ctx: CallContext, *, service_id: str | None = None
    ) -> Booking:
        async with self._guard("cancel", ctx) as call:
            booking = await self._write(call, lambda tx: self._cancel(tx, supplier_ref))
        log.info(
            "booking_cancelled",
            adapter=self._log_name,
            supplier_ref=supplier_ref,
            slot_id=booking.slot.id,
            request_id=ctx.request_id,
        )
        return booking

    async def send_referral(self, referral: Referral, ctx: CallContext) -> None:
        """Keep this referral version with the diary's bookings; a resend is kept once."""
        if referral.service_id not in self._directory.services:
            raise errors.ServiceNotFound(f"no service {shown(referral.service_id)} in this diary")
        async with self._guard("send_referral", ctx) as call:
            fresh = await self._write(
                call, lambda tx: tx.insert_referral(referral, ctx.request_id, self._clock())
            )
        event = "referral_kept" if fresh else "referral_replayed"
        log.info(event, adapter=self._log_name, referral_id=referral.id, version=referral.version)

    async def referral(self, referral_id: str) -> Referral | None:
        """The latest version of a referral the diary holds (for its own readers)."""
        async with self._guard("referral", None):
            return await self._db.read(lambda tx: tx.current_referral(referral_id))

    async def referrals_for(self, supplier_ref: str) -> list[Referral]:
        """The referrals whose document the diary's booking ``supplier_ref`` carries."""
        async with self._guard("referrals_for", None):
            return await self._db.read(lambda tx: tx.referrals_for_booking(supplier_ref))

    def serves(self, service_id: str) -> bool:
        return service_id in self._directory.services

    async def health(self) -> Health:
        if self._closed:
            return Health(ok=False, detail="closed")
        began = time.perf_counter()
        try:
            # Not behind the diary's call lock: a read-only ping may run between a
            # call's statements harmlessly, and /health must not wait for a long search.
            async with asyncio.timeout(2.0):
                await self._db.ping()
        except Exception as exc:  # a ping reports failure, it does not raise
            return Health(ok=False, detail=f"diary unreachable ({type(exc).__name__})")
        latency = (time.perf_counter() - began) * 1000
        services = len(self._directory.services)
        return Health(ok=True, detail=f"embedded diary, {services} services", latency_ms=latency)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            async with self._lock:
                await self._db.close()
        except Exception as exc:  # closing must not fail the shutdown of everything else
            log.warning(
                "embedded_diary_close_failed", adapter=self._log_name, error_type=type(exc).__name__
            )
            return
        log.info("embedded_diary_closed", adapter=self._log_name)

    # -- work done inside one transaction ---------------------------------------------

    async def _book(
        self, tx: DiaryTx, request: BookingRequest, request_id: str
    ) -> tuple[Booking, bool]:
        # fs_xti.md: a resent X-Request-ID must not book twice; it gets the first booking.
        existing = await tx.booking_by_request(request_id)
        if existing is not None:
            return existing, False
        slot = await tx.slot_by_ref(request.slot_id) if storable(request.slot_id) else None
        if slot is None:
            raise errors.SlotNotFound("no such slot in this diary")
        schedule = self._directory.schedules.get(slot.schedule_id)
        if schedule is None:
            raise errors.SlotUnavailable(f"slot {slot.id}: its schedule is no longer offered")
        _check_fits(request, slot)
        now = self._clock()
        # A slot taken since the first look may be taken by this very request id at
        # another replica: that booking is the answer, not a refusal.
        if slot.status is not SlotStatus.FREE:
            return await self._first_booking(
                tx, request_id, f"slot {slot.id} is {slot.status.value}"
            )
        if slot.start <= now:
            raise errors.SlotUnavailable(f"slot {slot.id} has already started")
        if not await tx.set_slot_status(slot.id, SlotStatus.BUSY, only_if=SlotStatus.FREE):
            return await self._first_booking(tx, request_id, f"slot {slot.id} was taken")
        ref = str(uuid.uuid4())
        if not await tx.insert_booking(ref, request_id, schedule.service_id, request, slot.id, now):
            # Another replica booked this request id (another slot) first: give the slot back.
            await tx.set_slot_status(slot.id, SlotStatus.FREE, only_if=SlotStatus.BUSY)
            return await self._first_booking(tx, request_id, "the request was booked meanwhile")
        return await _reread(tx, ref), True

    async def _first_booking(
        self, tx: DiaryTx, request_id: str, otherwise: str
    ) -> tuple[Booking, bool]:
        """The booking another process made under ``request_id``; else SlotUnavailable."""
        existing = await tx.booking_by_request(request_id)
        if existing is None:
            raise errors.SlotUnavailable(otherwise)
        return existing, False

    async def _cancel(self, tx: DiaryTx, supplier_ref: str) -> Booking:
        booking = await _booking(tx, supplier_ref)
        if booking is None:
            raise errors.BookingNotFound(f"no booking {shown(supplier_ref)} in this diary")
        if booking.status is not BookingStatus.BOOKED:
            raise errors.BookingNotCancellable(
                f"booking {shown(supplier_ref)} is {booking.status.value}"
            )
        now = self._clock()
        if booking.start <= now:
            raise errors.BookingNotCancellable(f"booking {shown(supplier_ref)} has already started")
        if not await tx.set_booking_status(
            supplier_ref, BookingStatus.CANCELLED, now, only_if=BookingStatus.BOOKED
        ):
            # Cancelled meanwhile at another replica; its slot may already be rebooked.
            raise errors.BookingNotCancellable(f"booking {shown(supplier_ref)} was cancelled")
        await tx.set_slot_status(booking.slot.id, SlotStatus.FREE, only_if=SlotStatus.BUSY)
        return await _reread(tx, supplier_ref)

    async def _ensure_horizon(self, call: Call) -> int:
        """Add the missing future slots of today's horizon (once per local day)."""
        now = self._clock()
        today = now.astimezone(self._zone).date()
        if self._generated_for == today:
            return 0
        fresh = [
            slot
            for slot in generate(self._directory.templates, self._zone, today, self._horizon_days)
            if slot.start > now
        ]
        added = await self._write(call, lambda tx: tx.add_slots(fresh))
        self._generated_for = today
        if added:
            log.info(
                "slots_generated",
                adapter=self._log_name,
                added=added,
                through=str(today + timedelta(days=self._horizon_days - 1)),
            )
        return added

    async def _write(self, call: Call, work: Callable[[DiaryTx], Awaitable[T]]) -> T:
        """``work`` in one transaction, committed at the end, rolled back on any failure."""
        return await self._db.write(work, call.committing)

    @asynccontextmanager
    async def _guard(self, operation: str, ctx: CallContext | None) -> AsyncIterator[Call]:
        if self._closed:
            raise errors.SupplierUnavailable(f"{operation}: the embedded adapter is closed")
        async with guarded(operation, ctx, self._lock, self._log_name) as call:
            yield call


async def _booking(tx: DiaryTx, supplier_ref: str) -> Booking | None:
    return await tx.booking_by_ref(supplier_ref) if storable(supplier_ref) else None


async def _reread(tx: DiaryTx, supplier_ref: str) -> Booking:
    booking = await tx.booking_by_ref(supplier_ref)
    if booking is None:  # pragma: no cover - written in this very transaction
        raise errors.SupplierProtocolError("a booking vanished inside its transaction")
    return booking


def _check_fits(request: BookingRequest, slot: Slot) -> None:
    if not slot.start <= request.start < request.end <= slot.end:
        raise errors.SlotMismatch(
            f"slot {slot.id} runs {slot.start.isoformat()} to {slot.end.isoformat()}; "
            "the booking's times do not fit it"
        )
