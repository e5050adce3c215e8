"""A registry outage never fails, slows or loses a booking; retries never make two pointers."""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from gateway.examples import EXAMPLE_NHS_NUMBER, booking_body
from gateway.registry.peer import Fault, Mode, RegistryPeer
from tests.registry.conftest import Gateway, Start, eventually, pointers_of


async def _json(resp: Any) -> Any:
    return await resp.json(content_type=None)


async def _book(running: Gateway) -> dict[str, Any]:
    (slot,) = await running.stu3.free_slots()
    resp = await running.stu3.book(booking_body(slot))
    assert resp.status == 201, await resp.text()
    booked: dict[str, Any] = await _json(resp)
    return booked


async def _cancel(running: Gateway, booked: dict[str, Any]) -> None:
    body = copy.deepcopy(booked)
    body["status"] = "cancelled"
    resp = await running.stu3.cancel(booked["id"], body, **{"If-Match": 'W/"1"'})
    assert resp.status == 200, await resp.text()


async def _health(running: Gateway) -> dict[str, Any]:
    resp = await running.client.get("/health")
    body: dict[str, Any] = await _json(resp)
    return body


async def test_a_slow_registry_does_not_slow_the_booking(
    gateway: Start, registry: RegistryPeer
) -> None:
    """With the registry taking 30 s per call, the booking still answers in well under 1 s."""
    registry.fault(Fault(mode=Mode.SLOW, delay_s=30))
    running = await gateway(registry.url)
    (slot,) = await running.stu3.free_slots()
    began = time.perf_counter()
    resp = await running.stu3.book(booking_body(slot))
    elapsed = time.perf_counter() - began
    assert resp.status == 201 and elapsed < 1.0, elapsed


async def test_registry_down_then_back_gets_the_pointer(
    gateway: Start, unused_tcp_port_factory: Callable[[], int]
) -> None:
    """With nothing listening at the registry the booking succeeds; /health shows the entry
    pending; once the registry listens, the pointer is delivered and the backlog clears."""
    port = unused_tcp_port_factory()
    running = await gateway(f"http://127.0.0.1:{port}/FHIR/R4")
    booked = await _book(running)
    health = await _health(running)
    assert health["status"] == "pass", "an absent registry never fails the gateway's health"
    assert health["registry"]["pending"] == 1
    registry = await RegistryPeer.start(port=port)
    try:

        async def delivered() -> bool:
            return len(pointers_of(registry, booked["id"])) == 1

        await eventually(delivered)

        async def cleared() -> bool:
            return (await _health(running))["registry"]["pending"] == 0

        await eventually(cleared)
    finally:
        await registry.stop()


async def test_book_then_cancel_during_an_outage_are_delivered_in_order(
    gateway: Start, registry: RegistryPeer
) -> None:
    """Booked and cancelled while the registry answered 503: once it recovers the pointer is
    made then deleted, in that order, and none is left."""
    registry.fault(Fault(mode=Mode.UNAVAILABLE))
    running = await gateway(registry.url)
    booked = await _book(running)
    await _cancel(running, booked)

    async def tried() -> bool:  # the first try, then retries (each looking first)
        return registry.state.stats["create"] + registry.state.stats["search"] >= 3

    await eventually(tried)
    registry.fault(None)

    async def done() -> bool:
        return (await _health(running))["registry"]["pending"] == 0

    await eventually(done)
    assert not pointers_of(registry, booked["id"])
    assert registry.state.stats["delete"] == 1, "the pointer was made, then deleted"


async def test_a_pending_entry_is_delivered_after_a_gateway_restart(
    gateway: Start, tmp_path: Path, unused_tcp_port_factory: Callable[[], int]
) -> None:
    """Booked while the registry was down, the gateway stopped; a new gateway process on the
    same store delivers the pointer once the registry is up."""
    port = unused_tcp_port_factory()
    url = f"http://127.0.0.1:{port}/FHIR/R4"
    first = await gateway(url, folder=tmp_path)
    booked = await _book(first)
    await first.close()
    registry = await RegistryPeer.start(port=port)
    try:
        second = await gateway(url, folder=tmp_path)

        async def delivered() -> bool:
            return len(pointers_of(registry, booked["id"])) == 1

        await eventually(delivered)
        assert (await _health(second))["registry"]["pending"] == 0
    finally:
        await registry.stop()


