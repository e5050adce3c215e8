"""GET /admin/dashboard/data: admin token only, no patient data, a broken section contained."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web

from gateway.dashboard import add_section
from tests.api.conftest import SERVICE_ID, Gateway, booking_body

TOKEN_ENV = "UEC_TEST_DASHBOARD_TOKEN"


@pytest.fixture(autouse=True)
def admin_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, "operator-secret")


def _admin(token: str = "operator-secret") -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_the_data_needs_the_admin_token(gateway: Gateway) -> None:
    """Without the token, or with a wrong one, the data call is 403 and says why."""
    consumer = await gateway(admin_token_env=TOKEN_ENV)
    for headers in ({}, _admin("guess")):
        resp = await consumer.client.get("/admin/dashboard/data", headers=headers)
        assert (resp.status, await resp.json()) == (403, {"error": "admin token required"})


async def test_the_page_itself_holds_no_data_and_loads_only_its_own_files(
    gateway: Gateway,
) -> None:
    """The page and its script come without a token and forbid other origins' content."""
    consumer = await gateway(admin_token_env=TOKEN_ENV)
    page = await consumer.client.get("/admin/dashboard")
    assert page.status == 200
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert SERVICE_ID not in await page.text()
    script = await consumer.client.get("/admin/dashboard/static/dashboard.js")
    assert (script.status, script.content_type) == (200, "text/javascript")
    assert (await consumer.client.get("/admin/dashboard/static/x.js")).status == 404


async def test_routes_and_state_after_a_booking_carry_no_patient_data(gateway: Gateway) -> None:
    """After a booking the data lists the route as up and holds no NHS number or name."""
    consumer = await gateway(admin_token_env=TOKEN_ENV)
    (slot,) = await consumer.free_slots()
    body = booking_body(slot)
    assert (await consumer.book(body)).status == 201
    resp = await consumer.client.get("/admin/dashboard/data", headers=_admin())
    data = await resp.json()
    assert [(s["service"], s["ok"]) for s in data["routes"]["services"]] == [(SERVICE_ID, True)]
    assert data["in_doubt"] == {"count": 0, "oldest": []}
    raw = json.dumps(data)
    (patient,) = [r for r in body["contained"] if r["resourceType"] == "Patient"]
    assert patient["identifier"][0]["value"] not in raw
    assert patient["name"][0]["family"] not in raw


async def test_a_failing_section_shows_its_error_and_the_rest_still_answer(
    gateway: Gateway,
) -> None:
    """A section that raises is reported in its place; the built-in sections still come."""
    consumer = await gateway(admin_token_env=TOKEN_ENV)

    async def broken(app: web.Application) -> Any:
        raise ConnectionError("peer gone")

    add_section(consumer.client.app, "broken", broken)  # type: ignore[arg-type]
    data = await (await consumer.client.get("/admin/dashboard/data", headers=_admin())).json()
    assert data["broken"] == {"error": "ConnectionError: unavailable"}
    assert data["routes"]["services"][0]["ok"] is True


async def test_each_supplier_shows_its_calls_error_rate_and_latency(gateway: Gateway) -> None:
    """After a search and a booking the diary shows 2 calls, no errors and a p50 latency;
    with no calls since the last read, the next read shows none."""
    consumer = await gateway(admin_token_env=TOKEN_ENV)
    (slot,) = await consumer.free_slots()
    assert (await consumer.book(booking_body(slot))).status == 201
    data = await (await consumer.client.get("/admin/dashboard/data", headers=_admin())).json()
    diary = data["latency"]["diary"]
    assert (diary["calls"], diary["error_rate"]) == (2, 0.0)
    assert 0 < diary["p50_ms"] <= 30_000
    again = await (await consumer.client.get("/admin/dashboard/data", headers=_admin())).json()
    assert again["latency"]["diary"] == {"calls": 0}
