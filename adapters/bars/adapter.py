"""The ``bars`` adapter: this gateway as a BaRS sender, through the national proxy.

DESIGN.md: "A legacy 111 system booking into a national provider = HL7 v2 front door +
... BaRS adapter". Each call goes to the proxy's API root with a bearer token
(``_token``), the BaRS headers (bars_toolkit.headers) and ``NHSD-Target-Identifier``
from the targets table (``_targets``); answers become canonical values
(``_slots_in``, ``_appointments``) or typed errors (``_errors``: one table).

Transactional-integrity/: ids derived from ``ctx.request_id`` (every retry, here or
by the gateway, carries the same); a 409 ``duplicate`` pointing at what the first
send made is followed; a lost answer whose retries run out is resolved by a read (the
patient's Appointments at that slot), else ``OutcomeUnknown`` -- never a second booking.
Cancels read before they write (Appointment-StandardPattern/Cancel-Booking), send the
version read, and re-read on 409/412.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

import aiohttp
import structlog

from adapters import errors
from adapters.bars import _appointments as appts
from adapters.bars._capability import Capabilities
from adapters.bars._errors import Op, error_for, is_duplicate
from adapters.bars._resources_in import Json, Unreadable, dicts, ref_id
from adapters.bars._slots_in import slot_result
from adapters.bars._targets import TargetEntry
from adapters.bars._wire import AnswerLost, Call, Reply, Wire
from adapters.bars_toolkit import messages
from adapters.bars_toolkit._resources import instant as r4_instant
from adapters.contract import BookingChange, BookingListener, Capability, Health
from adapters.domain import (
    Booking,
    BookingRequest,
    CallContext,
    HealthcareService,
    Referral,
    Schedule,
    Slot,
    SlotQuery,
    SlotSearchResult,
    SlotStatus,
    SupportingDocument,
    utcnow,
)

log = structlog.get_logger(__name__)
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
INCLUDES = (
    "Slot:schedule",
    "Schedule:actor:HealthcareService",
    "Schedule:actor:Practitioner",
    "Schedule:actor:PractitionerRole",
    "HealthcareService:providedBy",
    "HealthcareService:location",
)
NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"


@dataclass(frozen=True, slots=True)
class SeenSlot:
    service_id: str
    slot: Slot
    schedule: Schedule
    service: HealthcareService


K = TypeVar("K")
V = TypeVar("V")


class Lru(Generic[K, V]):
    def __init__(self, limit: int) -> None:
        self._limit, self._items = limit, OrderedDict[K, V]()

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._limit:
            self._items.popitem(last=False)

    def get(self, key: K) -> V | None:
        return self._items.get(key)


class BarsAdapter:
    """A ``SupplierAdapter`` whose suppliers are BaRS receivers behind the national proxy."""

    capabilities: frozenset[Capability] = frozenset(Capability) - {Capability.INCLUDE_LOCATION}
    #: A receiver takes a referral's later versions (servicerequest-request ``update``),
    #: so the gateway offers it a link made after both arrived (report first).
    referral_updates = True

    def __init__(
        self,
        name: str,
        *,
        wire: Wire,
        session: aiohttp.ClientSession,
        targets: dict[str, TargetEntry],
        capabilities: Capabilities,
        sender: messages.Party,
        timeout_s: float,
        cancel_attempts: int,
        booking: str = "auto",
        log_name: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.name = name
        self._wire = wire
        self._session = session
        self._targets = targets
        self._caps = capabilities
        self._sender = sender
        self._timeout_s = timeout_s
        self._cancel_attempts = cancel_attempts
        self._booking = booking
        self._log_name = log_name or name
        self._clock = clock
        self._closed = False
        self._slots: Lru[str, SeenSlot] = Lru(100_000)
        # What the receiver has no place for (the CDA document's reference), per booking.
        self._documents: Lru[str, SupportingDocument] = Lru(100_000)
        self._listener: BookingListener | None = None
        self.callback: object | None = None

    # -- the contract --------------------------------------------------------------

    async def search_slots(self, query: SlotQuery, ctx: CallContext) -> SlotSearchResult:
        async with self._guard(Op.SEARCH, ctx):
            entry = self._entry(query.service_id)
            result = await self._search(entry, query, ctx)
        return result

    async def book(self, request: BookingRequest, ctx: CallContext) -> Booking:
        async with self._guard(Op.BOOK, ctx) as state:
            seen = await self._find_slot(request, ctx)
            entry = self._targets[seen.service_id]
            by_message = await self._by_message(entry, ctx)
            call = self._book_call(entry, seen, request, ctx, by_message)
            state["write"] = True
            booking = await self._send_booking(entry, seen, request, call)
        if request.document is not None:
            self._documents.put(booking.supplier_ref, request.document)
            booking = booking.model_copy(update={"document": request.document})
        log.info(
            "slot_booked",
            adapter=self._log_name,
            supplier_ref=booking.supplier_ref,
            service_id=seen.service_id,
            x_request_id=call.ids[0],
            by_message=by_message,
        )
        return booking

    async def get(
        self, supplier_ref: str, ctx: CallContext, *, service_id: str | None = None
    ) -> Booking:
        async with self._guard(Op.READ, ctx):
            entry, appointment_id = self._locate(supplier_ref)
            data, _ = await self._read(entry, appointment_id, ctx, Op.READ, "read")
            return self._to_booking(data, entry)

    async def cancel(
        self, supplier_ref: str, ctx: CallContext, *, service_id: str | None = None
    ) -> Booking:
        async with self._guard(Op.CANCEL, ctx) as state:
            entry, appointment_id = self._locate(supplier_ref)
            for round_no in range(1, self._cancel_attempts + 1):
                data, _ = await self._read(entry, appointment_id, ctx, Op.CANCEL, f"read{round_no}")
                if data.get("status") != "booked":
                    raise errors.BookingNotCancellable("the booking is not booked at the receiver")
                state["write"] = True
                body = {**data, "status": "cancelled"}
                call = self._call(
                    Op.CANCEL,
                    "PUT",
                    f"/Appointment/{appointment_id}",
                    entry,
                    ctx,
                    body=body,
                    step=f"put{round_no}",
                )
                reply = await self._wire.send(call)
                if reply.status == 200 and isinstance(reply.body, dict):
                    return self._to_booking(reply.body, entry)
                if reply.status == 409 and is_duplicate(reply.body):
                    latest, _ = await self._read(entry, appointment_id, ctx, Op.CANCEL, "check")
                    return self._to_booking(latest, entry)
                if reply.status not in (409, 412) or round_no == self._cancel_attempts:
                    raise error_for(Op.CANCEL, reply.status, reply.body, reply.headers)
                log.info("cancel_conflicted", adapter=self._log_name, status=reply.status)
        raise errors.BookingNotCancellable("the cancel did not complete")  # pragma: no cover

    async def send_referral(self, referral: Referral, ctx: CallContext) -> str | None:
        """servicerequest-request ``new`` for a first version, ``update`` after, naming
        the receiver's own ServiceRequest id (``Referral.supplier_ref``) and booking.
        Returns ``<target endpoint>/ServiceRequest/<receiver's id>`` when it answers one."""
        async with self._guard(Op.REFERRAL, ctx) as state:
            entry = self._entry(referral.service_id)
            reason = "new" if referral.version == 1 else "update"
            held = _receiver_referral(referral.supplier_ref, entry)
            if reason == "update" and held is None:
                # The receiver would not know which referral is meant (REC_NOT_FOUND).
                raise errors.SupplierRefused("the receiver's id of this referral is not known")
            env = self._envelope(entry)
            message = messages.referral_request(
                env,
                referral,
                reason=reason,
                appointment=self._receiver_booking(referral, entry),
                receiver_id=held,
            )
            call = self._call(Op.REFERRAL, "POST", "/$process-message", entry, ctx, body=message)
            state["write"] = True
            reply = await self._wire.send(call)
            if reply.status in (200, 201) or (reply.status == 409 and is_duplicate(reply.body)):
                log.info("referral_sent", adapter=self._log_name, service_id=entry.service_id)
                found = _answered_referral(reply) or held
                return f"{entry.endpoint}/ServiceRequest/{found}" if found else None
            raise error_for(Op.REFERRAL, reply.status, reply.body, reply.headers)

    def _receiver_booking(self, referral: Referral, entry: TargetEntry) -> str | None:
        """The receiver's Appointment id of the booking the referral goes with: only a
        booking this adapter made at the same target (the gateway's own appointment id
        means nothing to the receiver)."""
        if referral.appointment_ref is None:
            return None
        head, marker, appointment_id = referral.appointment_ref.rpartition("/Appointment/")
        return appointment_id if marker and head == entry.endpoint and appointment_id else None

    def subscribe(self, listener: BookingListener) -> None:
        self._listener = listener

    def change_from(self, header: Json, appointment: Json) -> BookingChange:
        """A receiver's update (Asynchronous-Workflow) as a change of one of our bookings."""
        source = str((header.get("source") or {}).get("endpoint") or "")
        entry = next((e for e in self._targets.values() if e.endpoint == source), None)
        if entry is None:
            raise Unreadable("MessageHeader.source.endpoint names no known receiver")
        reason = str(next(iter(dicts((header.get("reason") or {}).get("coding"))), {}).get("code"))
        return BookingChange(booking=self._to_booking(appointment, entry), reason=f"bars {reason}")

    async def notify(self, change: BookingChange) -> None:
        if self._listener is not None:
            await self._listener(self.name, change)

    def serves(self, service_id: str) -> bool:
        return service_id in self._targets

    async def health(self) -> Health:
        if self._closed:
            return Health(ok=False, detail="closed")
        began = time.perf_counter()
        ctx = CallContext(request_id=str(uuid.uuid4()), deadline=time.monotonic() + 3.0)
        try:
            async with self._guard(Op.METADATA, ctx):
                for entry in self._targets.values():
                    reply = await self._wire.send(
                        self._call(Op.METADATA, "GET", "/metadata", entry, ctx)
                    )
                    if reply.status != 200:
                        return Health(
                            ok=False, detail=f"{entry.service_id} answered {reply.status}"
                        )
        except errors.AdapterError as exc:
            return Health(ok=False, detail=type(exc).__name__)
        latency = (time.perf_counter() - began) * 1000
        return Health(
            ok=True, detail=f"{len(self._targets)} receiver(s) via proxy", latency_ms=latency
        )

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            stop = getattr(self.callback, "stop", None)
            if stop is not None:
                await stop()
            await self._session.close()
        except Exception as exc:  # closing must not fail everything else's shutdown
            log.warning("bars_close_failed", adapter=self._log_name, error_type=type(exc).__name__)
            return
        log.info("bars_closed", adapter=self._log_name)

    # -- helpers -------------------------------------------------------------------

    def _entry(self, service_id: str) -> TargetEntry:
        entry = self._targets.get(service_id)
        if entry is None:
            raise errors.ServiceNotFound("no such service in the BaRS targets table")
        return entry

    def _call(
        self,
        op: Op,
        method: str,
        path: str,
        entry: TargetEntry,
        ctx: CallContext,
        *,
        body: Json | None = None,
        params: tuple[tuple[str, str], ...] = (),
        step: str = "",
    ) -> Call:
        raw = json.dumps(body, separators=(",", ":")).encode() if body is not None else None
        return Call(op, method, path, entry.target, ctx, params, raw, step)

    async def _search(
        self, entry: TargetEntry, query: SlotQuery, ctx: CallContext
    ) -> SlotSearchResult:
        now = utcnow()
        start_from = query.start_from or now
        start_to = query.start_to or start_from.replace(year=start_from.year + 1)
        params: list[tuple[str, str]] = [
            ("status", ",".join(sorted(s.value for s in query.statuses))),
            ("start", "ge" + r4_instant(start_from)),
            ("start", "le" + r4_instant(start_to)),
        ]
        # Schedule.actor:HealthcareService is optional (GET--Slots) and receivers differ on
        # which id it takes (DoS id or their own); NHSD-Target-Identifier already names the
        # service, so it is left out (docs/spec-choices.md).
        params += [("_include", i) for i in INCLUDES]
        step = f"{query.service_id}|{start_from.isoformat()}|{start_to.isoformat()}"
        call = Call(Op.SEARCH, "GET", "/Slot", entry.target, ctx, tuple(params), None, step)
        reply = await self._wire.send(call)
        if reply.status != 200 or not isinstance(reply.body, dict):
            raise error_for(Op.SEARCH, reply.status, reply.body, reply.headers)
        result = slot_result(reply.body, service_id=entry.service_id, service_name=entry.name)
        wanted = [
            s
            for s in result.slots
            if s.status in query.statuses and start_from <= s.start <= start_to
        ]
        service = result.services[entry.service_id]
        for slot in wanted:
            schedule = result.schedules.get(slot.schedule_id) or Schedule(
                id=slot.schedule_id, service_id=entry.service_id
            )
            seen = SeenSlot(entry.service_id, slot, schedule, service)
            self._slots.put(slot.id, seen)
            self._slots.put(slot.identifier, seen)
        return result.model_copy(update={"slots": tuple(wanted)})

    async def _find_slot(self, request: BookingRequest, ctx: CallContext) -> SeenSlot:
        seen = self._slots.get(request.slot_id)
        if seen is not None:
            return seen
        for entry in self._targets.values():
            query = SlotQuery(
                service_id=entry.service_id,
                statuses=frozenset(SlotStatus),
                start_from=request.start,
                start_to=request.start,
            )
            await self._search(entry, query, ctx)
            seen = self._slots.get(request.slot_id)
            if seen is not None:
                return seen
        raise errors.SlotNotFound("no receiver in the targets table offers this slot; search again")

    async def _by_message(self, entry: TargetEntry, ctx: CallContext) -> bool:
        if self._booking != "auto":
            return self._booking == "message"
        declared = await self._caps.messages(entry, ctx, self._wire)
        return messages.BOOK_DEFINITION in declared

    def _envelope(self, entry: TargetEntry) -> messages.Envelope:
        receiver = messages.Party(entry.ods_code, entry.endpoint, entry.name)
        return messages.Envelope(self._sender, receiver, self._clock())

    def _book_call(
        self,
        entry: TargetEntry,
        seen: SeenSlot,
        request: BookingRequest,
        ctx: CallContext,
        by_message: bool,
    ) -> Call:
        if not by_message:
            body = appts.rest_appointment(request, seen.slot.id, self._clock())
            return self._call(Op.BOOK, "POST", "/Appointment", entry, ctx, body=body)
        message = messages.booking_request(
            self._envelope(entry),
            slot=seen.slot,
            schedule=seen.schedule,
            service=seen.service,
            who=request.patient,
            description=request.description,
            based_on=request.referral_reference,
        )
        return self._call(Op.BOOK, "POST", "/$process-message", entry, ctx, body=message)

    async def _send_booking(
        self, entry: TargetEntry, seen: SeenSlot, request: BookingRequest, call: Call
    ) -> Booking:
        try:
            reply = await self._wire.send(call)
        except AnswerLost as lost:
            found = await self._recover(entry, seen, request, call.ctx)
            if found is not None:
                return found
            if not lost.sent:
                raise errors.SupplierUnavailable("book: the proxy could not be reached") from lost
            raise errors.OutcomeUnknown(
                "book: the answer was lost; the receiver may have booked"
            ) from lost
        if reply.status in (200, 201) and isinstance(reply.body, dict):
            return self._to_booking(_appointment_of(reply.body), entry)
        if reply.status == 409 and is_duplicate(reply.body):
            pointed = _pointer(reply)
            if pointed is not None:
                data, _ = await self._read(entry, pointed, call.ctx, Op.BOOK, "pointer")
                return self._to_booking(data, entry)
        if reply.status in (408, 504) or (reply.status >= 500 and not isinstance(reply.body, dict)):
            found = await self._recover(entry, seen, request, call.ctx)
            if found is not None:
                return found
        raise error_for(Op.BOOK, reply.status, reply.body, reply.headers)

    async def _recover(
        self, entry: TargetEntry, seen: SeenSlot, request: BookingRequest, ctx: CallContext
    ) -> Booking | None:
        """Transactional-integrity/Failure-Scenarios: did the lost request book? Read the
        patient's Appointments at the receiver and look for this slot, booked."""
        nhs = request.patient.nhs_number
        if nhs is None or ctx.expired():
            return None
        params = (("patient:identifier", f"{NHS_NUMBER}|{nhs}"),)
        call = Call(Op.READ, "GET", "/Appointment", entry.target, ctx, params, None, "recover")
        try:
            reply = await self._wire.send(call)
        except AnswerLost:
            return None
        if reply.status != 200 or not isinstance(reply.body, dict):
            return None
        for item in dicts(reply.body.get("entry")):
            data = item.get("resource")
            if not isinstance(data, dict) or data.get("status") != "booked":
                continue
            slots = [ref_id(s, "Slot") for s in dicts(data.get("slot"))]
            if seen.slot.id in slots:
                log.info("booking_recovered", adapter=self._log_name, service_id=entry.service_id)
                return self._to_booking(data, entry)
        return None

    async def _read(
        self, entry: TargetEntry, appointment_id: str, ctx: CallContext, op: Op, step: str
    ) -> tuple[Json, str | None]:
        call = Call(op, "GET", f"/Appointment/{appointment_id}", entry.target, ctx, (), None, step)
        reply = await self._wire.send(call)
        if reply.status != 200 or not isinstance(reply.body, dict):
            raise error_for(
                Op.READ if op is Op.READ else Op.CANCEL, reply.status, reply.body, reply.headers
            )
        return reply.body, reply.header("ETag")

    def _locate(self, supplier_ref: str) -> tuple[TargetEntry, str]:
        head, marker, appointment_id = supplier_ref.rpartition("/Appointment/")
        if marker and _ID.match(appointment_id):
            for entry in self._targets.values():
                if entry.endpoint == head:
                    return entry, appointment_id
        raise errors.BookingNotFound("not a booking reference this adapter issued")

    def _to_booking(self, data: Json, entry: TargetEntry) -> Booking:
        appointment_id = str(data.get("id") or "")
        if not _ID.match(appointment_id):
            raise Unreadable("Appointment.id is missing")
        ref = f"{entry.ref_prefix}{appointment_id}"
        slots = dicts(data.get("slot"))
        slot_id = ref_id(slots[0], "Slot") if slots else None
        seen = self._slots.get(slot_id) if slot_id else None
        found = appts.booking(
            data,
            supplier_ref=ref,
            service_id=entry.service_id,
            schedule_id=seen.schedule.id if seen else "",
        )
        document = self._documents.get(ref)
        return found.model_copy(update={"document": document}) if document else found

    @asynccontextmanager
    async def _guard(self, op: Op, ctx: CallContext) -> AsyncIterator[dict[str, bool]]:
        """The call's deadline, and every foreign failure as a typed error."""
        if self._closed:
            raise errors.SupplierUnavailable(f"{op.value}: the adapter is closed")
        if ctx.expired():
            raise errors.SupplierTimeout(f"{op.value}: the deadline passed before the call started")
        remaining = ctx.remaining()
        budget = self._timeout_s if remaining is None else remaining
        state = {"write": False}
        try:
            async with asyncio.timeout(budget):
                yield state
        except errors.AdapterError:
            raise
        except Exception as exc:
            raise _translate(op, exc, state["write"]) from exc


