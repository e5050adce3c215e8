"""The shared adapter contract suite (like SQLAlchemy's ``testing/suite``).

Every adapter subclasses ``AdapterContract`` in its own test module and supplies
the fixtures below; a test needing a capability the adapter does not declare is
skipped, not deleted.

Fixtures a subclass must provide:
- ``adapter``: a running ``SupplierAdapter`` (async fixture; close it on teardown);
- ``service_id``: a national service id the adapter serves, with free future slots.

Fixtures a subclass may override:
- ``fresh_slot``: an async callable returning a free, future slot of ``service_id``
  not handed out before in this test (default: found by ``search_slots``);
- ``unknown_service_id``: a service id the adapter does not serve.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import pytest
import pytest_asyncio
from structlog.testing import capture_logs

from adapters.contract import Capability, ReferringAdapter, SupplierAdapter
from adapters.domain import (
    Booking,
    BookingStatus,
    Slot,
    SlotQuery,
    SlotStatus,
    SupportingDocument,
    utcnow,
)
from adapters.errors import (
    AdapterError,
    BookingNotCancellable,
    BookingNotFound,
    ServiceNotFound,
    SlotNotFound,
    SlotUnavailable,
    SupplierTimeout,
)
from tests.contract.builders import (
    PATIENT_IDENTIFIERS,
    booking_request,
    call_context,
    sample_patient,
)

FreshSlot = Callable[[], Awaitable[Slot]]
F = TypeVar("F", bound=Callable[..., Any])

#: Slot ids and references no adapter should choke on.
GARBAGE_REFS: tuple[str, ...] = (
    "",
    " ",
    "x" * 100_000,
    "'; DROP TABLE slots; --",
    "../../../../etc/passwd",
    "\x00\x01\x02",
    "\ud800",
    "%s%s%s%n",
    "Slot/🙂",
)


def requires(*capabilities: Capability) -> Callable[[F], F]:
    """Mark a contract test as needing ``capabilities``; it is skipped without them."""

    def mark(test: F) -> F:
        test.contract_requires = frozenset(capabilities)  # type: ignore[attr-defined]
        return test

    return mark


async def _search(
    adapter: SupplierAdapter, slot: Slot, service_id: str, *statuses: SlotStatus
) -> list[Slot]:
    """Slots of ``service_id`` starting exactly when ``slot`` does, in ``statuses``."""
    query = SlotQuery(
        service_id=service_id,
        statuses=frozenset(statuses),
        start_from=slot.start,
        start_to=slot.start,
    )
    result = await adapter.search_slots(query, call_context())
    return [s for s in result.slots if s.id == slot.id]


def _as_asked(
    held: SupportingDocument | None, asked: SupportingDocument | None
) -> SupportingDocument | None:
    """The document a supplier holds, leaving out the date it gave one the request did not
    date (STU3 DocumentReference.indexed is 1..1, so a FHIR supplier must give one)."""
    if held is not None and asked is not None and asked.indexed is None:
        return held.model_copy(update={"indexed": None})
    return held


class AdapterContract:
    """Behaviour every ``SupplierAdapter`` must show; subclass with real fixtures."""

    pytestmark = pytest.mark.contract

    # -- fixtures a subclass supplies ------------------------------------------------

    @pytest_asyncio.fixture
    async def adapter(self, *args: Any, **kwargs: Any) -> AsyncIterator[SupplierAdapter]:
        raise NotImplementedError("a contract subclass must provide the 'adapter' fixture")
        yield  # pragma: no cover

    @pytest.fixture
    def service_id(self, *args: Any, **kwargs: Any) -> str:
        raise NotImplementedError("a contract subclass must provide the 'service_id' fixture")

    @pytest.fixture
    def unknown_service_id(self) -> str:
        return "000000000000"

    @pytest.fixture
    def fresh_slot(self, adapter: SupplierAdapter, service_id: str) -> FreshSlot:
        handed_out: set[str] = set()

        async def next_free_slot() -> Slot:
            if Capability.SEARCH_SLOTS not in adapter.capabilities:
                pytest.skip("no search: override the 'fresh_slot' fixture")
            query = SlotQuery(service_id=service_id, start_from=utcnow() + timedelta(minutes=5))
            result = await adapter.search_slots(query, call_context())
            for slot in result.slots:
                if slot.id not in handed_out:
                    handed_out.add(slot.id)
                    return slot
            pytest.fail(f"no free slot left in service {service_id}")

        return next_free_slot

    @pytest.fixture(autouse=True)
    def _skip_unsupported(self, request: pytest.FixtureRequest, adapter: SupplierAdapter) -> None:
        needed: frozenset[Capability] = getattr(request.function, "contract_requires", frozenset())
        missing = needed - adapter.capabilities
        if missing:
            pytest.skip(f"adapter lacks {', '.join(sorted(missing))}")

    # -- search ----------------------------------------------------------------------

    @requires(Capability.SEARCH_SLOTS)
    async def test_search_returns_free_slots_with_related_resources(
        self, adapter: SupplierAdapter, service_id: str
    ) -> None:
        """A search returns free slots in start order, each with its schedule and service."""
        result = await adapter.search_slots(SlotQuery(service_id=service_id), call_context())
        assert result.slots, "the service should have free slots"
        assert all(slot.status is SlotStatus.FREE for slot in result.slots)
        starts = [slot.start for slot in result.slots]
        assert starts == sorted(starts)
        assert len({slot.id for slot in result.slots}) == len(result.slots)
        for slot in result.slots:
            assert slot.start < slot.end
            assert slot.identifier
            if Capability.INCLUDE_SCHEDULE in adapter.capabilities:
                schedule = result.schedules[slot.schedule_id]
                assert schedule.service_id == service_id
        if Capability.INCLUDE_SERVICE in adapter.capabilities:
            assert service_id in result.services
        self._assert_includes_resolve(adapter, result)

    @staticmethod
    def _assert_includes_resolve(adapter: SupplierAdapter, result: Any) -> None:
        caps = adapter.capabilities
        for schedule in result.schedules.values():
            if schedule.practitioner_id and Capability.INCLUDE_PRACTITIONER in caps:
                assert schedule.practitioner_id in result.practitioners
            if schedule.practitioner_role_id and Capability.INCLUDE_PRACTITIONER_ROLE in caps:
                assert schedule.practitioner_role_id in result.roles
            if schedule.location_id and Capability.INCLUDE_LOCATION in caps:
                assert schedule.location_id in result.locations
        for service in result.services.values():
            if service.organisation_id and Capability.INCLUDE_ORGANISATION in caps:
                assert service.organisation_id in result.organisations

    @requires(Capability.SEARCH_SLOTS)
    async def test_search_window_bounds_the_slots(
        self, adapter: SupplierAdapter, service_id: str, fresh_slot: FreshSlot
    ) -> None:
        """Only slots starting within [start_from, start_to] are returned."""
        anchor = await fresh_slot()
        start_from, start_to = anchor.start, anchor.start + timedelta(hours=2)
        query = SlotQuery(service_id=service_id, start_from=start_from, start_to=start_to)
        result = await adapter.search_slots(query, call_context())
        assert anchor.id in {slot.id for slot in result.slots}
        assert all(start_from <= slot.start <= start_to for slot in result.slots)

    @requires(Capability.SEARCH_SLOTS)
    async def test_unknown_service_is_not_found(
        self, adapter: SupplierAdapter, service_id: str, unknown_service_id: str
    ) -> None:
        """Searching a service the adapter does not hold raises ServiceNotFound."""
        assert adapter.serves(service_id)
        assert not adapter.serves(unknown_service_id)
        with pytest.raises(ServiceNotFound):
            await adapter.search_slots(SlotQuery(service_id=unknown_service_id), call_context())

    # -- booking ---------------------------------------------------------------------

    @requires(Capability.BOOK, Capability.READ, Capability.CANCEL)
    async def test_book_get_cancel_round_trip(
        self, adapter: SupplierAdapter, service_id: str, fresh_slot: FreshSlot
    ) -> None:
        """Book, read, cancel and read again; the cancelled slot is free again."""
        slot = await fresh_slot()
        request = booking_request(slot)
        booked = await adapter.book(request, call_context())
        assert booked.status is BookingStatus.BOOKED
        assert booked.slot.id == slot.id and booked.slot.status is SlotStatus.BUSY
        assert booked.service_id == service_id
        assert (booked.start, booked.end) == (request.start, request.end)
        assert booked.patient == request.patient
        assert _as_asked(booked.document, request.document) == request.document
        assert booked.description == request.description
        assert booked.referral_reference == request.referral_reference
        assert await adapter.get(booked.supplier_ref, call_context()) == booked

        cancelled = await adapter.cancel(booked.supplier_ref, call_context())
        assert cancelled.status is BookingStatus.CANCELLED
        assert cancelled.supplier_ref == booked.supplier_ref
        again = await adapter.get(booked.supplier_ref, call_context())
        assert again.status is BookingStatus.CANCELLED
        if Capability.SEARCH_SLOTS in adapter.capabilities:
            assert await _search(adapter, slot, service_id, SlotStatus.FREE), "slot not freed"

    @requires(Capability.BOOK, Capability.READ, Capability.CANCEL)
    async def test_get_and_cancel_take_the_service_the_booking_was_made_at(
        self, adapter: SupplierAdapter, service_id: str, fresh_slot: FreshSlot
    ) -> None:
        """get and cancel accept the booking's service id (as the gateway stores it)."""
        booked = await adapter.book(booking_request(await fresh_slot()), call_context())
        read = await adapter.get(booked.supplier_ref, call_context(), service_id=service_id)
        assert read == booked
        cancelled = await adapter.cancel(
            booked.supplier_ref, call_context(), service_id=booked.service_id
        )
        assert cancelled.status is BookingStatus.CANCELLED
        assert cancelled.service_id == service_id

    @requires(Capability.BOOK, Capability.CANCEL)
    async def test_cancelling_twice_is_not_cancellable(
        self, adapter: SupplierAdapter, fresh_slot: FreshSlot
    ) -> None:
        """Cancelling an already-cancelled booking raises BookingNotCancellable."""
        booked = await adapter.book(booking_request(await fresh_slot()), call_context())
        await adapter.cancel(booked.supplier_ref, call_context())
        with pytest.raises(BookingNotCancellable):
            await adapter.cancel(booked.supplier_ref, call_context())

    @requires(Capability.READ)
    async def test_unknown_booking_is_not_found(self, adapter: SupplierAdapter) -> None:
        """Reading or cancelling a reference the supplier never issued raises BookingNotFound."""
        with pytest.raises(BookingNotFound):
            await adapter.get("no-such-booking", call_context())
        if Capability.CANCEL in adapter.capabilities:
            with pytest.raises(BookingNotFound):
                await adapter.cancel("no-such-booking", call_context())

    @requires(Capability.BOOK)
    async def test_retry_with_same_request_id_books_once(
        self, adapter: SupplierAdapter, service_id: str, fresh_slot: FreshSlot
    ) -> None:
        """A resent request id returns the first booking and never books twice."""
        slot = await fresh_slot()
        ctx = call_context()
        first = await adapter.book(booking_request(slot), ctx)
        retry = await adapter.book(booking_request(slot), ctx)
        assert retry.supplier_ref == first.supplier_ref
        assert retry.status is BookingStatus.BOOKED
        if Capability.SEARCH_SLOTS in adapter.capabilities:
            assert len(await _search(adapter, slot, service_id, SlotStatus.BUSY)) == 1
            assert not await _search(adapter, slot, service_id, SlotStatus.FREE)
        with pytest.raises(SlotUnavailable):
            await adapter.book(booking_request(slot), call_context())

    @requires(Capability.BOOK)
    async def test_concurrent_books_of_one_slot_book_exactly_once(
        self, adapter: SupplierAdapter, fresh_slot: FreshSlot
    ) -> None:
        """Twenty simultaneous bookings of one slot: one succeeds, the rest SlotUnavailable."""
        slot = await fresh_slot()
        outcomes = await asyncio.gather(
            *(adapter.book(booking_request(slot), call_context()) for _ in range(20)),
            return_exceptions=True,
        )
        booked = [o for o in outcomes if isinstance(o, Booking)]
        refused = [o for o in outcomes if isinstance(o, SlotUnavailable)]
        assert len(booked) == 1, outcomes
        assert len(refused) == 19, [o for o in outcomes if not isinstance(o, Booking)]

    @requires(Capability.BOOK)
    async def test_booking_a_taken_slot_is_unavailable(
        self, adapter: SupplierAdapter, fresh_slot: FreshSlot
    ) -> None:
        """Booking a slot someone else holds raises SlotUnavailable."""
        slot = await fresh_slot()
        await adapter.book(booking_request(slot), call_context())
        with pytest.raises(SlotUnavailable):
            await adapter.book(booking_request(slot), call_context())

    @requires(Capability.BOOK)
    async def test_unknown_slot_is_not_found(
        self, adapter: SupplierAdapter, fresh_slot: FreshSlot
    ) -> None:
        """Booking a slot id the supplier does not hold raises SlotNotFound."""
        slot = await fresh_slot()
        request = booking_request(slot, slot_id="7b4c6f0e-0000-4000-8000-000000000000")
        with pytest.raises(SlotNotFound):
            await adapter.book(request, call_context())

    # -- deadlines and the edge ------------------------------------------------------

    async def test_expired_deadline_times_out(
        self, adapter: SupplierAdapter, service_id: str, fresh_slot: FreshSlot
    ) -> None:
        """A call whose deadline has passed raises SupplierTimeout and does no work."""
        caps = adapter.capabilities
        slot = await fresh_slot() if Capability.SEARCH_SLOTS in caps else None
        late = call_context(deadline_in=-1.0)
        if Capability.SEARCH_SLOTS in caps:
            with pytest.raises(SupplierTimeout):
                await adapter.search_slots(SlotQuery(service_id=service_id), late)
        if slot is not None and Capability.BOOK in caps:
            with pytest.raises(SupplierTimeout):
                await adapter.book(booking_request(slot), late)
            assert await _search(adapter, slot, service_id, SlotStatus.FREE), "booked anyway"
        if Capability.READ in caps:
            with pytest.raises(SupplierTimeout):
                await adapter.get("any-ref", late)
        if Capability.CANCEL in caps:
            with pytest.raises(SupplierTimeout):
                await adapter.cancel("any-ref", late)

    async def test_garbage_inputs_raise_only_adapter_errors(
        self, adapter: SupplierAdapter, fresh_slot: FreshSlot
    ) -> None:
        """Absurd ids and references yield typed AdapterErrors, never foreign exceptions."""
        caps = adapter.capabilities
        slot = await fresh_slot() if Capability.SEARCH_SLOTS in caps else None
        for ref in GARBAGE_REFS:
            if Capability.SEARCH_SLOTS in caps:
                with pytest.raises(AdapterError):
                    await adapter.search_slots(SlotQuery(service_id=ref), call_context())
            if slot is not None and Capability.BOOK in caps:
                with pytest.raises(AdapterError):
                    await adapter.book(booking_request(slot, slot_id=ref), call_context())
            if Capability.READ in caps:
                with pytest.raises(AdapterError):
                    await adapter.get(ref, call_context())
            if Capability.CANCEL in caps:
                with pytest.raises(AdapterError):
                    await adapter.cancel(ref, call_context())
            assert adapter.serves(ref) is False

    async def test_calls_after_close_raise_only_adapter_errors(
        self, adapter: SupplierAdapter, service_id: str, fresh_slot: FreshSlot
    ) -> None:
        """After close (twice), every call raises an AdapterError and health is not ok."""
        slot = await fresh_slot() if Capability.SEARCH_SLOTS in adapter.capabilities else None
        await adapter.close()
        await adapter.close()
        calls: list[Callable[[], Awaitable[object]]] = [
            lambda: adapter.search_slots(SlotQuery(service_id=service_id), call_context()),
            lambda: adapter.get("any-ref", call_context()),
            lambda: adapter.cancel("any-ref", call_context()),
        ]
        if slot is not None:
            calls.append(lambda: adapter.book(booking_request(slot), call_context()))
        for call in calls:
            with pytest.raises(AdapterError):
                await call()
        assert (await adapter.health()).ok is False

    async def test_health_is_ok_while_open(self, adapter: SupplierAdapter) -> None:
        """A running adapter answers its health ping with ok."""
        assert (await adapter.health()).ok is True

    async def test_declares_referrals_only_with_the_hook(self, adapter: SupplierAdapter) -> None:
        """An adapter declares REFERRAL only if it has send_referral (else referrals are stored)."""
        if Capability.REFERRAL in adapter.capabilities:
            assert isinstance(adapter, ReferringAdapter)

    # -- privacy ---------------------------------------------------------------------

    @requires(Capability.BOOK, Capability.READ, Capability.CANCEL)
    async def test_logs_never_identify_the_patient(
        self,
        adapter: SupplierAdapter,
        fresh_slot: FreshSlot,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """No log event or record, at any level, carries the patient's identifiers."""
        caplog.set_level(logging.DEBUG)
        slot = await fresh_slot()
        errors: list[AdapterError] = []
        with capture_logs() as events:
            booked = await adapter.book(
                booking_request(slot, patient=sample_patient()), call_context()
            )
            await adapter.get(booked.supplier_ref, call_context())
            for attempt in (booking_request(slot), booking_request(slot, slot_id="nope")):
                try:
                    await adapter.book(attempt, call_context())
                except AdapterError as exc:
                    errors.append(exc)
            await adapter.cancel(booked.supplier_ref, call_context())
        assert len(errors) == 2
        texts = [repr(event) for event in events]
        texts += [f"{r.getMessage()} {r.args!r} {r.__dict__!r}" for r in caplog.records]
        texts += [f"{e} {e.supplier_detail}" for e in errors]
        for text in texts:
            for secret in PATIENT_IDENTIFIERS:
                assert secret not in text, f"patient identifier in log: {text[:200]}"
