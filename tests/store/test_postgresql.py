"""PostgresStore: the shared Store contract, plus what only several replicas on one
database show (each test in a fresh schema of the ``test`` database)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from gateway.store import _retention
from gateway.store._pg_schema import SCHEMA_VERSION, SchemaTooNew
from gateway.store.base import (
    AuditEntry,
    ClaimState,
    PurgeCounts,
    PurgeCutoffs,
    SlotHomeRow,
    Store,
    StoreUnavailable,
    VersionConflict,
)
from gateway.store.postgresql import PostgresStore
from tests.pg import PgSchema, fresh_schema
from tests.store.contract import NHS_A, T0, StoreContract, make_version
from tests.store.message_contract import MessageJournalContract
from tests.store.pointer_contract import PointerJournalContract
from tests.store.referral_contract import make_referral
from tests.store.retention_contract import RetentionContract
from tests.store.trace_contract import TraceContract
from tests.store.work_contract import WorkContract


@pytest.fixture
async def store(pg_schema: PgSchema) -> AsyncIterator[PostgresStore]:
    opened = PostgresStore(pg_schema.dsn, schema=pg_schema.schema)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def journaled_store(pg_schema: PgSchema) -> AsyncIterator[PostgresStore]:
    opened = PostgresStore(pg_schema.dsn, schema=pg_schema.schema, pointer_journal=True)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


class TestPostgresStoreContract(
    StoreContract,
    PointerJournalContract,
    WorkContract,
    RetentionContract,
    TraceContract,
    MessageJournalContract,
):
    """The shared contract (appointments, referrals, registry journal, HL7 outbox, ITK
    receipts, retention) on PostgreSQL."""


def test_postgres_store_satisfies_the_protocol() -> None:
    """PostgresStore is usable wherever a Store is expected (checked by mypy, too)."""
    store: Store = PostgresStore("postgresql://gateway@127.0.0.1/gateway")
    assert isinstance(store, PostgresStore)


@contextlib.asynccontextmanager
async def replicas(
    pg: PgSchema, count: int = 2, **options: Any
) -> AsyncIterator[list[PostgresStore]]:
    """``count`` stores on one schema, as separate gateway replicas would open them."""
    stores = [PostgresStore(pg.dsn, schema=pg.schema, **options) for _ in range(count)]
    try:
        for opened in stores:
            await opened.open()
        yield stores
    finally:
        for opened in stores:
            await opened.close()


async def test_two_replicas_claiming_one_request_id_make_one_new_claim(
    pg_schema: PgSchema,
) -> None:
    """Concurrent claims of one key from two replicas: exactly one NEW, the rest PENDING."""
    async with replicas(pg_schema) as (first, second):
        claims = await asyncio.gather(
            *(
                (first, second)[n % 2].claim_request("asid", "r1", f"h{n}", T0, 60, f"gw-{n}")
                for n in range(20)
            )
        )
    states = [c.state for c in claims]
    assert states.count(ClaimState.NEW) == 1
    assert states.count(ClaimState.PENDING) == 19
    winner = next(n for n, c in enumerate(claims) if c.state is ClaimState.NEW)
    assert {c.owner for c in claims if c.state is ClaimState.PENDING} == {f"gw-{winner}"}


async def test_two_replicas_taking_over_a_lapsed_claim_take_it_once(pg_schema: PgSchema) -> None:
    """A lapsed claim seen by two replicas at once is TAKEN_OVER by exactly one of them."""
    async with replicas(pg_schema) as (first, second):
        await first.claim_request("asid", "r1", "h", T0, 5, "dead")
        later = T0 + timedelta(seconds=10)
        claims = await asyncio.gather(
            *(
                (first, second)[n % 2].claim_request("asid", "r1", "h", later, 5, f"gw-{n}")
                for n in range(10)
            )
        )
    states = [c.state for c in claims]
    assert states.count(ClaimState.TAKEN_OVER) == 1
    assert states.count(ClaimState.PENDING) == 9


async def test_two_replicas_adding_one_next_version_one_conflicts(pg_schema: PgSchema) -> None:
    """Two replicas adding version 2 of one appointment at once: one wins, one conflicts."""
    async with replicas(pg_schema) as (first, second):
        await first.add_version(make_version(version=1))
        for _ in range(5):
            current = await first.get("appt-1")
            assert current is not None
            n = current.version + 1
            results = await asyncio.gather(
                first.add_version(make_version(version=n, description="first")),
                second.add_version(make_version(version=n, description="second")),
                return_exceptions=True,
            )
            assert results.count(None) == 1
            assert sum(isinstance(r, VersionConflict) for r in results) == 1
        assert [v.version for v in await second.versions("appt-1")] == list(range(1, 7))


async def test_replicas_leasing_journal_work_never_share_an_entry(pg_schema: PgSchema) -> None:
    """Replicas leasing at once each get distinct entries (SKIP LOCKED), one per appointment."""
    async with replicas(pg_schema, 3, pointer_journal=True) as stores:
        for n in range(6):
            await stores[0].add_version(make_version(f"a{n}", 1, supplier_ref=f"R{n}"))
            await stores[0].add_version(make_version(f"a{n}", 2, supplier_ref=f"R{n}"))
        now = T0 + timedelta(days=1)
        leased = await asyncio.gather(
            *(stores[n % 3].lease_pointer_work(f"w{n}", now, 30) for n in range(12))
        )
    work = [w for w in leased if w is not None]
    assert sorted(w.appointment_id for w in work) == [f"a{n}" for n in range(6)]
    assert {w.version for w in work} == {1}, "version 2 waits for version 1's delivery"


async def test_replicas_purging_at_once_both_succeed_and_delete_each_row_once(
    pg_schema: PgSchema, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two replicas purging one schema together, in small batches: both succeed, their
    counts add up to the rows eligible, and only those rows are gone."""
    monkeypatch.setattr(_retention, "BATCH", 7)
    now = T0 + timedelta(days=90)
    async with replicas(pg_schema) as (first, second):
        old = [
            AuditEntry(
                at=T0 + timedelta(seconds=n),
                interaction="read",
                method="GET",
                path=f"/old/{n}",
                status=200,
            )
            for n in range(300)
        ]
        await first.record_audits(old)
        await first.record_audit(
            AuditEntry(at=now, interaction="read", method="GET", path="/recent", status=200)
        )
        for n in range(60):
            await second.record_slot_homes([SlotHomeRow(f"slot:{n}", "r", None)], T0)
        await second.record_slot_homes([SlotHomeRow("slot:fresh", "r", None)], now)
        cutoffs = PurgeCutoffs(audit=now - timedelta(days=30), slot_homes=now - timedelta(days=7))
        assert await first.purge(cutoffs, dry_run=True) == PurgeCounts(audit=300, slot_homes=60)
        results = await asyncio.gather(*(s.purge(cutoffs) for s in (first, second, first)))
        assert sum(r.audit for r in results) == 300
        assert sum(r.slot_homes for r in results) == 60
        assert await second.purge(cutoffs, dry_run=True) == PurgeCounts()
        assert [e.path for e in await second.audit_entries()] == ["/recent"]
        assert await first.slot_home("slot:fresh") is not None


