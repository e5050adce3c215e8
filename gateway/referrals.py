"""The referral service: create, read, update, revoke and link referrals to bookings.

Referrals are stored and versioned like appointments (``Store.add_referral_version``)
and offered to the adapter serving their service when it declares
``Capability.REFERRAL``; otherwise they are only stored. A booking and its
referral are linked in either order:

- a referral naming an appointment (BaRS ``ServiceRequest.supportingInfo`` ->
  ``Appointment``), or whose document a booking already carried (STU3: the
  booking's contained DocumentReference), is linked to it when created;
- a booking naming a stored referral (STU3 ``incomingReferral``, BaRS
  ``Appointment.basedOn``) or carrying its document links it with a new
  referral version (``link_booking``).

Nothing identifying a patient is logged: ids only.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeGuard, TypeVar

import structlog

from adapters import errors as adapter_errors
from adapters.contract import Capability, ReferringAdapter
from adapters.domain import (
    FINAL_REFERRAL_STATUSES,
    Booking,
    CallContext,
    Referral,
    ReferralStatus,
    utcnow,
)
from gateway import metrics
from gateway._claims import ClaimOwner
from gateway._referral_claims import ReferralLedger, referral_hash, referral_id_for
from gateway.errors import ApiError, ErrorKind, from_adapter_error
from gateway.policy import Policy
from gateway.policy.enforce import require
from gateway.routing import Route, Router
from gateway.store import AppointmentVersion, ReferralVersion, Store, VersionConflict
from gateway.trace import scope as trace_scope

log = structlog.get_logger(__name__)
T = TypeVar("T")


def referral_key(reference: str) -> str:
    """The id in a reference to a referral: ``ServiceRequest/x``, ``urn:uuid:x`` or ``x``."""
    reference = reference.strip()
    if reference.lower().startswith("urn:uuid:"):
        return reference[len("urn:uuid:") :]
    return reference.rstrip("/").rsplit("/", 1)[-1]


class ReferralService:
    def __init__(
        self,
        store: Store,
        router: Router,
        *,
        clock: Callable[[], datetime] = utcnow,
        claim_lease_s: float = 5.0,
        owner: ClaimOwner | None = None,
        policy: Policy | None = None,
    ) -> None:
        self.store = store
        self.router = router
        self.clock = clock
        self.policy = policy or Policy()
        self.ledger = ReferralLedger(store, owner or ClaimOwner(), claim_lease_s, clock)
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    # -- reads -----------------------------------------------------------------

    async def read(self, referral_id: str, version: int | None = None) -> ReferralVersion:
        found = await self.store.get_referral(referral_id, version)
        if found is None:
            what = f"ServiceRequest/{referral_id}" + (f"/_history/{version}" if version else "")
            raise ApiError(ErrorKind.NOT_FOUND, f"{what} does not exist")
        return found

    async def versions(self, referral_id: str) -> list[ReferralVersion]:
        return await self.store.referral_versions(referral_id)

    async def for_patient(self, nhs_number: str) -> list[ReferralVersion]:
        return await self.store.find_referrals_by_nhs_number(nhs_number)

    async def for_appointment(self, appointment_id: str) -> list[ReferralVersion]:
        return await self.store.find_referrals_by_appointment(appointment_id)

    # -- writes ----------------------------------------------------------------

    async def create(
        self, referral: Referral, ctx: CallContext, *, scope: str, client_request_id: str | None
    ) -> ReferralVersion:
        """Store a new referral (its ``id`` and ``version`` are assigned here) and offer it.

        Idempotent on (``scope``, ``client_request_id``): a resend raises
        ``DuplicateReferral`` naming what the first send made.
        """
        route = self._route(referral.service_id, ctx, "send referrals to")
        if referral.status in FINAL_REFERRAL_STATUSES:
            raise ApiError(
                ErrorKind.BUSINESS_RULE,
                f"a new referral cannot be {referral.status.value}; send it active or on-hold",
            )
        referral_id = referral_id_for(scope, client_request_id)
        digest = referral_hash(referral, "create")
        async with self.ledger.claim(scope, client_request_id, digest):
            stored = await self.store.get_referral(referral_id)
            if stored is None:
                first = referral.model_copy(
                    update={
                        "id": referral_id,
                        "version": 1,
                        "appointment_id": await self._appointment_for(referral),
                    }
                )
                stored = await self._write(first, route, ctx)
            await self.ledger.complete(scope, client_request_id, referral_id, stored.version)
        log.info("referral_created", referral_id=referral_id, route=route.name)
        return stored

    async def update(
        self,
        referral_id: str,
        expected_version: int,
        changed: Referral,
        ctx: CallContext,
        *,
        scope: str,
        client_request_id: str | None = None,
    ) -> ReferralVersion:
        """Replace the referral's content with ``changed`` as the next version.

        ``expected_version`` is the version the sender read (optimistic concurrency).
        A link to an appointment is kept unless ``changed`` names another.
        """
        digest = referral_hash(changed, f"update|{referral_id}")
        async with self._lock(referral_id), self.ledger.claim(scope, client_request_id, digest):
            current = await self._changeable(referral_id, expected_version)
            if changed.service_id != current.referral.service_id:
                raise ApiError(
                    ErrorKind.BUSINESS_RULE,
                    "a referral cannot move to another service; revoke it and send a new one",
                )
            route = self._route(changed.service_id, ctx, "send referrals to")
            if changed.appointment_id is not None:
                await self._require_appointment(changed.appointment_id)
            following = changed.model_copy(
                update={
                    "id": referral_id,
                    "version": current.version + 1,
                    "appointment_id": changed.appointment_id or current.referral.appointment_id,
                    "supplier_ref": current.referral.supplier_ref,
                }
            )
            version = await self._write(following, route, ctx)
            await self.ledger.complete(scope, client_request_id, referral_id, version.version)
        log.info("referral_updated", referral_id=referral_id, version=version.version)
        return version

    async def revoke(
        self,
        referral_id: str,
        expected_version: int,
        ctx: CallContext,
        *,
        scope: str,
        client_request_id: str | None = None,
    ) -> ReferralVersion:
        """Revoke (cancel) the referral: a new version with status ``revoked``."""
        digest = f"revoke|{referral_id}"
        async with self._lock(referral_id), self.ledger.claim(scope, client_request_id, digest):
            current = await self._changeable(referral_id, expected_version)
            route = self._route(current.referral.service_id, ctx, "send referrals to")
            revoked = current.referral.model_copy(
                update={"status": ReferralStatus.REVOKED, "version": current.version + 1}
            )
            version = await self._write(revoked, route, ctx)
            await self.ledger.complete(scope, client_request_id, referral_id, version.version)
        log.info("referral_revoked", referral_id=referral_id, version=version.version)
        return version

    async def link_booking(
        self, appointment: AppointmentVersion, ctx: CallContext | None = None
    ) -> None:
        """Link the referral a new booking names or carries the document of; never raises.

        The booking is already made, so a failure here is logged, not answered. With
        ``ctx``, a link made now is also offered to a supplier that holds both the
        referral and the booking and takes referral updates (``_offer_link``).
        """
        booking = appointment.booking
        try:
            linked: ReferralVersion | None = None
            if booking.document is not None:
                # dos_itk.md: cases match on "ID of the CDA ==
                # Appointment.DocumentReference.identifier", whichever arrives first.
                doc = booking.document.identifier
                await self.store.link_document(doc, appointment.appointment_id, self.clock())
                linked = await self._link(
                    await self.store.find_referral_by_document(doc), appointment.appointment_id
                )
            if booking.referral_reference:
                found = await self.store.get_referral(referral_key(booking.referral_reference))
                linked = await self._link(found, appointment.appointment_id) or linked
            if linked is not None:
                # docs/ops/trace.md: the referral's journey and the booking's meet here.
                doc_id = linked.referral.document_identifier
                trace_scope.note(referral_id=linked.referral_id, cda_id=doc_id)
            if linked is not None and ctx is not None:
                await self._offer_link(linked, appointment, ctx)
        except Exception as exc:
            log.warning(
                "referral_link_failed",
                appointment_id=appointment.appointment_id,
                error=type(exc).__name__,
            )

    async def would_link(self, booking: Booking) -> bool:
        """Whether ``link_booking`` would link a stored referral to a new appointment for
        ``booking`` (reads only); True when that cannot be read, to be on the safe side."""
        try:
            found: list[ReferralVersion | None] = []
            if booking.document is not None:
                found.append(
                    await self.store.find_referral_by_document(booking.document.identifier)
                )
            if booking.referral_reference:
                found.append(
                    await self.store.get_referral(referral_key(booking.referral_reference))
                )
        except Exception:
            return True
        # The new appointment's id is named by no referral yet: any open one would link.
        return any(_open(f) for f in found)

    # -- helpers ---------------------------------------------------------------

    async def _link(
        self, found: ReferralVersion | None, appointment_id: str
    ) -> ReferralVersion | None:
        """A new version of ``found`` naming the appointment (unless it already does)."""
        if not _open(found) or found.referral.appointment_id == appointment_id:
            return None
        async with self._lock(found.referral_id):
            current = await self.store.get_referral(found.referral_id)
            if current is None or current.referral.appointment_id == appointment_id:
                return None
            linked = current.referral.model_copy(
                update={"appointment_id": appointment_id, "version": current.version + 1}
            )
            version = ReferralVersion(linked, current.route, self.clock(), current.recorded_by)
            await self.store.add_referral_version(version)
        log.info("referral_linked", referral_id=found.referral_id, appointment_id=appointment_id)
        return version

    async def _offer_link(
        self, linked: ReferralVersion, appointment: AppointmentVersion, ctx: CallContext
    ) -> None:
        """Report first, booking second: tell the supplier holding both that they belong
        together, as the referral's next version naming its booking (BaRS: a
        servicerequest-request ``update`` whose supportingInfo is the receiver's
        Appointment). Only adapters that say ``referral_updates`` get it: an ITK provider
        would take a re-sent report as a second document."""
        route = self.router.route(linked.route)
        if route is None or route.name != appointment.route:
            return
        adapter = route.adapter
        if not getattr(adapter, "referral_updates", False) or not isinstance(
            adapter, ReferringAdapter
        ):
            return
        offered = await self._with_booking_ref(linked.referral, route)
        try:
            await self._call(route, ctx, adapter.send_referral(offered, ctx))
        except ApiError as exc:
            # The link stands here; the supplier holds both, unlinked, until the next update.
            log.warning(
                "referral_link_not_offered", referral_id=linked.referral_id, error=exc.kind.name
            )
            return
        log.info("referral_link_offered", referral_id=linked.referral_id, route=route.name)

    async def _appointment_for(self, referral: Referral) -> str | None:
        """The appointment a new referral is linked to: the one it names, or its document's."""
        if referral.appointment_id is not None:
            await self._require_appointment(referral.appointment_id)
            return referral.appointment_id
        if referral.document_identifier:
            return await self.store.document_appointment(referral.document_identifier)
        return None

    async def _require_appointment(self, appointment_id: str) -> None:
        if await self.store.get(appointment_id) is None:
            raise ApiError(
                ErrorKind.REFERENCE_NOT_FOUND,
                f"the referral names Appointment/{appointment_id}, which does not exist",
            )

    async def _changeable(self, referral_id: str, expected_version: int) -> ReferralVersion:
        current = await self.read(referral_id)
        if current.version != expected_version:
            raise ApiError(
                ErrorKind.VERSION_CONFLICT,
                f"the change names version {expected_version} but the current version is "
                f"{current.version}; read the referral again",
            )
        if current.referral.status in FINAL_REFERRAL_STATUSES:
            raise ApiError(
                ErrorKind.BUSINESS_RULE,
                f"the referral is {current.referral.status.value} and can no longer change",
            )
        return current

    def _route(self, service_id: str, ctx: CallContext, what: str) -> Route:
        route = self.router.for_service(service_id)
        if route is None:
            raise ApiError(ErrorKind.SERVICE_NOT_FOUND, f"no service '{service_id}' is served here")
        ods = ctx.organisation.ods_code if ctx.organisation else None
        if not self.router.allowed(service_id, ods):
            raise ApiError(
                ErrorKind.ACCESS_DENIED, f"organisation '{ods}' may not {what} '{service_id}'"
            )
        require(self.policy.may_book(service_id, ods, None, None, self.clock(), action="refer"))
        return route

    async def _write(self, referral: Referral, route: Route, ctx: CallContext) -> ReferralVersion:
        """Offer ``referral`` to the supplier when it takes referrals, then store it."""
        adapter = route.adapter
        if Capability.REFERRAL in adapter.capabilities and isinstance(adapter, ReferringAdapter):
            offered = await self._with_booking_ref(referral, route)
            ref = await self._call(route, ctx, adapter.send_referral(offered, ctx))
            if ref and ref != referral.supplier_ref:
                referral = referral.model_copy(update={"supplier_ref": ref})
        ods = ctx.organisation.ods_code if ctx.organisation else None
        version = ReferralVersion(referral, route.name, self.clock(), ods)
        try:
            await self.store.add_referral_version(version)
        except VersionConflict as exc:
            raise ApiError(
                ErrorKind.VERSION_CONFLICT, "the referral changed meanwhile; read it again"
            ) from exc
        return version

    async def _with_booking_ref(self, referral: Referral, route: Route) -> Referral:
        """The referral as offered: naming its booking as the supplier knows it, when the
        same adapter holds that booking (a BaRS receiver links by its own Appointment id)."""
        if referral.appointment_id is None:
            return referral
        held = await self.store.get(referral.appointment_id)
        if held is None or held.route != route.name:
            return referral
        return referral.model_copy(update={"appointment_ref": held.booking.supplier_ref})

    async def _call(self, route: Route, ctx: CallContext, work: Awaitable[T]) -> T:
        """One adapter call within the deadline, its typed errors translated."""
        started, outcome = time.perf_counter(), "error"
        try:
            result = await self.router.breakers.call(
                route.name, "send_referral", work, ctx.remaining()
            )
            outcome = "ok"
            return result
        except TimeoutError:
            outcome = "timeout"
            log.warning("supplier_timed_out", route=route.name, op="send_referral")
            raise ApiError(
                ErrorKind.SUPPLIER_TIMEOUT, f"{route.name} did not answer in time"
            ) from None
        except adapter_errors.AdapterError as exc:
            outcome = type(exc).__name__
            log.info("supplier_refused", route=route.name, op="send_referral", error=outcome)
            raise from_adapter_error(exc) from exc
        finally:
            elapsed = time.perf_counter() - started
            metrics.supplier_call(route.name, "send_referral", outcome, elapsed)

    def _lock(self, referral_id: str) -> asyncio.Lock:
        lock = self._locks.get(referral_id)
        if lock is None:
            lock = self._locks[referral_id] = asyncio.Lock()
        return lock


def _open(found: ReferralVersion | None) -> TypeGuard[ReferralVersion]:
    """Whether ``found`` is a referral that may still be linked (not final)."""
    return found is not None and found.referral.status not in FINAL_REFERRAL_STATUSES
