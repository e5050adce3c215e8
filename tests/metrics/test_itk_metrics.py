"""ITK 2.2 messages at the gateway's SOAP door, counted by stage in the scrape."""

from __future__ import annotations

from tests.itk import messages
from tests.itk.conftest import Sender, itk_gateway, sender  # noqa: F401 (fixtures)
from tests.metrics.scrape import scrape, value

ITK = "uec_gateway_inbound_messages_total"


async def test_an_itk_report_its_resend_and_a_broken_envelope_are_counted_once_each(
    sender: Sender,  # noqa: F811
) -> None:
    """A report is applied, its resend replayed, an unreadable envelope rejected: one each."""
    _, before = await scrape(sender.client)
    body = messages.sample()
    sender.clock.at = messages.created(body)
    assert (await sender.send(body)).status == 200
    assert (await sender.send(body)).status == 200
    assert (await sender.send(b"<not-soap/>")).status >= 400
    text, after = await scrape(sender.client)

    def moved(stage: str) -> float:
        return value(after, ITK, channel="itk", stage=stage) - value(
            before, ITK, channel="itk", stage=stage
        )

    assert [moved(s) for s in ("received", "applied", "replayed", "rejected")] == [3, 1, 1, 1]
    assert messages.document_id(body) not in text
    requests = "uec_gateway_http_requests_total"
    assert value(after, requests, door="itk", interaction="itk_report") == 3
