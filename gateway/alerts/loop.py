"""The alert loop: sources of values, the webhook poster, the timer (see the package)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import structlog
from aiohttp import web

from gateway.alerts._engine import CountSource, Engine, Source, Values
from gateway.alerts.settings import AlertSettings, Kind
from gateway.config import Settings
from gateway.http.exchange import RUNTIME, SETTINGS, STORE
from gateway.metrics.readings import counts
from gateway.metrics.web import METRICS
from gateway.registry import WORKER
from gateway.tls.expiry import certificate_expiry

__all__ = ["ENGINE", "add_counts", "add_source", "alerts_ctx"]

log = structlog.get_logger(__name__)

ENGINE = web.AppKey("alert_engine", Engine)
_SOURCES = web.AppKey("alert_sources", dict[Kind, Source])
_COUNTS = web.AppKey("alert_counts", list[CountSource])


def add_source(app: web.Application, kind: Kind, source: Source) -> None:
    """Where ``kind``'s values come from (called while the app is built)."""
    app.setdefault(_SOURCES, {})[kind] = source


def add_counts(app: web.Application, counts: CountSource) -> None:
    """Cumulative (calls, failures) per supplier, for error_rate rules."""
    app.setdefault(_COUNTS, []).append(counts)


def _built_in(app: web.Application) -> dict[Kind, Source]:
    async def adapter_down() -> Values:
        async with app[RUNTIME].use() as generation:
            adapters = generation.adapters
            return {name: 0.0 if (await a.health()).ok else 1.0 for name, a in adapters.items()}

    async def in_doubt() -> Values:
        return {"bookings": float(len(await app[STORE].in_doubt_claims()))}

    async def backlog_age() -> Values:
        worker = app.get(WORKER)
        if worker is None:
            return {}
        oldest = (await worker.backlog()).oldest_pending
        age = (worker.clock() - oldest).total_seconds() if oldest is not None else 0.0
        return {"registry": age}

    async def circuit_open() -> Values:
        async with app[RUNTIME].use() as generation:
            states = generation.router.breakers.states()
        return {name: 1.0 if state.state == "open" else 0.0 for name, state in states.items()}

    async def cert_expiry() -> Values:
        return await asyncio.to_thread(certificate_days, app[SETTINGS])

    return {
        Kind.ADAPTER_DOWN: adapter_down,
        Kind.IN_DOUBT: in_doubt,
        Kind.BACKLOG_AGE: backlog_age,
        Kind.CERT_EXPIRY: cert_expiry,
        Kind.CIRCUIT_OPEN: circuit_open,
    }


def certificate_days(settings: Settings) -> Values:
    """Days left of each listener certificate, by its option (the soonest when several)."""
    days: Values = {}
    for found in certificate_expiry(settings):
        days[found.option] = min(days.get(found.option, found.days_left), found.days_left)
    return days


def _poster(settings: AlertSettings, session: aiohttp.ClientSession) -> Any:
    token = os.environ.get(settings.webhook_token_env) if settings.webhook_token_env else None
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    timeout = aiohttp.ClientTimeout(total=settings.timeout_s)

    async def post(body: dict[str, Any]) -> bool:
        try:
            async with session.post(
                settings.webhook, json=body, headers=headers, timeout=timeout
            ) as resp:
                if resp.status < 300:
                    return True
                log.warning("alert_webhook_refused", status=resp.status, alert=body["alert"])
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("alert_webhook_unreachable", error=type(exc).__name__, alert=body["alert"])
        return False

    return post


async def _counts(sources: list[CountSource]) -> dict[str, tuple[int, int]]:
    total: dict[str, tuple[int, int]] = {}
    for source in sources:
        for subject, (calls, failures) in (await source()).items():
            before = total.get(subject, (0, 0))
            total[subject] = (before[0] + calls, before[1] + failures)
    return total


async def _run(engine: Engine, interval_s: float) -> None:
    while True:
        try:
            await engine.evaluate()
        except Exception:  # never let one bad round end the alerts
            log.warning("alert_round_failed", exc_info=True)
        await asyncio.sleep(interval_s)


async def alerts_ctx(app: web.Application) -> AsyncIterator[None]:
    """The alert loop, for the life of the application, when ``alerts:`` is configured."""
    settings = app[SETTINGS].alerts
    if settings is None:
        yield
        return
    counted: list[CountSource] = [*app.get(_COUNTS, [])]
    metrics = app.get(METRICS)
    if metrics is not None:  # supplier calls as /metrics counts them

        async def from_metrics() -> dict[str, tuple[int, int]]:
            return counts(metrics)

        counted.append(from_metrics)
    async with aiohttp.ClientSession() as session:
        engine = app[ENGINE] = Engine(
            settings,
            _built_in(app) | app.get(_SOURCES, {}),
            (lambda: _counts(counted)) if counted else None,
            _poster(settings, session),
        )
        task = asyncio.create_task(_run(engine, settings.interval_s))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
