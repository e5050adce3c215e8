"""The cross-border tables of `uec-gateway report`, built from audit entries and DNAs."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from gateway.policy.report import BorderTables, Tally, build, render_text
from gateway.store import AuditEntry
from tests.store.contract import make_version

NOW = datetime.now(UTC)


def entry(
    interaction: str = "book",
    status: int = 201,
    appointment_id: str | None = "a1",
    *,
    consumer: str | None = "south-west",
    commissioner: str | None = "QOX",
    cross_border: bool | None = True,
    minutes: int = 0,
) -> AuditEntry:
    return AuditEntry(
        at=NOW + timedelta(minutes=minutes),
        interaction=interaction,
        method="POST",
        path="/Appointment",
        status=status,
        appointment_id=appointment_id,
        consumer_region=consumer,
        provider_region="north-east",
        commissioner=commissioner,
        cross_border=cross_border,
    )


IN_AREA = {"consumer": "north-east", "commissioner": "QHM", "cross_border": False}


def test_bookings_and_cancellations_of_every_door_are_counted_by_pair_and_payer() -> None:
    """STU3, BaRS (REST and messaging) and HL7 bookings and cancels add up per pair and payer."""
    tables = build(
        [
            entry("book", 201, "a1"),
            entry("bars_book", 201, "a2"),
            entry("bars_message_book", 200, "a3"),
            entry("book", 201, "a4", **IN_AREA),
            entry("cancel", 200, "a1"),
            entry("bars_cancel", 200, "a2"),
            entry("bars_message_cancel", 200, "a4", **IN_AREA),
        ]
    )
    assert tables.by_pair == {
        ("south-west", "north-east", True): Tally(bookings=3, cancellations=2),
        ("north-east", "north-east", False): Tally(bookings=1, cancellations=1),
    }
    assert tables.by_commissioner == {
        ("QOX", True): Tally(bookings=3, cancellations=2),
        ("QHM", False): Tally(bookings=1, cancellations=1),
    }


def test_failures_replays_and_undecided_calls_are_not_counted() -> None:
    """Refusals, HL7 replays (208), a resent entry and calls with no policy count nothing."""
    tables = build(
        [
            entry("book", 201, "a1"),
            entry("book", 201, "a1", minutes=1),  # the same booking audited twice
            entry("book", 208, "a1", minutes=2),  # HL7 v2: answered from the ledger
            entry("book", 409, "a1", minutes=3),  # STU3/BaRS duplicate
            entry("book", 403, None),  # POLICY_FORBIDDEN
            entry("bars_reschedule", 200, "a1"),  # moved, not booked anew
            entry("book", 201, "a9", cross_border=None),  # a service with no policy
            entry("slot_search", 200, None),
        ]
    )
    assert tables == BorderTables(
        {("south-west", "north-east", True): Tally(bookings=1)},
        {("QOX", True): Tally(bookings=1)},
    )


def test_a_dna_is_counted_where_its_booking_was_even_before_the_period() -> None:
    """A noshow version is a DNA of its booking's pair and payer, the booking found in history."""
    old_booking = dataclasses.replace(entry("book", 201, "old"), at=NOW - timedelta(days=20))
    noshow = make_version("old", 2)
    unknown = make_version("never-audited", 2)
    tables = build([entry("book", 201, "new", **IN_AREA)], [noshow, noshow, unknown], [old_booking])
    assert tables.by_pair == {
        ("south-west", "north-east", True): Tally(dnas=1),
        ("north-east", "north-east", False): Tally(bookings=1),
    }
    assert tables.by_commissioner[("QOX", True)] == Tally(dnas=1)


def test_text_marks_cross_border_rows_and_names_consumers_with_no_region() -> None:
    """The text table marks cross-border rows; a consumer outside the regions table shows."""
    text = render_text(
        build(
            [
                entry("book", 201, "a1", consumer=None, commissioner=None),
                entry("book", 201, "a2", **IN_AREA),
            ]
        )
    )
    assert "(no region) -> north-east [cross-border]: bookings 1, cancellations 0, DNAs 0" in text
    assert "north-east -> north-east: bookings 1" in text
    assert "unassigned [cross-border]: bookings 1" in text
