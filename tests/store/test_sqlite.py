"""SqliteStore: the shared Store contract, plus what only a file-backed SQLite store shows."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from gateway.store._sql import INSERT_VERSION, MIGRATIONS, SCHEMA_VERSION, version_params
from gateway.store.base import AuditEntry, ClaimState, Store, VersionConflict
from gateway.store.sqlite import SqliteStore
from tests.store.contract import NHS_A, T0, StoreContract, make_version
from tests.store.message_contract import MessageJournalContract
from tests.store.pointer_contract import PointerJournalContract
from tests.store.referral_contract import make_referral
from tests.store.retention_contract import RetentionContract
from tests.store.trace_contract import TraceContract
from tests.store.work_contract import WorkContract


@pytest.fixture(params=["file", "memory"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqliteStore]:
    path = tmp_path / "gateway.db" if request.param == "file" else ":memory:"
    opened = SqliteStore(path)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture(params=["file", "memory"])
async def journaled_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[SqliteStore]:
    path = tmp_path / "journaled.db" if request.param == "file" else ":memory:"
    opened = SqliteStore(path, pointer_journal=True)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


async def _in_transaction(store: SqliteStore) -> bool:
    """Whether the store's connection is inside a transaction between calls."""
    assert store._db is not None
    return await store._db.run(lambda conn: conn.in_transaction)


class TestSqliteStoreContract(
    StoreContract,
    PointerJournalContract,
    WorkContract,
    RetentionContract,
    TraceContract,
    MessageJournalContract,
):
    """The shared contract (appointments, referrals, registry journal, HL7 outbox, ITK
    receipts, retention) on a file and on ``:memory:``."""


def test_sqlite_store_satisfies_the_protocol() -> None:
    """SqliteStore is usable wherever a Store is expected (checked by mypy, too)."""
    store: Store = SqliteStore(":memory:")
    assert isinstance(store, SqliteStore)


async def test_history_survives_close_and_reopen(tmp_path: Path) -> None:
    """Versions, ledger and audit written before close() are read back after reopening."""
    path = tmp_path / "nested" / "dir" / "gateway.db"  # parents are created
    first = SqliteStore(path)
    await first.open()
    v1, v2 = make_version(version=1), make_version(version=2)
    await first.add_version(v1)
    await first.add_version(v2)
    await first.claim_request("asid", "r1", "h1", T0, 60)
    await first.complete_request("asid", "r1", "appt-1", 2)
    await first.close()
    await first.close()  # close() is idempotent

    second = SqliteStore(str(path))
    await second.open()
    try:
        assert await second.versions("appt-1") == [v1, v2]
        assert await second.find_by_nhs_number(NHS_A, T0) == [v2]
        claim = await second.claim_request("asid", "r1", "h1", T0, 60)
        assert (claim.state, claim.appointment_id, claim.version) == (ClaimState.DONE, "appt-1", 2)
        with pytest.raises(VersionConflict):
            await second.add_version(make_version(version=2))
    finally:
        await second.close()


async def test_open_is_idempotent_and_records_schema_version(tmp_path: Path) -> None:
    """Opening twice, and reopening a file, keeps one schema_version row and WAL mode."""
    path = tmp_path / "gateway.db"
    for _ in range(2):
        store = SqliteStore(path)
        await store.open()
        await store.open()
        await store.close()

    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    raw.close()


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    """A database written by a newer gateway (higher schema version) is not opened."""
    path = tmp_path / "gateway.db"
    store = SqliteStore(path)
    await store.open()
    await store.close()
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE schema_version SET version = 99")
    raw.close()

    with pytest.raises(RuntimeError, match="newer"):
        await SqliteStore(path).open()


async def test_use_before_open_fails_clearly() -> None:
    """Calling a closed store raises RuntimeError rather than an obscure attribute error."""
    with pytest.raises(RuntimeError, match="not open"):
        await SqliteStore(":memory:").get("appt-1")


async def test_failed_write_leaves_no_transaction_open(store: SqliteStore) -> None:
    """Errors inside and before a transaction leave the connection out of any transaction."""
    await store.add_version(make_version())
    with pytest.raises(VersionConflict):
        await store.add_version(make_version())
    with pytest.raises(ValueError, match="offset"):
        await store.claim_request("asid", "r1", "h", T0.replace(tzinfo=None), 60)

    assert not await _in_transaction(store)
    await store.add_version(make_version(version=2))


