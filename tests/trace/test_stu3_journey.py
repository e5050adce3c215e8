"""The journey trace of STU3 bookings: recorded per hop, found from any id (real sockets)."""

from __future__ import annotations

import copy
import itertools
import uuid
from pathlib import Path
from typing import Any

import pytest

from gateway.http.exchange import STORE
from gateway.trace.recorder import TRACE
from tests.api.conftest import NHS_NUMBER, Consumer, Gateway, booking_body
from tests.api.conftest import gateway as gateway
from tests.trace.rig import execute, flushed, raw_rows

TOKEN_ENV = "UEC_TEST_TRACE_TOKEN"
TOKEN = "let-me-trace"


@pytest.fixture
async def consumer(gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> Consumer:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    return await gateway(admin_token_env=TOKEN_ENV)


async def traced(consumer: Consumer, value: str, token: str = TOKEN) -> tuple[int, Any]:
    resp = await consumer.client.get(
        f"/admin/trace/{value}", headers={"Authorization": f"Bearer {token}"}
    )
    return resp.status, await resp.json()


async def book_and_cancel(consumer: Consumer) -> dict[str, str]:
    """A booking sent with all three ids, then its cancel; the ids each carried."""
    (slot,) = await consumer.free_slots()
    ids = {"X-Request-ID": str(uuid.uuid4()), "X-Correlation-ID": str(uuid.uuid4())}
    ids["Ssp-TraceID"] = str(uuid.uuid4())
    booked = await consumer.book(booking_body(slot), **ids)
    assert booked.status == 201, await booked.text()
    body = await booked.json(content_type=None)
    cancel_body = copy.deepcopy(body)
    cancel_body["status"] = "cancelled"
    cancel_id = str(uuid.uuid4())
    cancelled = await consumer.cancel(
        body["id"], cancel_body, **{"If-Match": 'W/"1"', "X-Request-ID": cancel_id}
    )
    assert cancelled.status == 200, await cancelled.text()
    return {
        **ids,
        "appointment": body["id"],
        "gateway": booked.headers["X-Request-ID"],
        "cancel": cancel_id,
    }


async def test_booking_and_cancel_are_one_journey_from_any_of_their_ids(
    consumer: Consumer,
) -> None:
    """Each id of the booking, its appointment id and the cancel's id return one journey,
    its hops in order: the booking, its supplier call, the cancel, its supplier call."""
    ids = await book_and_cancel(consumer)
    journeys = []
    for value in ids.values():
        status, journey = await traced(consumer, value)
        assert status == 200, journey
        journeys.append(journey)
    assert len({j["journey_id"] for j in journeys}) == 1
    journey = journeys[0]
    kinds = [h["kind"] for h in journey["hops"]]
    assert kinds == [
        "inbound.stu3.book",
        "supplier.book",
        "inbound.stu3.cancel",
        "supplier.cancel",
    ]
    hops = journey["hops"]
    assert [h["seq"] for h in hops] == [1, 2, 3, 4]
    assert [h["place"] for h in hops] == ["stu3", "diary", "stu3", "diary"]
    assert hops[0]["outcome"] == "201 booked" and hops[2]["outcome"] == "200 cancelled"
    assert hops[1]["ids"]["supplier_ref"] == hops[3]["ids"]["supplier_ref"]
    assert journey["ids"]["appointment_version"] == ["1", "2"]
    assert hops[0]["ids"]["request_id"] == ids["X-Request-ID"]
    assert hops[0]["ids"]["correlation_id"] == ids["X-Correlation-ID"]
    assert hops[0]["ids"]["ssp_trace_id"] == ids["Ssp-TraceID"]
    assert all(h["prev_hash"] == p["hash"] for p, h in itertools.pairwise(hops))


async def test_the_trace_needs_the_admin_token_and_a_known_id(consumer: Consumer) -> None:
    """Without the admin token the trace is 403; an id never seen is 404, not an empty journey."""
    ids = await book_and_cancel(consumer)
    status, body = await traced(consumer, ids["appointment"], token="wrong")
    assert status == 403 and "hops" not in body
    status, body = await traced(consumer, str(uuid.uuid4()))
    assert status == 404 and body == {"error": "no journey has this id"}
    status, body = await traced(consumer, "x" * 200)
    assert status == 400


async def test_no_patient_data_in_any_stored_hop(consumer: Consumer, tmp_path: Path) -> None:
    """The trace tables hold ids only: neither the patient's NHS number nor name, even when
    a sender puts the NHS number in its Ssp-TraceID."""
    (slot,) = await consumer.free_slots()
    resp = await consumer.book(booking_body(slot), **{"Ssp-TraceID": f"trace-{NHS_NUMBER}"})
    assert resp.status == 201
    await book_and_cancel(consumer)
    await flushed(consumer.client.app)
    rows = await raw_rows(tmp_path / "gateway.yaml")
    assert len(rows) > 10
    text = repr(rows)
    for value in (NHS_NUMBER, "Chalmers", "Peter", "LS1 4HR", "1974-12-25", "01234 567 890"):
        assert value not in text


async def test_a_trace_that_cannot_be_written_never_fails_a_booking(
    consumer: Consumer, tmp_path: Path
) -> None:
    """With the trace table gone the booking is still 201, and the loss is counted."""
    await execute(tmp_path / "gateway.yaml", "DROP TABLE trace_hops")
    (slot,) = await consumer.free_slots()
    resp = await consumer.book(booking_body(slot))
    assert resp.status == 201, await resp.text()
    await flushed(consumer.client.app)
    assert consumer.client.app[TRACE].dropped >= 1  # the booking (a search is not recorded)
    again = await consumer.read(f"Appointment/{(await resp.json(content_type=None))['id']}")
    assert again.status == 200


async def test_a_slot_search_starts_no_journey_unless_reads_are_traced(consumer: Consumer) -> None:
    """A search changes no journey: by default it is not recorded (trace.reads is off),
    while the booking that follows is, found by its X-Request-ID."""
    search_id, book_id = str(uuid.uuid4()), str(uuid.uuid4())
    resp = await consumer.search(**{"X-Request-ID": search_id})
    assert resp.status == 200
    (slot,) = await consumer.free_slots()
    assert (await consumer.book(booking_body(slot), **{"X-Request-ID": book_id})).status == 201
    await flushed(consumer.client.app)
    store = consumer.client.app[STORE]
    assert await store.find_journey(search_id) is None
    journey = await store.find_journey(book_id)
    assert journey is not None and journey.hops[0].hop.kind == "inbound.stu3.book"
