"""The retention job: every interval with jitter, cutoffs from its clock, counts-only logs,
and a failed round never stops it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from gateway import retention
from gateway.config import RetentionSettings, Settings
from gateway.retention import RetentionJob, cutoffs
from gateway.store import AuditEntry, PurgeCounts, PurgeCutoffs, StoreUnavailable
from gateway.store.sqlite import SqliteStore
from tests.store.message_contract import make_message

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
SETTINGS = RetentionSettings(interval_s=600, audit_days=365, ledger_days=2, slot_homes_days=None)


class Clock:
    """A clock that only moves when told."""

    def __init__(self) -> None:
        self.at = NOW

    def __call__(self) -> datetime:
        return self.at


class FakeStore:
    """Records each purge's cutoffs; raises the errors it is given, one per round."""

    def __init__(self, errors: list[Exception | None]) -> None:
        self.errors = errors
        self.calls: list[PurgeCutoffs] = []
        self.done = asyncio.Event()

    async def purge(self, cutoffs: PurgeCutoffs, *, dry_run: bool = False) -> PurgeCounts:
        self.calls.append(cutoffs)
        error = self.errors.pop(0) if self.errors else None
        if not self.errors:
            self.done.set()
        if error is not None:
            raise error
        return PurgeCounts(audit=3, ledger=1)


def test_cutoffs_are_the_clock_less_each_period() -> None:
    """Each cutoff is now less its period in days; a period of None gives no cutoff."""
    assert cutoffs(SETTINGS, NOW) == PurgeCutoffs(
        audit=NOW - timedelta(days=365),
        ledger=NOW - timedelta(days=2),
        journal=NOW - timedelta(days=30),
        receipts=NOW - timedelta(days=30),
        slot_homes=None,
    )


async def test_the_job_runs_every_interval_and_survives_a_store_error() -> None:
    """Rounds wait interval_s plus jitter, take their cutoffs from the clock at that round,
    and a round the store fails is logged and followed by the next."""
    clock = Clock()
    store = FakeStore([None, StoreUnavailable("lost the connection"), None])
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.at += timedelta(seconds=seconds)
        await asyncio.sleep(0)

    job = RetentionJob(store, SETTINGS, clock=clock, sleep=sleep, jitter=lambda: 0.5)  # type: ignore[arg-type]
    with capture_logs() as logs:
        task = asyncio.create_task(job.run())
        await asyncio.wait_for(store.done.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert waits[:3] == [630.0, 630.0, 630.0]
    assert [c.ledger for c in store.calls[:3]] == [
        NOW + timedelta(seconds=630 * n) - timedelta(days=2) for n in (1, 2, 3)
    ]
    events = [(e["event"], e.get("total")) for e in logs if e["event"].startswith("retention")][:3]
    assert events == [("retention_purged", 4), ("retention_failed", None), ("retention_purged", 4)]
    purged = next(e for e in logs if e["event"] == "retention_purged")
    assert set(purged) == {
        "event",
        "log_level",
        "dry_run",
        "total",
        "audit",
        "ledger",
        "journal",
        "receipts",
        "slot_homes",
        "messages",
    }, "counts only"
    failed = next(e for e in logs if e["event"] == "retention_failed")
    assert failed["error"] == "StoreUnavailable"


def test_jitter_stays_within_a_tenth_of_the_interval() -> None:
    """The wait is between interval_s and 1.1 x interval_s."""
    low = RetentionJob(FakeStore([]), SETTINGS, jitter=lambda: 0.0)  # type: ignore[arg-type]
    high = RetentionJob(FakeStore([]), SETTINGS, jitter=lambda: 1.0)  # type: ignore[arg-type]
    assert (low.delay(), high.delay()) == (600.0, pytest.approx(660.0))


async def test_the_job_purges_a_real_store_from_its_clock(tmp_path: Path) -> None:
    """Over a SQLite store, one round deletes the audit older than audit_days, by the clock."""
    store = SqliteStore(tmp_path / "g.db")
    await store.open()
    try:
        for days in (400, 10):
            entry = AuditEntry(
                at=NOW - timedelta(days=days),
                interaction="read",
                method="GET",
                path="/",
                status=200,
            )
            await store.record_audit(entry)
        job = RetentionJob(store, SETTINGS, clock=Clock())
        assert await job.run_once(dry_run=True) == PurgeCounts(audit=1)
        assert await job.run_once() == PurgeCounts(audit=1)
        assert [e.at for e in await store.audit_entries()] == [NOW - timedelta(days=10)]
    finally:
        await store.close()


def test_the_app_starts_the_job() -> None:
    """The application runs the job in its cleanup context, like the journey watch."""
    from gateway.app import create_app
    from gateway.config import Settings

    app = create_app(Settings())
    assert retention.job_ctx in app.cleanup_ctx


async def test_the_job_purges_journaled_messages_past_journal_retention_days(
    tmp_path: Path,
) -> None:
    """journal.retention_days gives the message journal's cutoff; newer messages stay."""
    settings = Settings.model_validate({"journal": {"retention_days": 7}})
    store = SqliteStore(tmp_path / "gateway.db")
    await store.open()
    try:
        now = make_message(0).at + timedelta(days=10)
        await store.record_message(make_message(1, 0))
        await store.record_message(make_message(2, 60 * 24 * 5))
        job = RetentionJob(
            store,
            settings.retention,
            clock=lambda: now,
            messages_days=settings.journal.retention_days,
        )
        assert (await job.run_once()).messages == 1
        assert await store.message("msg-0001") is None
        assert await store.message("msg-0002") is not None
    finally:
        await store.close()
