"""The embedded diary: a small scheduling backend of its own, on SQLite.

For services with no diary system at all (DESIGN.md: FHIR front door + embedded
adapter). Reference data comes from CSV (``_directory``); slots are generated
from wall-clock templates and stored with bookings in one SQLite file.

Concurrency: one connection, one ``asyncio.Lock`` around every call, and every
write in ``BEGIN IMMEDIATE`` with a conditional ``UPDATE ... WHERE status =
'free'`` plus a unique index of live bookings per slot, so a slot is booked at
most once even if another process shares the file.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import aiosqlite
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
from adapters.embedded import _db as db
from adapters.embedded import _referrals as kept
from adapters.embedded._directory import Directory
from adapters.embedded._edge import Call, guarded, shown, storable
from adapters.embedded._related import related
from adapters.embedded._templates import generate

T = TypeVar("T")
log = structlog.get_logger(__name__)


class EmbeddedAdapter:
    """A ``SupplierAdapter`` whose supplier is its own SQLite diary."""

    #: Every capability, referrals too: kept beside the bookings (``_referrals``).
    capabilities: frozenset[Capability] = frozenset(Capability)

    def __init__(
        self,
        name: str,
        conn: aiosqlite.Connection,
        directory: Directory,
        *,
        zone: ZoneInfo,
        horizon_days: int,
        clock: Callable[[], datetime] = utcnow,
        log_name: str | None = None,
    ) -> None:
        self.name = name
        self._conn = conn
        self._directory = directory
        self._zone = zone
        self._horizon_days = horizon_days
        self._clock = clock
        self._log_name = log_name or name
        self._lock = asyncio.Lock()
        self._closed = False
        self._generated_for: date | None = None

    @classmethod
    async def open(
        cls,
        name: str,
        database: str | Path,
        directory: Directory,
        *,
        zone: ZoneInfo,
        horizon_days: int = 14,
        clock: Callable[[], datetime] = utcnow,
        log_name: str | None = None,
    ) -> EmbeddedAdapter:
        """Open (or create) the diary at ``database`` and top up its future slots."""
        try:
            conn = await db.connect(str(database))
        except (sqlite3.Error, OSError, ValueError) as exc:
            raise errors.SupplierUnavailable(
                f"embedded diary '{name}' could not be opened", supplier_detail=str(exc)
            ) from exc
        adapter = cls(
            name,
            conn,
            directory,
            zone=zone,
            horizon_days=horizon_days,
            clock=clock,
            log_name=log_name,
        )
        try:
            async with adapter._guard("open", None) as call:
                await db.create_schema(conn)
                await kept.create_schema(conn)
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
            slots = await db.find_slots(
                self._conn, schedule_ids, query.statuses, query.start_from, query.start_to
            )
        return related(slots, self._directory)

    async def book(self, request: BookingRequest, ctx: CallContext) -> Booking:
        async with self._guard("book", ctx) as call:
            booking, fresh = await self._write(call, lambda: self._book(request, ctx.request_id))
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
            booking = await self._booking(supplier_ref)
        if booking is None:
            raise errors.BookingNotFound(f"no booking {shown(supplier_ref)} in this diary")
        return booking

    async def cancel(
        self, supplier_ref: str, ctx: CallContext, *, service_id: str | None = None
    ) -> Booking:
        async with self._guard("cancel", ctx) as call:
            booking = await self._write(call, lambda: self._cancel(supplier_ref))
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
                call, lambda: kept.insert(self._conn, referral, ctx.request_id, self._clock())
            )
        event = "referral_kept" if fresh else "referral_replayed"
        log.info(event, adapter=self._log_name, referral_id=referral.id, version=referral.version)

    async def referral(self, referral_id: str) -> Referral | None:
        """The latest version of a referral the diary holds (for its own readers)."""
        async with self._guard("referral", None):
            return await kept.current(self._conn, referral_id)

    async def referrals_for(self, supplier_ref: str) -> list[Referral]:
        """The referrals whose document the diary's booking ``supplier_ref`` carries."""
        async with self._guard("referrals_for", None):
            return await kept.for_booking(self._conn, supplier_ref)

    def serves(self, service_id: str) -> bool:
        return service_id in self._directory.services

    async def health(self) -> Health:
        if self._closed:
            return Health(ok=False, detail="closed")
        began = time.perf_counter()
        try:
            async with asyncio.timeout(2.0), self._lock:
                await db.ping(self._conn)
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
                await self._conn.close()
        except Exception as exc:  # closing must not fail the shutdown of everything else
            log.warning(
                "embedded_diary_close_failed", adapter=self._log_name, error_type=type(exc).__name__
            )
            return
        log.info("embedded_diary_closed", adapter=self._log_name)

    # -- work done inside one transaction ---------------------------------------------

    async def _book(self, request: BookingRequest, request_id: str) -> tuple[Booking, bool]:
        # fs_xti.md: a resent X-Request-ID must not book twice; it gets the first booking.
        existing = await db.booking_by_request(self._conn, request_id)
        if existing is not None:
            return existing, False
        slot = (
            await db.slot_by_ref(self._conn, request.slot_id) if storable(request.slot_id) else None
        )
        if slot is None:
            raise errors.SlotNotFound("no such slot in this diary")
        schedule = self._directory.schedules.get(slot.schedule_id)
        if schedule is None:
            raise errors.SlotUnavailable(f"slot {slot.id}: its schedule is no longer offered")
        _check_fits(request, slot)
        now = self._clock()
        if slot.status is not SlotStatus.FREE:
            raise errors.SlotUnavailable(f"slot {slot.id} is {slot.status.value}")
        if slot.start <= now:
            raise errors.SlotUnavailable(f"slot {slot.id} has already started")
        if not await db.set_slot_status(
            self._conn, slot.id, SlotStatus.BUSY, only_if=SlotStatus.FREE
        ):
            raise errors.SlotUnavailable(f"slot {slot.id} was taken")
        ref = str(uuid.uuid4())
        await db.insert_booking(
            self._conn, ref, request_id, schedule.service_id, request, slot.id, now
        )
        return await self._reread(ref), True

    async def _cancel(self, supplier_ref: str) -> Booking:
        booking = await self._booking(supplier_ref)
        if booking is None:
            raise errors.BookingNotFound(f"no booking {shown(supplier_ref)} in this diary")
        if booking.status is not BookingStatus.BOOKED:
            raise errors.BookingNotCancellable(
                f"booking {shown(supplier_ref)} is {booking.status.value}"
            )
        now = self._clock()
        if booking.start <= now:
            raise errors.BookingNotCancellable(f"booking {shown(supplier_ref)} has already started")
        await db.set_booking_status(self._conn, supplier_ref, BookingStatus.CANCELLED, now)
        await db.set_slot_status(
            self._conn, booking.slot.id, SlotStatus.FREE, only_if=SlotStatus.BUSY
        )
        return await self._reread(supplier_ref)

    async def _booking(self, supplier_ref: str) -> Booking | None:
        return await db.booking_by_ref(self._conn, supplier_ref) if storable(supplier_ref) else None

    async def _reread(self, supplier_ref: str) -> Booking:
        booking = await db.booking_by_ref(self._conn, supplier_ref)
        if booking is None:  # pragma: no cover - written in this very transaction
            raise errors.SupplierProtocolError("a booking vanished inside its transaction")
        return booking

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
        added = await self._write(call, lambda: db.add_slots(self._conn, fresh))
        self._generated_for = today
        if added:
            log.info(
                "slots_generated",
                adapter=self._log_name,
                added=added,
                through=str(today + timedelta(days=self._horizon_days - 1)),
            )
        return added

    async def _write(self, call: Call, work: Callable[[], Awaitable[T]]) -> T:
        """``work`` in one ``BEGIN IMMEDIATE`` transaction, rolled back on any failure."""
        try:
            await self._conn.execute("BEGIN IMMEDIATE")
            result = await work()
            call.commit_sent = True
            await self._conn.execute("COMMIT")
        except BaseException:
            # Statements run in order on the connection's thread, so this rollback
            # follows whatever a cancelled await had already queued.
            with suppress(sqlite3.Error, ValueError):
                await self._conn.execute("ROLLBACK")
            raise
        return result

    @asynccontextmanager
    async def _guard(self, operation: str, ctx: CallContext | None) -> AsyncIterator[Call]:
        if self._closed:
            raise errors.SupplierUnavailable(f"{operation}: the embedded adapter is closed")
        async with guarded(operation, ctx, self._lock, self._log_name) as call:
            yield call


def _check_fits(request: BookingRequest, slot: Slot) -> None:
    if not slot.start <= request.start < request.end <= slot.end:
        raise errors.SlotMismatch(
            f"slot {slot.id} runs {slot.start.isoformat()} to {slot.end.isoformat()}; "
            "the booking's times do not fit it"
        )
