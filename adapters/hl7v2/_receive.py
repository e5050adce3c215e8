"""What the adapter does with one inbound frame from the PAS (SIU, chapter 10.5).

Order of work: dedupe by MSH-10; validate and map (``_siu``); update the
journal; answer AA (or AE/AR with ERR-3 and a reason); and only then report
the change to the gateway. A booking this adapter is still making (its
placer id is pending) is handed to the waiting ``book()`` instead, so the
gateway never sees the same booking arrive twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import structlog

from adapters import errors
from adapters.contract import BookingChange, BookingListener
from adapters.hl7v2._booking import Booker
from adapters.hl7v2._journal import PENDING, UNKNOWN
from adapters.hl7v2._link import Link
from adapters.hl7v2._siu import Rejected, read_change, to_booking
from adapters.hl7v2.messages.er7 import Er7Error, parse
from adapters.hl7v2.messages.header import ErrorDetail, ack
from adapters.hl7v2.messages.values import short_id

log = structlog.get_logger(__name__)
After = Callable[[], Awaitable[None]]


class Receiver:
    def __init__(
        self, link: Link, booker: Booker, clock: Callable[[], datetime], log_name: str
    ) -> None:
        self.link, self.booker, self.clock, self.log_name = link, booker, clock, log_name
        self.listener: BookingListener | None = None

    async def __call__(self, payload: bytes) -> tuple[str | None, After | None]:
        try:
            text = payload.decode("utf-8")
            message = parse(text)
        except (UnicodeDecodeError, Er7Error):
            log.warning("unreadable_frame_dropped", adapter=self.log_name)
            return None, None  # no MSH-10 to answer to
        control = message.control_id
        replay = await self.link.journal.inbound_ack(control)
        if replay is not None:
            log.info("siu_replayed", adapter=self.log_name, control_id=control)
            return replay, None
        trigger = message.message_type[1]
        try:
            answer, after = await self._apply(text, control, trigger)
        except Rejected as exc:
            log.warning(
                "siu_rejected",
                adapter=self.log_name,
                control_id=control,
                hl7_code=exc.hl7_code,
                ack_code=exc.ack_code,
            )
            detail = ErrorDetail(exc.hl7_code, "", exc.reason)
            answer = self._ack(trigger, control, exc.ack_code, detail)
            after = None
        await self.link.journal.remember_inbound(control, answer)
        return answer, after

    def _ack(
        self, trigger: str, control: str, code: str = "AA", detail: ErrorDetail | None = None
    ) -> str:
        header = self.link.header
        message = ack(
            header, trigger, control, short_id(f"ack|{control}"), self.clock(), code, detail
        )
        return message.to_er7()

    async def _apply(self, text: str, control: str, trigger: str) -> tuple[str, After | None]:
        link = self.link
        change = read_change(
            text, link.mappings, link.header.zone, gate=link.options.validate_inbound
        )
        record = change.record
        waiter = self.booker.waiters.get(record.placer_id) if record.placer_id else None
        if waiter is not None and not waiter.done():
            waiter.set_result(record)  # our own booking, answered by SIU^S12
            return self._ack(trigger, control), None
        journal = link.journal
        known = await journal.booking(record.filler_id)
        if known is None and record.placer_id:
            known = await journal.booking_by_placer(record.placer_id)
        try:
            booking = to_booking(change, link.name, link.mappings, known, self.clock())
        except errors.MappingError as exc:
            raise Rejected(exc.message, "AE", "103") from None
        attempt = await journal.attempt_by_placer(record.placer_id) if record.placer_id else None
        await journal.keep(booking, record.placer_id or None)
        log.info(
            "siu_accepted",
            adapter=self.log_name,
            control_id=control,
            trigger=trigger,
            supplier_ref=booking.supplier_ref,
        )
        if attempt is not None and attempt.state in (PENDING, UNKNOWN):
            return self._ack(trigger, control), None  # the reconciler settles it
        listener = self.listener
        if listener is None:
            return self._ack(trigger, control), None
        change_event = BookingChange(booking=booking, reason=f"SIU^{trigger}")

        async def tell() -> None:
            await listener(link.name, change_event)

        return self._ack(trigger, control), tell
