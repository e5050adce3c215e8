"""Each injected peer fault reaches the gateway as the right typed error, within the deadline."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from adapters.domain import SlotQuery
from adapters.errors import (
    BookingRejected,
    OutcomeUnknown,
    SlotUnavailable,
    SupplierProtocolError,
    SupplierTimeout,
    SupplierUnavailable,
)
from adapters.rest_diary.peer import FaultSpec, Mode, RunningPeer
from tests.contract.builders import bookable, booking_request, call_context
from tests.rest_diary.conftest import MIU_SERVICE, AdapterFactory, api_key_options

QUERY = SlotQuery(service_id=MIU_SERVICE)


async def _first_slot(adapter: object) -> object:
    result = await adapter.search_slots(bookable(MIU_SERVICE), call_context())  # type: ignore[attr-defined]
    return result.slots[0]


async def test_supplier_down_is_unavailable(
    make_adapter: AdapterFactory, peer: RunningPeer, unused_tcp_port: int
) -> None:
    """Nobody listening on the port: every call is SupplierUnavailable and health is not ok."""
    adapter = await make_adapter(
        api_key_options(peer, base_url=f"http://127.0.0.1:{unused_tcp_port}/api/v2")
    )
    with pytest.raises(SupplierUnavailable):
        await adapter.search_slots(QUERY, call_context())
    with pytest.raises(SupplierUnavailable):
        await adapter.get("APT-000001", call_context())
    assert (await adapter.health()).ok is False


async def test_peer_dropping_connections_is_unavailable(
    make_adapter: AdapterFactory, peer: RunningPeer
) -> None:
    """The peer hangs up on every request: a search is SupplierUnavailable after bounded resends."""
    adapter = await make_adapter(api_key_options(peer))
    peer.fault(FaultSpec(mode=Mode.DOWN))
    with pytest.raises(SupplierUnavailable):
        await adapter.search_slots(QUERY, call_context())
    # Three attempts; aiohttp itself resends an idempotent GET once on a reused connection.
    assert 3 <= peer.state.stats["search"] <= 6


@pytest.mark.parametrize("operation", ["search", "book"])
async def test_slow_supplier_times_out_within_the_deadline(
    make_adapter: AdapterFactory, peer: RunningPeer, operation: str
) -> None:
    """A peer that sleeps 5 s gives SupplierTimeout once the 0.5 s deadline passes."""
    adapter = await make_adapter(api_key_options(peer))
    slot = await _first_slot(adapter)
    peer.fault(FaultSpec(mode=Mode.SLOW, delay_s=5.0))
    began = time.monotonic()
    with pytest.raises(SupplierTimeout):
        if operation == "search":
            await adapter.search_slots(QUERY, call_context(deadline_in=0.5))
        else:
            await adapter.book(booking_request(slot), call_context(deadline_in=0.5))  # type: ignore[arg-type]
    assert time.monotonic() - began < 1.5


async def test_server_error_is_unavailable_after_bounded_resends(
    make_adapter: AdapterFactory, peer: RunningPeer
) -> None:
    """A 503 on every read: SupplierUnavailable after exactly `attempts` tries."""
    adapter = await make_adapter(api_key_options(peer, attempts=2))
    peer.fault(FaultSpec(mode=Mode.SERVER_ERROR, operations=frozenset({"get"})))
    with pytest.raises(SupplierUnavailable) as caught:
        await adapter.get("APT-000001", call_context())
    assert caught.value.supplier_detail == "HTTP 503 SERVICE_UNAVAILABLE"
    assert peer.state.stats["get"] == 2


async def test_cancel_is_never_resent_after_a_server_error(
    make_adapter: AdapterFactory, peer: RunningPeer
) -> None:
    """A cancel answered 503 is reported, not blindly sent again."""
    adapter = await make_adapter(api_key_options(peer))
    booked = await adapter.book(booking_request(await _first_slot(adapter)), call_context())  # type: ignore[arg-type]
    peer.fault(FaultSpec(mode=Mode.SERVER_ERROR, operations=frozenset({"cancel"})))
    with pytest.raises(SupplierUnavailable):
        await adapter.cancel(booked.supplier_ref, call_context())
    assert peer.state.stats["cancel"] == 1


async def test_malformed_answer_is_a_protocol_error(
    make_adapter: AdapterFactory, peer: RunningPeer
) -> None:
    """A truncated JSON body is SupplierProtocolError, never a JSON exception."""
    adapter = await make_adapter(api_key_options(peer))
    peer.fault(FaultSpec(mode=Mode.MALFORMED))
    with pytest.raises(SupplierProtocolError):
        await adapter.search_slots(QUERY, call_context())


async def test_business_fault_is_rejected(make_adapter: AdapterFactory, peer: RunningPeer) -> None:
    """The supplier's CLINIC_CLOSED error body becomes BookingRejected."""
    adapter = await make_adapter(api_key_options(peer))
    slot = await _first_slot(adapter)
    peer.fault(FaultSpec(mode=Mode.FAULT, code="CLINIC_CLOSED", operations=frozenset({"book"})))
    with pytest.raises(BookingRejected) as caught:
        await adapter.book(booking_request(slot), call_context())  # type: ignore[arg-type]
    assert "CLINIC_CLOSED" in str(caught.value)


