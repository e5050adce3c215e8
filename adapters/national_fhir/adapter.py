"""The national FHIR adapter: this gateway as a booking consumer of a national provider.

DESIGN.md: "A legacy 111 system booking into a national FHIR provider = HL7 v2
front door + national FHIR adapter". Each call finds the provider's endpoint
(``_directory``, ``_sds``), goes through the Spine Secure Proxy with a fresh JWT
and the SSP headers (``_wire``), and maps the FHIR answer to the canonical model
(``_slots_in``, ``_appointment_in``) or to a typed error (``_outcomes``).

Retry safety (fs_xti.md): a booking's X-Request-ID is derived from
``ctx.request_id``, so every resend (here, or a later retry of the whole call)
carries the same id; a provider answering 409 with a pointer to the booking that
id made is followed, never booked twice. Cancels read first, change only
``status`` and PUT with If-Match, re-reading on 409/412 (cancel_an_appointment.md).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime

import aiohttp
import structlog

from adapters import errors
from adapters.contract import Capability, Health
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
from adapters.national_fhir import _appointment_in as appointment_in
from adapters.national_fhir import _appointment_out as appointment_out
from adapters.national_fhir._directory import DirectoryEntry
from adapters.national_fhir._edge import Attempt, Lru, guarded
from adapters.national_fhir._exchanges import (
    FHIR_ID,
    booked,
    is_appointment,
    put_cancel,
    read,
    send_booking,
)
from adapters.national_fhir._fhir import Json
from adapters.national_fhir._outcomes import error_for, is_duplicate
from adapters.national_fhir._sds import EndpointResolver
from adapters.national_fhir._search import search
from adapters.national_fhir._wire import Call, Endpoint, Interaction, Wire

log = structlog.get_logger(__name__)

#: An X-Request-ID we can send as it is; anything else is replaced by a UUID derived from it.
_HEADER_SAFE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_NAMESPACE = uuid.UUID("1d2b8a57-2f7e-4f3c-9a0e-3e6f0c9b7a41")


def request_id_for(operation: str, ctx: CallContext) -> str:
    """fs_xti.md: the X-Request-ID of a write, the same for every retry of one call."""
    if operation == "book" and _HEADER_SAFE.match(ctx.request_id):
        return ctx.request_id
    return str(uuid.uuid5(_NAMESPACE, f"{operation}|{ctx.request_id}"))


@dataclass(frozen=True, slots=True)
class SeenSlot:
    """What a search told us about a slot: enough to book it later."""

    service_id: str
    schedule_id: str
    identifier: str
    start: datetime
    end: datetime


class NationalFhirAdapter:
    """A ``SupplierAdapter`` whose supplier is a national FHIR STU3 provider behind the SSP."""

    capabilities: frozenset[Capability] = frozenset(Capability) - {
        Capability.NOTIFICATIONS,
        Capability.REFERRAL,
    }

    def __init__(
        self,
        name: str,
        *,
        wire: Wire,
        session: aiohttp.ClientSession,
        directory: dict[str, DirectoryEntry],
        resolver: EndpointResolver,
        timeout_s: float,
        attempts: int,
        cancel_attempts: int,
        max_pages: int,
        log_name: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.name = name
        self._wire = wire
        self._session = session
        self._directory = directory
        self._resolver = resolver
        self._timeout_s = timeout_s
        self._attempts = attempts
        self._cancel_attempts = cancel_attempts
        self._max_pages = max_pages
        self._log_name = log_name or name
        # When a booking request is made (the referral's DocumentReference.indexed).
        self._clock = clock
        self._closed = False
        self._slots: Lru[str, SeenSlot] = Lru(100_000)
        # (service root, schedule id) -> national service id, and booking -> service id.
        self._schedules: Lru[tuple[str, str], str] = Lru(10_000)
        self._bookings: Lru[str, str] = Lru(100_000)
        self._asids: dict[str, str] = {}

    # -- the SupplierAdapter contract -------------------------------------------------

    async def search_slots(self, query: SlotQuery, ctx: CallContext) -> SlotSearchResult:
        async with self._guard("search_slots", ctx):
            entry = self._directory.get(query.service_id)
            if entry is None:
                raise errors.ServiceNotFound("no such service in the national directory table")
            endpoint = await self._endpoint(entry, Interaction.SEARCH_SLOTS)
            result = await search(
                self._wire, endpoint, query, ctx, service_name=entry.name, max_pages=self._max_pages
            )
        for slot in result.slots:
            self._slots.put(
                slot.id,
                SeenSlot(query.service_id, slot.schedule_id, slot.identifier, slot.start, slot.end),
            )
        for schedule_id in result.schedules:
            self._schedules.put((endpoint.root, schedule_id), query.service_id)
        return result

    async def book(self, request: BookingRequest, ctx: CallContext) -> Booking:
        async with self._guard("book", ctx) as attempt:
            seen = await self._find_slot(request, ctx)
            endpoint = await self._endpoint(self._directory[seen.service_id], Interaction.BOOK)
            body = appointment_out.appointment(
                request,
                slot_identifier=seen.identifier,
                schedule_id=seen.schedule_id,
                slot_start=seen.start,
                slot_end=seen.end,
                requested_at=self._clock(),
            )
            call = Call(
                "POST",
                endpoint,
                "/Appointment",
                Interaction.BOOK,
                request_id_for("book", ctx),
                body=body,
            )
            attempt.write_sent = True
            reply = await send_booking(self._wire, call, ctx, self._attempts)
            data, recovered = await booked(self._wire, call, reply, seen.identifier, ctx)
            booking = self._to_booking(data, endpoint, seen.service_id)
        self._bookings.put(booking.supplier_ref, seen.service_id)
        log.info(
            "booking_recovered" if recovered else "slot_booked",
            adapter=self._log_name,
            supplier_ref=booking.supplier_ref,
            service_id=seen.service_id,
            x_request_id=call.request_id,
            server_request_id=reply.header("X-Request-ID"),
            correlation_id=reply.header("X-Correlation-ID"),
        )
        return booking

    async def get(
        self, supplier_ref: str, ctx: CallContext, *, service_id: str | None = None
    ) -> Booking:
        async with self._guard("get", ctx):
            endpoint, appointment_id = await self._locate(supplier_ref)
            data = await read(self._wire, endpoint, appointment_id, ctx)
            return self._to_booking(data, endpoint, self._known(service_id))

    async def cancel(
        self, supplier_ref: str, ctx: CallContext, *, service_id: str | None = None
    ) -> Booking:
        async with self._guard("cancel", ctx) as attempt:
            endpoint, appointment_id = await self._locate(supplier_ref)
            service = self._known(service_id)
            request_id = request_id_for("cancel", ctx)
            for round_no in range(1, self._cancel_attempts + 1):
                current = await read(self._wire, endpoint, appointment_id, ctx)
                if self._to_booking(current, endpoint, service).status is not BookingStatus.BOOKED:
                    raise errors.BookingNotCancellable("the booking is not booked at the provider")
                attempt.write_sent = True
                reply = await put_cancel(
                    self._wire, endpoint, appointment_id, current, request_id, ctx
                )
                if reply.status == 200 and is_appointment(reply.body):
                    booking = self._to_booking(reply.body, endpoint, service)
                    break
                if reply.status == 200 or (reply.status == 409 and is_duplicate(reply)):
                    # Done, perhaps by this very request (a resend meeting its own earlier
                    # success is told "X-Request-ID used before"): the provider says which.
                    latest = await read(self._wire, endpoint, appointment_id, ctx)
                    booking = self._to_booking(latest, endpoint, service)
                    if booking.status is BookingStatus.CANCELLED:
                        break
                if reply.status not in (409, 412) or round_no == self._cancel_attempts:
                    raise error_for(Interaction.CANCEL, reply)
                # fs_xti.md: on 409/412 read the latest version again and retry.
                log.info(
                    "cancel_conflicted", adapter=self._log_name, status=reply.status, round=round_no
                )
        log.info("booking_cancelled", adapter=self._log_name, supplier_ref=booking.supplier_ref)
        return booking

    def serves(self, service_id: str) -> bool:
        return service_id in self._directory

    async def health(self) -> Health:
        if self._closed:
            return Health(ok=False, detail="closed")
        began = time.perf_counter()
        try:
            async with guarded("health", None, default_timeout=2.0, adapter=self._log_name):
                endpoints = {
                    await self._endpoint(e, Interaction.METADATA) for e in self._directory.values()
                }
                for endpoint in endpoints:
                    reply = await self._wire.send(
                        Call("GET", endpoint, "/metadata", Interaction.METADATA, str(uuid.uuid4())),
                        None,
                    )
                    if reply.status != 200:
                        return Health(ok=False, detail=f"{endpoint.asid} answered {reply.status}")
        except errors.AdapterError as exc:
            return Health(ok=False, detail=type(exc).__name__)
        latency = (time.perf_counter() - began) * 1000
        return Health(ok=True, detail=f"{len(endpoints)} provider(s) via SSP", latency_ms=latency)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self._session.close()
            await self._resolver.close()
        except Exception as exc:  # closing must not fail the shutdown of everything else
            log.warning(
                "national_fhir_close_failed", adapter=self._log_name, error_type=type(exc).__name__
            )
            return
        log.info("national_fhir_closed", adapter=self._log_name)

    # -- searching ---------------------------------------------------------------------

    async def _find_slot(self, request: BookingRequest, ctx: CallContext) -> SeenSlot:
        """The slot as a search described it; searched again at its start time if forgotten."""
        seen = self._slots.get(request.slot_id)
        if seen is not None:
            return seen
        # The CareConnect Appointment needs the slot's schedule, which the request does
        # not carry: a narrow search at the requested start finds it again.
        every = frozenset(SlotStatus)
        for entry in self._directory.values():
            query = SlotQuery(
                service_id=entry.service_id,
                statuses=every,
                start_from=request.start,
                start_to=request.start,
            )
            endpoint = await self._endpoint(entry, Interaction.SEARCH_SLOTS)
            for slot in (
                await search(
                    self._wire,
                    endpoint,
                    query,
                    ctx,
                    service_name=entry.name,
                    max_pages=self._max_pages,
                )
            ).slots:
                if request.slot_id in (slot.id, slot.identifier):
                    return SeenSlot(
                        entry.service_id, slot.schedule_id, slot.identifier, slot.start, slot.end
                    )
        raise errors.SlotNotFound("no provider in the directory offers this slot; search again")

    async def _locate(self, supplier_ref: str) -> tuple[Endpoint, str]:
        """The provider and Appointment id of a reference this adapter issued."""
        root, marker, appointment_id = supplier_ref.rpartition("/Appointment/")
        if not marker:
            root, appointment_id = "", supplier_ref
        if FHIR_ID.match(appointment_id):
            await self._learn_roots()
            if root in self._asids:
                return Endpoint(self._asids[root], root), appointment_id
            if not root and len(set(self._asids.items())) == 1:
                only_root, asid = next(iter(self._asids.items()))
                return Endpoint(asid, only_root), appointment_id
        raise errors.BookingNotFound("not a booking reference this adapter issued")

    async def _learn_roots(self) -> None:
        for entry in self._directory.values():
            if entry.asid not in self._asids.values():
                await self._endpoint(entry, Interaction.BOOK)

    async def _endpoint(self, entry: DirectoryEntry, interaction: Interaction) -> Endpoint:
        root = await self._resolver.root(entry, interaction.interaction_id)
        self._asids[root] = entry.asid
        return Endpoint(entry.asid, root)

    def _known(self, service_id: str | None) -> str | None:
        """The caller's service id for a booking, if it is one of this directory's."""
        return service_id if service_id is not None and service_id in self._directory else None

    def _to_booking(self, data: Json, endpoint: Endpoint, service_id: str | None = None) -> Booking:
        appointment_id = appointment_in.appointment_id(data)
        ref = f"{endpoint.root}/Appointment/{appointment_id}"
        schedule_id = appointment_in.contained_slot(data).schedule_id
        service = service_id or self._service_for(ref, endpoint.root, schedule_id)
        return appointment_in.booking(data, supplier_ref=ref, service_id=service, read_at=utcnow())

    def _service_for(self, ref: str, root: str, schedule_id: str) -> str:
        known = self._bookings.get(ref) or self._schedules.get((root, schedule_id))
        if known:
            return known
        at_root = [sid for sid, e in self._directory.items() if self._asids.get(root) == e.asid]
        if len(at_root) == 1:
            return at_root[0]
        raise errors.MappingError("cannot tell which national service this booking belongs to")

    def _guard(self, operation: str, ctx: CallContext) -> AbstractAsyncContextManager[Attempt]:
        if self._closed:
            raise errors.SupplierUnavailable(f"{operation}: the national FHIR adapter is closed")
        return guarded(operation, ctx, default_timeout=self._timeout_s, adapter=self._log_name)
