"""GET /metrics on a real gateway: what bookings, cancels and resends move, and by how much."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway.examples import EXAMPLE_NHS_NUMBER as NHS_NUMBER
from gateway.examples import booking_body
from gateway.http.exchange import STORE
from gateway.metrics import register_state_source
from gateway.metrics.web import METRICS
from tests.api.conftest import SERVICE_ID, Consumer, Gateway
from tests.metrics.conftest import MetricsGateway
from tests.metrics.scrape import scrape, value

BOOKINGS = "uec_gateway_bookings_total"
REQUESTS = "uec_gateway_http_requests_total"


def _cancelled(appointment: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(appointment)
    body["status"] = "cancelled"
    return body


async def test_booking_cancel_and_resend_move_their_counters_by_exactly_one(
    consumer: Consumer,
) -> None:
    """One booking, one resend of it and one cancel count once each, under the diary route."""
    _, before = await scrape(consumer.client)
    (slot,) = await consumer.free_slots()
    sent = consumer.headers("patient/appointment.write", "create:appointment")
    body = json.dumps(booking_body(slot)).encode()
    booked = await consumer.book(body, **{"X-Request-ID": sent["X-Request-ID"]})
    assert booked.status == 201, await booked.text()
    again = await consumer.book(body, **{"X-Request-ID": sent["X-Request-ID"]})
    assert again.status == 409  # the resend is answered from the ledger, not booked
    appointment = await booked.json(content_type=None)
    cancel = await consumer.cancel(
        appointment["id"], _cancelled(appointment), **{"If-Match": 'W/"1"'}
    )
    assert cancel.status == 200, await cancel.text()
    text, after = await scrape(consumer.client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved(BOOKINGS, route="diary") == 1
    assert moved("uec_gateway_cancellations_total", route="diary") == 1
    assert moved("uec_gateway_duplicates_replayed_total", same_body="true") == 1
    assert moved(REQUESTS, door="stu3", interaction="book", status="201", route="diary") == 1
    assert moved(REQUESTS, door="stu3", interaction="cancel", status="200", route="diary") == 1
    assert moved("uec_gateway_supplier_call_seconds_count", supplier="diary", op="book") == 1
    assert moved("uec_gateway_supplier_call_seconds_count", op="cancel", outcome="ok") == 1
    assert moved("uec_gateway_store_call_seconds_count", op="claim_request") >= 2
    for secret in (NHS_NUMBER, appointment["id"], sent["X-Request-ID"], slot["id"], SERVICE_ID):
        assert secret not in text, "a scrape must carry no patient data and no ids"


async def test_a_search_for_a_service_no_route_serves_is_labelled_none(
    consumer: Consumer,
) -> None:
    """A ``service=`` no route serves (it may hold anything typed) never becomes a label."""
    typed = "9434765919"
    resp = await consumer.client.get(
        f"{consumer.settings.server.base_path}/Slot?service={typed}",
        headers=consumer.headers("organization/slot.read", "read:slot"),
    )
    assert resp.status == 404
    text, samples = await scrape(consumer.client)
    assert typed not in text
    assert value(samples, REQUESTS, door="stu3", status="404", route="none") >= 1


async def test_mapping_generation_build_and_pending_claims_are_exported(
    consumer: Consumer,
) -> None:
    """The scrape names the running mapping generation and version, the build, no claims held."""
    _, samples = await scrape(consumer.client)
    assert value(samples, "uec_gateway_mapping_generation") == 1
    assert value(samples, "uec_gateway_ledger_claims_pending") == 0
    info = [labels for (name, labels) in samples if name == "uec_gateway_build_info"]
    assert len(info) == 1 and dict(info[0])["version"]
    mapping = [labels for (name, labels) in samples if name == "uec_gateway_mapping_info"]
    assert len(mapping) == 1 and len(dict(mapping[0])["mapping_version"]) == 12


async def test_circuit_states_come_from_registered_sources(consumer: Consumer) -> None:
    """Each supplier a state source names is exported with closed 0, half-open 1, open 2."""
    metrics = consumer.client.app[METRICS]  # type: ignore[index]
    metrics.register_state_source(lambda: {"diary": "open"})
    undo = register_state_source(lambda: {"pas": "half_open", "rest": "closed"})
    try:
        _, samples = await scrape(consumer.client)
    finally:
        undo()
    state = "uec_gateway_circuit_state"
    assert value(samples, state, supplier="diary") == 2
    assert value(samples, state, supplier="pas") == 1
    assert value(samples, state, supplier="rest") == 0
    _, later = await scrape(consumer.client)
    assert (state, frozenset({("supplier", "pas")})) not in later


async def test_two_gateways_in_one_process_count_apart(gateway: Gateway) -> None:
    """A booking on one gateway never shows in another's scrape (one registry per app)."""
    first, second = await gateway(), await gateway()
    (slot,) = await first.free_slots()
    assert (await first.book(booking_body(slot))).status == 201
    _, one = await scrape(first.client)
    _, other = await scrape(second.client)
    assert value(one, BOOKINGS) == 1 and value(other, BOOKINGS) == 0


