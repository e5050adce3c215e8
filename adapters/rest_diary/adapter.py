"""The REST diary adapter: a proprietary JSON diary API ("Diary API v2") as a SupplierAdapter.

The supplier's API (served for real by ``adapters.rest_diary.peer``):

- ``GET  /clinics/{clinicCode}/slots?fromLocal=&toLocal=&state=&page=&pageSize=``
  -> ``{"clinic": {...}, "items": [...], "nextPage": 2 | null}``
- ``POST /appointments`` with ``Idempotency-Key`` -> 201 (200 when replayed)
- ``GET  /appointments/{ref}``; ``POST /appointments/{ref}/cancel``
- ``GET  /ping``; errors as ``{"errorCode": ..., "message": ...}``

Safety of resends (DESIGN.md: a retry anywhere is recognised everywhere): reads
are resent on transport failures and 502/503/504; a booking is resent only with
the same ``Idempotency-Key`` (derived from ``ctx.request_id``), so a booking
whose answer was lost is recovered, never made twice; a cancel is never resent
once it may have arrived.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import structlog

from adapters import _http, errors
from adapters.contract import Capability, Health
from adapters.diary_toolkit import records as w
from adapters.diary_toolkit.convert import Converter
from adapters.diary_toolkit.mappings import Mappings
from adapters.domain import Booking, BookingRequest, CallContext, SlotQuery, SlotSearchResult
from adapters.rest_diary._auth import Credentials
from adapters.rest_diary._errors import from_reply
from adapters.rest_diary._options import RestDiaryOptions

log = structlog.get_logger(__name__)

#: Namespace of the Idempotency-Key derived from the call's request id.
IDEMPOTENCY_NAMESPACE = uuid.UUID("6f1d3a52-8c1e-5b0b-a7a4-2f4d9e0c7b31")
#: Diary API v2 appointment references: short, URL-safe (anything else cannot be one).
_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
#: Widening of the local search window, so a window across a clock change loses nothing.
_WINDOW_SLACK = timedelta(hours=1)


def idempotency_key(request_id: str) -> str:
    """The supplier's Idempotency-Key for a request id: stable, opaque, bounded."""
    return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, request_id.encode("utf-8", "surrogatepass").hex()))