@pytest.mark.parametrize(
    ("code", "typed"),
    [("MAINTENANCE", SupplierUnavailable), ("SOMETHING_NEW", SupplierProtocolError)],
)
async def test_error_codes_follow_the_table(
    make_adapter: AdapterFactory, peer: RunningPeer, code: str, typed: type[Exception]
) -> None:
    """A known errorCode maps by the table; an unknown one on a 4xx is a protocol error."""
    adapter = await make_adapter(api_key_options(peer))
    peer.fault(FaultSpec(mode=Mode.FAULT, code=code))
    with pytest.raises(typed):
        await adapter.get("APT-000001", call_context())


async def test_slot_taken_is_unavailable(make_adapter: AdapterFactory, peer: RunningPeer) -> None:
    """A 409 SLOT_TAKEN on booking is SlotUnavailable and nothing is booked."""
    adapter = await make_adapter(api_key_options(peer))
    slot = await _first_slot(adapter)
    peer.fault(FaultSpec(mode=Mode.SLOT_TAKEN))
    with pytest.raises(SlotUnavailable):
        await adapter.book(booking_request(slot), call_context())  # type: ignore[arg-type]
    assert await peer.diary.count_appointments() == 0


async def test_lost_booking_answer_is_recovered_by_the_idempotency_key(
    make_adapter: AdapterFactory, peer: RunningPeer
) -> None:
    """The peer books then hangs up: the resend with the same key gets that booking, once."""
    adapter = await make_adapter(api_key_options(peer))
    slot = await _first_slot(adapter)
    peer.fault(FaultSpec(mode=Mode.LOST_RESPONSE, operations=frozenset({"book"}), times=1))
    with capture_logs() as events:
        booked = await adapter.book(booking_request(slot), call_context())  # type: ignore[arg-type]
    assert peer.state.stats["book"] == 2
    assert await peer.diary.count_appointments(slot.id) == 1  # type: ignore[attr-defined]
    assert (await peer.diary.appointment(booked.supplier_ref)) is not None
    assert [e["event"] for e in events if e["event"] == "booking_replayed"] == ["booking_replayed"]


async def test_lost_answer_then_a_later_retry_never_books_twice(
    make_adapter: AdapterFactory, peer: RunningPeer
) -> None:
    """With no resend allowed the call fails, and the caller's retry under the same id recovers."""
    adapter = await make_adapter(api_key_options(peer, attempts=1))
    slot = await _first_slot(adapter)
    ctx = call_context()
    peer.fault(FaultSpec(mode=Mode.LOST_RESPONSE, operations=frozenset({"book"}), times=1))
    with pytest.raises(SupplierUnavailable):
        await adapter.book(booking_request(slot), ctx)  # type: ignore[arg-type]
    again = await adapter.book(booking_request(slot), ctx)  # type: ignore[arg-type]
    assert await peer.diary.count_appointments() == 1
    assert (await peer.diary.appointment(again.supplier_ref)) is not None


async def test_lost_cancel_answer_is_outcome_unknown(
    make_adapter: AdapterFactory, peer: RunningPeer
) -> None:
    """A cancel whose answer is lost is OutcomeUnknown (sent once); a read shows the truth."""
    adapter = await make_adapter(api_key_options(peer))
    booked = await adapter.book(booking_request(await _first_slot(adapter)), call_context())  # type: ignore[arg-type]
    peer.fault(FaultSpec(mode=Mode.LOST_RESPONSE, operations=frozenset({"cancel"}), times=1))
    with pytest.raises(OutcomeUnknown):
        await adapter.cancel(booked.supplier_ref, call_context())
    assert peer.state.stats["cancel"] == 1
    assert (await adapter.get(booked.supplier_ref, call_context())).status.value == "cancelled"


async def test_oversized_answer_is_a_protocol_error(
    make_adapter: AdapterFactory, peer: RunningPeer, tmp_path: Path
) -> None:
    """An answer above max_body_bytes is refused as SupplierProtocolError, not read whole."""
    adapter = await make_adapter(api_key_options(peer, max_body_bytes=2048))
    with pytest.raises(SupplierProtocolError):
        await adapter.search_slots(QUERY, call_context())
