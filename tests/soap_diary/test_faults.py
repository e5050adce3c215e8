"""Each injected SOAP peer fault reaches the gateway as the right typed error."""

from __future__ import annotations

import time

import pytest

from adapters.domain import Slot, SlotQuery
from adapters.errors import (
    AdapterError,
    BookingNotFound,
    BookingRejected,
    OutcomeUnknown,
    SlotUnavailable,
    SupplierProtocolError,
    SupplierTimeout,
    SupplierUnavailable,
)
from adapters.soap_diary import SoapDiaryAdapter
from adapters.soap_diary.peer import FaultSpec, Mode, RunningSoapPeer
from tests.contract.builders import bookable, booking_request, call_context
from tests.soap_diary.conftest import MIU_SERVICE, AdapterFactory, soap_options

QUERY = SlotQuery(service_id=MIU_SERVICE)


async def _first_slot(adapter: SoapDiaryAdapter) -> Slot:
    return (await adapter.search_slots(bookable(MIU_SERVICE), call_context())).slots[0]


async def test_supplier_down_is_unavailable(
    make_adapter: AdapterFactory, peer: RunningSoapPeer, unused_tcp_port: int
) -> None:
    """Nobody listening: SupplierUnavailable, and health is not ok."""
    endpoint = f"http://127.0.0.1:{unused_tcp_port}/DiaryService.svc"
    adapter = await make_adapter(soap_options(peer, endpoint=endpoint))
    with pytest.raises(SupplierUnavailable):
        await adapter.search_slots(QUERY, call_context())
    assert (await adapter.health()).ok is False


@pytest.mark.parametrize("version", ["1.1", "1.2"])
async def test_slow_supplier_times_out_within_the_deadline(
    make_adapter: AdapterFactory, peer: RunningSoapPeer, version: str
) -> None:
    """A peer that sleeps 5 s gives SupplierTimeout once the 0.5 s deadline passes."""
    adapter = await make_adapter(soap_options(peer, soap_version=version))
    slot = await _first_slot(adapter)
    peer.fault(FaultSpec(mode=Mode.SLOW, delay_s=5.0))
    began = time.monotonic()
    with pytest.raises(SupplierTimeout):
        await adapter.book(booking_request(slot), call_context(deadline_in=0.5))
    assert time.monotonic() - began < 1.5


async def test_http_503_is_unavailable(make_adapter: AdapterFactory, peer: RunningSoapPeer) -> None:
    """A 503 HTML page (no SOAP) is SupplierUnavailable after bounded resends."""
    adapter = await make_adapter(soap_options(peer))
    peer.fault(FaultSpec(mode=Mode.SERVER_ERROR))
    with pytest.raises(SupplierUnavailable):
        await adapter.search_slots(QUERY, call_context())
    assert peer.state.stats["search"] == 3


async def test_malformed_envelope_is_a_protocol_error(
    make_adapter: AdapterFactory, peer: RunningSoapPeer
) -> None:
    """A truncated envelope is SupplierProtocolError."""
    adapter = await make_adapter(soap_options(peer))
    peer.fault(FaultSpec(mode=Mode.MALFORMED))
    with pytest.raises(SupplierProtocolError):
        await adapter.search_slots(QUERY, call_context())


@pytest.mark.parametrize("version", ["1.1", "1.2"])
@pytest.mark.parametrize(
    ("code", "typed"),
    [
        ("CLINIC_CLOSED", BookingRejected),
        ("SLOT_TAKEN", SlotUnavailable),
        ("INTERNAL_ERROR", SupplierUnavailable),
        ("NEVER_HEARD_OF_IT", SupplierProtocolError),
    ],
)
async def test_soap_faults_follow_the_table(
    make_adapter: AdapterFactory,
    peer: RunningSoapPeer,
    version: str,
    code: str,
    typed: type[AdapterError],
) -> None:
    """A fault's DiaryFault code decides the typed error, in SOAP 1.1 and 1.2."""
    adapter = await make_adapter(soap_options(peer, soap_version=version))
    slot = await _first_slot(adapter)
    peer.fault(FaultSpec(mode=Mode.FAULT, code=code, operations=frozenset({"book"})))
    with pytest.raises(typed) as caught:
        await adapter.book(booking_request(slot), call_context())
    assert code in (caught.value.supplier_detail or "")


async def test_slot_taken_is_unavailable(
    make_adapter: AdapterFactory, peer: RunningSoapPeer
) -> None:
    """The SLOT_TAKEN fault on booking is SlotUnavailable and nothing is booked."""
    adapter = await make_adapter(soap_options(peer))
    slot = await _first_slot(adapter)
    peer.fault(FaultSpec(mode=Mode.SLOT_TAKEN))
    with pytest.raises(SlotUnavailable):
        await adapter.book(booking_request(slot), call_context())
    assert await peer.diary.count_appointments() == 0


async def test_lost_booking_answer_is_recovered_by_the_booking_reference(
    make_adapter: AdapterFactory, peer: RunningSoapPeer
) -> None:
    """The peer books then hangs up: the resend with the same BookingReference gets it, once."""
    adapter = await make_adapter(soap_options(peer))
    slot = await _first_slot(adapter)
    peer.fault(FaultSpec(mode=Mode.LOST_RESPONSE, operations=frozenset({"book"}), times=1))
    booked = await adapter.book(booking_request(slot), call_context())
    assert peer.state.stats["book"] == 2
    assert await peer.diary.count_appointments(slot.id) == 1
    assert (await adapter.get(booked.supplier_ref, call_context())).slot.id == slot.id


async def test_lost_cancel_answer_is_outcome_unknown(
    make_adapter: AdapterFactory, peer: RunningSoapPeer
) -> None:
    """A CancelAppointment whose answer is lost is OutcomeUnknown and sent only once."""
    adapter = await make_adapter(soap_options(peer))
    booked = await adapter.book(booking_request(await _first_slot(adapter)), call_context())
    peer.fault(FaultSpec(mode=Mode.LOST_RESPONSE, operations=frozenset({"cancel"}), times=1))
    with pytest.raises(OutcomeUnknown):
        await adapter.cancel(booked.supplier_ref, call_context())
    assert peer.state.stats["cancel"] == 1


async def test_wrong_password_is_unavailable(
    make_adapter: AdapterFactory, peer: RunningSoapPeer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused HTTP Basic password gives the NOT_AUTHORISED fault -> SupplierUnavailable."""
    monkeypatch.setenv("SOAP_WRONG_PASSWORD", "wrong")
    adapter = await make_adapter(soap_options(peer, password_env="SOAP_WRONG_PASSWORD"))
    with pytest.raises(SupplierUnavailable):
        await adapter.search_slots(QUERY, call_context())


async def test_appointment_ids_are_numeric(
    make_adapter: AdapterFactory, peer: RunningSoapPeer
) -> None:
    """A reference this diary could never have issued is BookingNotFound without a call."""
    adapter = await make_adapter(soap_options(peer))
    with pytest.raises(BookingNotFound):
        await adapter.get("APT-1", call_context())
    assert peer.state.stats["get"] == 0
