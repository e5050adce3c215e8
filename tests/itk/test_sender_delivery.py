"""A referral reaches the ITK receiver peer as an NHS 111 report, over real sockets."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from adapters import errors
from adapters.contract import Capability, ReferringAdapter
from adapters.domain import SlotQuery
from adapters.itk import tracking_id
from adapters.itk.peer import RunningReceiver
from tests.contract.builders import NHS_NUMBER, call_context
from tests.itk.sender_rig import (  # noqa: F401  (fixtures)
    OOH_SERVICE,
    SENDER,
    AdapterFactory,
    eventually,
    itk_options,
    make_adapter_fixture,
    peer_fixture,
    referral,
)

HL7 = "urn:hl7-org:v3"


def _bytes(path: Path) -> bytes:
    return path.read_bytes()


async def test_a_referral_is_delivered_with_its_tracking_id_and_addresses(
    peer: RunningReceiver, make_adapter: AdapterFactory
) -> None:
    """The peer holds one report: our tracking id, the table's addresses and interaction, a CDA
    naming the patient, and the business ack it was asked for was sent and awaited."""
    adapter = await make_adapter(itk_options(peer))
    sent = referral()
    await adapter.send_referral(sent, call_context(deadline_in=10))
    [stored] = peer.received
    assert stored.tracking_id == tracking_id(sent)
    assert stored.service == "urn:nhs-itk:services:201005:SendNHS111Report-v2-0"
    assert stored.addresses == ("urn:nhs-uk:addressing:ods:RYE01", "136753")
    assert stored.interaction == (
        "urn:nhs-itk:interaction:primaryOutofHourRecipientNHS111CDADocument-v2-0"
    )
    assert stored.business_ack_requested and stored.business_acks_sent == 1
    assert stored.sender is not None and stored.sender.uri == SENDER
    document = etree.fromstring(stored.payloads[0])
    assert document.tag == f"{{{HL7}}}ClinicalDocument"
    assert NHS_NUMBER.encode() in stored.payloads[0]


async def test_the_same_version_sent_again_is_stored_once(
    peer: RunningReceiver, make_adapter: AdapterFactory
) -> None:
    """A gateway retry of one referral version carries the same tracking id: stored once."""
    adapter = await make_adapter(itk_options(peer))
    sent = referral()
    await adapter.send_referral(sent, call_context(deadline_in=10))
    await adapter.send_referral(sent, call_context(deadline_in=10))
    assert len(peer.received) == 1 and peer.received[0].seen == 2


async def test_each_version_is_its_own_report(
    peer: RunningReceiver, make_adapter: AdapterFactory
) -> None:
    """An updated referral (version 2) is a new report with a new tracking id."""
    adapter = await make_adapter(itk_options(peer))
    first = referral()
    second = first.model_copy(update={"version": 2})
    await adapter.send_referral(first, call_context(deadline_in=10))
    await adapter.send_referral(second, call_context(deadline_in=10))
    assert [r.tracking_id for r in peer.received] == [tracking_id(first), tracking_id(second)]


async def test_without_awaiting_acks_no_business_ack_is_asked_for(
    peer: RunningReceiver, make_adapter: AdapterFactory
) -> None:
    """business_ack mode off: the handling specification does not ask for one."""
    adapter = await make_adapter(itk_options(peer, business_ack={"mode": "off"}))
    await adapter.send_referral(referral(), call_context(deadline_in=10))
    [stored] = peer.received
    assert not stored.business_ack_requested and stored.business_acks_sent == 0


async def test_a_service_without_a_provider_row_is_a_mapping_error(
    peer: RunningReceiver, make_adapter: AdapterFactory
) -> None:
    """No row in providers.csv: MappingError, and nothing is sent to a guessed address."""
    adapter = await make_adapter(itk_options(peer))
    with pytest.raises(errors.MappingError):
        await adapter.send_referral(referral("999999999999"), call_context(deadline_in=5))
    assert peer.state.posts == 0


async def test_the_adapter_refers_only_unless_it_has_a_bookings_adapter(
    peer: RunningReceiver, make_adapter: AdapterFactory
) -> None:
    """Alone it declares REFERRAL only and slot calls are CapabilityNotSupported."""
    adapter = await make_adapter(itk_options(peer))
    assert adapter.capabilities == frozenset({Capability.REFERRAL})
    assert isinstance(adapter, ReferringAdapter)
    assert adapter.serves(OOH_SERVICE)
    with pytest.raises(errors.CapabilityNotSupported):
        await adapter.search_slots(SlotQuery(service_id=OOH_SERVICE), call_context())


async def test_a_bookings_adapter_books_beside_the_itk_delivery(
    peer: RunningReceiver, make_adapter: AdapterFactory, tmp_path: Path
) -> None:
    """With an embedded diary as its bookings adapter, one service searches slots through it and
    its referrals go out over ITK."""
    from tests.contract.builders import bookable
    from tests.embedded.helpers import DEMO, UTC_SERVICE

    options = itk_options(
        peer,
        bookings={
            "kind": "embedded",
            "options": {"database": str(tmp_path / "d.sqlite3"), "data_dir": str(DEMO)},
        },
    )
    adapter = await make_adapter(options)
    assert {Capability.BOOK, Capability.SEARCH_SLOTS, Capability.REFERRAL} <= adapter.capabilities
    found = await adapter.search_slots(bookable(UTC_SERVICE), call_context())
    assert found.slots and adapter.serves(UTC_SERVICE)
    await adapter.send_referral(referral(), call_context(deadline_in=10))
    assert len(peer.received) == 1


def _c14n(element: etree._Element) -> bytes:
    return etree.tostring(element, method="c14n2", strip_text=True)


async def test_a_received_cda_is_passed_through_unchanged(
    peer: RunningReceiver, make_adapter: AdapterFactory
) -> None:
    """A referral read from a 111 supplier's CDA goes out in a new envelope (our tracking id)
    carrying that very document: canonical XML equal to the one received."""
    from datetime import UTC, datetime

    from adapters.cda_toolkit import read_bytes
    from adapters.itk_toolkit.message import read_message
    from tests.itk import samples

    path = samples.CDA_DIR / "cleric-itk-ooh-referral-dx09-itk-request.xml"
    if not path.is_file():
        pytest.skip(f"shared sample absent: {path}")
    received = read_message(_bytes(path), max_bytes=4 << 20, max_depth=200)
    original = received.distribution.payloads[0].element
    assert original is not None
    reading = read_bytes(
        etree.tostring(original), received_at=datetime.now(UTC), service_id=OOH_SERVICE
    )
    assert reading.referral is not None, reading.problems
    sent = reading.referral.model_copy(update={"id": "3d9c1a52-0b7e-4f7e-8a7d-1c2b3a4d5e6f"})
    adapter = await make_adapter(itk_options(peer))
    await adapter.send_referral(sent, call_context(deadline_in=10))
    [stored] = peer.received
    assert stored.tracking_id == tracking_id(sent) != received.distribution.tracking_id
    assert _c14n(etree.fromstring(stored.payloads[0])) == _c14n(original)


async def test_a_rendered_referral_reads_back_as_the_same_patient_and_triage(
    peer: RunningReceiver, make_adapter: AdapterFactory
) -> None:
    """A referral with no CDA of its own is rendered as an NHS 111 report that reads back to
    the same NHS number and disposition."""
    from datetime import UTC, datetime

    from adapters.cda_toolkit import read_bytes

    adapter = await make_adapter(itk_options(peer))
    sent = referral()
    await adapter.send_referral(sent, call_context(deadline_in=10))
    [stored] = peer.received
    back = read_bytes(stored.payloads[0], received_at=datetime.now(UTC), service_id=OOH_SERVICE)
    assert back.referral is not None, back.problems
    assert back.referral.patient.nhs_number == NHS_NUMBER
    assert back.referral.triage is not None and sent.triage is not None
    assert back.referral.triage.disposition.code == sent.triage.disposition.code


async def test_a_bookings_adapter_that_takes_referrals_gets_them_after_itk(
    peer: RunningReceiver,
    make_adapter: AdapterFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When the bookings adapter takes referrals too, it is handed each one once the ITK
    receiver has acknowledged it; a refused ITK delivery reaches neither."""
    from adapters import registry
    from tests.embedded.helpers import DEMO
    from tests.itk import sender_rig

    monkeypatch.setitem(registry.ADAPTERS, "referring-test", "tests.itk.sender_rig:referring_diary")
    options = itk_options(
        peer,
        bookings={
            "kind": "referring-test",
            "options": {"database": str(tmp_path / "d.sqlite3"), "data_dir": str(DEMO)},
        },
    )
    adapter = await make_adapter(options)
    inbox = sender_rig.INBOXES[-1]
    sent = referral()
    await adapter.send_referral(sent, call_context(deadline_in=10))
    assert [r.id for r, _ in inbox.received] == [sent.id] and len(peer.received) == 1
    from adapters.itk.peer import FaultSpec, Mode

    peer.fault(FaultSpec(mode=Mode.FAULT, code="3000"))
    with pytest.raises(errors.BookingRejected):
        await adapter.send_referral(referral(), call_context(deadline_in=10))
    assert len(inbox.received) == 1
