"""The SOAP diary adapter: a supplier's SOAP booking service ("DiaryService") as a SupplierAdapter.

Operations (namespace ``adapters.soap_diary._wire.NS``; served for real by
``adapters.soap_diary.peer``): ``GetAvailableSlots``, ``BookAppointment``
(with a client-supplied ``BookingReference``), ``GetAppointment``,
``CancelAppointment`` and ``Ping``. SOAP 1.1 or 1.2 by option.

Resends: reads and ``Ping`` are resent on transport failures and 502/503/504;
``BookAppointment`` is resent only with the same ``BookingReference``
(derived from ``ctx.request_id``), which the diary treats as idempotent, so a
booking whose answer was lost is recovered, never made twice;
``CancelAppointment`` is never resent once it may have arrived.
"""

from __future__ import annotations

import re
import time
import uuid
from contextlib import AbstractAsyncContextManager
from datetime import timedelta

import aiohttp
import structlog
from lxml import etree

from adapters import _http, errors
from adapters.contract import Capability, Health
from adapters.diary_toolkit import records as w
from adapters.diary_toolkit.convert import Converter
from adapters.diary_toolkit.mappings import Mappings
from adapters.domain import Booking, BookingRequest, CallContext, SlotQuery, SlotSearchResult
from adapters.soap_diary import _convert as x
from adapters.soap_diary import _faults
from adapters.soap_diary._options import SoapDiaryOptions
from adapters.soap_diary._wire import body_child, envelope, need, parse, q, sub, text
from adapters.soap_toolkit import envelope as soap

log = structlog.get_logger(__name__)

#: Namespace of the BookingReference derived from the call's request id.
REFERENCE_NAMESPACE = uuid.UUID("2d0e6c8a-41b7-5f3e-9a0c-7b5d1e2f3a4c")
_APPOINTMENT_ID = re.compile(r"^[0-9]{1,18}$")
_WINDOW_SLACK = timedelta(hours=1)


def booking_reference(request_id: str) -> str:
    """The diary's BookingReference for a request id: stable, opaque, bounded."""
    return str(uuid.uuid5(REFERENCE_NAMESPACE, request_id.encode("utf-8", "surrogatepass").hex()))


