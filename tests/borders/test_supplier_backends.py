"""Booking rules across borders hold whatever supplier back end serves the service.

The same suite runs through the STU3 door over real sockets against each back end's
reference peer: the REST diary, the SOAP diary and the HL7 v2 PAS over MLLP. The
policy (tests/borders/backends.py) shows other regions only the next 16 h and asks an
out-of-area booking for a reason; every refusal is checked at the peer itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gateway.examples import booking_body
from gateway.http.exchange import AUDIT, STORE
from gateway.policy.model import REASON_SYSTEM
from gateway.store import AuditEntry
from tests.api.conftest import Consumer
from tests.borders import backends
from tests.borders.backends import WINDOW_HOURS, WINDOW_RULE, Backend
from tests.borders.rig import IN_AREA, OUT_OF_AREA, as_org, slots, start_of

WINDOW = timedelta(hours=WINDOW_HOURS)
#: Slots this far clear of a boundary (now, or the window's end) stay on their side of it
#: for the length of a test.
CLEAR = timedelta(minutes=10)


def with_reason(slot: dict[str, Any], code: str) -> dict[str, Any]:
    body = booking_body(slot)
    body["reason"] = [{"coding": [{"system": REASON_SYSTEM, "code": code}]}]
    return body


def diagnostics(outcome: dict[str, Any]) -> str:
    return " ".join(i.get("diagnostics", "") for i in outcome["issue"])


def spine_code(outcome: dict[str, Any]) -> str:
    return str(outcome["issue"][0]["details"]["coding"][0]["code"])


async def audit_of(consumer: Consumer, appointment_id: str) -> AuditEntry:
    await consumer.client.app[AUDIT].flush()
    rows = await consumer.client.app[STORE].audit_entries(500)
    return next(e for e in rows if e.appointment_id == appointment_id)


async def ids(consumer: Consumer) -> set[str]:
    return {s["id"] for s in await slots(consumer)}


def within(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Slots well inside the window and well after now."""
    now = datetime.now(UTC)
    return [s for s in found if now + CLEAR < start_of(s) <= now + WINDOW - CLEAR]


def beyond(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Slots well beyond the window."""
    edge = datetime.now(UTC) + WINDOW + CLEAR
    return [s for s in found if start_of(s) > edge]


Ports = Callable[[], int]
#: Each back end's own peer behind a gateway (tests/borders/backends.py).
BACKENDS = {
    "rest-diary": backends.rest_diary,
    "soap-diary": backends.soap_diary,
    "hl7v2-pas": backends.hl7v2_pas,
}


@pytest.fixture(params=sorted(BACKENDS))
async def backend(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    unused_tcp_port_factory: Ports,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Backend]:
    """The REST diary over HTTP, the SOAP diary over SOAP 1.2, the HL7 v2 PAS over MLLP."""
    async with BACKENDS[request.param](tmp_path, unused_tcp_port_factory, monkeypatch) as found:
        yield found


class TestBackendBorders:
    """The policy's say through the STU3 door, over one supplier back end."""

    async def test_two_regions_see_the_slots_the_window_releases_to_each(
        self, backend: Backend
    ) -> None:
        """In area sees every free slot; out of area exactly those within the window."""
        home = backend.home
        away = as_org(home, OUT_OF_AREA)
        before = datetime.now(UTC)
        mine, theirs = await slots(home), await slots(away)
        after = datetime.now(UTC)
        mine_ids, theirs_ids = {s["id"] for s in mine}, {s["id"] for s in theirs}
        assert theirs, "the diary has slots inside the window at any hour"
        assert any(start_of(s) > after + WINDOW for s in mine), "and slots beyond it"
        assert theirs_ids < mine_ids
        assert all(start_of(s) <= after + WINDOW for s in theirs)
        # Every slot not yet started by the second search and inside the window was shown.
        assert {s["id"] for s in mine if after < start_of(s) <= before + WINDOW} <= theirs_ids

    async def test_an_out_of_area_booking_needs_a_reason_before_anything_is_sent(
        self, backend: Backend
    ) -> None:
        """422 naming out_of_area.reason, the peer untouched; with a reason 201, cross-border."""
        home = backend.home
        away = as_org(home, OUT_OF_AREA)
        slot = within(await slots(away))[0]
        refused = await away.book(booking_body(slot))
        assert refused.status == 422, await refused.text()
        outcome = await refused.json(content_type=None)
        assert "out_of_area.reason" in diagnostics(outcome)
        assert await backend.bookings() == 0, "nothing reached the supplier"
        assert slot["id"] in await ids(home)

        booked = await away.book(with_reason(slot, "patient-travelling"))
        assert booked.status == 201, await booked.text()
        appointment = (await booked.json(content_type=None))["id"]
        assert await backend.bookings() == 1
        assert slot["id"] not in await ids(home)
        row = await audit_of(home, appointment)
        assert row.status == 201 and row.cross_border is True
        assert (row.consumer_region, row.provider_region) == ("south-west", "north-east")
        assert row.commissioner == "QOX" and row.border_reason == "patient-travelling"

    async def test_a_slot_beyond_the_window_is_refused_out_of_area_by_its_rule(
        self, backend: Backend
    ) -> None:
        """A slot only in-area consumers are shown: 403 naming the window rule, not booked."""
        home = backend.home
        away = as_org(home, OUT_OF_AREA)
        slot = beyond(await slots(home))[0]
        refused = await away.book(with_reason(slot, "no-local-capacity"))
        assert refused.status == 403, await refused.text()
        outcome = await refused.json(content_type=None)
        assert f"release:{WINDOW_RULE}" in diagnostics(outcome)
        assert spine_code(outcome) == "ACCESS_DENIED"
        assert await backend.bookings() == 0
        assert slot["id"] in await ids(home)

    async def test_an_in_area_booking_beyond_the_window_needs_no_reason(
        self, backend: Backend
    ) -> None:
        """The same kind of slot books in area without a reason, audited as in area."""
        home = backend.home
        home.ods = IN_AREA
        slot = beyond(await slots(home))[0]
        booked = await home.book(booking_body(slot))
        assert booked.status == 201, await booked.text()
        appointment = (await booked.json(content_type=None))["id"]
        assert await backend.bookings() == 1
        row = await audit_of(home, appointment)
        assert row.cross_border is False and row.commissioner == "QHM"
        assert row.policy_rule == "book:any"
