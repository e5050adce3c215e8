"""The shared store for several replicas: the ``Store`` Protocol on PostgreSQL (asyncpg).

Every replica opens its own ``PostgresStore`` on one database; correctness across
them rests on the database, never on a lock in this process: a version's
primary key (appointment_id, version) lets only one of two writers of the next
version commit; a claim is an ``INSERT ... ON CONFLICT DO NOTHING`` and an
existing claim is changed under ``SELECT ... FOR UPDATE``; leased work is taken
with ``FOR UPDATE SKIP LOCKED``. Statements run on a pool (READ COMMITTED);
multi-statement operations in one transaction each. Instants are ``timestamptz``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from gateway.store import _pg_ledger, _pg_messages, _pg_schema, _pg_work, _retention
from gateway.store import _pg_sql as _sql
from gateway.store._pg_referrals import PooledReferralsAndAudit, refused
from gateway.store._pg_trace import PooledTrace
from gateway.store.base import (
    AppointmentVersion,
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
    RegistryPointer,
    StoreUnavailable,
    VersionConflict,
)
from gateway.store.messages import MessageRecord

__all__ = ["PostgresStore"]

DEFAULT_POOL_SIZE = 5
DEFAULT_CONNECT_TIMEOUT_S = 5.0


class PostgresStore(PooledReferralsAndAudit, PooledTrace):
    """``Store`` on PostgreSQL at ``dsn`` (no password in it: pass ``password``).

    ``schema``: the schema (search_path) holding the tables, created if missing;
    None uses the server's default. With ``pointer_journal`` every version added
    also adds its registry journal entry in the same transaction.
    """

    def __init__(
        self,
        dsn: str,
        *,
        schema: str | None = None,
        password: str | None = None,
        pool_size: int = DEFAULT_POOL_SIZE,
        pointer_journal: bool = False,
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
        statement_timeout_s: float = 10.0,
    ) -> None:
        self._dsn = dsn
        self._schema = schema
        self._password = password
        self._pool_size = pool_size
        self._pointer_journal = pointer_journal
        self._connect_timeout_s = connect_timeout_s
        self._statement_timeout_ms = max(1, round(statement_timeout_s * 1000))
        self._pool: Any = None
        self._opening = asyncio.Lock()
        #: Every replica shares the database (gateway/_mutex.py).
        self.shared = True

    # -- lifecycle -------------------------------------------------------------

    async def open(self) -> None:
        """Connect the pool and bring the schema up to date (idempotent)."""
        async with self._opening:
            if self._pool is not None:
                return
            pool = await self._connect()
            try:
                async with pool.acquire() as conn:
                    await _pg_schema.migrate(conn, self._schema)
            except BaseException:
                await pool.close()
                raise
            self._pool = pool

    async def close(self) -> None:
        async with self._opening:
            pool, self._pool = self._pool, None
            if pool is not None:
                await pool.close()

    async def schema_version(self) -> int:
        """The schema version recorded in the database."""
        async with self._acquire() as conn:
            return await _pg_schema.version(conn)

    async def _connect(self) -> Any:
        # statement_timeout covers lock waits too: a row held by a stuck replica costs a
        # request this long, then a transient answer, never the request's whole budget.
        settings = {
            "application_name": "uec-gateway",
            "statement_timeout": str(self._statement_timeout_ms),
        }
        if self._schema is not None:
            settings["search_path"] = _pg_schema.quote_ident(self._schema)
        try:
            # create_pool opens min_size connections now: an unreachable server fails
            # here, within the timeout, rather than at the first request.
            return await asyncio.wait_for(
                asyncpg.create_pool(
                    self._dsn,
                    password=self._password,
                    min_size=1,
                    max_size=self._pool_size,
                    timeout=self._connect_timeout_s,
                    server_settings=settings,
                ),
                self._connect_timeout_s * 2,
            )
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StoreUnavailable(
                f"cannot connect to PostgreSQL at {_where(self._dsn)}: {type(exc).__name__}: {exc}"
            ) from exc

    # -- versions ------------------------------------------------------------

    async def add_version(
        self, version: AppointmentVersion, *, supplier_side: bool = False
    ) -> None:
        await self._append(version, supplier_side)

    async def add_version_and_complete(
        self,
        version: AppointmentVersion,
        scope: str,
        request_id: str | None,
        *,
        document_id: str | None = None,
    ) -> None:
        async def also(conn: Any) -> None:
            if request_id is not None:
                key = (scope, request_id)
                await _pg_ledger.complete(conn, key, version.appointment_id, version.version)
            if document_id is not None:
                at = _sql.utc(version.last_modified)
                await conn.execute(_sql.LINK_DOCUMENT, document_id, version.appointment_id, at)

        await self._append(version, False, also)

    async def _append(
        self,
        version: AppointmentVersion,
        supplier_side: bool,
        also: Callable[[Any], Awaitable[None]] | None = None,
    ) -> None:
        """Add ``version`` (and its journal entries), then ``also``, in one transaction."""
        params = _sql.version_params(version)  # validate before taking a connection
        async with self._acquire() as conn:
            try:
                async with conn.transaction():
                    current: int = await conn.fetchval(_sql.CURRENT_VERSION, version.appointment_id)
                    if version.version != current + 1:
                        raise VersionConflict(
                            f"appointment {version.appointment_id!r} is at version {current},"
                            f" not {version.version - 1}"
                        )
                    await conn.execute(_sql.INSERT_VERSION, *params)
                    entry = _pg_work.entry_params(version)
                    if self._pointer_journal:
                        await conn.execute(_pg_work.INSERT_POINTER_ENTRY, *entry)
                    if supplier_side:
                        await conn.execute(_pg_work.INSERT_NOTICE_ENTRY, *entry)
                    if also is not None:
                        await also(conn)
            except asyncpg.UniqueViolationError:
                # Another writer committed this version after we read the current one.
                raise VersionConflict(
                    f"appointment {version.appointment_id!r} already has version {version.version}"
                ) from None
            except asyncpg.IntegrityConstraintViolationError as exc:
                raise refused("appointment version", exc) from None

    async def get(
        self, appointment_id: str, version: int | None = None
    ) -> AppointmentVersion | None:
        if _sql.has_nul(appointment_id):
            return None  # PostgreSQL text cannot hold NUL: nothing stored has it
        if version is None:
            sql = "WHERE v.appointment_id = $1 ORDER BY v.version DESC LIMIT 1"
            found = await self._select_versions(sql, (appointment_id,))
        else:
            sql = "WHERE v.appointment_id = $1 AND v.version = $2"
            found = await self._select_versions(sql, (appointment_id, version))
        return found[0] if found else None

    async def versions(self, appointment_id: str) -> list[AppointmentVersion]:
        if _sql.has_nul(appointment_id):
            return []  # PostgreSQL text cannot hold NUL: nothing stored has it
        return await self._select_versions(
            "WHERE v.appointment_id = $1 ORDER BY v.version", (appointment_id,)
        )

    async def find_by_nhs_number(
        self, nhs_number: str, not_before: datetime
    ) -> list[AppointmentVersion]:
        if _sql.has_nul(nhs_number):
            return []  # PostgreSQL text cannot hold NUL: nothing stored has it
        # The NHS number is tested on the current version only: an appointment whose
        # latest version names another patient is no longer this patient's.
        return await self._select_versions(
            f"WHERE v.nhs_number = $1 AND v.end_at >= $2 AND {_sql.IS_CURRENT}"
            " ORDER BY v.start_at, v.appointment_id",
            _sql.Redacted((nhs_number, _sql.utc(not_before))),
        )

    async def find_upcoming(self, not_before: datetime) -> list[AppointmentVersion]:
        return await self._select_versions(
            f"WHERE v.end_at >= $1 AND {_sql.IS_CURRENT} ORDER BY v.start_at, v.appointment_id",
            (_sql.utc(not_before),),
        )

    async def noshows_between(self, start: datetime, end: datetime) -> list[AppointmentVersion]:
        return await self._select_versions(_sql.NOSHOWS_BETWEEN, (_sql.utc(start), _sql.utc(end)))

    async def find_by_supplier_ref(
        self, route: str, supplier_ref: str
    ) -> AppointmentVersion | None:
        if _sql.has_nul(route, supplier_ref):
            return None  # PostgreSQL text cannot hold NUL: nothing stored has it
        """The current version of the appointment whose current version has this ref.

        Should a ref ever be reused on one route, the most recently modified wins.
        """
        found = await self._select_versions(
            f"WHERE v.route = $1 AND v.supplier_ref = $2 AND {_sql.IS_CURRENT}"
            " ORDER BY v.last_modified DESC LIMIT 1",
            (route, supplier_ref),
        )
        return found[0] if found else None

    async def _select_versions(
        self, where: str, params: tuple[object, ...]
    ) -> list[AppointmentVersion]:
        """Run ``SELECT ... FROM appointment_versions v <where>``."""
        async with self._acquire() as conn:
            rows = await conn.fetch(f"{_sql.SELECT_VERSIONS} {where}", *params)
        return [_sql.version_from_row(row) for row in rows]

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
        held = (route, service_id, work)
        _sql.utc(now)  # refuse a naive instant before taking a connection
        async with self._acquire() as conn:
            return await _pg_ledger.claim(
                conn, (scope, request_id), body_hash, now, lease_s, owner, held
            )

    async def in_doubt_claims(self) -> list[InDoubt]:
        async with self._acquire() as conn:
            return await _pg_ledger.in_doubt(conn)

    async def find_claim(self, scope: str, request_id: str) -> LedgerClaim | None:
        if _sql.has_nul(scope, request_id):
            return None  # PostgreSQL text cannot hold NUL: nothing stored has it
        async with self._acquire() as conn:
            return await _pg_ledger.find(conn, (scope, request_id))

    async def renew_claim(
        self, scope: str, request_id: str, owner: str, lease_until: datetime
    ) -> bool:
        async with self._acquire() as conn:
            return await _pg_ledger.renew(conn, (scope, request_id), owner, lease_until)

    async def complete_request(
        self, scope: str, request_id: str, appointment_id: str, version: int
    ) -> None:
        async with self._acquire() as conn:
            await _pg_ledger.complete(conn, (scope, request_id), appointment_id, version)

    async def release_request(self, scope: str, request_id: str, owner: str | None = None) -> None:
        async with self._acquire() as conn:
            await _pg_ledger.release(conn, (scope, request_id), owner)

    # -- registry journal ----------------------------------------------------

    async def lease_pointer_work(
        self, owner: str, now: datetime, lease_s: float
    ) -> PointerWork | None:
        async with self._acquire() as conn:
            return await _pg_work.lease_pointer(conn, owner, now, lease_s)

    async def finish_pointer_work(
        self, work: PointerWork, now: datetime, pointer: RegistryPointer | None
    ) -> None:
        async with self._acquire() as conn:
            await _pg_work.finish_pointer(conn, work, now, pointer)

    async def retry_pointer_work(self, work: PointerWork, due: datetime, error: str) -> None:
        async with self._acquire() as conn:
            await _pg_work.retry_pointer(conn, work, due, error)

    async def refuse_pointer_work(self, work: PointerWork, now: datetime, error: str) -> None:
        async with self._acquire() as conn:
            await _pg_work.refuse_pointer(conn, work, now, error)

    async def registry_pointer(self, appointment_id: str) -> RegistryPointer | None:
        if _sql.has_nul(appointment_id):
            return None  # PostgreSQL text cannot hold NUL: nothing stored has it
        async with self._acquire() as conn:
            return await _pg_work.pointer(conn, appointment_id)

    async def pointer_backlog(self, stuck_after: int) -> PointerBacklog:
        async with self._acquire() as conn:
            return await _pg_work.backlog(conn, stuck_after)

    # -- HL7 origins and outbox ------------------------------------------------------

    async def record_hl7_origin(self, origin: Hl7Origin) -> None:
        async with self._acquire() as conn:
            await _pg_work.record_origin(conn, origin)

    async def hl7_origin(self, appointment_id: str) -> Hl7Origin | None:
        if _sql.has_nul(appointment_id):
            return None  # PostgreSQL text cannot hold NUL: nothing stored has it
        async with self._acquire() as conn:
            return await _pg_work.origin(conn, appointment_id)

    async def lease_hl7_notice(
        self, owner: str, now: datetime, lease_s: float
    ) -> NoticeWork | None:
        async with self._acquire() as conn:
            return await _pg_work.lease_notice(conn, owner, now, lease_s)

    async def finish_hl7_notice(
        self, work: NoticeWork, now: datetime, outcome: NoticeOutcome, error: str = ""
    ) -> None:
        async with self._acquire() as conn:
            await _pg_work.finish_notice(conn, work, now, outcome, error)

    async def retry_hl7_notice(self, work: NoticeWork, due: datetime, error: str) -> None:
        async with self._acquire() as conn:
            await _pg_work.retry_notice(conn, work, due, error)

    async def hl7_notices(self, appointment_id: str) -> list[NoticeState]:
        if _sql.has_nul(appointment_id):
            return []  # PostgreSQL text cannot hold NUL: nothing stored has it
        async with self._acquire() as conn:
            return await _pg_work.notices(conn, appointment_id)

    # -- ITK receipts -------------------------------------------------------------

    async def claim_itk_receipt(
        self, tracking_id: str, envelope_hash: str, owner: str, now: datetime, lease_s: float
    ) -> ItkReceipt | None:
        async with self._acquire() as conn:
            return await _pg_work.claim_receipt(
                conn, tracking_id, envelope_hash, owner, now, lease_s
            )

    async def answer_itk_receipt(
        self,
        tracking_id: str,
        owner: str,
        answer: bytes,
        referral_ids: Sequence[str],
        now: datetime,
    ) -> None:
        async with self._acquire() as conn:
            await _pg_work.answer_receipt(conn, tracking_id, owner, answer, referral_ids, now)

    async def release_itk_receipt(self, tracking_id: str, owner: str) -> None:
        async with self._acquire() as conn:
            await _pg_work.release_receipt(conn, tracking_id, owner)

    # -- message journal ---------------------------------------------------------------

    async def record_message(self, record: MessageRecord) -> None:
        async with self._acquire() as conn:
            await _pg_messages.record(conn, record)

    async def message(self, message_id: str) -> MessageRecord | None:
        if _sql.has_nul(message_id):
            return None  # PostgreSQL text cannot hold NUL: nothing stored has it
        async with self._acquire() as conn:
            return await _pg_messages.one(conn, message_id)

    async def messages_between(
        self, start: datetime, end: datetime, direction: str = "in"
    ) -> list[MessageRecord]:
        async with self._acquire() as conn:
            return await _pg_messages.between(conn, start, end, direction)

    async def settle_message(
        self, message_id: str, outcome: str, reason_code: str, reason: str, at: datetime
    ) -> None:
        async with self._acquire() as conn:
            await _pg_messages.settle(conn, message_id, outcome, reason_code, reason, at)

    # -- retention ------------------------------------------------------------------

    async def purge(self, cutoffs: PurgeCutoffs, *, dry_run: bool = False) -> PurgeCounts:
        found = {target.kind: 0 for target in _retention.TARGETS}
        for target in _retention.TARGETS:
            cutoff = _retention.cutoff(cutoffs, target)
            if cutoff is not None:
                found[target.kind] += await self._purge(target, cutoff, dry_run)
        return _retention.counts(found)

    async def _purge(self, target: _retention.Target, cutoff: datetime, dry_run: bool) -> int:
        """Delete ``target``'s rows before ``cutoff``, one batch per statement (each its own
        short transaction); or count them.

        A batch locks its rows ``FOR UPDATE SKIP LOCKED``, so replicas purging at once
        take disjoint batches instead of waiting on each other, and each row is deleted
        once. A replica stops when a batch finds no row left to take: rows another
        replica holds are deleted by that replica, which then looks again.
        """
        where = _retention.eligible(target, "$1")
        table = target.table
        if dry_run:
            async with self._acquire() as conn:
                counted: int = await conn.fetchval(
                    f"SELECT COUNT(*) FROM {table} WHERE {where}", cutoff
                )
            return counted
        sql = (
            f"DELETE FROM {table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {table}"
            f" WHERE {where} LIMIT {_retention.BATCH} FOR UPDATE SKIP LOCKED))"
        )
        deleted = 0
        while True:
            async with self._acquire() as conn:
                status: str = await conn.execute(sql, cutoff)
            batch = int(status.rsplit(" ", 1)[-1])
            if batch == 0:
                return deleted
            deleted += batch


def _where(dsn: str) -> str:
    """Host, port and database of ``dsn`` for messages (never its user's password)."""
    parts = urlsplit(dsn)
    host = parts.hostname or "localhost"
    port = parts.port or 5432
    return f"{host}:{port}{parts.path or '/'}"
