"""The booking service: routing, idempotency, versions, the appointment index.

Front doors call this with domain values and a CallContext; it never sees FHIR
JSON or HL7. Typed adapter errors become ``ApiError`` through one table
(``gateway.errors``).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import structlog

from adapters import errors as adapter_errors
from adapters.contract import BookingChange, Capability
from adapters.domain import (
    Booking,
    BookingRequest,
    CallContext,
    Identifier,
    Patient,
    SlotQuery,
    SlotSearchResult,
    utcnow,
)
from gateway import metrics
from gateway._claims import ClaimOwner, hold, in_doubt_work, seconds_left
from gateway._mutex import AppointmentLocks
from gateway.amend import Amendments
from gateway.changes import record_change
from gateway.errors import ApiError, ErrorKind, from_adapter_error
from gateway.policy import Policy, SlotFacts
from gateway.policy.enforce import require
from gateway.referrals import ReferralService
from gateway.routing import Route, Router, SlotHome
from gateway.store import AppointmentVersion, ClaimState, SlotHomeRow, Store
from gateway.trace import scope as trace_scope

log = structlog.get_logger(__name__)
T = TypeVar("T")

#: How long a ledger claim's holder is trusted alive without renewing it (gateway/_claims.py).
DEFAULT_CLAIM_LEASE_S = 5.0

#: Namespace for idempotency keys and provider-assigned patient identifiers.
KEY_NAMESPACE = uuid.UUID("5f0b7d4e-3c1a-4b8e-9a51-7f2d2c6e9b10")


def idempotency_key(scope: str, request_id: str) -> str:
    """The key carried to adapters: stable per consumer and X-Request-ID."""
    return str(uuid.uuid5(KEY_NAMESPACE, f"{scope}|{request_id}"))


def body_hash(request: BookingRequest) -> str:
    # A request without an out-of-area reason hashes as before the field existed, so a
    # resend across an upgrade is still recognised as the same request.
    unset = {"cross_border_reason"} if request.cross_border_reason is None else None
    return hashlib.sha256(request.model_dump_json(exclude=unset).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Replay:
    """Where a resent X-Request-ID already led (fs_xti.md)."""

    appointment_id: str
    version: int
    same_body: bool


class DuplicateRequest(Exception):
    def __init__(self, replay: Replay) -> None:
        super().__init__(replay.appointment_id)
        self.replay = replay


class BookingService(Amendments):
    def __init__(
        self,
        store: Store,
        router: Router,
        *,
        local_patient_system: str,
        clock: Callable[[], datetime] = utcnow,
        claim_lease_s: float = DEFAULT_CLAIM_LEASE_S,
        owner: ClaimOwner | None = None,
        policy: Policy | None = None,
    ) -> None:
        self.store = store
        self.router = router
        #: Booking rules across borders (gateway/policy/); none: nothing is restricted.
        self.policy = policy or Policy()
        self.local_patient_system = local_patient_system
        self.clock = clock
        self.claim_lease_s = claim_lease_s
        self.owner = owner or ClaimOwner()
        self.referrals = ReferralService(
            store,
            router,
            clock=clock,
            claim_lease_s=claim_lease_s,
            owner=self.owner,
            policy=self.policy,
        )
        # One change per appointment at a time, across replicas when the store is shared.
        self._locks = AppointmentLocks(store, self.owner, claim_lease_s, clock)

    @staticmethod
    def _require(route: Route, capability: Capability, what: str) -> None:
        """A clear 501 when a route's adapter cannot do what was asked."""
        if capability not in route.adapter.capabilities:
            raise ApiError(
                ErrorKind.NOT_IMPLEMENTED,
                f"this service is served by '{route.name}', which cannot {what}",
            )

    async def _call(self, route: Route, op: str, ctx: CallContext, work: Awaitable[T]) -> T:
        """Run one adapter call within the deadline, translating its typed errors."""
        started, outcome = time.perf_counter(), "error"
        try:
            with trace_scope.supplier_call(route.name, op) as hop:
                result = await self.router.breakers.call(route.name, op, work, ctx.remaining())
                if isinstance(result, Booking):
                    hop.ids["supplier_ref"] = result.supplier_ref
            outcome = "ok"
            return result
        except TimeoutError:
            outcome = "timeout"
            log.warning("supplier_timed_out", route=route.name, op=op)
            raise ApiError(
                ErrorKind.SUPPLIER_TIMEOUT, f"{route.name} did not answer in time"
            ) from None
        except adapter_errors.AdapterError as exc:
            outcome = type(exc).__name__  # the adapter error classes: a bounded set
            log.info("supplier_refused", route=route.name, op=op, error=outcome)
            raise from_adapter_error(exc) from exc
        finally:
            metrics.supplier_call(route.name, op, outcome, time.perf_counter() - started)

    async def search(
        self, query: SlotQuery, ctx: CallContext, *, released_only: bool = True
    ) -> SlotSearchResult:
        """The service's slots; ``released_only``: only those this consumer may book."""
        route = self.router.for_service(query.service_id)
        if route is None:
            raise ApiError(
                ErrorKind.SERVICE_NOT_FOUND,
                f"no schedules are held for service '{query.service_id}'",
                expression="service",
            )
        self._require(route, Capability.SEARCH_SLOTS, "search for slots")
        result = await self._call(route, "search", ctx, route.adapter.search_slots(query, ctx))
        fresh = self.router.remember(result, route, query)
        if fresh and self.router.several:
            await self._share_homes(fresh)
        # fs_slotmanagement.md: only the slots released to this consumer are offered.
        if not released_only:
            return result
        ods = ctx.organisation.ods_code if ctx.organisation else None
        return self.policy.visible(query.service_id, ods, result, self.clock())

    async def _share_homes(self, fresh: list[tuple[str, SlotHome]]) -> None:
        """Write new slot homes for other replicas; the search is answered regardless."""
        rows = [SlotHomeRow(key, home.route.name, home.service_id) for key, home in fresh]
        try:
            await self.store.record_slot_homes(rows, self.clock())
        except Exception as exc:
            log.warning("slot_homes_not_shared", count=len(rows), error=type(exc).__name__)

    async def locate(self, slot_key: str, schedule_id: str | None) -> SlotHome | None:
        """Where a slot (or, failing that, its schedule) lives: this process's memory
        first, then what any replica's searches wrote to the store."""
        home = self.router.for_slot(slot_key, schedule_id)
        if home is not None or not self.router.several:
            return home
        keys = [f"slot:{slot_key}" if slot_key else "", f"schedule:{schedule_id or ''}"]
        for key in keys:
            if key.endswith(":"):
                continue
            row = await self.store.slot_home(key)
            route = self.router.route(row.route) if row else None
            if row is not None and route is not None:
                found = SlotHome(route, row.service_id)
                self.router.adopt(key, found)
                return found
        return None

    def _with_local_id(self, request: BookingRequest, ctx: CallContext) -> BookingRequest:
        if request.patient.nhs_number or request.patient.local_identifier:
            return request
        # get_an_appointment.md: without an NHS number the provider assigns its own
        # identifier; derived from the idempotency key so a retry gets the same one.
        local = Identifier(
            system=self.local_patient_system,
            value=str(uuid.uuid5(KEY_NAMESPACE, f"patient|{ctx.request_id}")),
        )
        patient = request.patient.model_copy(update={"local_identifier": local})
        return request.model_copy(update={"patient": patient})

    async def book(
        self,
        request: BookingRequest,
        ctx: CallContext,
        *,
        scope: str,
        client_request_id: str | None,
        schedule_id: str | None,
        moving: AppointmentVersion | None = None,
    ) -> AppointmentVersion:
        """Book ``request``; ``moving``: the booking this one replaces (a legacy rebook,
        SRM^S03, books first and cancels after), which the policy treats as a reschedule:
        the consumer must be allowed to change it, and no out-of-area reason is asked again.
        """
        request = self._with_local_id(request, ctx)
        home = await self.locate(request.slot_id, schedule_id)
        if home is None:
            home = await self._earlier_home(scope, client_request_id)
        if home is None:
            raise ApiError(
                ErrorKind.REFERENCE_NOT_FOUND,
                "the slot is not one this gateway offered; search for slots again",
                expression="Appointment.contained.Slot",
            )
        ods = ctx.organisation.ods_code if ctx.organisation else None
        if home.service_id and not self.router.allowed(home.service_id, ods):
            raise ApiError(
                ErrorKind.ACCESS_DENIED,
                f"organisation '{ods}' may not book at service '{home.service_id}'",
            )
        self._require(home.route, Capability.BOOK, "book appointments")
        if moving is not None and self.policy.file.services:
            sid = moving.booking.service_id
            require(self.policy.may_cancel(sid, ods, moving.booked_by))
        action = "book" if moving is None else "reschedule"
        await self.check_booking(home, request, schedule_id, ctx, action)
        work = in_doubt_work(request, ctx) if client_request_id else None
        async with self._claim(scope, client_request_id, body_hash(request), home, work):
            booking = await self._call(
                home.route, "book", ctx, home.route.adapter.book(request, ctx)
            )
            if not self.router.allowed(booking.service_id, ods):
                undo = home.route.adapter.cancel(
                    booking.supplier_ref, ctx, service_id=booking.service_id
                )
                await self._call(home.route, "cancel", ctx, undo)
                raise ApiError(
                    ErrorKind.ACCESS_DENIED,
                    f"organisation '{ods}' may not book at service '{booking.service_id}'",
                )
            version = await self._record_booking(
                booking, home.route, ods, ctx, scope, client_request_id
            )
            log.info(
                "appointment_booked", appointment_id=version.appointment_id, route=home.route.name
            )
            document = booking.document.identifier if booking.document else None
            trace_scope.note(appointment_id=version.appointment_id, cda_id=document)
            metrics.counted("bookings", home.route.name)
            return version

    async def check_booking(
        self,
        home: SlotHome,
        request: BookingRequest,
        schedule_id: str | None,
        ctx: CallContext,
        action: str = "book",
    ) -> None:
        """The booking policy's say on this booking, before anything reaches the supplier."""
        if not self.policy.file.services:
            return
        if home.service_id is None:
            raise ApiError(
                ErrorKind.REFERENCE_NOT_FOUND,
                "the slot's service is not known to this gateway; search for slots again",
                expression="Appointment.slot",
            )
        service = self.policy.service(home.service_id)
        facts = None
        if service is not None:
            facts = await self._slot_facts(home, request, schedule_id, ctx, bool(service.release))
        ods = ctx.organisation.ods_code if ctx.organisation else None
        reason = request.cross_border_reason
        require(self.policy.may_book(home.service_id, ods, facts, reason, self.clock(), action))

    async def _slot_facts(
        self,
        home: SlotHome,
        request: BookingRequest,
        schedule_id: str | None,
        ctx: CallContext,
        look: bool,
    ) -> SlotFacts:
        """The slot as the release rules see it: as the supplier offers it now when a rule
        looks at more than its time (its schedule, its delivery channel), else as asked."""
        asked = SlotFacts(request.start, request.end, schedule_id, None)
        if not look or home.service_id is None:
            return asked
        if Capability.SEARCH_SLOTS not in home.route.adapter.capabilities:
            return asked
        margin = timedelta(minutes=1)
        query = SlotQuery(
            service_id=home.service_id,
            start_from=request.start - margin,
            start_to=request.start + margin,
        )
        found = await self._call(
            home.route, "search", ctx, home.route.adapter.search_slots(query, ctx)
        )
        for slot in found.slots:
            if request.slot_id in (slot.identifier, slot.id):
                return SlotFacts(slot.start, slot.end, slot.schedule_id, slot.delivery_channel)
        return asked

    async def _earlier_home(self, scope: str, request_id: str | None) -> SlotHome | None:
        """Where an earlier send of this X-Request-ID went, for its resend after a restart.

        The router learns slots from searches, which a restarted gateway has not
        seen yet; the ledger kept the route, so the resend is resolved there.
        """
        claim = await self.store.find_claim(scope, request_id) if request_id else None
        if claim is None:
            return None
        name, service_id = claim.route, claim.service_id
        if name is None and claim.appointment_id:
            found = await self.store.get(claim.appointment_id)
            if found is not None:
                name, service_id = found.route, found.booking.service_id
        route = self.router.route(name) if name else None
        return SlotHome(route, service_id) if route else None

    async def _record_booking(
        self,
        booking: Booking,
        route: Route,
        ods: str | None,
        ctx: CallContext,
        scope: str,
        request_id: str | None,
    ) -> AppointmentVersion:
        """Store what the supplier booked and complete the ledger claim.

        Usually one commit: the first version, the completion and the document link
        together. A retry the adapter recognised (its booking already has a version),
        or a booking that links a stored referral, takes the longer way instead (version,
        link, then completion), so a crash before the link leaves the claim pending and
        the resend links it.
        """
        existing = await self.store.find_by_supplier_ref(route.name, booking.supplier_ref)
        if existing is None and not await self.referrals.would_link(booking):
            version = self._first_version(booking, route, ods)
            document = booking.document.identifier if booking.document else None
            await self.store.add_version_and_complete(
                version, scope, request_id, document_id=document
            )
            return version
        version = existing or self._first_version(booking, route, ods)
        if existing is None:
            await self.store.add_version(version)
        await self.referrals.link_booking(version, ctx)
        if request_id:
            await self.store.complete_request(
                scope, request_id, version.appointment_id, version.version
            )
        return version

    def _first_version(self, booking: Booking, route: Route, ods: str | None) -> AppointmentVersion:
        return AppointmentVersion(
            appointment_id=str(uuid.uuid4()),
            version=1,
            booking=booking,
            route=route.name,
            last_modified=self.clock(),
            booked_by=ods,
        )

    @asynccontextmanager
    async def _claim(
        self,
        scope: str,
        request_id: str | None,
        digest: str,
        home: SlotHome | None = None,
        work: str | None = None,
    ) -> AsyncIterator[None]:
        """Hold the idempotency ledger entry for (scope, X-Request-ID) while booking."""
        if not request_id:
            yield
            return
        key = (scope, request_id)
        if key in self.owner.running:
            raise self._in_progress(request_id, None)
        claim = await self.store.claim_request(
            scope,
            request_id,
            digest,
            self.clock(),
            self.claim_lease_s,
            self.owner.id,
            route=home.route.name if home else None,
            service_id=home.service_id if home else None,
            work=work,
        )
        if claim.state is ClaimState.DONE and claim.appointment_id and claim.version:
            metrics.counted("duplicates", str(claim.body_hash == digest).lower())
            raise DuplicateRequest(
                Replay(claim.appointment_id, claim.version, claim.body_hash == digest)
            )
        if claim.state is ClaimState.PENDING:
            raise self._in_progress(request_id, claim.lease_until)
        if claim.state is ClaimState.TAKEN_OVER:
            # Its holder died mid-request: the adapter call below, under the same
            # idempotency key, finds what the supplier made of the first send.
            log.info("claim_taken_over", previous_owner=claim.owner)
            metrics.counted("in_doubt", "taken_over")
        async with hold(self.owner, self.store, scope, request_id, self.claim_lease_s, self.clock):
            yield

    def _in_progress(self, request_id: str, lease_until: datetime | None) -> ApiError:
        """409 for a key whose holder is alive, with when to ask again (RFC 9110 Retry-After)."""
        wait_s = seconds_left(lease_until, self.clock(), self.claim_lease_s)
        return ApiError(
            ErrorKind.REQUEST_IN_PROGRESS,
            f"a request with X-Request-ID '{request_id}' is still being processed; resend it "
            f"unchanged, with the same X-Request-ID, after {wait_s} s to get its outcome",
            headers={"Retry-After": str(wait_s)},
        )

    async def read(self, appointment_id: str, version: int | None = None) -> AppointmentVersion:
        found = await self.store.get(appointment_id, version)
        if found is None:
            what = f"Appointment/{appointment_id}" + (f"/_history/{version}" if version else "")
            raise ApiError(ErrorKind.NOT_FOUND, f"{what} does not exist")
        return found

    async def apply_change(self, route_name: str, change: BookingChange) -> None:
        """Record a supplier-side change as a new version (the adapter's listener).

        A booking the gateway has never seen (made at the supplier's own desk)
        becomes a new appointment, so reads, the patient index and later
        cancels all see it. Never raises: the supplier has already been told
        the change was received.
        """
        try:
            await record_change(self.store, self.clock, route_name, change)
        except Exception:
            log.exception("supplier_change_not_recorded", route=route_name, reason=change.reason)

    async def patient_appointments(self, nhs_number: str) -> list[AppointmentVersion]:
        # search_patient_appointments.md: appointments in the past are not returned.
        return await self.store.find_by_nhs_number(nhs_number, self.clock())

    async def appointments_matching(
        self, match: Callable[[Patient], bool]
    ) -> list[AppointmentVersion]:
        """Upcoming appointments whose patient ``match`` accepts (a search by demographics,
        for patients the sender knows without an NHS number)."""
        return [v for v in await self.store.find_upcoming(self.clock()) if match(v.booking.patient)]