class RestDiaryAdapter:
    capabilities: frozenset[Capability] = frozenset(Capability) - {
        Capability.NOTIFICATIONS,
        Capability.REFERRAL,
    }

    def __init__(
        self,
        name: str,
        settings: RestDiaryOptions,
        maps: Mappings,
        credentials: Credentials,
        session: aiohttp.ClientSession,
    ) -> None:
        self.name = name
        self._base = settings.base_url
        self._settings = settings
        self._policy = settings.policy
        self._maps = maps
        self._convert = Converter(maps, settings.zone, settings.id_prefix or name)
        self._credentials = credentials
        self._session = session
        self._log_name = settings.log_name or name
        self._closed = False

    # -- the SupplierAdapter contract -------------------------------------------------

    async def search_slots(self, query: SlotQuery, ctx: CallContext) -> SlotSearchResult:
        async with self._guard("search_slots", ctx):
            clinics = self._maps.by_service.get(query.service_id)
            if not clinics:
                raise errors.ServiceNotFound("no clinic of this supplier serves that service")
            found: list[tuple[w.WireClinic, w.WireSlot]] = []
            for entry in clinics:
                found.extend(await self._clinic_slots(entry.supplier_code, query, ctx))
            return self._convert.search_result(query, found)

    async def book(self, request: BookingRequest, ctx: CallContext) -> Booking:
        async with self._guard("book", ctx):
            if not _is_guid(request.slot_id):
                raise errors.SlotNotFound("the supplier's slot ids are GUIDs; this is not one")
            ods = ctx.organisation.ods_code if ctx.organisation else None
            body = json.dumps(self._convert.booking_body(request, ods)).encode()
            headers = {"Idempotency-Key": idempotency_key(ctx.request_id)}
            reply = await self._call("book", "POST", "/appointments", ctx, body, headers, True)
            if reply.status not in (200, 201):
                raise from_reply("book", reply, self._log_name)
            booking = self._convert.booking(w.WireAppointment.model_validate(_json(reply)))
        replayed = reply.headers.get("Idempotent-Replayed", "").lower() == "true"
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
            path = f"/appointments/{_ref_segment(supplier_ref)}"
            reply = await self._call("get", "GET", path, ctx, None, {}, True)
            if reply.status != 200:
                raise from_reply("get", reply, self._log_name)
            return self._convert.booking(w.WireAppointment.model_validate(_json(reply)))

    async def cancel(
        self, supplier_ref: str, ctx: CallContext, *, service_id: str | None = None
    ) -> Booking:
        async with self._guard("cancel", ctx):
            path = f"/appointments/{_ref_segment(supplier_ref)}/cancel"
            body = json.dumps({"reasonCode": "PATIENT_REQUEST"}).encode()
            reply = await self._call("cancel", "POST", path, ctx, body, {}, False)
            if reply.status != 200:
                raise from_reply("cancel", reply, self._log_name)
            booking = self._convert.booking(w.WireAppointment.model_validate(_json(reply)))
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
            reply = await self._call("health", "GET", "/ping", ctx, None, {}, False)
        except errors.AdapterError as exc:  # a ping reports failure, it does not raise
            return Health(ok=False, detail=f"diary unreachable ({type(exc).__name__})")
        latency = (time.perf_counter() - began) * 1000
        if reply.status != 200:
            return Health(ok=False, detail=f"diary answered HTTP {reply.status}")
        return Health(ok=True, detail="rest diary", latency_ms=latency)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._session.close()
        log.info("supplier_session_closed", adapter=self._log_name)

    # -- the wire ----------------------------------------------------------------------

    async def _clinic_slots(
        self, clinic: str, query: SlotQuery, ctx: CallContext
    ) -> list[tuple[w.WireClinic, w.WireSlot]]:
        params = self._window(query)
        found: list[tuple[w.WireClinic, w.WireSlot]] = []
        page: int | None = 1
        for _ in range(self._settings.max_pages):
            if page is None:
                return found
            path = f"/clinics/{quote(clinic, safe='')}/slots?" + urlencode(
                [*params, ("page", str(page))]
            )
            reply = await self._call("search_slots", "GET", path, ctx, None, {}, True)
            if reply.status != 200:
                raise from_reply("search_slots", reply, self._log_name)
            data = w.WireSlotPage.model_validate(_json(reply))
            found.extend((data.clinic, item) for item in data.items)
            if data.nextPage is not None and data.nextPage <= page:
                raise errors.SupplierProtocolError("the supplier's paging went backwards")
            page = data.nextPage
        if page is not None:
            log.warning(
                "slot_pages_truncated",
                adapter=self._log_name,
                clinic=clinic,
                max_pages=self._settings.max_pages,
            )
        return found

    def _window(self, query: SlotQuery) -> list[tuple[str, str]]:
        params = [("pageSize", str(self._settings.page_size))]
        params += [("state", code) for code in self._maps.slot_statuses.suppliers(query.statuses)]
        slack = _WINDOW_SLACK
        if query.start_from is not None:
            params.append(("fromLocal", self._convert.local(query.start_from - slack)))
        if query.start_to is not None:
            params.append(("toLocal", self._convert.local(query.start_to + slack)))
        return params

    async def _call(
        self,
        operation: str,
        method: str,
        path: str,
        ctx: CallContext,
        body: bytes | None,
        headers: Mapping[str, str],
        resendable: bool,
    ) -> _http.Reply:
        """One API call with authentication; a refused token is renewed and tried once more."""
        for _ in range(2):
            auth = await self._credentials.headers(self._session, ctx)
            out = _http.Outgoing(
                method,
                self._base + path,
                headers={
                    "Accept": "application/json",
                    "Content-Type": "application/json",
                    "X-Correlation-Id": ctx.correlation_id or ctx.request_id,
                    **headers,
                    **auth,
                },
                body=body,
                resendable=resendable,
            )
            reply = await _http.send(
                self._session, out, ctx, self._policy, operation=operation, adapter=self._log_name
            )
            if reply.status != 401 or not self._credentials.refreshable:
                return reply
            # A 401 means the supplier did nothing: renewing the token and resending is safe.
            self._credentials.invalidate()
        return reply

    def _guard(self, operation: str, ctx: CallContext) -> AbstractAsyncContextManager[None]:
        """Deadline and closed checks; anything foreign becomes a typed error."""
        return _http.guard(operation, ctx, closed=self._closed, adapter=self._log_name)


def _json(reply: _http.Reply) -> Any:
    if reply.content_type != "application/json":
        raise errors.SupplierProtocolError(
            "the supplier did not answer JSON", supplier_detail=f"Content-Type {reply.content_type}"
        )
    try:
        return json.loads(reply.body)
    except ValueError:
        raise errors.SupplierProtocolError("the supplier's JSON was malformed") from None


def _is_guid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return len(text) == 36


def _ref_segment(ref: str) -> str:
    if not _REF.match(ref):
        raise errors.BookingNotFound("no such booking: not a reference this supplier issues")
    return quote(ref, safe="")
