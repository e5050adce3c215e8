"""What the adapter does with one inbound frame from the PAS (SIU, chapter 10.5).

A frame holds one message, several, or an HL7 batch (``adapters.hl7_toolkit.frames``); each
message is handled in order and answered, and the answers go back in one
frame shaped like the one received (see ``_answer``). For each message: read
its MSH-18 character set (else the supplier's ``default_encoding``) and
decode it, answering ``AR`` if it cannot be read; look it up in the journal
by (sender, MSH-10): an identical accepted message gets its first ACK again,
a different one under the same id is evaluated (the clash is logged); then
validate and map (``_siu``), update the journal, answer AA (or AE/AR with
ERR-3 and a reason), and only then report the change to the gateway. Only
accepted messages are remembered: a rejected one may be fixed and resent.
A booking this adapter is still making (its placer id is pending) is handed
to the waiting ``book()`` instead, so the gateway never sees it twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

import structlog

from adapters import errors, telemetry
from adapters.contract import BookingChange, BookingListener
from adapters.hl7_toolkit.charsets import UnknownCharset, codec_for
from adapters.hl7_toolkit.er7 import Message, Segment
from adapters.hl7_toolkit.frames import Heading, Parcel, envelope_field, heading, split
from adapters.hl7_toolkit.header import ErrorDetail, ack, batch_envelope
from adapters.hl7_toolkit.loggable import loggable_id
from adapters.hl7_toolkit.mllp import UnreadableFrame
from adapters.hl7_toolkit.values import short_id
from adapters.hl7v2._booking import Booker
from adapters.hl7v2._journal import PENDING, UNKNOWN
from adapters.hl7v2._link import Link
from adapters.hl7v2._siu import Rejected, read_change, to_booking
from adapters.journaling import APPLIED, DUPLICATE, FAILED, REJECTED, Heard, MessageSink

log = structlog.get_logger(__name__)
After = Callable[[], Awaitable[None]]


class Receiver:
    def __init__(
        self, link: Link, booker: Booker, clock: Callable[[], datetime], log_name: str
    ) -> None:
        self.link, self.booker, self.clock, self.log_name = link, booker, clock, log_name
        self.listener: BookingListener | None = None
        #: The gateway's message journal, told of every message handled (``journal_to``).
        self.sink: MessageSink | None = None

    async def __call__(self, payload: bytes) -> tuple[str | None, After | None]:
        parcel = split(payload)
        answered: list[list[str]] = []
        afters: list[After] = []
        for batch in parcel.batches:
            answered.append([])
            for raw in batch.messages:
                answer, after = await self._one(raw)
                if answer is not None:
                    answered[-1].append(answer)
                if after is not None:
                    afters.append(after)
        count = sum(len(a) for a in answered)
        if not count:
            raise UnreadableFrame(payload)  # no MSH-10 to answer to: the listener hangs up
        if count > 1 or parcel.wrapped:
            log.info("siu_batch_received", adapter=self.log_name, messages=count)

        async def tell_all() -> None:
            for after in afters:
                await after()

        return self._answer(parcel, answered), tell_all if afters else None

    def _answer(self, parcel: Parcel, answered: Sequence[Sequence[str]]) -> str:
        """One frame back per frame received (MLLP, HL7 v2.5 Appendix C), in the same order.

        Chapter 2.10.3: a batch is acknowledged by a batch holding one ACK per
        message, under a BHS (and FHS) whose BHS-12/FHS-12 name the batch and
        file answered. A bare run of messages gets its ACKs one after another.
        """
        now, header = self.clock(), self.link.header
        parts: list[str] = []
        for batch, answers in zip(parcel.batches, answered, strict=True):
            text = "".join(answers)
            if batch.header is not None:
                theirs = envelope_field(batch.header, 11)
                ours = short_id(f"bhs|{theirs}|{text}")
                head, tail = batch_envelope(header, "B", theirs, ours, now, len(answers))
                text = _er7(head) + text + _er7(tail)
            parts.append(text)
        text = "".join(parts)
        if parcel.file_header is not None:
            theirs = envelope_field(parcel.file_header, 11)
            ours = short_id(f"fhs|{theirs}|{text}")
            head, tail = batch_envelope(header, "F", theirs, ours, now, len(parcel.batches))
            text = _er7(head) + text + _er7(tail)
        return text

    async def _one(self, raw: bytes) -> tuple[str | None, After | None]:
        answer, after, heard = await self._handle(raw)
        sink = self.sink
        if heard is not None and sink is not None:
            await sink(self.link.name, heard)
        return answer, after

    async def replay(self, raw: bytes) -> Heard:
        """Handle a journaled message again now, telling the gateway at once (no ACK is sent).

        An identical message already accepted is answered from the journal and
        reported as a duplicate: replaying it changes nothing.
        """
        _, after, heard = await self._handle(raw)
        if after is not None:
            await after()
        if heard is None:
            return Heard(CHANNEL, "", "", "", raw, REJECTED, "AR:100", "no readable MSH segment")
        return heard

    async def _handle(self, raw: bytes) -> tuple[str | None, After | None, Heard | None]:
        head = heading(raw)
        if head is None:
            return None, None, None
        telemetry.message("hl7v2_siu", "received")
        try:
            text = self._decode(head, raw)
        except Rejected as exc:
            return self._refuse(head, exc), None, _heard(head, raw, exc)
        journal, options = self.link.journal, self.link.options
        now = self.clock().timestamp()
        seen = await journal.inbound_seen(
            head.sender, head.control_id, now - options.inbound_retention_s
        )
        if seen is not None and seen.content_hash == head.content_hash:
            log.info("siu_replayed", adapter=self.log_name, control_id=loggable_id(head.control_id))
            telemetry.message("hl7v2_siu", "replayed")
            return seen.ack, None, _heard(head, raw, None, DUPLICATE)
        if seen is not None:
            log.warning(
                "siu_control_id_reused",
                adapter=self.log_name,
                control_id=loggable_id(head.control_id),
                sender=loggable_id(head.sender),
                first_hash=seen.content_hash[:16],
                this_hash=head.content_hash[:16],
            )
        try:
            answer, after = await self._apply(text, head.control_id, head.trigger)
        except Rejected as exc:
            return self._refuse(head, exc), None, _heard(head, raw, exc)
        await journal.remember_inbound(
            head.sender,
            head.control_id,
            head.content_hash,
            answer,
            now,
            options.inbound_retention_s,
        )
        telemetry.message("hl7v2_siu", "applied")
        return answer, after, _heard(head, raw, None)

    def _decode(self, head: Heading, raw: bytes) -> str:
        """The message as text, by its MSH-18 or the supplier's default (chapter 2.14.9.18)."""
        try:
            return raw.decode(codec_for(head.charset or self.link.options.default_encoding))
        except UnknownCharset as exc:
            raise Rejected(str(exc), "AR", "103") from None
        except UnicodeDecodeError as exc:
            reason = f"the message is not valid {exc.encoding} text (byte {exc.start})"
            raise Rejected(reason, "AR", "102") from None

    def _refuse(self, head: Heading, exc: Rejected) -> str:
        telemetry.message("hl7v2_siu", "rejected")
        log.warning(
            "siu_rejected",
            adapter=self.log_name,
            control_id=loggable_id(head.control_id),
            hl7_code=exc.hl7_code,
            ack_code=exc.ack_code,
        )
        detail = ErrorDetail(exc.hl7_code, "", exc.reason)
        return self._ack(head.trigger, head.control_id, exc.ack_code, detail)

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
            booking = to_booking(
                change,
                link.name,
                link.mappings,
                known,
                self.clock(),
                link.options.identifier_defaults,
            )
        except errors.MappingError as exc:
            raise Rejected(exc.message, "AE", "103") from None
        attempt = await journal.attempt_by_placer(record.placer_id) if record.placer_id else None
        await journal.keep(booking, record.placer_id or None)
        log.info(
            "siu_accepted",
            adapter=self.log_name,
            control_id=loggable_id(control),
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


#: The message journal's channel of the SIU messages this listener hears.
CHANNEL = "hl7v2.siu"


def _heard(head: Heading, raw: bytes, refused: Rejected | None, outcome: str = APPLIED) -> Heard:
    """What the journal keeps of one message: AE is a failure (a mapping row may fix it),
    AR a rejection. Only a mapping reason is kept: it names codes, never patient values."""
    if refused is not None:
        outcome = FAILED if refused.ack_code == "AE" else REJECTED
        code = f"{refused.ack_code}:{refused.hl7_code}"
        reason = refused.reason if refused.hl7_code == "103" else ""
        return Heard(
            CHANNEL, head.sender, head.control_id, head.content_hash, raw, outcome, code, reason
        )
    return Heard(CHANNEL, head.sender, head.control_id, head.content_hash, raw, outcome)


def _er7(segment: Segment) -> str:
    return Message((segment,)).to_er7()
