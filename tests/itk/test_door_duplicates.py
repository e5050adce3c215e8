"""A resent tracking id is answered as the first time and never makes a second referral."""

from __future__ import annotations

import asyncio
from pathlib import Path

from adapters.itk_toolkit import acks
from adapters.itk_toolkit.errors import ToolkitCode, parse_fault
from adapters.itk_toolkit.names import WSA
from tests.itk import messages
from tests.itk.conftest import Sender, Start


def _new_message_id(body: bytes) -> bytes:
    """The same message resent: a new WS-Addressing MessageID, same envelope."""
    return messages.edit(
        body, lambda root: setattr(next(root.iter(WSA.q("MessageID"))), "text", "RESEND-1")
    )


async def _referrals(sender: Sender, body: bytes) -> int:
    found = await sender.store.find_referral_by_document(messages.document_id(body))
    if found is None:
        return 0
    return len(await sender.store.referral_versions(found.referral_id))


async def test_a_resend_is_answered_as_before_and_processed_once(sender: Sender) -> None:
    """The second send of a tracking id gets the first answer's bytes; one referral version."""
    body = messages.sample()
    sender.clock.at = messages.created(body)
    first = await (await sender.send(body)).read()
    again = await sender.send(_new_message_id(body))
    assert again.status == 200 and await again.read() == first
    assert await _referrals(sender, body) == 1


async def test_concurrent_sends_of_one_message_make_one_referral(sender: Sender) -> None:
    """Five sends at once of one tracking id: one referral; each is an ack or 'send again later'."""
    body = messages.sample()
    sender.clock.at = messages.created(body)
    answers = await asyncio.gather(*(sender.send(body) for _ in range(5)))
    for resp in answers:
        text = await resp.read()
        if resp.status != 200:
            fault = parse_fault(text)
            assert fault is not None and fault.info is not None
            assert fault.info.row is ToolkitCode.IN_PROGRESS and not fault.sender
    assert await _referrals(sender, body) == 1


async def test_a_tracking_id_reused_for_another_message_is_refused(sender: Sender) -> None:
    """A different envelope under an answered tracking id is fault 1003; the first stands."""
    body = messages.sample()
    sender.clock.at = messages.created(body)
    assert (await sender.send(body)).status == 200
    other = messages.edit(body, messages.ask_business_ack)
    fault = parse_fault(await (await sender.send(other)).read())
    assert fault is not None and fault.info is not None
    assert fault.info.row is ToolkitCode.TRACKING_ID_REUSED


async def test_a_refused_message_can_be_corrected_and_resent(sender: Sender) -> None:
    """A fault leaves no receipt: the same tracking id, sent in time, is then accepted."""
    body = messages.sample()
    created = messages.created(body)
    assert created is not None
    sender.clock.at = created.replace(year=created.year + 1)
    assert (await sender.send(body)).status == 500
    sender.clock.at = created
    assert (await sender.send(body)).status == 200
    assert await _referrals(sender, body) == 1


async def test_a_resend_after_a_restart_is_answered_as_before(
    itk_gateway: Start, tmp_path: Path
) -> None:
    """The receipt is durable: a gateway restarted on the same store replays the answer."""
    body = messages.sample()
    first_gateway = await itk_gateway(tmp_path)
    first_gateway.clock.at = messages.created(body)
    first = await (await first_gateway.send(body)).read()
    await first_gateway.client.close()
    second_gateway = await itk_gateway(tmp_path)
    second_gateway.clock.at = messages.created(body)
    again = await second_gateway.send(body)
    assert again.status == 200 and await again.read() == first
    assert acks.read_simple_response(first).ok
    assert await _referrals(second_gateway, body) == 1