@pytest.mark.parametrize("waits_before_cancel", range(8))
async def test_cancelled_write_leaves_store_consistent(
    store: SqliteStore, waits_before_cancel: int
) -> None:
    """A writer cancelled at any point either wrote its version or nothing; no txn is left open."""
    # Short real waits let the connection thread start (or finish) the transaction before
    # the cancel lands; the outcome varies by machine, the invariant must not.
    task = asyncio.create_task(store.add_version(make_version()))
    for _ in range(waits_before_cancel):
        await asyncio.sleep(0.0001)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)

    current = await store.get("appt-1")
    assert not await _in_transaction(store)
    next_version = 1 if current is None else current.version + 1
    await store.add_version(make_version(version=next_version))


@pytest.mark.parametrize("waits_before_cancel", range(8))
async def test_a_cancelled_booking_commit_is_all_or_nothing(
    store: SqliteStore, waits_before_cancel: int
) -> None:
    """A cancelled add_version_and_complete leaves version, completion and document link all
    stored or none, and no transaction open."""
    await store.claim_request("asid", "r1", "h1", T0, 60, "gw")
    task = asyncio.create_task(
        store.add_version_and_complete(make_version(), "asid", "r1", document_id="doc-1")
    )
    for _ in range(waits_before_cancel):
        await asyncio.sleep(0.0001)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)

    claim = await store.find_claim("asid", "r1")
    stored = (
        await store.get("appt-1") is not None,
        claim is not None and claim.state is ClaimState.DONE,
        await store.document_appointment("doc-1") == "appt-1",
    )
    assert stored in ((True, True, True), (False, False, False))
    assert not await _in_transaction(store)


async def test_two_connections_to_one_file_still_allow_one_winner(tmp_path: Path) -> None:
    """Writers on two separate connections to one file: exactly one makes version 2."""
    path = tmp_path / "gateway.db"
    stores = [SqliteStore(path), SqliteStore(path)]
    for s in stores:
        await s.open()
    try:
        await stores[0].add_version(make_version(version=1))
        results = await asyncio.gather(
            *(stores[n % 2].add_version(make_version(version=2)) for n in range(20)),
            return_exceptions=True,
        )
        assert results.count(None) == 1
        assert all(isinstance(r, VersionConflict) for r in results if r is not None)
    finally:
        for s in stores:
            await s.close()


async def test_version_1_database_is_migrated_keeping_its_audit(tmp_path: Path) -> None:
    """A database from schema 1 opens at the current schema with its audit rows intact."""
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as raw:
        for statement in MIGRATIONS[0]:
            raw.execute(statement)
        raw.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        raw.execute("INSERT INTO schema_version VALUES (1)")
        raw.execute(
            "INSERT INTO audit (at, interaction, method, path, status)"
            " VALUES ('2026-01-01T00:00:00.000000+00:00', 'book', 'POST', '/x', 201)"
        )
    raw.close()
    store = SqliteStore(path)
    await store.open()
    entries = await store.audit_entries(5)
    assert [(e.interaction, e.front_door, e.service_id) for e in entries] == [
        ("book", "fhir", None)
    ]
    await store.record_audit(
        AuditEntry(
            at=T0,
            interaction="slot_search",
            method="GET",
            path="/s",
            status=200,
            service_id="918999198999",
            slot_count=12,
            front_door="hl7v2",
        )
    )
    found = await store.audit_between(T0, T0.replace(day=T0.day + 1))
    assert [(e.service_id, e.slot_count, e.front_door) for e in found] == [
        ("918999198999", 12, "hl7v2")
    ]
    await store.close()


async def test_version_2_database_gains_the_authors_name_and_role(tmp_path: Path) -> None:
    """A schema 2 database keeps its audit rows and then stores the author's name and role."""
    path = tmp_path / "v2.db"
    with sqlite3.connect(path) as raw:
        for statement in (*MIGRATIONS[0], *MIGRATIONS[1]):
            raw.execute(statement)
        raw.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        raw.execute("INSERT INTO schema_version VALUES (2)")
        raw.execute(
            "INSERT INTO audit (at, interaction, method, path, status, practitioner_id)"
            " VALUES ('2026-01-01T00:00:00.000000+00:00', 'book', 'POST', '/x', 201, 'u1')"
        )
    raw.close()
    store = SqliteStore(path)
    await store.open()
    (old,) = await store.audit_entries(5)
    assert (old.practitioner_id, old.practitioner_name, old.practitioner_role) == (
        "u1",
        None,
        None,
    )
    entry = AuditEntry(
        at=T0,
        interaction="cancel",
        method="PUT",
        path="/a",
        status=200,
        practitioner_id="u2",
        practitioner_name="Dr Claire Jones",
        practitioner_role="444555666777",
    )
    await store.record_audit(entry)
    assert await store.audit_between(T0, T0 + timedelta(seconds=1)) == [entry]
    await store.close()