def _translate(op: Op, exc: BaseException, wrote: bool) -> errors.AdapterError:
    if isinstance(exc, TimeoutError):
        if wrote:
            return errors.OutcomeUnknown(f"{op.value}: the deadline passed awaiting the receiver")
        return errors.SupplierTimeout(f"{op.value}: the deadline passed")
    if isinstance(exc, AnswerLost):
        if exc.sent and wrote:
            return errors.OutcomeUnknown(f"{op.value}: the answer was lost")
        return errors.SupplierUnavailable(f"{op.value}: the proxy could not be reached")
    if isinstance(exc, Unreadable):
        return errors.SupplierProtocolError(f"{op.value}: {exc}", supplier_detail="unreadable")
    if isinstance(exc, ValueError):
        return errors.MappingError(f"{op.value}: {exc}")
    return errors.SupplierUnavailable(f"{op.value}: failed", supplier_detail=type(exc).__name__)


def _appointment_of(body: Json) -> Json:
    """The Appointment of a REST answer, or the focus of a response message."""
    if body.get("resourceType") == "Appointment":
        return body
    if body.get("resourceType") == "Bundle":
        for item in dicts(body.get("entry")):
            resource = item.get("resource")
            if isinstance(resource, dict) and resource.get("resourceType") == "Appointment":
                return resource
    raise Unreadable("the answer carries no Appointment")


