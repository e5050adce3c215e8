"""Each fault the ITK receiver peer injects has its typed outcome; no report is lost or doubled."""

from __future__ import annotations

import asyncio
import time

import pytest
from structlog.testing import capture_logs

from adapters import errors
from adapters.itk import tracking_id
from adapters.itk.peer import FaultSpec, Mode, RunningReceiver
from tests.contract.builders import PATIENT_IDENTIFIERS, call_context
from tests.itk.sender_rig import (  # noqa: F401  (fixtures)
    AdapterFactory,
    eventually,
    itk_options,
    make_adapter_fixture,
    peer_fixture,
    referral,
)


@pytest.mark.parametrize(
    ("code", "typed"),
    [
        ("1000", errors.SupplierRefused),
        ("1001", errors.SupplierRefused),
        ("2000", errors.SupplierRefused),
        ("2001", errors.SupplierRefused),
        ("2100", errors.ServiceNotFound),
        ("3000", errors.BookingRejected),
        ("1999", errors.SupplierRefused),
    ],
)
async def test_a_refusing_fault_is_its_typed_error_and_is_not_resent(
    peer: RunningReceiver, make_adapter: AdapterFactory, code: str, typed: type[Exception]
) -> None:
    """A ToolkitErrorInfo the same report would get again is raised at once, sent once."""
    adapter = await make_adapter(itk_options(peer))
    peer.fault(FaultSpec(mode=Mode.FAULT, code=code))
    with pytest.raises(typed) as caught:
        await adapter.send_referral(referral(), call_context(deadline_in=10))
    assert type(caught.value) is typed
    assert caught.value.supplier_detail is not None and code in caught.value.supplier_detail
    assert peer.state.posts == 1
    assert peer.received == []


async def test_a_receiver_failure_is_resent_with_the_same_tracking_id(
    peer: RunningReceiver, make_adapter: AdapterFactory
) -> None:
    """ToolkitErrorInfo 3100 (processing failed) twice, then the report is delivered once."""
    adapter = await make_adapter(itk_options(peer))
    peer.fault(FaultSpec(mode=Mode.FAULT, code="3100", times=2))
    sent = referral()
    await adapter.send_referral(sent, call_context(deadline_in=10))
    assert peer.state.posts == 3
    assert [r.tracking_id for r in peer.received] == [tracking_id(sent)]


async def test_a_lasting_receiver_failure_is_unavailable_after_the_attempts(
    peer: RunningReceiver, make_adapter: AdapterFactory
) -> None:
    """A receiver that keeps failing is SupplierUnavailable after the configured attempts."""
    adapter = await make_adapter(itk_options(peer))
    peer.fault(FaultSpec(mode=Mode.FAULT, code="3100"))
    with pytest.raises(errors.SupplierUnavailable) as caught:
        await adapter.send_referral(referral(), call_context(deadline_in=10))
    assert type(caught.value) is errors.SupplierUnavailable
    assert peer.state.posts == 4


async def test_an_expired_timestamp_is_resent_with_a_fresh_one(
    peer: RunningReceiver, make_adapter: AdapterFactory
) -> None:
    """ToolkitErrorInfo 1100 (message expired) once: the resend carries a new timestamp."""
    adapter = await make_adapter(itk_options(peer))
    peer.fault(FaultSpec(mode=Mode.FAULT, code="1100", times=1))
    await adapter.send_referral(referral(), call_context(deadline_in=10))
    assert peer.state.posts == 2 and len(peer.received) == 1


async def test_a_lost_answer_is_resent_and_stored_once(
    peer: RunningReceiver, make_adapter: AdapterFactory
) -> None:
    """The receiver stores the report and hangs up; the resend (same tracking id) is not stored
    again, is answered as before and the call succeeds."""
    adapter = await make_adapter(itk_options(peer))
    peer.fault(FaultSpec(mode=Mode.LOST_RESPONSE, times=1))
    sent = referral()
    await adapter.send_referral(sent, call_context(deadline_in=10))
    assert len(peer.received) == 1
    stored = peer.received[0]
    assert stored.tracking_id == tracking_id(sent)
    assert stored.seen == 2


async def test_no_ack_is_outcome_unknown_and_the_report_is_stored_once(
    peer: RunningReceiver, make_adapter: AdapterFactory
) -> None:
    """HTTP 202 with no infrastructure ack every time: OutcomeUnknown after the attempts, and
    the receiver holds the report once, however often it came."""
    adapter = await make_adapter(itk_options(peer, business_ack={"mode": "off"}))
    peer.fault(FaultSpec(mode=Mode.NO_ACK))
    with pytest.raises(errors.OutcomeUnknown):
        await adapter.send_referral(referral(), call_context(deadline_in=10))
    assert peer.state.posts == 4
    assert len(peer.received) == 1 and peer.received[0].seen == 4


async def test_a_receiver_hanging_up_unread_is_resent(
    peer: RunningReceiver, make_adapter: AdapterFactory
) -> None:
    """A dropped connection once: the report is sent again and delivered once."""
    adapter = await make_adapter(itk_options(peer))
    peer.fault(FaultSpec(mode=Mode.DOWN, times=1))
    await adapter.send_referral(referral(), call_context(deadline_in=10))
    assert peer.state.posts == 2 and len(peer.received) == 1


