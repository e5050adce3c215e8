"""The embedded store: versions, idempotency ledger and audit in one SQLite file.

One connection serves the whole process, owned by its own thread
(``adapters._sqlite_thread``). Every store call is one function run there, so one
hand-off between the event loop and that thread: a read is one ``run``, a write
(however many statements) one ``transaction`` in ``BEGIN IMMEDIATE``, which takes
the write lock up front, so another *process* on the same file waits
(``busy_timeout``) instead of failing half-way. Calls run one at a time in the
order they were made, so no read ever sees another call's uncommitted rows.
Errors are not translated (the store is gateway-internal) but never leave a
transaction open; a cancelled caller's write is applied whole or not at all.

Durability: WAL with ``synchronous = FULL`` (set explicitly, not left to the
build's default): WAL is fsynced at every commit, so a booking answered 201 is on
disk before the answer leaves, power failure included. ``NORMAL`` would make
commits cheaper and could lose the last commits on power loss; it is used for one
kind of row only: a lock (a ledger claim in a scope ``is_lock`` names, e.g. an
appointment's while it is being changed). A lock matters only while its holder
runs, and every holder of a lock on this file runs on this machine (SQLite's WAL
needs shared memory, so one host), so a power loss that drops the lock has ended
its holder too. Process crashes lose nothing either way (WAL keeps every commit
in the file; ``NORMAL`` only skips the fsync). Everything else stays ``FULL``.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from adapters._sqlite_thread import SqliteThread
from adapters._sqlite_wal import use_wal_now
from gateway.store import _itk, _ledger, _outbox, _pointers, _retention, _sql, messages
from gateway.store._trace_sql import SqliteTrace
from gateway.store.base import (
    AppointmentVersion,
    AuditEntry,
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
    is_lock,
)

__all__ = ["SqliteStore"]

T = TypeVar("T")
Db = sqlite3.Connection

_BUSY_TIMEOUT_S = 5.0
_DOCUMENT_APPOINTMENT = "SELECT appointment_id FROM referral_documents WHERE document_id = ?"
_LINK_DOCUMENT = (
    "INSERT INTO referral_documents (document_id, appointment_id, linked_at)"
    " VALUES (?, ?, ?) ON CONFLICT (document_id) DO UPDATE SET"
    " appointment_id = excluded.appointment_id, linked_at = excluded.linked_at"
)
_MEMORY = ":memory:"
#: Ids per ``IN (...)`` list (older SQLite builds allow 999 parameters a statement).
_IN_CHUNK = 500


class SqliteStore(SqliteTrace):
    """``Store`` on SQLite; ``path`` is a file (parents created) or ``":memory:"``.

    With ``pointer_journal`` every version added also adds its registry journal entry,
    in the same transaction (the registry pointers follow versions; gateway/registry/).
    """

    def __init__(self, path: Path | str, *, pointer_journal: bool = False) -> None:
        self._path: Path | str = path if path == _MEMORY else Path(path)
        #: A file may be shared by several gateway processes (gateway/_mutex.py).
        self.shared = path != _MEMORY
        self._db: SqliteThread | None = None
        self._opening = asyncio.Lock()
        self._pointer_journal = pointer_journal

    async def open(self) -> None:
        """Connect, set pragmas and bring the schema up to date (idempotent)."""
        async with self._opening:
            if self._db is not None:
                return
            if isinstance(self._path, Path):
                self._path.parent.mkdir(parents=True, exist_ok=True)
            self._db = await SqliteThread.open(
                str(self._path), _setup, busy_timeout_s=_BUSY_TIMEOUT_S, name="gateway-store"
            )

    async def close(self) -> None:
        async with self._opening:
            db, self._db = self._db, None
            if db is not None:
                await db.close()

    async def schema_version(self) -> int:
        """The schema version recorded in the database."""
        return await self._read(_schema_version)

    # -- versions ------------------------------------------------------------

    async def add_version(
        self, version: AppointmentVersion, *, supplier_side: bool = False
    ) -> None:
        params = _sql.version_params(version)  # validate before sending it to the thread
        await self._write(lambda db: self._insert_version(db, version, params, supplier_side))

    async def add_version_and_complete(
        self,
        version: AppointmentVersion,
        scope: str,
        request_id: str | None,
        *,
        document_id: str | None = None,
    ) -> None:
        params = _sql.version_params(version)
        linked = (document_id, version.appointment_id, _sql.to_text(version.last_modified))

        def write(db: Db) -> None:
            self._insert_version(db, version, params, supplier_side=False)
            if request_id is not None:
                _ledger.complete(db, (scope, request_id), version.appointment_id, version.version)
            if document_id is not None:
                db.execute(_LINK_DOCUMENT, linked)

        await self._write(write)

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

    async def noshows_between(self, start: datetime, end: datetime) -> list[AppointmentVersion]:
        return await self._select_versions(
            _sql.NOSHOWS_BETWEEN.format("?", "?"), (_sql.to_text(start), _sql.to_text(end))
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

        def write(db: Db) -> None:
            current = _current_version(db, "referral_versions", "referral_id", version.referral_id)
            if version.version != current + 1:
                raise VersionConflict(
                    f"referral {version.referral_id!r} is at version {current},"
                    f" not {version.version - 1}"
                )
            db.execute(_sql.INSERT_REFERRAL, params)

        await self._write(write)

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
        params = (document_id, appointment_id, _sql.to_text(at))
        await self._write(lambda db: db.execute(_LINK_DOCUMENT, params).close())

    async def document_appointment(self, document_id: str) -> str | None:
        params = (document_id,)
        row = await self._read(lambda db: db.execute(_DOCUMENT_APPOINTMENT, params).fetchone())
        return None if row is None else str(row[0])

    async def unbooked_referrals(self, received_before: datetime) -> list[UnbookedReferral]:
        params = (_sql.to_text(received_before),)
        rows = await self._read(lambda db: db.execute(_sql.SELECT_UNBOOKED, params).fetchall())
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
        params = (referral_id, _sql.to_text(at))
        return await self._write(
            lambda db: (
                db.execute(
                    "INSERT INTO unbooked_flags (referral_id, flagged_at) VALUES (?, ?)"
                    " ON CONFLICT (referral_id) DO NOTHING",
                    params,
                ).rowcount
                == 1
            )
        )

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
        key, held = (scope, request_id), (route, service_id, work)
        return await self._write(
            lambda db: _ledger.claim(db, key, body_hash, now, lease_s, owner, held),
            durable=not is_lock(scope),
        )

    async def in_doubt_claims(self) -> list[InDoubt]:
        return await self._read(_ledger.in_doubt)

    async def find_claim(self, scope: str, request_id: str) -> LedgerClaim | None:
        return await self._read(lambda db: _ledger.find(db, (scope, request_id)))

    async def renew_claim(
        self, scope: str, request_id: str, owner: str, lease_until: datetime
    ) -> bool:
        key = (scope, request_id)
        return await self._write(
            lambda db: _ledger.renew(db, key, owner, lease_until), durable=not is_lock(scope)
        )

    async def complete_request(
        self, scope: str, request_id: str, appointment_id: str, version: int
    ) -> None:
        """Mark the claim done; a claim already released is left absent, a done one as is."""
        key = (scope, request_id)
        await self._write(lambda db: _ledger.complete(db, key, appointment_id, version))

    async def release_request(self, scope: str, request_id: str, owner: str | None = None) -> None:
        key = (scope, request_id)
        await self._write(lambda db: _ledger.release(db, key, owner), durable=not is_lock(scope))

    # -- registry journal ----------------------------------------------------

    async def lease_pointer_work(
        self, owner: str, now: datetime, lease_s: float
    ) -> PointerWork | None:
        return await self._write(lambda db: _pointers.lease(db, owner, now, lease_s))

    async def finish_pointer_work(
        self, work: PointerWork, now: datetime, pointer: RegistryPointer | None
    ) -> None:
        await self._write(lambda db: _pointers.finish(db, work, now, pointer))

    async def retry_pointer_work(self, work: PointerWork, due: datetime, error: str) -> None:
        await self._write(lambda db: _pointers.retry(db, work, due, error))

    async def refuse_pointer_work(self, work: PointerWork, now: datetime, error: str) -> None:
        await self._write(lambda db: _pointers.refuse(db, work, now, error))

    # -- HL7 origins and outbox ------------------------------------------------------

    async def record_hl7_origin(self, origin: Hl7Origin) -> None:
        await self._write(lambda db: _outbox.record_origin(db, origin))

    async def hl7_origin(self, appointment_id: str) -> Hl7Origin | None:
        return await self._read(lambda db: _outbox.origin(db, appointment_id))

    async def lease_hl7_notice(
        self, owner: str, now: datetime, lease_s: float
    ) -> NoticeWork | None:
        return await self._write(lambda db: _outbox.lease(db, owner, now, lease_s))

    async def finish_hl7_notice(
        self, work: NoticeWork, now: datetime, outcome: NoticeOutcome, error: str = ""
    ) -> None:
        await self._write(lambda db: _outbox.finish(db, work, now, outcome, error))

    async def retry_hl7_notice(self, work: NoticeWork, due: datetime, error: str) -> None:
        await self._write(lambda db: _outbox.retry(db, work, due, error))

    async def hl7_notices(self, appointment_id: str) -> list[NoticeState]:
        return await self._read(lambda db: _outbox.entries(db, appointment_id))

    # -- ITK receipts -------------------------------------------------------------

    async def claim_itk_receipt(
        self, tracking_id: str, envelope_hash: str, owner: str, now: datetime, lease_s: float
    ) -> ItkReceipt | None:
        return await self._write(
            lambda db: _itk.claim(db, tracking_id, envelope_hash, owner, now, lease_s)
        )

    async def answer_itk_receipt(
        self,
        tracking_id: str,
        owner: str,
        answer: bytes,
        referral_ids: Sequence[str],
        now: datetime,
    ) -> None:
        await self._write(lambda db: _itk.answer(db, tracking_id, owner, answer, referral_ids, now))

    async def release_itk_receipt(self, tracking_id: str, owner: str) -> None:
        await self._write(lambda db: _itk.release(db, tracking_id, owner))

    async def registry_pointer(self, appointment_id: str) -> RegistryPointer | None:
        return await self._read(lambda db: _pointers.pointer(db, appointment_id))

    async def pointer_backlog(self, stuck_after: int) -> PointerBacklog:
        return await self._read(lambda db: _pointers.backlog(db, stuck_after))

    # -- audit ---------------------------------------------------------------

    async def record_slot_homes(self, homes: Sequence[SlotHomeRow], at: datetime) -> None:
        if not homes:
            return
        stamp = _sql.to_text(at)
        params = [(h.key, h.route, h.service_id, stamp) for h in homes]
        await self._write(lambda db: db.executemany(_sql.UPSERT_SLOT_HOME, params).close())

    async def slot_home(self, key: str) -> SlotHomeRow | None:
        row = await self._read(lambda db: db.execute(_sql.SELECT_SLOT_HOME, (key,)).fetchone())
        return SlotHomeRow(row[0], row[1], row[2]) if row else None

    async def record_audit(self, entry: AuditEntry) -> None:
        await self.record_audits([entry])

    async def record_audits(self, entries: Sequence[AuditEntry]) -> None:
        params = [_sql.audit_params(entry) for entry in entries]
        if not params:
            return
        await self._write(lambda db: db.executemany(_sql.INSERT_AUDIT, params).close())

    async def audit_entries(self, limit: int = 100) -> list[AuditEntry]:
        return await self._select_audit("ORDER BY at DESC, id DESC LIMIT ?", (limit,))

    async def audit_between(self, start: datetime, end: datetime) -> list[AuditEntry]:
        return await self._select_audit(
            "WHERE at >= ? AND at < ? ORDER BY at, id", (_sql.to_text(start), _sql.to_text(end))
        )

    async def audit_of_appointments(self, appointment_ids: Sequence[str]) -> list[AuditEntry]:
        ids = sorted(set(appointment_ids))
        found: list[AuditEntry] = []
        for first in range(0, len(ids), _IN_CHUNK):  # SQLite caps a statement's parameters
            chunk = tuple(ids[first : first + _IN_CHUNK])
            where = f"WHERE appointment_id IN ({', '.join('?' * len(chunk))}) ORDER BY at, id"
            found += await self._select_audit(where, chunk)
        return sorted(found, key=lambda e: e.at)

    # -- message journal -------------------------------------------------------

    async def record_message(self, record: messages.MessageRecord) -> None:
        await self._write(lambda db: messages.record(db, record))

    async def message(self, message_id: str) -> messages.MessageRecord | None:
        return await self._read(lambda db: messages.one(db, message_id))

    async def messages_between(
        self, start: datetime, end: datetime, direction: str = "in"
    ) -> list[messages.MessageRecord]:
        return await self._read(lambda db: messages.between(db, start, end, direction))

    async def settle_message(
        self, message_id: str, outcome: str, reason_code: str, reason: str, at: datetime
    ) -> None:
        await self._write(
            lambda db: messages.settle(db, message_id, outcome, reason_code, reason, at)
        )

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
        calls run in between; or count them."""
        where = _retention.eligible(target, "?")
        if dry_run:
            count = f"SELECT COUNT(*) FROM {target.table} WHERE {where}"
            counted: int = (await self._read(lambda db: db.execute(count, (cutoff,)).fetchone()))[0]
            return counted
        key = ", ".join(target.key)
        sql = (
            f"DELETE FROM {target.table} WHERE ({key}) IN"
            f" (SELECT {key} FROM {target.table} WHERE {where} LIMIT {_retention.BATCH})"
        )
        deleted = 0
        while True:
            batch = await self._write(lambda db: db.execute(sql, (cutoff,)).rowcount)
            deleted += batch
            if batch < _retention.BATCH:
                return deleted

    # -- plumbing ------------------------------------------------------------

    def _require(self) -> SqliteThread:
        if self._db is None:
            raise RuntimeError("SqliteStore is not open")
        return self._db

    async def _read(self, fn: Callable[[Db], T]) -> T:
        """``fn`` on the connection's thread, outside any explicit transaction."""
        return await self._require().run(fn)

    async def _write(self, fn: Callable[[Db], T], *, durable: bool = True) -> T:
        """``fn`` on the connection's thread in one ``BEGIN IMMEDIATE`` transaction
        (``durable=False``: a lock's row, see the module docstring)."""
        return await self._require().transaction(fn, durable=durable)

    def _insert_version(
        self,
        db: Db,
        version: AppointmentVersion,
        params: tuple[object, ...],
        supplier_side: bool,
    ) -> None:
        """Append ``version`` (exactly current + 1) and its journal and outbox entries."""
        key = version.appointment_id
        current = _current_version(db, "appointment_versions", "appointment_id", key)
        if version.version != current + 1:
            raise VersionConflict(
                f"appointment {version.appointment_id!r} is at version {current},"
                f" not {version.version - 1}"
            )
        db.execute(_sql.INSERT_VERSION, params)
        if self._pointer_journal:
            db.execute(_pointers.INSERT_ENTRY, _pointers.entry_params(version))
        if supplier_side:
            db.execute(_outbox.INSERT_ENTRY, _outbox.entry_params(version))

    async def _select_versions(
        self, where: str, params: tuple[object, ...]
    ) -> list[AppointmentVersion]:
        """Run ``SELECT ... FROM appointment_versions v <where>``."""
        sql = f"{_sql.SELECT_VERSIONS} {where}"
        return await self._read(
            lambda db: [_sql.version_from_row(row) for row in db.execute(sql, params)]
        )

    async def _select_referrals(
        self, where: str, params: tuple[object, ...]
    ) -> list[ReferralVersion]:
        """Run ``SELECT ... FROM referral_versions r <where>``."""
        sql = f"{_sql.SELECT_REFERRALS} {where}"
        return await self._read(
            lambda db: [_sql.referral_from_row(row) for row in db.execute(sql, params)]
        )

    async def _select_audit(self, rest: str, params: tuple[object, ...]) -> list[AuditEntry]:
        sql = f"SELECT {', '.join(_sql.AUDIT_FIELDS)} FROM audit {rest}"
        return await self._read(
            lambda db: [_sql.audit_from_row(row) for row in db.execute(sql, params)]
        )