async def test_a_lost_answer_never_makes_two_pointers(
    gateway: Start, registry: RegistryPeer
) -> None:
    """The registry makes the pointer but its answer is lost twice: the retries find it (same
    X-Request-Id, then a search) and the registry holds exactly one pointer."""
    registry.fault(Fault(mode=Mode.LOST_RESPONSE, operations=frozenset({"create"}), times=2))
    running = await gateway(registry.url)
    booked = await _book(running)

    async def done() -> bool:
        return (await _health(running))["registry"]["pending"] == 0

    await eventually(done)
    assert len(pointers_of(registry, booked["id"])) == 1
    assert len(registry.pointers()) == 1
    assert registry.state.stats["search"] >= 1, "a retried entry looks before it makes"


async def test_a_refused_pointer_is_parked_and_later_changes_go_on(
    gateway: Start, registry: RegistryPeer
) -> None:
    """A pointer the registry refuses (400) is not retried: it is logged by id, counted as
    refused in /health, and the next booking's pointer is made as usual."""
    registry.fault(Fault(mode=Mode.REFUSE, operations=frozenset({"create"}), times=1))
    running = await gateway(registry.url)
    with capture_logs() as events:
        refused = await _book(running)

        async def parked() -> bool:
            return (await _health(running))["registry"]["refused"] == 1

        await eventually(parked)
    (logged,) = [e for e in events if e["event"] == "registry_pointer_refused"]
    assert logged["appointment_id"] == refused["id"] and logged["reason"] == "registry_create_400"
    booked = await _book(running)

    async def made() -> bool:
        return len(pointers_of(registry, booked["id"])) == 1

    await eventually(made)
    assert not pointers_of(registry, refused["id"])
    assert registry.state.stats["create"] == 2, "the refused pointer was sent once"


async def test_a_stuck_entry_is_logged_with_ids_and_no_patient_data(
    gateway: Start,
    unused_tcp_port_factory: Callable[[], int],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """After stuck_after failed attempts the entry is logged stuck (seq, appointment id) and
    counted in /health; nothing logged holds the NHS number or the patient's name."""
    caplog.set_level(logging.DEBUG)
    port = unused_tcp_port_factory()
    with capture_logs() as events:
        running = await gateway(f"http://127.0.0.1:{port}/FHIR/R4", stuck_after=2)
        booked = await _book(running)

        async def stuck() -> bool:
            return (await _health(running))["registry"]["stuck"] == 1

        await eventually(stuck)
        await _cancel(running, booked)
    logged = [e for e in events if e["event"] == "registry_pointer_stuck"]
    assert logged and logged[0]["appointment_id"] == booked["id"] and "seq" in logged[0]
    text = repr(events) + "\n".join(r.getMessage() for r in caplog.records)
    for secret in (EXAMPLE_NHS_NUMBER, "Chalmers", "1974-12-25"):
        assert secret not in text


async def test_delivery_logs_hold_no_patient_data(
    gateway: Start, registry: RegistryPeer, caplog: pytest.LogCaptureFixture
) -> None:
    """Making, and deleting, a pointer logs ids only: no NHS number, name or birth date."""
    caplog.set_level(logging.DEBUG)
    with capture_logs() as events:
        running = await gateway(registry.url)
        booked = await _book(running)

        async def made() -> bool:
            return len(pointers_of(registry, booked["id"])) == 1

        await eventually(made)
        await _cancel(running, booked)

        async def gone() -> bool:
            return not pointers_of(registry, booked["id"])

        await eventually(gone)
    assert [e["action"] for e in events if e["event"] == "registry_pointer_delivered"] == [
        "created",
        "deleted",
    ]
    text = repr(events) + "\n".join(r.getMessage() for r in caplog.records)
    for secret in (EXAMPLE_NHS_NUMBER, "Chalmers", "1974-12-25"):
        assert secret not in text


async def test_a_retried_create_reuses_its_x_request_id(
    gateway: Start, registry: RegistryPeer
) -> None:
    """The POST of one delivery carries the same X-Request-Id on its retry (after a 503), and
    the correlation id stays that of the delivery."""
    registry.fault(Fault(mode=Mode.UNAVAILABLE, operations=frozenset({"create"}), times=1))
    running = await gateway(registry.url)
    booked = await _book(running)

    async def made() -> bool:
        return len(pointers_of(registry, booked["id"])) == 1

    await eventually(made)
    creates = [h for h in registry.state.seen_headers if h.get("use-context", "").endswith("|new")]
    assert len(creates) == 2
    assert creates[0]["X-Request-Id"] == creates[1]["X-Request-Id"]
    correlations = {h["X-Correlation-Id"] for h in registry.state.seen_headers}
    assert len(correlations) == 1, "every call of one delivery shares its correlation id"