async def test_a_slow_receiver_is_a_timeout_within_the_deadline(
    peer: RunningReceiver, make_adapter: AdapterFactory
) -> None:
    """A receiver slower than every attempt: SupplierTimeout by the call's deadline."""
    adapter = await make_adapter(itk_options(peer, timeout_s=0.5))
    peer.fault(FaultSpec(mode=Mode.SLOW, delay_s=5))
    started = time.monotonic()
    with pytest.raises(errors.SupplierTimeout):
        await adapter.send_referral(referral(), call_context(deadline_in=1.5))
    assert time.monotonic() - started < 2.5
    assert peer.state.posts >= 2


async def test_an_unreachable_receiver_is_unavailable(
    peer: RunningReceiver, make_adapter: AdapterFactory
) -> None:
    """Nothing listening: SupplierUnavailable (never in doubt: nothing can have arrived)."""
    adapter = await make_adapter(itk_options(peer))
    await peer.stop()
    with pytest.raises(errors.SupplierUnavailable) as caught:
        await adapter.send_referral(referral(), call_context(deadline_in=5))
    assert type(caught.value) is errors.SupplierUnavailable


async def test_a_business_nack_is_a_typed_refusal(
    peer: RunningReceiver, make_adapter: AdapterFactory
) -> None:
    """The report is acknowledged, then the provider's system refuses it: BookingRejected."""
    adapter = await make_adapter(itk_options(peer))
    peer.fault(FaultSpec(mode=Mode.BUSINESS_NACK, code="ERR42", times=1))
    with pytest.raises(errors.BookingRejected) as caught:
        await adapter.send_referral(referral(), call_context(deadline_in=10))
    assert caught.value.supplier_detail == "business ack ERR42"
    assert len(peer.received) == 1


async def test_a_missing_business_ack_leaves_the_report_delivered(
    make_adapter: AdapterFactory,
) -> None:
    """A receiver that never sends its business ack: delivered after ``wait_s``, logged pending."""
    from adapters.itk.peer import start_receiver

    quiet = await start_receiver(business_acks="none")
    try:
        options = itk_options(quiet, business_ack={"mode": "await", "wait_s": 0.3})
        adapter = await make_adapter(options)
        with capture_logs() as logs:
            await adapter.send_referral(referral(), call_context(deadline_in=10))
        assert any(e["event"] == "itk_business_ack_pending" for e in logs)
        assert len(quiet.received) == 1
    finally:
        await quiet.stop()


async def test_logs_name_tracking_ids_never_the_patient(
    peer: RunningReceiver, make_adapter: AdapterFactory
) -> None:
    """Deliveries, resends and a nack log ids only: no NHS number, name or address."""
    adapter = await make_adapter(itk_options(peer))
    with capture_logs() as logs:
        peer.fault(FaultSpec(mode=Mode.LOST_RESPONSE, times=1))
        await adapter.send_referral(referral(), call_context(deadline_in=10))
        peer.fault(FaultSpec(mode=Mode.BUSINESS_NACK, times=1))
        with pytest.raises(errors.BookingRejected):
            await adapter.send_referral(referral(), call_context(deadline_in=10))
        await asyncio.sleep(0.05)
    text = repr(logs)
    assert "itk_report_resent" in text and "itk_business_nack_received" in text
    for identifier in PATIENT_IDENTIFIERS:
        assert identifier not in text


@pytest.mark.parametrize("accepted", [True, False])
async def test_a_business_ack_answered_synchronously_is_taken(
    make_adapter: AdapterFactory, accepted: bool
) -> None:
    """A receiver that puts the business ack in its answer's SOAP Header (as the gateway's own
    ITK door does): taken at once, with no listener; a nack is BookingRejected."""
    from adapters.itk.peer import start_receiver

    sync = await start_receiver(business_acks="sync")
    try:
        if not accepted:
            sync.fault(FaultSpec(mode=Mode.BUSINESS_NACK, code="ERR7"))
        options = itk_options(sync, business_ack={"mode": "await", "listen": False, "wait_s": 30})
        adapter = await make_adapter(options)
        started = time.monotonic()
        if accepted:
            await adapter.send_referral(referral(), call_context(deadline_in=10))
        else:
            with pytest.raises(errors.BookingRejected, match="negative business"):
                await adapter.send_referral(referral(), call_context(deadline_in=10))
        assert time.monotonic() - started < 5
        [stored] = sync.received
        assert stored.business_ack_requested and stored.reply_to is None
    finally:
        await sync.stop()


async def test_two_sends_of_one_version_at_once_are_one_report_and_both_acked(
    peer: RunningReceiver, make_adapter: AdapterFactory
) -> None:
    """Two concurrent sends of the same version (a retry racing the first): one stored report,
    both calls see the business ack."""
    adapter = await make_adapter(itk_options(peer))
    sent = referral()
    await asyncio.gather(
        adapter.send_referral(sent, call_context(deadline_in=10)),
        adapter.send_referral(sent, call_context(deadline_in=10)),
    )
    assert len(peer.received) == 1 and peer.received[0].seen == 2
