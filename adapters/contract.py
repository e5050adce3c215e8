"""The adapter contract: one interface, many suppliers.

A front door never knows which supplier it talks to; it holds a
``SupplierAdapter`` chosen by name from configuration (see ``registry``).
Every adapter passes the shared contract suite in ``tests/contract``.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from adapters.domain import (
    Booking,
    BookingRequest,
    CallContext,
    Referral,
    SlotQuery,
    SlotSearchResult,
)


class Capability(enum.StrEnum):
    """What an adapter can do; the CapabilityStatement is generated from these."""

    SEARCH_SLOTS = "search-slots"
    BOOK = "book"
    READ = "read"
    CANCEL = "cancel"
    # Related resources a slot search can return (``_include`` support).
    INCLUDE_SCHEDULE = "include-schedule"
    INCLUDE_PRACTITIONER = "include-practitioner"
    INCLUDE_PRACTITIONER_ROLE = "include-practitioner-role"
    INCLUDE_SERVICE = "include-service"
    INCLUDE_ORGANISATION = "include-organisation"
    INCLUDE_LOCATION = "include-location"
    # The supplier tells us of bookings changed at its end (e.g. HL7 SIU messages).
    NOTIFICATIONS = "notifications"
    # The supplier takes referrals (``ReferringAdapter.send_referral``).
    REFERRAL = "referral"


class Health(BaseModel):
    model_config = ConfigDict(frozen=True)

    ok: bool
    detail: str = ""
    latency_ms: float | None = None


@runtime_checkable
class SupplierAdapter(Protocol):
    """The seam between the booking service and one supplier system.

    Contract (pinned by the shared suite):
    - ``book`` is idempotent on ``ctx.request_id``: a retry with the same id
      returns the booking the first call made and never books twice;
    - a slot that is no longer free raises ``SlotUnavailable``;
    - work stops by ``ctx.deadline`` with ``SupplierTimeout``;
    - only ``adapters.errors.AdapterError`` subclasses escape;
    - nothing identifying a patient is logged.
    """

    name: str
    capabilities: frozenset[Capability]

    async def search_slots(self, query: SlotQuery, ctx: CallContext) -> SlotSearchResult:
        """Slots of ``query.service_id`` with every related resource."""
        ...

    async def book(self, request: BookingRequest, ctx: CallContext) -> Booking:
        """Book ``request.slot_id`` for the patient; idempotent on ``ctx.request_id``."""
        ...

    async def get(
        self, supplier_ref: str, ctx: CallContext, *, service_id: str | None = None
    ) -> Booking:
        """The supplier's current view of one booking.

        ``service_id`` is the national service the booking was made at, when the
        caller knows it (the gateway keeps it with the booking): an adapter whose
        reference alone does not say (several services behind one endpoint, after
        a restart) uses it; one whose references are unambiguous may ignore it.
        """
        ...

    async def cancel(
        self, supplier_ref: str, ctx: CallContext, *, service_id: str | None = None
    ) -> Booking:
        """Cancel one booking and free its slot; returns the cancelled booking.

        ``service_id`` as for ``get``.
        """
        ...

    def serves(self, service_id: str) -> bool:
        """Whether this adapter holds schedules for the national service id."""
        ...

    async def health(self) -> Health:
        """A cheap ping of the supplier."""
        ...

    async def close(self) -> None:
        """Release connections and files; safe to call twice."""
        ...


class BookingChange(BaseModel):
    """A booking created, moved or cancelled at the supplier's own end."""

    model_config = ConfigDict(frozen=True)

    #: The supplier's view of the booking after the change.
    booking: Booking
    #: What the supplier called the change (e.g. "SIU^S15"), for the log.
    reason: str = ""


#: The gateway's callback for supplier-side changes; it must not raise.
BookingListener = Callable[[str, BookingChange], Awaitable[None]]


@runtime_checkable
class NotifyingAdapter(SupplierAdapter, Protocol):
    """An adapter that reports supplier-side changes (declares ``NOTIFICATIONS``).

    The gateway subscribes once at start-up; the adapter calls
    ``listener(self.name, change)`` for each change it hears about, after it
    has acknowledged the change to the supplier.
    """

    def subscribe(self, listener: BookingListener) -> None:
        """Register the one listener that receives every change."""
        ...


@runtime_checkable
class ReferringAdapter(SupplierAdapter, Protocol):
    """An adapter that takes referrals (declares ``REFERRAL``).

    The gateway stores every referral version first, then offers it here: a new
    referral, each update and the revoke (``referral.status``) alike.
    """

    async def send_referral(self, referral: Referral, ctx: CallContext) -> str | None:
        """Hand one referral version to the supplier; idempotent on ``ctx.request_id``.

        Returns the supplier's own reference of the referral when it gives one (the
        gateway stores it as ``Referral.supplier_ref`` and offers it back with every later
        version), else ``None``.

        Raises only ``adapters.errors.AdapterError`` subclasses.
        """
        ...