_POINTER = re.compile(r"Appointment/([A-Za-z0-9\-.]{1,64})")


def _pointer(reply: Reply) -> str | None:
    """The Appointment id a 409 duplicate points at (Content-Location, else diagnostics)."""
    texts = [reply.header("Content-Location") or ""]
    if isinstance(reply.body, dict):
        texts += [str(i.get("diagnostics") or "") for i in dicts(reply.body.get("issue"))]
    for text in texts:
        match = _POINTER.search(text)
        if match:
            return match.group(1)
    return None


def _receiver_referral(supplier_ref: str | None, entry: TargetEntry) -> str | None:
    """The receiver's ServiceRequest id from a reference this target gave."""
    if not supplier_ref:
        return None
    head, marker, found = supplier_ref.rpartition("/ServiceRequest/")
    return found if marker and head == entry.endpoint and _ID.match(found) else None


def _answered_referral(reply: Reply) -> str | None:
    """The ServiceRequest id a servicerequest-response focuses on, or (a 409 duplicate)
    the one its Content-Location names."""
    if reply.status == 409:
        where = reply.header("Content-Location") or ""
        found = where.rpartition("/ServiceRequest/")[2]
        return found if _ID.match(found) else None
    body = reply.body
    if not isinstance(body, dict):
        return None
    try:
        found = str(messages.focus_of(body).get("id") or "")
    except (KeyError, IndexError, TypeError, StopIteration):
        return None
    return found if _ID.match(found) else None
