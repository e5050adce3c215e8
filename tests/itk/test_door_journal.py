"""The ITK door's messages in the message journal: outcome, ids, and no payload without a key."""

from __future__ import annotations

from datetime import timedelta

from adapters.domain import utcnow
from gateway.store.messages import MessageRecord
from tests.itk import messages
from tests.itk.conftest import Sender


async def _journaled(sender: Sender) -> list[MessageRecord]:
    now = utcnow()
    return await sender.store.messages_between(now - timedelta(hours=1), now + timedelta(hours=1))


async def test_an_accepted_report_and_its_resend_are_journaled_by_tracking_id(
    sender: Sender,
) -> None:
    """A 111 report is journaled applied, its identical resend duplicate, by tracking id."""
    body = messages.sample()
    sender.clock.at = messages.created(body)
    assert (await sender.send(body)).status == 200
    assert (await sender.send(body)).status == 200
    rows = await _journaled(sender)
    assert [(r.channel, r.route, r.outcome) for r in rows] == [
        ("itk", "itk", "applied"),
        ("itk", "itk", "duplicate"),
    ]
    assert {r.control_id for r in rows} == {messages.tracking_id(body)}
    # journal: no key and no store_plaintext: metadata only.
    assert all(r.payload is None and not r.sealed for r in rows)


async def test_a_refused_message_is_journaled_rejected_with_its_itk_code(sender: Sender) -> None:
    """A body that is not SOAP is journaled rejected, with the ITK fault code as its reason."""
    resp = await sender.send(b"this is not an envelope")
    assert resp.status >= 400
    (row,) = await _journaled(sender)
    assert row.outcome == "rejected" and row.reason_code.startswith("itk:")
    assert row.reason == ""
