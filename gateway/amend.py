"""Changing a booking the gateway holds: cancel, update (reason), reschedule (slot).

Each change holds the appointment's lock and the idempotency ledger entry, reads
before it writes (the version the sender read must be current, and booked), and
makes exactly one next version. The booking service (``gateway.service``) has
these as methods; every front door uses them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

import structlog

from adapters.contract import Capability
from adapters.domain import Booking, BookingRequest, BookingStatus, CallContext, Coding
from gateway import metrics
from gateway._claims import reschedule_work
from gateway._mutex import AppointmentLocks
from gateway.changes import RescheduleTo, next_version, rescheduled_request, swap_slot
from gateway.errors import ApiError, ErrorKind
from gateway.policy import Policy
from gateway.policy.enforce import require
from gateway.routing import Route, Router, SlotHome
from gateway.store import AppointmentVersion, Store, VersionConflict

log = structlog.get_logger("gateway.service")
T = TypeVar("T")


class Amendments:
    """The booking service's changes to held appointments (mixed into BookingService)."""

    store: Store
    router: Router
    clock: Callable[[], datetime]
    _locks: AppointmentLocks
    policy: Policy

    if TYPE_CHECKING:

        def _claim(
            self,
            scope: str,
            request_id: str | None,
            digest: str,
            home: SlotHome | None = None,
            work: str | None = None,
        ) -> AbstractAsyncContextManager[None]: ...

        async def _call(self, route: Route, op: str, ctx: CallContext, work: Awaitable[T]) -> T: ...

        @staticmethod
        def _require(route: Route, capability: Capability, what: str) -> None: ...

        async def read(
            self, appointment_id: str, version: int | None = None
        ) -> AppointmentVersion: ...

        async def locate(self, slot_key: str, schedule_id: str | None) -> SlotHome | None: ...

        async def check_booking(
            self,
            home: SlotHome,
            request: BookingRequest,
            schedule_id: str | None,
            ctx: CallContext,
            action: str = "book",
        ) -> None: ...

    @asynccontextmanager
    async def _changing(
        self,
        appointment_id: str,
        expected: int,
        ctx: CallContext,
        digest: str,
        *,
        scope: str,
        client_request_id: str | None,
        work: str | None = None,
    ) -> AsyncIterator[tuple[AppointmentVersion, Route]]:
        """Hold the appointment's lock and the ledger entry (keeping ``work`` with it while
        in doubt) while it is changed; yield the current version (read before write: it must
        be ``expected``, still booked) and its route."""
        lock = self._locks.hold(appointment_id, ctx.remaining())
        claim = self._claim(scope, client_request_id, f"{digest}|{appointment_id}", None, work)
        async with lock, claim:
            current = await self.read(appointment_id)
            self._check_changeable(current, expected, ctx)
            route = self.router.route(current.route)
            if route is None:
                raise ApiError(
                    ErrorKind.INTERNAL_ERROR, f"route '{current.route}' is no longer configured"
                )
            yield current, route

    async def _done(
        self, scope: str, client_request_id: str | None, version: AppointmentVersion
    ) -> AppointmentVersion:
        if client_request_id:
            await self.store.complete_request(
                scope, client_request_id, version.appointment_id, version.version
            )
        return version

    async def cancel(
        self,
        appointment_id: str,
        expected_version: int,
        ctx: CallContext,
        check: Callable[[AppointmentVersion], None],
        *,
        scope: str,
        client_request_id: str | None,
    ) -> AppointmentVersion:
        changing = self._changing(
            appointment_id,
            expected_version,
            ctx,
            "cancel",
            scope=scope,
            client_request_id=client_request_id,
        )
        async with changing as (current, route):
            check(current)
            self._require(route, Capability.CANCEL, "cancel appointments")
            ref, sid = current.booking.supplier_ref, current.booking.service_id
            await self._call(route, "cancel", ctx, route.adapter.cancel(ref, ctx, service_id=sid))
            # cancel_an_appointment.md: "no other elements of the Appointment resource may
            # be changed", so the contained Slot stays as booked; the supplier's diary is
            # where the slot becomes free again.
            booking = current.booking.model_copy(update={"status": BookingStatus.CANCELLED})
            version = await self._next_version(current, booking, scope, client_request_id)
        log.info("appointment_cancelled", appointment_id=appointment_id, version=version.version)
        metrics.counted("cancellations", version.route)
        return version

    async def update(
        self,
        appointment_id: str,
        expected_version: int,
        ctx: CallContext,
        check: Callable[[AppointmentVersion], None],
        *,
        reason: tuple[Coding, ...],
        scope: str,
        client_request_id: str | None,
    ) -> AppointmentVersion:
        """Update-Existing-Booking: a new version with another reason (the slot, patient and
        time stay; the supplier's diary carries no reason, so it is not called)."""
        digest = "update|" + "|".join(f"{c.system}#{c.code}" for c in reason)
        changing = self._changing(
            appointment_id,
            expected_version,
            ctx,
            digest,
            scope=scope,
            client_request_id=client_request_id,
        )
        async with changing as (current, _):
            check(current)
            if current.booking.reason == reason:
                return await self._done(scope, client_request_id, current)
            booking = current.booking.model_copy(update={"reason": reason})
            version = await self._next_version(current, booking, scope, client_request_id)
        log.info("appointment_updated", appointment_id=appointment_id, version=version.version)
        return version

    async def reschedule(
        self,
        appointment_id: str,
        expected_version: int,
        ctx: CallContext,
        check: Callable[[AppointmentVersion], None],
        *,
        slot: RescheduleTo,
        scope: str,
        client_request_id: str | None,
        resumed: bool = False,
    ) -> AppointmentVersion:
        """Reschedule-Existing-Booking: the new slot is booked first, then the old one
        released (``changes.swap_slot``), so the patient always holds a booking and no
        slot is ever booked twice; the next version names the new slot. The claim keeps
        the work while in doubt: a gateway killed between the two calls leaves it for
        the next one to finish (``reconcile``, with ``resumed``)."""
        home = await self.locate(slot.slot_id, None)
        work = reschedule_work(appointment_id, expected_version, slot, ctx)
        changing = self._changing(
            appointment_id,
            expected_version,
            ctx,
            f"reschedule|{slot.slot_id}",
            scope=scope,
            client_request_id=client_request_id,
            work=work if client_request_id else None,
        )
        async with changing as (current, route):
            check(current)
            rebooking = rescheduled_request(current.booking, slot, home, route.name)
            if home is not None and not resumed:
                await self.check_booking(home, rebooking, None, ctx, action="reschedule")
            self._require(route, Capability.BOOK, "book appointments")
            self._require(route, Capability.CANCEL, "cancel appointments")
            booked = await swap_slot(
                route, self._call, current.booking, rebooking, ctx, resumed=resumed
            )
            version = await self._next_version(current, booked, scope, client_request_id)
        log.info("appointment_rescheduled", appointment_id=appointment_id, version=version.version)
        return version

    def _check_changeable(
        self, current: AppointmentVersion, expected: int, ctx: CallContext
    ) -> None:
        if current.version != expected:
            raise ApiError(
                ErrorKind.VERSION_CONFLICT,
                f"If-Match names version {expected} but the current version is "
                f"{current.version}; read the appointment again",
            )
        ods = ctx.organisation.ods_code if ctx.organisation else None
        if not self.router.allowed(current.booking.service_id, ods):
            raise ApiError(
                ErrorKind.ACCESS_DENIED,
                f"organisation '{ods}' may not change appointments at service "
                f"'{current.booking.service_id}'",
            )
        sid = current.booking.service_id
        require(self.policy.may_cancel(sid, ods, current.booked_by))
        if current.booking.status is not BookingStatus.BOOKED:
            raise ApiError(
                ErrorKind.BUSINESS_RULE,
                f"the appointment is {current.booking.status.value}, not booked",
            )

    async def _next_version(
        self,
        current: AppointmentVersion,
        booking: Booking,
        scope: str,
        client_request_id: str | None,
    ) -> AppointmentVersion:
        """The next version and the ledger completion naming it, in one commit."""
        version = next_version(current, booking, self.clock())
        try:
            await self.store.add_version_and_complete(version, scope, client_request_id)
        except VersionConflict as exc:
            raise ApiError(
                ErrorKind.VERSION_CONFLICT, "the appointment changed meanwhile; read it again"
            ) from exc
        return version