async def test_replicas_opening_a_fresh_schema_together_migrate_it_once(
    pg_schema: PgSchema,
) -> None:
    """Stores opening concurrently on an empty schema all open; each migration is applied once."""
    stores = [PostgresStore(pg_schema.dsn, schema=pg_schema.schema) for _ in range(4)]
    try:
        await asyncio.gather(*(s.open() for s in stores))
        assert [await s.schema_version() for s in stores] == [SCHEMA_VERSION] * 4
    finally:
        for opened in stores:
            await opened.close()
    rows = await _fetch(pg_schema, "SELECT version FROM schema_migrations ORDER BY version")
    assert [row["version"] for row in rows] == list(range(1, SCHEMA_VERSION + 1))


async def test_a_missing_schema_is_created_at_open() -> None:
    """A store whose schema does not exist yet creates it and migrates it at open."""
    async with fresh_schema(create=False) as pg:
        store = PostgresStore(pg.dsn, schema=pg.schema)
        await asyncio.gather(store.open(), store.open())  # open() is idempotent too
        try:
            assert await store.schema_version() == SCHEMA_VERSION
            await store.add_version(make_version())
        finally:
            await store.close()
            await store.close()  # close() is idempotent


async def test_history_survives_close_and_reopen(pg_schema: PgSchema) -> None:
    """Versions and the ledger written by one store are read back by a later one."""
    first = PostgresStore(pg_schema.dsn, schema=pg_schema.schema)
    await first.open()
    v1, v2 = make_version(version=1), make_version(version=2)
    await first.add_version(v1)
    await first.add_version(v2)
    await first.claim_request("asid", "r1", "h1", T0, 60)
    await first.complete_request("asid", "r1", "appt-1", 2)
    await first.close()

    async with replicas(pg_schema, 1) as (second,):
        assert await second.versions("appt-1") == [v1, v2]
        assert await second.find_by_nhs_number(NHS_A, T0) == [v2]
        claim = await second.claim_request("asid", "r1", "h1", T0, 60)
        assert (claim.state, claim.appointment_id, claim.version) == (ClaimState.DONE, "appt-1", 2)


async def test_newer_schema_is_refused(pg_schema: PgSchema) -> None:
    """A schema migrated by a newer gateway (a higher recorded version) is not opened."""
    async with replicas(pg_schema, 1):
        pass
    await _fetch(pg_schema, "INSERT INTO schema_migrations (version) VALUES (99)")
    with pytest.raises(SchemaTooNew, match="newer"):
        await PostgresStore(pg_schema.dsn, schema=pg_schema.schema).open()


