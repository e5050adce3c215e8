"""A misbehaving supplier never surfaces as a stack trace: 504 or 500 OperationOutcomes."""

from __future__ import annotations

import pytest

from adapters import registry
from tests.api.conftest import READ_SLOTS, SERVICE_ROOT_PATH, Gateway


@pytest.fixture
def faulty_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """Register the misbehaving test supplier as adapter kind 'faulty'."""
    monkeypatch.setitem(registry.ADAPTERS, "faulty", "tests.api.faulty_supplier:create")


async def test_slow_supplier_is_504_within_the_time_budget(
    gateway: Gateway, faulty_registered: None
) -> None:
    """A supplier slower than request_timeout_s gives 504 SUPPLIER_TIMEOUT, promptly."""
    consumer = await gateway(extra_adapters="faulty:slow", timeout_s=0.3)
    resp = await consumer.client.get(
        f"{SERVICE_ROOT_PATH}/Slot?service=555000111",
        headers=consumer.headers(READ_SLOTS, "read:slot"),
    )
    assert resp.status == 504
    outcome = await resp.json(content_type=None)
    assert outcome["issue"][0]["code"] == "transient"


async def test_supplier_down_is_500_transient(gateway: Gateway, faulty_registered: None) -> None:
    """search_slots.md: a supplier that cannot be reached is 500, with a transient issue code."""
    consumer = await gateway(extra_adapters="faulty:down")
    resp = await consumer.client.get(
        f"{SERVICE_ROOT_PATH}/Slot?service=555000111",
        headers=consumer.headers(READ_SLOTS, "read:slot"),
    )
    assert resp.status == 500
    issue = (await resp.json(content_type=None))["issue"][0]
    assert issue["code"] == "transient"
    assert issue["details"]["coding"][0]["code"] == "SUPPLIER_UNAVAILABLE"
    assert issue["diagnostics"] == "connection refused by supplier"


async def test_adapter_bug_is_500_operation_outcome(
    gateway: Gateway, faulty_registered: None
) -> None:
    """An unexpected exception inside an adapter is a 500 OperationOutcome, never a traceback."""
    consumer = await gateway(extra_adapters="faulty:broken")
    resp = await consumer.client.get(
        f"{SERVICE_ROOT_PATH}/Slot?service=555000111",
        headers=consumer.headers(READ_SLOTS, "read:slot"),
    )
    assert resp.status == 500
    body = await resp.text()
    assert "Traceback" not in body and "KeyError" not in body
    assert '"OperationOutcome"' in body


async def test_health_reports_a_failing_adapter(gateway: Gateway, faulty_registered: None) -> None:
    """GET /health is 503 and names the adapter whose ping fails."""
    consumer = await gateway(extra_adapters="faulty:down")
    resp = await consumer.client.get("/health")
    assert resp.status == 503
    body = await resp.json()
    assert body["checks"]["faulty"]["ok"] is False and body["checks"]["diary"]["ok"] is True


async def test_route_without_the_capability_is_a_clear_501(
    gateway: Gateway, faulty_registered: None
) -> None:
    """A slot search for a service whose adapter cannot search is 501 naming the adapter."""
    consumer = await gateway(extra_adapters="faulty:no-search")
    resp = await consumer.client.get(
        f"{SERVICE_ROOT_PATH}/Slot?service=555000111",
        headers=consumer.headers(READ_SLOTS, "read:slot"),
    )
    assert resp.status == 501
    outcome = await resp.json(content_type=None)
    assert "'faulty'" in outcome["issue"][0]["diagnostics"]
    assert "search" in outcome["issue"][0]["diagnostics"]