async def test_metrics_can_require_the_admin_token(
    metrics_gateway: MetricsGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``metrics.require_admin_token`` a scrape without the token is 403, with it 200."""
    monkeypatch.setenv("UEC_TEST_ADMIN", "s3cret-token")
    consumer = await metrics_gateway("metrics:\n  require_admin_token: true\n")
    assert (await consumer.client.get("/metrics")).status == 403
    auth = {"Authorization": "Bearer s3cret-token"}
    assert (await consumer.client.get("/metrics", headers=auth)).status == 200


async def test_metrics_can_be_turned_off(metrics_gateway: MetricsGateway) -> None:
    """With ``metrics.enabled: false`` there is no /metrics (404), and /health stays."""
    consumer = await metrics_gateway("metrics:\n  enabled: false\n")
    assert (await consumer.client.get("/metrics")).status == 404
    assert (await consumer.client.get("/health/live")).status == 200


async def test_a_pending_ledger_claim_shows_in_the_pending_gauge(consumer: Consumer) -> None:
    """A claim another live holder is working on counts 1 pending until it is released."""
    app = consumer.client.app
    assert app is not None
    store = app[STORE]
    now = datetime.now(UTC)
    await store.claim_request(
        "asid:200000000359", "held-elsewhere", "digest", now, 60.0, "another-process", work="{}"
    )
    _, held = await scrape(consumer.client)
    assert value(held, "uec_gateway_ledger_claims_pending") == 1
    await store.release_request("asid:200000000359", "held-elsewhere", "another-process")
    _, released = await scrape(consumer.client)
    assert value(released, "uec_gateway_ledger_claims_pending") == 0


async def test_a_resend_taking_over_a_dead_holders_claim_counts_one_in_doubt_resolved(
    consumer: Consumer,
) -> None:
    """A claim whose holder died (lease lapsed) is taken over by the resend: one resolved."""
    app = consumer.client.app
    assert app is not None
    request_id = str(uuid.uuid4())
    lapsed = datetime.now(UTC) - timedelta(seconds=30)
    await app[STORE].claim_request(
        "asid:200000000359", request_id, "first-send", lapsed, 1.0, "a-process-that-died"
    )
    _, before = await scrape(consumer.client)
    (slot,) = await consumer.free_slots()
    booked = await consumer.book(booking_body(slot), **{"X-Request-ID": request_id})
    assert booked.status == 201, await booked.text()
    _, after = await scrape(consumer.client)
    resolved = "uec_gateway_in_doubt_resolved_total"
    assert value(after, resolved, outcome="taken_over") - value(before, resolved) == 1
    assert value(after, BOOKINGS) - value(before, BOOKINGS) == 1
