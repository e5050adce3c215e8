"""Exactly-once booking across the legacy leg (the issue's point 4).

- MSH-10 and the placer appointment id (ARQ-1) are derived from the request's
  idempotency key, so a resent ``SRM^S01`` is recognised by the PAS (HL7 v2.5
  chapter 2.10.1: duplicate detection by MSH-10) and never books twice.
- The attempt is journalled *before* the message leaves. When the answer is
  lost (timeout, closed connection, garbled frame) the outcome is unknown, not
  failed: the adapter asks the PAS (``SQM^S25`` by placer id) before sending
  again, and if it still cannot tell it raises ``OutcomeUnknown``.
- ``reconcile`` settles every attempt left unknown (or pending after a crash):
  a booking the PAS confirmed after the consumer was told it failed is
  cancelled again (``SRM^S04``) and recorded in the journal's events.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime

import structlog

from adapters import errors
from adapters.domain import Booking, BookingRequest, BookingStatus, CallContext, Slot
from adapters.hl7_toolkit import scheduling as sched
from adapters.hl7_toolkit.er7 import Message
from adapters.hl7_toolkit.header import read_ack
from adapters.hl7_toolkit.mllp_client import TransportError
from adapters.hl7_toolkit.pid import to_pid
from adapters.hl7_toolkit.values import short_id
from adapters.hl7v2._edge import refusal
from adapters.hl7v2._journal import (
    COMPENSATED,
    CONFIRMED,
    FAILED,
    PENDING,
    UNKNOWN,
    Attempt,
)
from adapters.hl7v2._link import Budget, Link
from adapters.hl7v2._search import SlotRef
from adapters.hl7v2._siu import slot_uuid

log = structlog.get_logger(__name__)


class Booker:
    def __init__(
        self, link: Link, clock: Callable[[], datetime], key_lock: Callable[[str], asyncio.Lock]
    ) -> None:
        self.link = link
        self.clock = clock
        self.key_lock = key_lock
        #: placer id -> the book() waiting for its SIU^S12 (booking_answer: ack-then-siu)
        self.waiters: dict[str, asyncio.Future[sched.Booked]] = {}

    async def book(
        self, request: BookingRequest, ref: SlotRef, ctx: CallContext, budget: Budget
    ) -> tuple[Booking, bool]:
        """The booking for ``ctx.request_id`` and whether this call made it."""
        journal = self.link.journal
        attempt = await journal.attempt(ctx.request_id)
        if attempt is not None and attempt.state == CONFIRMED and attempt.supplier_ref:
            done = await journal.booking(attempt.supplier_ref)
            if done is not None:
                return done, False
        reused = attempt is not None and attempt.state in (PENDING, UNKNOWN)
        if attempt is not None and reused:
            # Asked again while the outcome is open: ask the PAS before sending again.
            try:
                found = await self._ask(attempt, budget)
            except TimeoutError as exc:
                raise await self._unknown(attempt, exc) from exc
            if found is not None:
                return await self._settled(attempt, found, request, ref), False
        else:
            generation = attempt.generation + 1 if attempt is not None else 0
            seed = f"{ctx.request_id}|{generation}"
            attempt = Attempt(
                ctx.request_id,
                generation,
                short_id(f"placer|{seed}"),
                short_id(f"S01|{seed}"),
                PENDING,
                None,
                time.time(),
            )
        await journal.begin(_touched(attempt, PENDING))
        try:
            message = self._message(attempt, request, ref, ctx)
        except errors.AdapterError:
            await journal.settle(attempt.request_id, FAILED, time.time())
            raise
        return await self._send(attempt, message, request, ref, budget, reused), True

    def _message(
        self, attempt: Attempt, request: BookingRequest, ref: SlotRef, ctx: CallContext
    ) -> Message:
        link = self.link
        arq = sched.ArqRequest(
            placer_id=attempt.placer_id,
            schedule=ref.schedule,
            start=ref.record.start,
            end=ref.record.end,
            description=request.description,
            requester=ctx.organisation.ods_code if ctx.organisation else "",
            pid=to_pid(request.patient, link.mappings),
        )
        head = link.msh("SRM", "S01", "SRM_S01", attempt.control_id)
        return sched.booking_request(head, arq, link.header.zone)

    async def _send(
        self,
        attempt: Attempt,
        message: Message,
        request: BookingRequest,
        ref: SlotRef,
        budget: Budget,
        reused: bool,
    ) -> Booking:
        waiter = self._wait_for_siu(attempt.placer_id)
        maybe_sent = reused  # an earlier call may already have sent it
        try:
            for _ in range(2):
                try:
                    answer = await self.link.exchange(message, budget)
                except TransportError as exc:
                    if not exc.sent and not maybe_sent:
                        await self.link.journal.settle(attempt.request_id, FAILED, time.time())
                        raise
                    maybe_sent = True
                    log.warning(
                        "booking_answer_lost",
                        placer_id=attempt.placer_id,
                        control_id=attempt.control_id,
                        cause=type(exc).__name__,
                    )
                    found = await self._ask(attempt, budget)
                    if found is not None:
                        return await self._settled(attempt, found, request, ref)
                    continue  # the PAS never got it: the same MSH-10 again is safe
                record = await self._answered(attempt, answer, waiter, budget)
                return await self._settled(attempt, record, request, ref)
            raise TimeoutError("no answer after sending twice")
        except (TransportError, TimeoutError) as exc:
            if isinstance(exc, TransportError) and not maybe_sent:
                raise
            raise await self._unknown(attempt, exc) from exc
        finally:
            self.waiters.pop(attempt.placer_id, None)

    async def _unknown(self, attempt: Attempt, cause: BaseException) -> errors.OutcomeUnknown:
        await self.link.journal.settle(attempt.request_id, UNKNOWN, time.time())
        log.warning(
            "booking_outcome_left_unknown",
            placer_id=attempt.placer_id,
            control_id=attempt.control_id,
            cause=type(cause).__name__,
        )
        return errors.OutcomeUnknown(
            "book: the PAS may or may not have made the booking; it will be checked "
            "and cancelled if it was made",
            supplier_detail=type(cause).__name__,
        )

    def _wait_for_siu(self, placer_id: str) -> asyncio.Future[sched.Booked] | None:
        if self.link.options.booking_answer != "ack-then-siu":
            return None
        waiter: asyncio.Future[sched.Booked] = asyncio.get_running_loop().create_future()
        self.waiters[placer_id] = waiter
        return waiter

    async def _answered(
        self,
        attempt: Attempt,
        answer: Message,
        waiter: asyncio.Future[sched.Booked] | None,
        budget: Budget,
    ) -> sched.Booked:
        ack = read_ack(answer)
        if not ack.accepted:
            await self.link.journal.settle(attempt.request_id, FAILED, time.time())
            raise refusal("book", ack, self.link.mappings)
        found = sched.groups(answer)
        if found:
            return sched.read_group(found[0], self.link.header.zone)
        if waiter is None:
            raise errors.SupplierProtocolError("book: the PAS accepted but sent no SCH")
        try:
            async with asyncio.timeout(budget.remaining()):
                return await asyncio.shield(waiter)
        except TimeoutError:
            found_later = await self._ask(attempt, budget)
            if found_later is None:
                raise
            return found_later

    async def _ask(self, attempt: Attempt, budget: Budget) -> sched.Booked | None:
        """The PAS's answer for this placer id; retried with backoff while the budget lasts."""
        delay = 0.1
        while True:
            try:
                return await self.link.lookup(attempt.placer_id, "", budget)
            except (TransportError, errors.AdapterError, ValueError) as exc:
                log.info(
                    "booking_lookup_failed",
                    placer_id=attempt.placer_id,
                    error_type=type(exc).__name__,
                )
                if budget.remaining() <= delay:
                    raise TimeoutError("the PAS could not be asked in time") from exc
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def _settled(
        self, attempt: Attempt, record: sched.Booked, request: BookingRequest, ref: SlotRef
    ) -> Booking:
        mappings = self.link.mappings
        status = mappings.status(record.status)
        if status.booking is not BookingStatus.BOOKED:
            await self.link.journal.settle(attempt.request_id, FAILED, time.time())
            raise errors.BookingRejected(f"book: the PAS holds it as '{record.status}'")
        schedule = mappings.schedule(record.schedule or ref.schedule)
        channel = mappings.channel(record.appointment_type) if record.appointment_type else None
        slot_id = slot_uuid(self.link.name, schedule.pas_schedule, record.start)
        booking = Booking(
            supplier_ref=record.filler_id,
            status=BookingStatus.BOOKED,
            slot=Slot(
                id=slot_id,
                identifier=slot_id,
                schedule_id=schedule.schedule.id,
                status=status.slot,
                start=record.start,
                end=record.end,
                delivery_channel=channel,
            ),
            service_id=schedule.schedule.service_id,
            start=record.start,
            end=record.end,
            description=request.description,
            patient=request.patient,
            document=request.document,
            referral_reference=request.referral_reference,
            created=self.clock(),
        )
        if not booking.supplier_ref:
            raise errors.SupplierProtocolError("book: the PAS sent no filler appointment id")
        await self.link.journal.keep(booking, attempt.placer_id)
        await self.link.journal.settle(
            attempt.request_id, CONFIRMED, time.time(), booking.supplier_ref
        )
        return booking

    # -- settling what was left open ---------------------------------------------------

    async def reconcile(self, older_than_s: float) -> int:
        """Settle unknown and abandoned attempts; returns how many were settled."""
        settled = 0
        for attempt in await self.link.journal.unsettled(time.time() - older_than_s):
            lock = self.key_lock(attempt.request_id)
            if lock.locked():
                continue  # a book() of this process still owns it
            async with lock:
                current = await self.link.journal.attempt(attempt.request_id)
                if current is None or current.state not in (PENDING, UNKNOWN):
                    continue
                if await self._settle_one(current):
                    settled += 1
        return settled

    async def _settle_one(self, attempt: Attempt) -> bool:
        budget = Budget.of(min(self.link.options.time_budget_s, 5.0))
        try:
            found = await self.link.lookup(attempt.placer_id, "", budget)
        except (TransportError, errors.AdapterError, ValueError):
            return False  # still cannot tell: try again later
        journal = self.link.journal
        if found is None or self.link.mappings.status(found.status).booking is not (
            BookingStatus.BOOKED
        ):
            await journal.settle(attempt.request_id, FAILED, time.time())
            return True
        if not await self._compensate(attempt, found, budget):
            return False
        await journal.settle(attempt.request_id, COMPENSATED, time.time(), found.filler_id)
        await journal.record("unconfirmed_booking_cancelled", attempt.placer_id, found.filler_id)
        log.warning(
            "unconfirmed_booking_cancelled",
            placer_id=attempt.placer_id,
            supplier_ref=found.filler_id,
        )
        return True

    async def _compensate(self, attempt: Attempt, found: sched.Booked, budget: Budget) -> bool:
        link = self.link
        request = sched.ArqRequest(
            placer_id=attempt.placer_id, filler_id=found.filler_id, schedule=found.schedule
        )
        head = link.msh("SRM", "S04", "SRM_S01", short_id(f"compensate|{attempt.placer_id}"))
        try:
            answer = await link.exchange(
                sched.cancel_request(head, request, link.header.zone), budget
            )
        except TransportError:
            return False
        ack = read_ack(answer)
        if ack.accepted:
            return True
        return isinstance(refusal("compensate", ack, link.mappings), errors.BookingNotCancellable)


def _touched(attempt: Attempt, state: str) -> Attempt:
    return Attempt(
        attempt.request_id,
        attempt.generation,
        attempt.placer_id,
        attempt.control_id,
        state,
        attempt.supplier_ref,
        time.time(),
    )
