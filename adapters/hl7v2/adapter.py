"""The HL7 v2 adapter: national bookings into a legacy PAS over MLLP (DESIGN.md).

Slot search is ``SQM^S25``/``SQR^S25``, booking ``SRM^S01`` (answered by
``SRR^S01``, or ACK then ``SIU^S12``), cancelling ``SRM^S04``/``SRR^S04``.
Reads come from the adapter's journal, kept current by answers and by the
PAS's unsolicited ``SIU`` messages, which are also reported to the gateway.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from datetime import datetime

import structlog

from adapters import errors
from adapters.contract import BookingListener, Capability, Health
from adapters.domain import (
    Booking,
    BookingRequest,
    BookingStatus,
    CallContext,
    SlotQuery,
    SlotSearchResult,
    SlotStatus,
    utcnow,
)
from adapters.hl7_toolkit import scheduling as sched
from adapters.hl7_toolkit.header import read_ack
from adapters.hl7_toolkit.mllp_client import TransportError
from adapters.hl7_toolkit.values import short_id
from adapters.hl7v2 import _siu
from adapters.hl7v2._booking import Booker
from adapters.hl7v2._edge import guarded, refusal, storable
from adapters.hl7v2._inbound import Listener
from adapters.hl7v2._link import Budget, Link
from adapters.hl7v2._receive import Receiver
from adapters.hl7v2._schedule_rows import ScheduleRows
from adapters.hl7v2._search import SlotRef, search_result, without_held
from adapters.journaling import Heard, MessageSink

log = structlog.get_logger(__name__)
SLOT_MEMORY = 100_000
_UNKNOWN_CODE = "the PAS refuses slot queries for this schedule code"


class Hl7v2Adapter:
    """A ``NotifyingAdapter`` whose supplier is a PAS speaking HL7 v2 over MLLP."""

    def __init__(self, link: Link, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.name = link.name
        self.link = link
        caps = frozenset(Capability) - {Capability.REFERRAL}
        self.capabilities = caps if link.options.listen else caps - {Capability.NOTIFICATIONS}
        self._clock = clock
        self._log_name = link.options.log_name or link.name
        self._slots: OrderedDict[str, SlotRef] = OrderedDict()
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self.booker = Booker(link, clock, self._key_lock)
        self.schedule_rows = ScheduleRows(self._log_name)
        self.receiver = Receiver(link, self.booker, clock, self._log_name)
        self.inbound: Listener | None = None
        self.listen_address: tuple[str, int] | None = None
        self._reconciler: asyncio.Task[None] | None = None
        self._closed = False

    # -- the SupplierAdapter contract -------------------------------------------------

    async def search_slots(self, query: SlotQuery, ctx: CallContext) -> SlotSearchResult:
        async with self._guard("search_slots", ctx):
            mappings = self.link.mappings
            if not storable(query.service_id) or query.service_id not in mappings.services:
                raise errors.ServiceNotFound("no schedules are mapped for this service")
            codes = self.schedule_rows.usable(
                c
                for c, m in mappings.schedules.items()
                if m.schedule.service_id == query.service_id
            )
            statuses = tuple(c for s in query.statuses for c in mappings.statuses_out.get(s, ()))
            if not statuses or not codes:
                return SlotSearchResult()
            budget = Budget.of(self._budget_s, ctx)
            records = await self._slots_of(codes, statuses, query, budget)
            records = [r for r in records if _within(r, query)]
            result, refs = search_result(self.name, records, mappings, query.statuses)
            free = (s.id for s in result.slots if s.status is SlotStatus.FREE)
            held = await self.link.journal.held(free)
            result = without_held(result, held, query.statuses)
        self._remember(refs)
        return result

    async def _slots_of(
        self, codes: tuple[str, ...], statuses: tuple[str, ...], query: SlotQuery, budget: Budget
    ) -> list[sched.Booked]:
        """The PAS's slots of ``codes``; if it refuses a code, those of the codes it knows."""
        rows = self.schedule_rows
        try:
            found = await self._ask_slots(codes, statuses, query, budget)
        except errors.ServiceNotFound:
            if len(codes) == 1:
                rows.refused(self.link.mappings.schedules[codes[0]], _UNKNOWN_CODE)
                return []
        else:
            rows.answered(codes)
            return found
        found = []
        for code in codes:  # which row does the PAS refuse?
            try:
                found += await self._ask_slots((code,), statuses, query, budget)
            except errors.ServiceNotFound:
                rows.refused(self.link.mappings.schedules[code], _UNKNOWN_CODE)
            else:
                rows.answered((code,))
        return found

    async def _ask_slots(
        self, codes: tuple[str, ...], statuses: tuple[str, ...], query: SlotQuery, budget: Budget
    ) -> list[sched.Booked]:
        control = short_id(uuid.uuid4().hex)
        now = utcnow()
        message = sched.slot_query(
            self.link.msh("SQM", "S25", "SQM_S25", control, now),
            sched.SlotQuery(codes, query.start_from, query.start_to, statuses, control),
            now,
            self.link.header.zone,
        )
        answer = await self.link.exchange(message, budget)
        reply = read_ack(answer)
        if not reply.accepted:
            raise refusal("search_slots", reply, self.link.mappings)
        return [sched.read_group(g, self.link.header.zone) for g in sched.groups(answer)]

    async def book(self, request: BookingRequest, ctx: CallContext) -> Booking:
        async with self._guard("book", ctx):
            ref = self._slot_ref(request)
            async with self._key_lock(ctx.request_id):
                booking, fresh = await self.booker.book(
                    request, ref, ctx, Budget.of(self._budget_s, ctx)
                )
        log.info(
            "slot_booked" if fresh else "booking_replayed",
            adapter=self._log_name,
            supplier_ref=booking.supplier_ref,
            slot_id=booking.slot.id,
            request_id=ctx.request_id,
        )
        return booking

    async def get(
        self, supplier_ref: str, ctx: CallContext, *, service_id: str | None = None
    ) -> Booking:
        async with self._guard("get", ctx):
            found = (
                await self.link.journal.booking(supplier_ref) if storable(supplier_ref) else None
            )
        if found is None:
            raise errors.BookingNotFound("no booking under this reference")
        return found

    async def cancel(
        self, supplier_ref: str, ctx: CallContext, *, service_id: str | None = None
    ) -> Booking:
        async with self._guard("cancel", ctx):
            journal = self.link.journal
            current = await journal.booking(supplier_ref) if storable(supplier_ref) else None
            if current is None:
                raise errors.BookingNotFound("no booking under this reference")
            async with self._key_lock(f"cancel|{supplier_ref}"):
                cancelled = await self._cancel(current, ctx, Budget.of(self._budget_s, ctx))
        log.info(
            "booking_cancelled",
            adapter=self._log_name,
            supplier_ref=supplier_ref,
            request_id=ctx.request_id,
        )
        return cancelled

    def serves(self, service_id: str) -> bool:
        return service_id in self.link.mappings.services

    async def health(self) -> Health:
        if self._closed:
            return Health(ok=False, detail="closed")
        began = time.perf_counter()
        try:
            await self.link.lookup("HEALTH-PING", "", Budget.of(2.0))
        except (TransportError, errors.AdapterError, ValueError) as exc:
            return Health(ok=False, detail=f"PAS unreachable ({type(exc).__name__})")
        latency = (time.perf_counter() - began) * 1000
        detail = f"HL7 v2 PAS at {self.link.client.host}:{self.link.client.port}"
        # Still ok: the service's other schedules are served; the row is named for the operator.
        unusable = self.schedule_rows.report()
        return Health(
            ok=True, detail=f"{detail}; {unusable}" if unusable else detail, latency_ms=latency
        )

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._reconciler is not None:
            self._reconciler.cancel()
            with suppress(asyncio.CancelledError):
                await self._reconciler
        if self.inbound is not None:
            await self.inbound.close()
        await self.link.client.close()
        with suppress(Exception):  # closing must not fail the shutdown of everything else
            await self.link.journal.close()
        log.info("hl7v2_adapter_closed", adapter=self._log_name)

    # -- NotifyingAdapter ----------------------------------------------------------------

    def subscribe(self, listener: BookingListener) -> None:
        self.receiver.listener = listener

    # -- JournalingAdapter (adapters/journaling.py) ------------------------------------

    def journal_to(self, sink: MessageSink) -> None:
        self.receiver.sink = sink

    async def replay(self, payload: bytes) -> Heard:
        """Handle a journaled SIU again through the current mapping (see ``Receiver.replay``)."""
        if self._closed:
            raise errors.SupplierUnavailable("the adapter is closed")
        return await self.receiver.replay(payload)

    async def start(self, listen_tls: ssl.SSLContext | None = None) -> None:
        """Start the SIU listener (if configured) and the reconciler."""
        options = self.link.options
        if options.listen is not None:
            self.inbound = Listener(
                self.receiver, max_frame=options.max_frame_bytes, log_name=self._log_name
            )
            self.listen_address = await self.inbound.start(
                options.listen.host, options.listen.port, listen_tls
            )
        self._reconciler = asyncio.get_running_loop().create_task(self._reconcile_forever())

    async def reconcile(self) -> int:
        """Settle attempts whose outcome is open (also run every ``reconcile_interval_s``)."""
        return await self.booker.reconcile(self.link.options.reconcile_after_s)

    # -- internals -------------------------------------------------------------------------

    @property
    def _budget_s(self) -> float:
        return self.link.options.time_budget_s

    def _key_lock(self, key: str) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    def _remember(self, refs: dict[str, SlotRef]) -> None:
        for slot_id, ref in refs.items():
            self._slots[slot_id] = ref
            self._slots.move_to_end(slot_id)
        while len(self._slots) > SLOT_MEMORY:
            self._slots.popitem(last=False)

    def _slot_ref(self, request: BookingRequest) -> SlotRef:
        """The PAS slot named by the request: from a search, else derived from its start."""
        ref = self._slots.get(request.slot_id)
        if ref is None and storable(request.slot_id):
            for code in self.link.mappings.schedules:
                if _siu.slot_uuid(self.name, code, request.start) == request.slot_id:
                    record = sched.Booked(code, request.start, request.end, "")
                    ref = SlotRef(code, record)
                    break
        if ref is None:
            raise errors.SlotNotFound("the slot is not one this PAS offered")
        if (request.start, request.end) != (ref.record.start, ref.record.end):
            raise errors.SlotMismatch("this PAS books whole slots: the times must be the slot's")
        return ref

    async def _cancel(self, current: Booking, ctx: CallContext, budget: Budget) -> Booking:
        link = self.link
        placer = await link.journal.placer_of(current.supplier_ref) or ""
        schedule = next(
            (
                c
                for c, m in link.mappings.schedules.items()
                if m.schedule.id == current.slot.schedule_id
            ),
            "",
        )
        request = sched.ArqRequest(
            placer_id=placer or current.supplier_ref,
            filler_id=current.supplier_ref,
            schedule=schedule,
        )
        head = link.msh(
            "SRM", "S04", "SRM_S01", short_id(f"S04|{ctx.request_id}|{current.supplier_ref}")
        )
        message = sched.cancel_request(head, request, link.header.zone)
        try:
            answer = await link.exchange(message, budget)
        except TransportError as exc:
            if not exc.sent:
                raise
            found = await self._ask_cancelled(current, budget)
            if found is None:
                raise errors.OutcomeUnknown(
                    "cancel: the PAS may or may not have cancelled; cancelling again is safe"
                ) from exc
            return await self._keep_cancelled(current, found, placer)
        reply = read_ack(answer)
        if not reply.accepted:
            raise refusal("cancel", reply, link.mappings)
        found_groups = sched.groups(answer)
        record = sched.read_group(found_groups[0], link.header.zone) if found_groups else None
        return await self._keep_cancelled(current, record, placer)

    async def _ask_cancelled(self, current: Booking, budget: Budget) -> sched.Booked | None:
        try:
            found = await self.link.lookup("", current.supplier_ref, budget)
        except (TransportError, errors.AdapterError, ValueError):
            return None
        if found is None or self.link.mappings.status(found.status).booking is BookingStatus.BOOKED:
            return None
        return found

    async def _keep_cancelled(
        self, current: Booking, record: sched.Booked | None, placer: str
    ) -> Booking:
        status = self.link.mappings.status(record.status) if record else None
        slot_status = status.slot if status else current.slot.status
        cancelled = current.model_copy(
            update={
                "status": BookingStatus.CANCELLED,
                "slot": current.slot.model_copy(update={"status": slot_status}),
            }
        )
        await self.link.journal.keep(cancelled, placer or None)
        return cancelled

    async def _reconcile_forever(self) -> None:
        interval = self.link.options.reconcile_interval_s
        while not self._closed:
            await asyncio.sleep(interval)
            try:
                settled = await self.reconcile()
            except Exception as exc:  # the loop must outlive one bad round
                log.warning(
                    "reconcile_failed", adapter=self._log_name, error_type=type(exc).__name__
                )
                continue
            if settled:
                log.info("bookings_reconciled", adapter=self._log_name, settled=settled)

    @asynccontextmanager
    async def _guard(self, operation: str, ctx: CallContext | None) -> AsyncIterator[None]:
        async with guarded(operation, ctx, self._closed, self._log_name):
            yield


def _within(record: sched.Booked, query: SlotQuery) -> bool:
    if query.start_from is not None and record.start < query.start_from:
        return False
    return query.start_to is None or record.start <= query.start_to
