"""What the dashboard shows, section by section; each a function of the running app.

A section returns JSON-ready data with no patient data (ids, counts, ages,
reasons). The built-in ones read what the gateway already knows; other parts add
theirs with ``add_section`` at start-up. A section that fails shows its error in
its place instead of failing the page.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import structlog
from aiohttp import web

from adapters.domain import utcnow
from gateway.http.exchange import RUNTIME, STORE, VERSION
from gateway.metrics.readings import Window, supplier_totals
from gateway.metrics.web import METRICS
from gateway.registry import WORKER, backlog_report
from gateway.store.messages import FAILED, REJECTED, MessageRecord

log = structlog.get_logger(__name__)

Section = Callable[[web.Application], Awaitable[Any]]

#: The sections in page order: name -> function (the built-in ones, then the added).
SECTIONS = web.AppKey("dashboard_sections", dict[str, Section])


def add_section(app: web.Application, name: str, section: Section) -> None:
    """Show ``section`` on the dashboard under ``name`` (after the built-in ones).

    Called while the app is built (``add_routes`` creates the table); a section added
    later joins the same table.
    """
    app[SECTIONS][name] = section


async def gather(app: web.Application) -> dict[str, Any]:
    """Every section's data; a failing one reports ``{"error": ...}`` in its place."""
    found: dict[str, Any] = {"at": utcnow().isoformat(), "version": app[VERSION]}
    for name, section in list(app[SECTIONS].items()):
        started = time.perf_counter()
        try:
            found[name] = await section(app)
        except Exception as exc:  # one broken source never blanks the page
            log.warning("dashboard_section_failed", section=name, error=type(exc).__name__)
            found[name] = {"error": f"{type(exc).__name__}: unavailable"}
        else:
            log.debug("dashboard_section_read", section=name, ms=_ms(started))
    return found


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


async def routes(app: web.Application) -> dict[str, Any]:
    """Each service's route: its adapter, the adapter's health, and the mapping generation."""
    async with app[RUNTIME].use() as generation:
        adapters = generation.adapters
        checks = {name: await adapter.health() for name, adapter in adapters.items()}
        services = [
            {
                "service": route.id,
                "adapter": route.adapter,
                "ok": checks[route.adapter].ok if route.adapter in checks else False,
                "detail": checks[route.adapter].detail if route.adapter in checks else "no adapter",
            }
            for route in generation.settings.services
        ]
        return {
            "generation": generation.number,
            "mapping_version": generation.version,
            "services": services,
            "adapters": {name: {"ok": c.ok, "detail": c.detail} for name, c in checks.items()},
        }


async def in_doubt(app: web.Application) -> dict[str, Any]:
    """Bookings whose outcome is not yet known: count, and the oldest few (ids and ages)."""
    now = utcnow()
    claims = await app[STORE].in_doubt_claims()
    return {
        "count": len(claims),
        "oldest": [
            {
                "scope": claim.scope,
                "request_id": claim.request_id,
                "lease_left_s": _age(claim.lease_until, now, future=True),
            }
            for claim in claims[:10]
        ],
    }


def _age(at: datetime, now: datetime, *, future: bool = False) -> float:
    seconds = (at - now).total_seconds() if future else (now - at).total_seconds()
    return round(seconds, 1)


async def backlogs(app: web.Application) -> dict[str, Any]:
    """The queues the gateway works off in the background (registry pointers)."""
    worker = app.get(WORKER)
    return {"registry": await backlog_report(worker) if worker is not None else None}


#: How far back the failures section looks, and how many it lists (newest first).
FAILURES_WINDOW = timedelta(days=1)
FAILURES_SHOWN = 25


async def failures(app: web.Application) -> dict[str, Any]:
    """Inbound legacy messages that failed or were refused in the last day (and any since
    replayed), newest first: ids, channel, route, the reason (which mapping row), state."""
    now = utcnow()
    journaled = await app[STORE].messages_between(now - FAILURES_WINDOW, now + _AHEAD)
    shown = [m for m in journaled if m.outcome in (FAILED, REJECTED) or m.replays]
    return {
        "recent": [_failure(m) for m in reversed(shown[-FAILURES_SHOWN:])],
        "failed": sum(m.outcome == FAILED for m in journaled),
        "rejected": sum(m.outcome == REJECTED for m in journaled),
    }


_AHEAD = timedelta(seconds=1)  # a message journaled this very second is still shown


def _failure(record: MessageRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "at": record.at.isoformat(),
        "channel": record.channel,
        "route": record.route,
        "control_id": record.control_id,
        "reason_code": record.reason_code,
        "reason": record.reason,
        "state": record.outcome if not record.replays else f"{record.outcome} (replayed)",
        "replayable": record.payload is not None and record.outcome in (FAILED, REJECTED),
    }


async def circuits(app: web.Application) -> dict[str, Any]:
    """Each supplier route's circuit: closed, open (with its retry time) or half-open."""
    async with app[RUNTIME].use() as generation:
        states = generation.router.breakers.states()
        names = generation.adapters
    found = {name: {"state": "closed", "failures": 0} for name in names}
    found.update({name: state.as_json() for name, state in states.items()})
    return found


#: The dashboard's window over supplier calls, one per app (kept between reads).
WINDOW = web.AppKey("dashboard_latency_window", Window)


async def latency(app: web.Application) -> dict[str, Any]:
    """Each supplier's calls, error rate and p50 latency over the last five minutes."""
    metrics = app.get(METRICS)
    if metrics is None:
        return {}
    return app[WINDOW].read(time.monotonic(), supplier_totals(metrics))


BUILT_IN: dict[str, Section] = {
    "routes": routes,
    "circuits": circuits,
    "latency": latency,
    "in_doubt": in_doubt,
    "backlogs": backlogs,
    "failures": failures,
}
