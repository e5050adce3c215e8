"""The embedded store: versions, idempotency ledger and audit in one SQLite file.

One aiosqlite connection serves the whole process. Every call, read or write,
holds ``self._lock`` for its duration: a shared connection has one transaction
at a time, so a read interleaved with another task's open transaction would see
uncommitted rows. Multi-statement operations run in ``BEGIN IMMEDIATE``, which
takes the write lock up front, so another *process* on the same file waits
(``busy_timeout``) instead of failing half-way. Errors are not translated (the
store is gateway-internal) but never leave a transaction open.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import aiosqlite

from adapters._sqlite_wal import use_wal
from gateway.store import _itk, _outbox, _pointers, _retention, _sql
from gateway.store.base import (
    AppointmentVersion,
    AuditEntry,
    ClaimState,
    Hl7Origin,
    InDoubt,
    ItkReceipt,
    LedgerClaim,
    NoticeOutcome,
    NoticeState,
    NoticeWork,
    PointerBacklog,
    PointerWork,
    PurgeCounts,
    PurgeCutoffs,
    ReferralVersion,
    RegistryPointer,
    SlotHomeRow,
    UnbookedReferral,
    VersionConflict,
)

__all__ = ["SqliteStore"]

_BUSY_TIMEOUT_MS = 5000
_DOCUMENT_APPOINTMENT = "SELECT appointment_id FROM referral_documents WHERE document_id = ?"
_MEMORY = ":memory:"


class SqliteStore:
    """``Store`` on SQLite; ``path`` is a file (parents created) or ``":memory:"``.

    With ``pointer_journal`` every version added also adds its registry journal entry,
    in the same transaction (the registry pointers follow versions; gateway/registry/).
    """

    def __init__(self, path: Path | str, *, pointer_journal: bool = False) -> None:
        self._path: Path | str = path if path == _MEMORY else Path(path)
        #: A file may be shared by several gateway processes (gateway/_mutex.py).
        self.shared = path != _MEMORY
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._pointer_journal = pointer_journal

    async def open(self) -> None:
        """Connect, set pragmas and bring the schema up to date (idempotent)."""
        async with self._lock:
            if self._db is not None:
                return
            if isinstance(self._path, Path):
                self._path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: sqlite3 must not open transactions behind our back.
            db = await aiosqlite.connect(self._path, isolation_level=None)
            try:
                db.row_factory = sqlite3.Row
                await db.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
                await use_wal(db)  # retried: other processes may be opening the file too
                await db.execute("PRAGMA foreign_keys = ON")
                await _migrate(db)
            except BaseException:
                await db.close()
                raise
            self._db = db

    async def close(self) -> None:
        async with self._lock:
            db, self._db = self._db, None
            if db is not None:
                await db.close()

    async def schema_version(self) -> int:
        """The schema version recorded in the database."""
        async with self._lock:
            rows = list(
                await self._require().execute_fetchall("SELECT MAX(version) FROM schema_version")
            )
        found: int = rows[0][0] or 0
        return found

    # -- versions ------------------------------------------------------------

    async def add_version(
        self, version: AppointmentVersion, *, supplier_side: bool = False
    ) -> None:
        params = _sql.version_params(version)  # validate before taking the lock
        async with self._transaction() as db:
            rows = await db.execute_fetchall(
                "SELECT MAX(version) FROM appointment_versions WHERE appointment_id = ?",
                (version.appointment_id,),
            )
            current: int = next(iter(rows))[0] or 0
            if version.version != current + 1:
                raise VersionConflict(
                    f"appointment {version.appointment_id!r} is at version {current},"
                    f" not {version.version - 1}"
                )
            await db.execute(_sql.INSERT_VERSION, params)
            if self._pointer_journal:
                await db.execute(_pointers.INSERT_ENTRY, _pointers.entry_params(version))
            if supplier_side:
                await db.execute(_outbox.INSERT_ENTRY, _outbox.entry_params(version))

    async def get(
        self, appointment_id: str, version: int | None = None
    ) -> AppointmentVersion | None:
        if version is None:
            sql = "WHERE v.appointment_id = ? ORDER BY v.version DESC LIMIT 1"
            found = await self._select_versions(sql, (appointment_id,))
        else:
            sql = "WHERE v.appointment_id = ? AND v.version = ?"
            found = await self._select_versions(sql, (appointment_id, version))
        return found[0] if found else None

    async def versions(self, appointment_id: str) -> list[AppointmentVersion]:
        return await self._select_versions(
            "WHERE v.appointment_id = ? ORDER BY v.version", (appointment_id,)
        )

    async def find_by_nhs_number(
        self, nhs_number: str, not_before: datetime
    ) -> list[AppointmentVersion]:
        # The NHS number is tested on the current version only: an appointment whose
        # latest version names another patient is no longer this patient's.
        return await self._select_versions(
            f"WHERE v.nhs_number = ? AND v.end_at >= ? AND {_sql.IS_CURRENT}"
            " ORDER BY v.start_at, v.appointment_id",
            _sql.Redacted((nhs_number, _sql.to_text(not_before))),
        )

    async def find_upcoming(self, not_before: datetime) -> list[AppointmentVersion]:
        return await self._select_versions(
            f"WHERE v.end_at >= ? AND {_sql.IS_CURRENT} ORDER BY v.start_at, v.appointment_id",
            (_sql.to_text(not_before),),
        )

    async def find_by_supplier_ref(
        self, route: str, supplier_ref: str
    ) -> AppointmentVersion | None:
        """The current version of the appointment whose current version has this ref.

        Should a ref ever be reused on one route, the most recently modified wins.
        """
        found = await self._select_versions(
            f"WHERE v.route = ? AND v.supplier_ref = ? AND {_sql.IS_CURRENT}"
            " ORDER BY v.last_modified DESC LIMIT 1",
            (route, supplier_ref),
        )
        return found[0] if found else None

    # -- referrals -------------------------------------------------------------

    async def add_referral_version(self, version: ReferralVersion) -> None:
        params = _sql.referral_params(version)
        async with self._transaction() as db:
            rows = await db.execute_fetchall(
                "SELECT MAX(version) FROM referral_versions WHERE referral_id = ?",
                (version.referral_id,),
            )
            current: int = next(iter(rows))[0] or 0
            if version.version != current + 1:
                raise VersionConflict(
                    f"referral {version.referral_id!r} is at version {current},"
                    f" not {version.version - 1}"
                )
            await db.execute(_sql.INSERT_REFERRAL, params)

    async def get_referral(
        self, referral_id: str, version: int | None = None
    ) -> ReferralVersion | None:
        if version is None:
            sql = "WHERE r.referral_id = ? ORDER BY r.version DESC LIMIT 1"
            found = await self._select_referrals(sql, (referral_id,))
        else:
            sql = "WHERE r.referral_id = ? AND r.version = ?"
            found = await self._select_referrals(sql, (referral_id, version))
        return found[0] if found else None

    async def referral_versions(self, referral_id: str) -> list[ReferralVersion]:
        return await self._select_referrals(
            "WHERE r.referral_id = ? ORDER BY r.version", (referral_id,)
        )

    async def find_referrals_by_nhs_number(self, nhs_number: str) -> list[ReferralVersion]:
        return await self._select_referrals(
            f"WHERE r.nhs_number = ? AND {_sql.REFERRAL_IS_CURRENT}"
            " ORDER BY r.authored_at, r.referral_id",
            _sql.Redacted((nhs_number,)),
        )

    async def find_referrals_by_appointment(self, appointment_id: str) -> list[ReferralVersion]:
        return await self._select_referrals(
            f"WHERE r.appointment_id = ? AND {_sql.REFERRAL_IS_CURRENT}"
            " ORDER BY r.authored_at, r.referral_id",
            (appointment_id,),
        )

    async def find_referral_by_document(self, document_id: str) -> ReferralVersion | None:
        found = await self._select_referrals(
            f"WHERE r.document_id = ? AND {_sql.REFERRAL_IS_CURRENT}"
            " ORDER BY r.last_modified DESC LIMIT 1",
            (document_id,),
        )
        return found[0] if found else None

    async def link_document(self, document_id: str, appointment_id: str, at: datetime) -> None:
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO referral_documents (document_id, appointment_id, linked_at)"
                " VALUES (?, ?, ?) ON CONFLICT (document_id) DO UPDATE SET"
                " appointment_id = excluded.appointment_id, linked_at = excluded.linked_at",
                (document_id, appointment_id, _sql.to_text(at)),
            )

    async def document_appointment(self, document_id: str) -> str | None:
        async with self._lock:
            rows = list(
                await self._require().execute_fetchall(_DOCUMENT_APPOINTMENT, (document_id,))
            )
        return rows[0][0] if rows else None

    async def unbooked_referrals(self, received_before: datetime) -> list[UnbookedReferral]:
        async with self._lock:
            rows = await self._require().execute_fetchall(
                _sql.SELECT_UNBOOKED, (_sql.to_text(received_before),)
            )
        return [
            UnbookedReferral(
                row["referral_id"],
                row["service_id"],
                row["document_id"],
                _sql.from_text(row["received_at"]),
            )
            for row in rows
        ]

    async def flag_unbooked(self, referral_id: str, at: datetime) -> bool:
        async with self._transaction() as db:
            cursor = await db.execute(
                "INSERT INTO unbooked_flags (referral_id, flagged_at) VALUES (?, ?)"
                " ON CONFLICT (referral_id) DO NOTHING",
                (referral_id, _sql.to_text(at)),
            )
            return cursor.rowcount == 1

    # -- idempotency ledger --------------------------------------------------

    async def claim_request(
        self,
        scope: str,
        request_id: str,
        body_hash: str,
        now: datetime,
        lease_s: float,
        owner: str = "",
        *,
        route: str | None = None,
        service_id: str | None = None,
        work: str | None = None,
    ) -> LedgerClaim:
        key = (scope, request_id)
        lease = _sql.to_text(now + timedelta(seconds=lease_s))
        held = _sql.Redacted((_sql.to_text(now), body_hash, owner, lease, route, service_id, work))
        async with self._transaction() as db:
            row = await _ledger_row(db, key)
            if row is None:
                await db.execute(
                    "INSERT INTO idempotency_ledger (claimed_at, body_hash, owner, lease_until,"
                    " route, service_id, work, scope, request_id, state)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')",
                    _sql.Redacted((*held, *key)),
                )
                return LedgerClaim(ClaimState.NEW, body_hash)
            found = _claim_from_row(row, lease_s)
            if found.state is ClaimState.DONE or (found.lease_until or now) >= now:
                return found
            # The holder stopped renewing its lease, so it has died: the key is the caller's.
            await db.execute(
                "UPDATE idempotency_ledger SET claimed_at = ?, body_hash = ?, owner = ?,"
                " lease_until = ?, route = COALESCE(?, route), service_id = COALESCE(?,"
                " service_id), work = COALESCE(?, work) WHERE scope = ? AND request_id = ?",
                _sql.Redacted((*held, *key)),
            )
            return LedgerClaim(ClaimState.TAKEN_OVER, body_hash, owner=found.owner)

    async def in_doubt_claims(self) -> list[InDoubt]:
        async with self._lock:
            rows = await self._require().execute_fetchall(
                "SELECT scope, request_id, owner, lease_until, claimed_at, work"
                " FROM idempotency_ledger WHERE state = 'pending' AND work IS NOT NULL"
                " ORDER BY claimed_at"
            )
        return [
            InDoubt(
                row["scope"], row["request_id"], row["owner"], _lease_end(row, 0.0), row["work"]
            )
            for row in rows
        ]

    async def find_claim(self, scope: str, request_id: str) -> LedgerClaim | None:
        async with self._lock:
            row = await _ledger_row(self._require(), (scope, request_id))
        return None if row is None else _claim_from_row(row, 0.0)

    async def renew_claim(
        self, scope: str, request_id: str, owner: str, lease_until: datetime
    ) -> bool:
        async with self._transaction() as db:
            cursor = await db.execute(
                "UPDATE idempotency_ledger SET lease_until = ? WHERE scope = ?"
                " AND request_id = ? AND owner = ? AND state = 'pending'",
                (_sql.to_text(lease_until), scope, request_id, owner),
            )
            return cursor.rowcount == 1

    async def complete_request(
        self, scope: str, request_id: str, appointment_id: str, version: int
    ) -> None:
        """Mark the claim done; a claim already released is left absent, a done one as is."""
        async with self._transaction() as db:
            await db.execute(
                "UPDATE idempotency_ledger SET state = 'done', appointment_id = ?, version = ?,"
                " work = NULL WHERE scope = ? AND request_id = ? AND state = 'pending'",
                (appointment_id, version, scope, request_id),
            )

    async def release_request(self, scope: str, request_id: str, owner: str | None = None) -> None:
        sql = "DELETE FROM idempotency_ledger WHERE scope = ? AND request_id = ?"
        params: tuple[str, ...] = (scope, request_id)
        if owner is not None:
            sql += " AND owner = ? AND state = 'pending'"
            params = (*params, owner)
        async with self._transaction() as db:
            await db.execute(sql, params)

    # -- registry journal ----------------------------------------------------

    async def lease_pointer_work(
        self, owner: str, now: datetime, lease_s: float
    ) -> PointerWork | None:
        async with self._transaction() as db:
            return await _pointers.lease(db, owner, now, lease_s)

    async def finish_pointer_work(
        self, work: PointerWork, now: datetime, pointer: RegistryPointer | None
    ) -> None:
        async with self._transaction() as db:
            await _pointers.finish(db, work, now, pointer)

    async def retry_pointer_work(self, work: PointerWork, due: datetime, error: str) -> None:
        async with self._transaction() as db:
            await _pointers.retry(db, work, due, error)

    async def refuse_pointer_work(self, work: PointerWork, now: datetime, error: str) -> None:
        async with self._transaction() as db:
            await _pointers.refuse(db, work, now, error)

    # -- HL7 origins and outbox ------------------------------------------------------

    async def record_hl7_origin(self, origin: Hl7Origin) -> None:
        async with self._transaction() as db:
            await _outbox.record_origin(db, origin)

    async def hl7_origin(self, appointment_id: str) -> Hl7Origin | None:
        async with self._lock:
            return await _outbox.origin(self._require(), appointment_id)

    async def lease_hl7_notice(
        self, owner: str, now: datetime, lease_s: float
    ) -> NoticeWork | None:
        async with self._transaction() as db:
            return await _outbox.lease(db, owner, now, lease_s)

    async def finish_hl7_notice(
        self, work: NoticeWork, now: datetime, outcome: NoticeOutcome, error: str = ""
    ) -> None:
        async with self._transaction() as db:
            await _outbox.finish(db, work, now, outcome, error)

    async def retry_hl7_notice(self, work: NoticeWork, due: datetime, error: str) -> None:
        async with self._transaction() as db:
            await _outbox.retry(db, work, due, error)

    async def hl7_notices(self, appointment_id: str) -> list[NoticeState]:
        async with self._lock:
            return await _outbox.entries(self._require(), appointment_id)

    # -- ITK receipts -------------------------------------------------------------

    async def claim_itk_receipt(
        self, tracking_id: str, envelope_hash: str, owner: str, now: datetime, lease_s: float
    ) -> ItkReceipt | None:
        async with self._transaction() as db:
            return await _itk.claim(db, tracking_id, envelope_hash, owner, now, lease_s)

    async def answer_itk_receipt(
        self,
        tracking_id: str,
        owner: str,
        answer: bytes,
        referral_ids: Sequence[str],
        now: datetime,
    ) -> None:
        async with self._transaction() as db:
            await _itk.answer(db, tracking_id, owner, answer, referral_ids, now)

    async def release_itk_receipt(self, tracking_id: str, owner: str) -> None:
        async with self._transaction() as db:
            await _itk.release(db, tracking_id, owner)

    async def registry_pointer(self, appointment_id: str) -> RegistryPointer | None:
        async with self._lock:
            return await _pointers.pointer(self._require(), appointment_id)

    async def pointer_backlog(self, stuck_after: int) -> PointerBacklog:
        async with self._lock:
            return await _pointers.backlog(self._require(), stuck_after)

    # -- audit ---------------------------------------------------------------

    async def record_slot_homes(self, homes: Sequence[SlotHomeRow], at: datetime) -> None:
        if not homes:
            return
        stamp = _sql.to_text(at)
        params = [(h.key, h.route, h.service_id, stamp) for h in homes]
        async with self._transaction() as db:
            await db.executemany(_sql.UPSERT_SLOT_HOME, params)

    async def slot_home(self, key: str) -> SlotHomeRow | None:
        async with self._lock:
            cursor = await self._require().execute(_sql.SELECT_SLOT_HOME, (key,))
            row = await cursor.fetchone()
        return SlotHomeRow(row[0], row[1], row[2]) if row else None

    async def record_audit(self, entry: AuditEntry) -> None:
        await self.record_audits([entry])

    async def record_audits(self, entries: Sequence[AuditEntry]) -> None:
        params = [_sql.audit_params(entry) for entry in entries]
        if not params:
            return
        async with self._transaction() as db:
            await db.executemany(_sql.INSERT_AUDIT, params)

    async def audit_entries(self, limit: int = 100) -> list[AuditEntry]:
        async with self._lock:
            rows = await self._require().execute_fetchall(
                f"SELECT {', '.join(_sql.AUDIT_FIELDS)} FROM audit"
                " ORDER BY at DESC, id DESC LIMIT ?",
                (limit,),
            )
        return [_sql.audit_from_row(row) for row in rows]

    async def audit_between(self, start: datetime, end: datetime) -> list[AuditEntry]:
        async with self._lock:
            rows = await self._require().execute_fetchall(
                f"SELECT {', '.join(_sql.AUDIT_FIELDS)} FROM audit"
                " WHERE at >= ? AND at < ? ORDER BY at, id",
                (_sql.to_text(start), _sql.to_text(end)),
            )
        return [_sql.audit_from_row(row) for row in rows]

    # -- retention -----------------------------------------------------------

    async def purge(self, cutoffs: PurgeCutoffs, *, dry_run: bool = False) -> PurgeCounts:
        found = {target.kind: 0 for target in _retention.TARGETS}
        for target in _retention.TARGETS:
            cutoff = _retention.cutoff(cutoffs, target)
            if cutoff is not None:
                found[target.kind] += await self._purge(target, _sql.to_text(cutoff), dry_run)
        return _retention.counts(found)

    async def _purge(self, target: _retention.Target, cutoff: str, dry_run: bool) -> int:
        """Delete ``target``'s rows before ``cutoff`` a batch per transaction, so other
        calls get the lock in between; or count them."""
        where = _retention.eligible(target, "?")
        if dry_run:
            async with self._lock:
                rows = list(
                    await self._require().execute_fetchall(
                        f"SELECT COUNT(*) FROM {target.table} WHERE {where}", (cutoff,)
                    )
                )
            counted: int = rows[0][0]
            return counted
        key = ", ".join(target.key)
        sql = (
            f"DELETE FROM {target.table} WHERE ({key}) IN"
            f" (SELECT {key} FROM {target.table} WHERE {where} LIMIT {_retention.BATCH})"
        )
        deleted = 0
        while True:
            async with self._transaction() as db:
                cursor = await db.execute(sql, (cutoff,))
                batch = cursor.rowcount
            deleted += batch
            if batch < _retention.BATCH:
                return deleted

    # -- plumbing ------------------------------------------------------------

    def _require(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("SqliteStore is not open")
        return self._db

    async def _select_versions(
        self, where: str, params: tuple[object, ...]
    ) -> list[AppointmentVersion]:
        """Run ``SELECT ... FROM appointment_versions v <where>``."""
        async with self._lock:
            rows = await self._require().execute_fetchall(f"{_sql.SELECT_VERSIONS} {where}", params)
        return [_sql.version_from_row(row) for row in rows]

    async def _select_referrals(
        self, where: str, params: tuple[object, ...]
    ) -> list[ReferralVersion]:
        """Run ``SELECT ... FROM referral_versions r <where>``."""
        async with self._lock:
            rows = await self._require().execute_fetchall(
                f"{_sql.SELECT_REFERRALS} {where}", params
            )
        return [_sql.referral_from_row(row) for row in rows]

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            db = self._require()
            try:
                await db.execute("BEGIN IMMEDIATE")
                yield db
                await db.execute("COMMIT")
            except BaseException:
                # Also on cancellation: aiosqlite runs calls in order on its thread,
                # so this ROLLBACK follows whatever BEGIN/COMMIT is still queued.
                await _rollback(db)
                raise


async def _ledger_row(db: aiosqlite.Connection, key: tuple[str, str]) -> sqlite3.Row | None:
    rows = list(
        await db.execute_fetchall(
            "SELECT body_hash, state, appointment_id, version, claimed_at, owner, lease_until,"
            " route, service_id FROM idempotency_ledger WHERE scope = ? AND request_id = ?",
            key,
        )
    )
    return rows[0] if rows else None


def _claim_from_row(row: sqlite3.Row, lease_s: float) -> LedgerClaim:
    """A ledger row as DONE or PENDING (with its lease's end; see ``_lease_end``)."""
    done = row["state"] == "done"
    return LedgerClaim(
        ClaimState.DONE if done else ClaimState.PENDING,
        row["body_hash"],
        row["appointment_id"],
        row["version"],
        owner=row["owner"],
        lease_until=None if done else _lease_end(row, lease_s),
        route=row["route"],
        service_id=row["service_id"],
    )


def _lease_end(row: sqlite3.Row, lease_s: float) -> datetime:
    """When a pending claim's lease ends; a claim from before leases gets ``lease_s``."""
    if row["lease_until"] is not None:
        return _sql.from_text(row["lease_until"])
    return _sql.from_text(row["claimed_at"]) + timedelta(seconds=lease_s)


async def _rollback(db: aiosqlite.Connection) -> None:
    # "no transaction is active" when BEGIN itself failed or COMMIT already ran.
    with contextlib.suppress(sqlite3.OperationalError):
        await db.execute("ROLLBACK")


async def _migrate(db: aiosqlite.Connection) -> None:
    """Apply every migration above the stored schema version, in one transaction."""
    await db.execute("BEGIN IMMEDIATE")
    try:
        await db.execute(_sql.CREATE_SCHEMA_VERSION)
        rows = list(await db.execute_fetchall("SELECT MAX(version) FROM schema_version"))
        current: int = rows[0][0] or 0
        if current > _sql.SCHEMA_VERSION:
            raise RuntimeError(
                f"database schema version {current} is newer than this gateway"
                f" ({_sql.SCHEMA_VERSION})"
            )
        for statements in _sql.MIGRATIONS[current:]:
            for statement in statements:
                await db.execute(statement)
        if current < _sql.SCHEMA_VERSION:
            await db.execute("DELETE FROM schema_version")
            await db.execute("INSERT INTO schema_version VALUES (?)", (_sql.SCHEMA_VERSION,))
        await db.execute("COMMIT")
    except BaseException:
        await _rollback(db)
        raise