async def test_debug_logging_never_shows_patient_data(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """With every logger at DEBUG, writing and searching versions logs no NHS number."""
    import logging

    store = SqliteStore(tmp_path / "g.db")
    await store.open()
    with caplog.at_level(logging.DEBUG):
        await store.add_version(make_version())
        await store.find_by_nhs_number(NHS_A, T0)
    await store.close()
    assert NHS_A not in caplog.text


async def test_a_claim_from_before_leases_lapses_one_lease_after_it_was_made(
    tmp_path: Path,
) -> None:
    """Row 14: a pending claim written by schema 2 (no owner, no lease) migrates and can lapse."""
    path = tmp_path / "gateway.db"
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for statements in MIGRATIONS[:2]:
            for statement in statements:
                raw.execute(statement)
        raw.execute("INSERT INTO schema_version VALUES (2)")
        raw.execute(
            "INSERT INTO idempotency_ledger (scope, request_id, body_hash, state, claimed_at)"
            " VALUES ('asid', 'r1', 'h1', 'pending', ?)",
            (T0.isoformat(timespec="microseconds"),),
        )
    raw.close()
    store = SqliteStore(path)
    await store.open()
    try:
        held = await store.claim_request("asid", "r1", "h1", T0 + timedelta(seconds=4), 5, "gw")
        taken = await store.claim_request("asid", "r1", "h1", T0 + timedelta(seconds=6), 5, "gw")
    finally:
        await store.close()
    assert (held.state, held.lease_until) == (ClaimState.PENDING, T0 + timedelta(seconds=5))
    assert (taken.state, taken.owner) == (ClaimState.TAKEN_OVER, None)


async def test_version_4_database_gains_referrals_keeping_its_appointments(
    tmp_path: Path,
) -> None:
    """A schema 4 database opens at the current schema, appointments intact, and takes
    referrals."""
    path = tmp_path / "v4.db"
    appointment = make_version()
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for statements in MIGRATIONS[:4]:
            for statement in statements:
                raw.execute(statement)
        raw.execute("INSERT INTO schema_version VALUES (4)")
        raw.execute(INSERT_VERSION, tuple(version_params(appointment)))
    raw.close()
    store = SqliteStore(path)
    await store.open()
    try:
        assert await store.get("appt-1") == appointment
        await store.add_referral_version(make_referral(appointment_id="appt-1"))
        await store.link_document("doc-1", "appt-1", T0)
        assert await store.document_appointment("doc-1") == "appt-1"
        linked = await store.find_referrals_by_appointment("appt-1")
        assert [v.referral_id for v in linked] == ["ref-1"]
    finally:
        await store.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    raw.close()


async def test_debug_logging_never_shows_a_referrals_patient(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """With every logger at DEBUG, writing and listing referrals logs no NHS number or summary."""
    import logging

    store = SqliteStore(tmp_path / "g.db")
    await store.open()
    with caplog.at_level(logging.DEBUG):
        await store.add_referral_version(make_referral())
        await store.find_referrals_by_nhs_number(NHS_A)
    await store.close()
    assert NHS_A not in caplog.text and "nosebleed" not in caplog.text


async def test_version_5_database_gains_the_registry_journal(tmp_path: Path) -> None:
    """A schema 5 database opens with its appointments intact; with the journal on, only
    versions added from then on are registry work (history is not replayed)."""
    path = tmp_path / "v5.db"
    old = make_version("old", 1)
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for statements in MIGRATIONS[:5]:
            for statement in statements:
                raw.execute(statement)
        raw.execute("INSERT INTO schema_version VALUES (5)")
        raw.execute(INSERT_VERSION, tuple(version_params(old)))
    raw.close()
    store = SqliteStore(path, pointer_journal=True)
    await store.open()
    try:
        assert await store.get("old") == old
        await store.add_version(make_version("new", 1, supplier_ref="REF-9"))
        later = T0 + timedelta(days=1)
        work = await store.lease_pointer_work("w", later, 30)
        assert work is not None and work.appointment_id == "new"
        assert await store.lease_pointer_work("w", later, 30) is None
    finally:
        await store.close()


async def test_stores_opening_one_new_file_at_once_all_open(tmp_path: Path) -> None:
    """Six stores opening one new file together (serve --workers) all open, migrated once."""
    for round_no in range(10):
        path = tmp_path / f"gateway-{round_no}.db"
        stores = [SqliteStore(path) for _ in range(6)]
        await asyncio.gather(*(store.open() for store in stores))
        assert {await store.schema_version() for store in stores} == {SCHEMA_VERSION}
        for store in stores:
            await store.close()
        with sqlite3.connect(path) as raw:
            rows = raw.execute("SELECT version FROM schema_version").fetchall()
            assert rows == [(SCHEMA_VERSION,)]
        raw.close()
