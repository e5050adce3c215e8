"""The HL7 v2 front door's messages from a legacy consumer, counted by stage."""

from __future__ import annotations

from tests.hl7_front_door.conftest import Door, door, start_door  # noqa: F401 (fixtures)
from tests.hl7_front_door.legacy import ack_of
from tests.metrics.scrape import scrape, value

HL7 = "uec_gateway_inbound_messages_total"


async def test_a_booking_and_a_refused_one_over_mllp_are_applied_and_rejected(
    door: Door,  # noqa: F811
) -> None:
    """An accepted SRM counts applied, a second booking of its slot rejected (AE)."""
    (offer,) = await door.legacy.offers()
    _, before = await scrape(door.client)
    assert ack_of(await door.legacy.book(offer)).code == "AA"
    assert ack_of(await door.legacy.book(offer)).code == "AE"
    _, after = await scrape(door.client)

    def moved(stage: str) -> float:
        labels = {"channel": "hl7v2_front_door", "stage": stage}
        return value(after, HL7, **labels) - value(before, HL7, **labels)

    assert [moved(s) for s in ("received", "applied", "rejected")] == [2, 1, 1]
    assert (
        value(after, "uec_gateway_bookings_total") - value(before, "uec_gateway_bookings_total")
        == 1
    )