async def test_an_unreachable_server_fails_fast_and_clearly() -> None:
    """Nothing listening (port 1): open() raises StoreUnavailable naming where, within seconds."""
    store = PostgresStore("postgresql://gateway@127.0.0.1:1/gateway", password="s3cret-pw")
    with pytest.raises(StoreUnavailable, match=r"127\.0\.0\.1:1/gateway") as raised:
        await asyncio.wait_for(store.open(), timeout=10)
    assert "s3cret-pw" not in str(raised.value)
    with pytest.raises(RuntimeError, match="not open"):
        await store.get("appt-1")


async def test_use_before_open_fails_clearly() -> None:
    """Calling a store that was never opened raises RuntimeError, not an attribute error."""
    with pytest.raises(RuntimeError, match="not open"):
        await PostgresStore("postgresql://gateway@127.0.0.1/gateway").get("appt-1")


async def test_a_naive_instant_is_refused(store: PostgresStore) -> None:
    """A datetime without an offset is refused (its zone is unknown), leaving the store usable."""
    with pytest.raises(ValueError, match="offset"):
        await store.claim_request("asid", "r1", "h", T0.replace(tzinfo=None), 60)
    with pytest.raises(ValueError, match="offset"):
        await store.find_upcoming(T0.replace(tzinfo=None))
    assert (await store.claim_request("asid", "r1", "h", T0, 60)).state is ClaimState.NEW


@pytest.mark.parametrize("waits_before_cancel", range(6))
async def test_cancelled_write_leaves_store_consistent(
    store: PostgresStore, waits_before_cancel: int
) -> None:
    """A writer cancelled at any point either wrote its version or nothing; the store goes on."""
    task = asyncio.create_task(store.add_version(make_version()))
    for _ in range(waits_before_cancel):
        await asyncio.sleep(0.0005)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)

    current = await store.get("appt-1")
    next_version = 1 if current is None else current.version + 1
    await store.add_version(make_version(version=next_version))
    assert [v.version for v in await store.versions("appt-1")] == list(range(1, next_version + 1))


async def _fetch(pg: PgSchema, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(pg.dsn, server_settings={"search_path": pg.schema})
    try:
        rows: list[asyncpg.Record] = await conn.fetch(sql)
    finally:
        await conn.close()
    return rows


async def test_a_connection_cut_mid_call_is_store_unavailable_and_the_next_call_works(
    store: PostgresStore, pg_schema: PgSchema
) -> None:
    """A connection the server ends mid-call raises StoreUnavailable; the next call reconnects."""
    await store.claim_request("asid", "r1", "h", T0, 60, "gw-a")
    admin = await asyncpg.connect(pg_schema.dsn, server_settings={"search_path": pg_schema.schema})
    try:
        async with admin.transaction():
            # Hold the claim's row so the store's claim waits on it, then end the waiter.
            await admin.execute("SELECT 1 FROM idempotency_ledger FOR UPDATE")
            waiting = asyncio.create_task(store.claim_request("asid", "r1", "h", T0, 60, "gw-b"))
            blocked = None
            for _ in range(200):
                blocked = await admin.fetchval(
                    "SELECT pid FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))",
                    admin.get_server_pid(),
                )
                if blocked is not None:
                    break
                await asyncio.sleep(0.01)
            assert blocked is not None, "the store's claim never waited on the row"
            await admin.execute("SELECT pg_terminate_backend($1)", blocked)
            with pytest.raises(StoreUnavailable, match="lost the connection"):
                await waiting
    finally:
        await admin.close()
    again = await store.claim_request("asid", "r1", "h", T0, 60, "gw-b")
    assert (again.state, again.owner) == (ClaimState.PENDING, "gw-a")


async def test_a_lock_held_elsewhere_costs_the_statement_timeout_then_store_unavailable(
    pg_schema: PgSchema,
) -> None:
    """A claim waiting on a row another session holds is cancelled after statement_timeout."""
    store = PostgresStore(pg_schema.dsn, schema=pg_schema.schema, statement_timeout_s=0.3)
    await store.open()
    try:
        await store.claim_request("asid", "r1", "h", T0, 60, "gw-a")
        admin = await asyncpg.connect(
            pg_schema.dsn, server_settings={"search_path": pg_schema.schema}
        )
        try:
            async with admin.transaction():
                await admin.execute("SELECT 1 FROM idempotency_ledger FOR UPDATE")
                began = asyncio.get_running_loop().time()
                with pytest.raises(StoreUnavailable, match="statement_timeout"):
                    await store.claim_request("asid", "r1", "h", T0 + timedelta(hours=1), 1, "b")
                assert asyncio.get_running_loop().time() - began < 3
        finally:
            await admin.close()
        again = await store.claim_request("asid", "r1", "h", T0, 60, "gw-b")
        assert (again.state, again.owner) == (ClaimState.PENDING, "gw-a")
    finally:
        await store.close()


async def test_a_refused_write_never_quotes_the_row(store: PostgresStore) -> None:
    """A write the database refuses raises without the server's detail (it quotes the
    patient's row)."""
    bad = dataclasses.replace(make_referral(), route=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="refused by the database") as raised:
        await store.add_referral_version(bad)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    assert NHS_A not in str(raised.value) and "nosebleed" not in str(raised.value)
    assert await store.get_referral("ref-1") is None
