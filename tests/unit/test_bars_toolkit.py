"""The BaRS toolkit (adapters/bars_toolkit): what it builds, the receiver's own readers accept."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from adapters.bars_toolkit import messages, rewrite
from adapters.bars_toolkit.headers import Target, guid_for, request_headers
from gateway.bars import door  # noqa: F401  (the door's modules, imported as the app does)
from gateway.bars import headers as door_headers
from gateway.bars._message import check_definition, read_message
from gateway.bars.messaging_booking import BOOK, CANCEL
from gateway.bars_sender import journeys
from gateway.bars_sender._http import sender_context

TARGET = Target("https://fhir.nhs.uk/Id/dos-service-id", "2000099999")


def test_the_headers_decode_as_the_door_reads_them() -> None:
    """Target, organisation, software and practitioner decode to what the sender said."""
    sent = request_headers(TARGET, sender_context("A1001", "100334993514"))
    assert door_headers.target(sent) == door_headers.TargetId(TARGET.system, TARGET.value)
    who = door_headers.identity(sent)
    assert who.organisation is not None and who.organisation.ods_code == "A1001"
    assert who.device is not None and who.device.version == "1.0.0"
    assert who.practitioner is not None and who.practitioner.id == "100334993514"
    assert door_headers.request_ids(sent) == (sent["X-Request-Id"], sent["X-Correlation-Id"])


def test_an_idempotency_key_gives_the_same_guid_every_time() -> None:
    """A retry reuses its X-Request-Id: a non-GUID key maps to one stable GUID."""
    assert guid_for("MSH-10-0042") == guid_for("MSH-10-0042") != guid_for("MSH-10-0043")
    key = str(uuid.uuid4())
    assert guid_for(key) == key


def test_a_bare_target_is_a_dos_id() -> None:
    """--target 2000099999 names the DoS service id; system|value is taken as given."""
    assert Target.parse("2000099999") == TARGET
    assert Target.parse("https://x.example/id|7") == Target("https://x.example/id", "7")


def _found() -> journeys.Bookable:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    slot = {
        "resourceType": "Slot",
        "id": str(uuid.uuid4()),
        "status": "free",
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=10)).isoformat(),
    }
    return journeys.Bookable(slot, {"id": "sched-1"}, {"id": "918999198999", "name": "UTC"})


def test_a_booking_message_meets_the_book_definition() -> None:
    """The booking-request passes the receiver's envelope reader and BOOK's focus rows."""
    built = journeys.booking_message(journeys.envelope("A1001", TARGET, "X26"), _found())
    message = read_message(json.loads(json.dumps(built)))
    assert (message.event, message.reason) == ("booking-request", "new")
    check_definition(message, BOOK)
    assert message.focus["resourceType"] == "Appointment"


def test_a_cancellation_meets_the_cancel_definition() -> None:
    """The cancellation carries the Appointment as read, cancelled, reason delete."""
    appointment = {"resourceType": "Appointment", "id": "a1", "meta": {"versionId": "1"}}
    appointment |= {"status": "booked", "start": "2026-12-08T10:00:00+00:00"}
    patient = {"resourceType": "Patient", "id": "P1", "gender": "male"}
    env = journeys.envelope("A1001", TARGET, "X26")
    message = read_message(messages.cancellation(env, appointment, patient))
    check_definition(message, CANCEL)
    assert message.reason == "delete" and message.focus["status"] == "cancelled"
    assert message.focus["meta"]["versionId"] == "1"


def test_fresh_renames_every_urn_and_keeps_references_whole() -> None:
    """Every urn:uuid fullUrl is new and every reference to it follows; times are now."""
    env = journeys.envelope("A1001", TARGET, "X26")
    built = journeys.booking_message(env, _found())
    now = datetime.now(UTC)
    again = rewrite.fresh(built, now)
    old = {e["fullUrl"] for e in built["entry"]}
    new = {e["fullUrl"] for e in again["entry"]}
    assert not old & new and len(new) == len(old)
    message = read_message(again)
    assert message.focus["resourceType"] == "Appointment"
    assert again["id"] != built["id"]
    stamps = {e["resource"]["meta"]["lastUpdated"] for e in again["entry"]}
    assert stamps == {again["timestamp"]}