def _current_version(db: Db, table: str, column: str, key: str) -> int:
    """The highest version of ``key`` in ``table`` (0 if none)."""
    row = db.execute(f"SELECT MAX(version) FROM {table} WHERE {column} = ?", (key,)).fetchone()
    found: int = row[0] or 0
    return found


def _schema_version(db: Db) -> int:
    found: int = db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0
    return found


def _setup(db: Db) -> None:
    """Pragmas (see the module docstring), then the schema brought up to date."""
    db.row_factory = sqlite3.Row
    use_wal_now(db)  # retried: other processes may be opening the file too
    db.execute("PRAGMA synchronous = FULL")
    db.execute("PRAGMA foreign_keys = ON")
    _migrate(db)


def _migrate(db: Db) -> None:
    """Apply every migration above the stored schema version, in one transaction."""
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute(_sql.CREATE_SCHEMA_VERSION)
        current = _schema_version(db)
        if current > _sql.SCHEMA_VERSION:
            raise RuntimeError(
                f"database schema version {current} is newer than this gateway"
                f" ({_sql.SCHEMA_VERSION})"
            )
        for statements in _sql.MIGRATIONS[current:]:
            for statement in statements:
                db.execute(statement)
        if current < _sql.SCHEMA_VERSION:
            db.execute("DELETE FROM schema_version")
            db.execute("INSERT INTO schema_version VALUES (?)", (_sql.SCHEMA_VERSION,))
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