class SoapDiaryAdapter:
    capabilities: frozenset[Capability] = frozenset(Capability) - {
        Capability.NOTIFICATIONS,
        Capability.REFERRAL,
    }

    def __init__(
        self,
        name: str,
        settings: SoapDiaryOptions,
        maps: Mappings,
        authorization: str | None,
        session: aiohttp.ClientSession,
    ) -> None:
        self.name = name
        self._settings = settings
        self._version = settings.soap_version
        self._maps = maps
        self._convert = Converter(maps, settings.zone, settings.id_prefix or name)
        #: The ready-made HTTP Basic header (never logged).
        self._authorization = authorization
        self._session = session
        self._log_name = settings.log_name or name
        self._closed = False

    async def search_slots(self, query: SlotQuery, ctx: CallContext) -> SlotSearchResult:
        async with self._guard("search_slots", ctx):
            points = self._maps.by_service.get(query.service_id)
            if not points:
                raise errors.ServiceNotFound(
                    "no service point of this supplier serves that service"
                )
            found: list[tuple[w.WireClinic, w.WireSlot]] = []
            for entry in points:
                answer = await self._call(
                    "GetAvailableSlots", self._slots_request(entry.supplier_code, query), ctx, True
                )
                clinic = x.clinic(need(answer, "ServicePoint"))
                slots = need(answer, "Slots").findall(q("Slot"))
                found.extend((clinic, x.slot(s, clinic.clinicCode)) for s in slots)
            return self._convert.search_result(query, found)

    async def book(self, request: BookingRequest, ctx: CallContext) -> Booking:
        async with self._guard("book", ctx):
            if not _is_guid(request.slot_id):
                raise errors.SlotNotFound("the diary's slot ids are GUIDs; this is not one")
            ods = ctx.organisation.ods_code if ctx.organisation else None
            record = self._convert.booking_body(request, ods)
            end = self._convert.local(request.end) + ":00"
            payload = x.book_request(record, booking_reference(ctx.request_id), end)
            answer = await self._call("BookAppointment", payload, ctx, True)
            booking = self._convert.booking(x.appointment(need(answer, "Appointment")))
        replayed = text(answer, "Replayed") == "true"
        log.info(
            "booking_replayed" if replayed else "slot_booked",
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
            payload = _by_id("GetAppointment", supplier_ref)
            answer = await self._call("GetAppointment", payload, ctx, True)
            return self._convert.booking(x.appointment(need(answer, "Appointment")))

    async def cancel(
        self, supplier_ref: str, ctx: CallContext, *, service_id: str | None = None
    ) -> Booking:
        async with self._guard("cancel", ctx):
            payload = _by_id("CancelAppointment", supplier_ref)
            answer = await self._call("CancelAppointment", payload, ctx, False)
            booking = self._convert.booking(x.appointment(need(answer, "Appointment")))
        log.info(
            "booking_cancelled",
            adapter=self._log_name,
            supplier_ref=booking.supplier_ref,
            slot_id=booking.slot.id,
            request_id=ctx.request_id,
        )
        return booking

    def serves(self, service_id: str) -> bool:
        return service_id in self._maps.by_service

    async def health(self) -> Health:
        if self._closed:
            return Health(ok=False, detail="closed")
        began = time.perf_counter()
        ctx = CallContext(request_id=f"health-{uuid.uuid4()}", deadline=time.monotonic() + 2.0)
        try:
            async with self._guard("health", ctx):
                await self._call("Ping", etree.Element(q("Ping")), ctx, True)
        except errors.AdapterError as exc:  # a ping reports failure, it does not raise
            return Health(ok=False, detail=f"diary unreachable ({type(exc).__name__})")
        latency = (time.perf_counter() - began) * 1000
        return Health(ok=True, detail=f"soap diary (SOAP {self._version})", latency_ms=latency)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._session.close()
        log.info("supplier_session_closed", adapter=self._log_name)

    # -- the wire ----------------------------------------------------------------------

    def _slots_request(self, service_point: str, query: SlotQuery) -> etree._Element:
        root = etree.Element(q("GetAvailableSlots"))
        sub(root, "ServicePointCode", service_point)
        if query.start_from is not None:
            sub(root, "FromLocal", self._convert.local(query.start_from - _WINDOW_SLACK) + ":00")
        if query.start_to is not None:
            sub(root, "ToLocal", self._convert.local(query.start_to + _WINDOW_SLACK) + ":00")
        states = sub(root, "States")
        for code in self._maps.slot_statuses.suppliers(query.statuses):
            sub(states, "State", code)
        return root

    async def _call(
        self, operation: str, payload: etree._Element, ctx: CallContext, resendable: bool
    ) -> etree._Element:
        """Send one operation; its response element, or the typed error its fault means."""
        headers = self._version.headers(_faults.action(operation))
        if self._authorization is not None:
            headers["Authorization"] = self._authorization
        out = _http.Outgoing(
            "POST",
            self._settings.endpoint,
            headers=headers,
            body=envelope(self._version, payload),
            resendable=resendable,
        )
        reply = await _http.send(
            self._session,
            out,
            ctx,
            self._settings.policy,
            operation=operation,
            adapter=self._log_name,
        )
        return self._answer(operation, reply)

    def _answer(self, operation: str, reply: _http.Reply) -> etree._Element:
        if reply.content_type not in ("text/xml", "application/soap+xml"):
            status = reply.status
            typed = errors.SupplierUnavailable if status >= 500 else errors.SupplierProtocolError
            raise typed(
                f"{operation}: the supplier answered HTTP {status} without SOAP",
                supplier_detail=f"HTTP {status} {reply.content_type or '(no type)'}",
            )
        element = body_child(
            parse(reply.body, max_bytes=self._settings.max_body_bytes, source=self._log_name),
            self._version,
        )
        if soap.is_fault(element):
            error = _faults.typed_fault(operation, soap.read_fault(element))
            log.info(
                "supplier_refused",
                adapter=self._log_name,
                operation=operation,
                typed=type(error).__name__,
                detail=error.supplier_detail,
            )
            raise error
        if reply.status != 200 or element.tag != q(f"{operation}Response"):
            raise errors.SupplierProtocolError(
                f"{operation}: unexpected answer", supplier_detail=f"HTTP {reply.status}"
            )
        return element

    def _guard(self, operation: str, ctx: CallContext) -> AbstractAsyncContextManager[None]:
        """Deadline and closed checks; anything foreign becomes a typed error."""
        return _http.guard(
            operation,
            ctx,
            closed=self._closed,
            adapter=self._log_name,
            extra=_text_xml_cannot_carry,
        )


def _text_xml_cannot_carry(operation: str, exc: ValueError) -> errors.AdapterError:
    # lxml refuses text XML cannot carry (control characters, lone surrogates).
    if operation == "book":
        return errors.BookingRejected("book: the request holds text XML cannot carry")
    return errors.SupplierProtocolError(f"{operation}: text XML cannot carry")


def _by_id(operation: str, supplier_ref: str) -> etree._Element:
    if not _APPOINTMENT_ID.match(supplier_ref):
        raise errors.BookingNotFound("no such booking: not an AppointmentId this diary issues")
    root = etree.Element(q(operation))
    sub(root, "AppointmentId", supplier_ref)
    return root


def _is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36
