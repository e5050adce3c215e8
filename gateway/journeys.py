"""The journey view: referrals whose booking never came, flagged after a grace period.

A referral (BaRS, ITK or HL7-announced) and its booking arrive in either order
(gateway/referrals.py links them). One still linked to no booking
``referrals.booking_grace_s`` after the gateway received it is *unbooked*: it
is listed by ``GET /ops/journeys?state=unbooked`` (admin token, ids only) and
logged once as ``referral_unbooked`` (the flag is stored, so a restart does not
log it again). A sweep runs every ``referrals.sweep_interval_s`` and on each
read of the view.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import os
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

import structlog
from aiohttp import web

from adapters.domain import utcnow
from gateway.config import ReferralSettings
from gateway.http.exchange import SETTINGS, STORE
from gateway.store import Store, UnbookedReferral

log = structlog.get_logger(__name__)

#: The journey watch's clock (tests inject one; the wall clock otherwise).
CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("journeys_clock")
STATES = ("unbooked",)


def authorised(request: web.Request) -> bool:
    """The request carries the admin token (``server.admin_token_env``); off when unset."""
    name = request.app[SETTINGS].server.admin_token_env
    expected = os.environ.get(name) if name else None
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    return bool(expected) and hmac.compare_digest(given.encode(), (expected or "").encode())


async def sweep(store: Store, settings: ReferralSettings, now: datetime) -> list[UnbookedReferral]:
    """The referrals past the grace period; each logged the first time it is seen so."""
    overdue = await store.unbooked_referrals(now - timedelta(seconds=settings.booking_grace_s))
    for item in overdue:
        if await store.flag_unbooked(item.referral_id, now):
            log.warning(
                "referral_unbooked",
                referral_id=item.referral_id,
                service_id=item.service_id,
                document_id=item.document_id,
                age_s=int((now - item.received_at).total_seconds()),
            )
    return overdue


def _clock(app: web.Application) -> Callable[[], datetime]:
    return app.get(CLOCK, utcnow)


async def journeys(request: web.Request) -> web.Response:
    """GET /ops/journeys?state=unbooked: referral ids, service, age, document id."""
    headers = {"Cache-Control": "no-store"}
    if not authorised(request):
        return web.json_response({"error": "admin token required"}, status=403, headers=headers)
    state = request.query.get("state", "unbooked")
    if state not in STATES:
        reason = f"unknown state '{state[:40]}'; known: {', '.join(STATES)}"
        return web.json_response({"error": reason}, status=400, headers=headers)
    settings = request.app[SETTINGS].referrals
    now = _clock(request.app)()
    overdue = await sweep(request.app[STORE], settings, now)
    body = {
        "state": state,
        "booking_grace_s": settings.booking_grace_s,
        "journeys": [
            {
                "referral_id": item.referral_id,
                "service_id": item.service_id,
                "document_id": item.document_id,
                "received_at": item.received_at.isoformat(),
                "age_s": int((now - item.received_at).total_seconds()),
            }
            for item in overdue
        ],
    }
    return web.json_response(body, headers=headers)


async def _watch(app: web.Application) -> None:
    settings = app[SETTINGS].referrals
    while True:
        await asyncio.sleep(settings.sweep_interval_s)
        try:
            await sweep(app[STORE], settings, _clock(app)())
        except Exception as exc:  # the watch never stops the gateway
            log.warning("journey_sweep_failed", error=type(exc).__name__)


async def watch_ctx(app: web.Application) -> AsyncIterator[None]:
    """The periodic sweep, for the life of the application."""
    task = asyncio.create_task(_watch(app))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
