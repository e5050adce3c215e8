"""Retention: the periodic purge of the audit, ledger, journals and caches past their periods.

Every ``retention.interval_s`` (plus up to a tenth of jitter, so replicas started
together spread out) the job asks the store to purge the finished rows older than
each configured period (``RetentionSettings``; ``Store.purge``). It is safe on
every replica at once: the purge is plain deletes of rows nobody needs, in batches
that replicas never share. A failed round is logged and the next one tries again.
``retention_purged`` logs counts only, never a row.

``uec-gateway purge --config FILE [--dry-run]`` runs one round by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta

import structlog
from aiohttp import web

from adapters.domain import utcnow
from gateway.config import RetentionSettings
from gateway.http.exchange import SETTINGS, STORE
from gateway.store import PurgeCounts, PurgeCutoffs, Store

log = structlog.get_logger(__name__)

#: The retention job's clock (tests inject one; the wall clock otherwise).
CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("retention_clock")
#: The running job, for the life of the application.
JOB: web.AppKey[RetentionJob] = web.AppKey("retention_job")

#: Each wait is ``interval_s`` times 1 to 1 + JITTER.
JITTER = 0.1


def now() -> datetime:
    """The wall clock (tests replace ``utcnow`` here)."""
    return utcnow()


def cutoffs(
    settings: RetentionSettings, now: datetime, messages_days: int | None = None
) -> PurgeCutoffs:
    """Each kind's cutoff: ``now`` less its period; None where the period is None.

    ``messages_days`` is the message journal's (``journal.retention_days``).
    """

    def before(days: int | None) -> datetime | None:
        return None if days is None else now - timedelta(days=days)

    return PurgeCutoffs(
        audit=before(settings.audit_days),
        ledger=before(settings.ledger_days),
        journal=before(settings.journal_days),
        receipts=before(settings.receipts_days),
        slot_homes=before(settings.slot_homes_days),
        messages=before(messages_days),
    )


class RetentionJob:
    """Purges ``store`` every interval; ``clock``, ``sleep`` and ``jitter`` are injectable."""

    def __init__(
        self,
        store: Store,
        settings: RetentionSettings,
        *,
        clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
        messages_days: int | None = None,
    ) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock or now
        self._sleep = sleep
        self._jitter = jitter
        self._messages_days = messages_days

    def delay(self) -> float:
        """The wait before the next round."""
        return self._settings.interval_s * (1 + JITTER * self._jitter())

    async def run_once(self, *, dry_run: bool = False) -> PurgeCounts:
        """One purge; raises what the store raises."""
        limits = cutoffs(self._settings, self._clock(), self._messages_days)
        found = await self._store.purge(limits, dry_run=dry_run)
        log.info("retention_purged", dry_run=dry_run, total=found.total, **found.as_dict())
        return found

    async def run(self) -> None:
        """Purge every interval until cancelled; a failed round never stops the job."""
        while True:
            await self._sleep(self.delay())
            try:
                await self.run_once()
            except Exception as exc:  # the job never stops the gateway
                log.warning("retention_failed", error=type(exc).__name__)


async def job_ctx(app: web.Application) -> AsyncIterator[None]:
    """The periodic purge, for the life of the application."""
    settings = app[SETTINGS]
    job = app[JOB] = RetentionJob(
        app[STORE],
        settings.retention,
        clock=app.get(CLOCK, utcnow),
        messages_days=settings.journal.retention_days,
    )
    task = asyncio.create_task(job.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
