"""Every shared ITK sample sent over a real socket is acknowledged and becomes one referral."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.itk_toolkit import acks
from tests.itk import messages, samples
from tests.itk.conftest import Sender

SERVICE_ID = "918999198999"


@pytest.mark.parametrize("path", samples.requests(), ids=lambda p: p.stem)
async def test_every_sample_gets_the_infrastructure_ack_and_a_referral(
    sender: Sender, path: Path
) -> None:
    """Each sample is answered OK:<tracking id> and stored as a referral for its document."""
    body = messages.sample(path.name)
    sender.clock.at = messages.created(body)
    resp = await sender.send(body)
    text = await resp.read()
    assert resp.status == 200, text.decode()[:2000]
    answer = acks.read_simple_response(text)
    assert answer.ok and answer.tracking_id == messages.tracking_id(body)
    assert answer.action.endswith("Response")
    stored = await sender.store.find_referral_by_document(messages.document_id(body))
    assert stored is not None and stored.version == 1
    referral = stored.referral
    assert referral.service_id == SERVICE_ID
    assert referral.document_identifier == messages.document_id(body)
    documents = [a for a in referral.clinical.attachments if a.kind == "document"]
    assert messages.document_id(body) in {a.identifier for a in documents}


async def test_a_repeat_caller_set_is_one_referral_carrying_every_document(
    sender: Sender,
) -> None:
    """The repeat-caller set's first document is the referral; all six travel with it."""
    body = messages.sample("repeat-caller-itk-request.xml")
    sender.clock.at = messages.created(body)
    resp = await sender.send(body)
    assert resp.status == 200, (await resp.text())[:2000]
    stored = await sender.store.find_referral_by_document(messages.document_id(body))
    assert stored is not None
    documents = {a.identifier for a in stored.referral.clinical.attachments if a.kind == "document"}
    assert len(documents) == 6
