"""A referral whose booking never comes is flagged after the grace period: view, one log event."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from structlog.testing import capture_logs

from gateway.app import create_app
from gateway.config import load as load_config
from gateway.itk.door import CLOCK as ITK_CLOCK
from gateway.journeys import CLOCK
from tests.api.conftest import GatewayTestServer, write_config
from tests.itk import messages
from tests.itk.conftest import Clock, Sender, itk_section
from tests.itk.test_door_links import _book

TOKEN_ENV = "UEC_TEST_JOURNEY_TOKEN"
TOKEN = "journey-admin-token"
GRACE_S = 600


@pytest.fixture
async def watched(
    tmp_path: Path, unused_tcp_port_factory: Callable[[], int], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Sender, Clock]]:
    """A gateway with the ITK door, an admin token, a 600 s grace and its own journey clock."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    port = unused_tcp_port_factory()
    path = write_config(tmp_path, port, admin_token_env=TOKEN_ENV)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(itk_section() + f"referrals:\n  booking_grace_s: {GRACE_S}\n")
    settings = load_config(path)
    app = create_app(settings, path)
    door_clock, journey_clock = Clock(), Clock()
    app[ITK_CLOCK] = door_clock
    app[CLOCK] = journey_clock
    client = TestClient(GatewayTestServer(app, host="127.0.0.1", port=port))
    await client.start_server()
    yield Sender(client, settings, app, door_clock), journey_clock
    await client.close()


async def _view(sender: Sender, state: str = "unbooked", token: str = TOKEN) -> Any:
    resp = await sender.client.get(
        "/ops/journeys", params={"state": state}, headers={"Authorization": f"Bearer {token}"}
    )
    return resp.status, await resp.json()


async def _refer(sender: Sender) -> tuple[bytes, str]:
    body = messages.sample()
    sender.clock.at = messages.created(body)
    assert (await sender.send(body)).status == 200
    stored = await sender.store.find_referral_by_document(messages.document_id(body))
    assert stored is not None
    return body, stored.referral_id


def _later(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


async def test_an_unbooked_referral_is_listed_only_after_the_grace_period(
    watched: tuple[Sender, Clock],
) -> None:
    """Within the grace period the view is empty; past it the referral is listed by ids."""
    sender, clock = watched
    body, referral_id = await _refer(sender)
    clock.at = _later(GRACE_S - 60)
    empty = {"state": "unbooked", "booking_grace_s": GRACE_S, "journeys": []}
    assert await _view(sender) == (200, empty)
    clock.at = _later(GRACE_S + 60)
    status, view = await _view(sender)
    (journey,) = view["journeys"]
    assert status == 200 and journey["referral_id"] == referral_id
    assert journey["document_id"] == messages.document_id(body)
    assert journey["service_id"] and GRACE_S < journey["age_s"] < GRACE_S + 600
    assert set(journey) == {"referral_id", "service_id", "document_id", "received_at", "age_s"}


async def test_passing_the_grace_period_is_logged_once_with_ids_only(
    watched: tuple[Sender, Clock],
) -> None:
    """Two sweeps past the grace period write one referral_unbooked event, without patient data."""
    sender, clock = watched
    _, referral_id = await _refer(sender)
    stored = await sender.store.get_referral(referral_id)
    assert stored is not None
    clock.at = _later(GRACE_S + 60)
    with capture_logs() as logs:
        await _view(sender)
        await _view(sender)
    events = [e for e in logs if e["event"] == "referral_unbooked"]
    assert [e["referral_id"] for e in events] == [referral_id]
    patient = stored.referral.patient
    assert patient.name.family and patient.name.family not in repr(events)
    assert patient.birth_date.isoformat() not in repr(events)


async def test_a_referral_whose_booking_came_is_not_flagged(
    watched: tuple[Sender, Clock],
) -> None:
    """The booking naming the report's CDA, arriving late, takes the referral off the view."""
    sender, clock = watched
    body, _ = await _refer(sender)
    await _book(sender, messages.document_id(body))
    clock.at = _later(GRACE_S + 60)
    assert (await _view(sender))[1]["journeys"] == []


async def test_the_view_needs_the_admin_token_and_a_known_state(
    watched: tuple[Sender, Clock],
) -> None:
    """No token is 403; an unknown state is a 400 naming the known ones."""
    sender, _ = watched
    assert (await _view(sender, token="wrong"))[0] == 403
    status, answer = await _view(sender, state="lost")
    assert status == 400 and "unbooked" in answer["error"]
