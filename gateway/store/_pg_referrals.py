"""Referrals and the audit trail of ``PostgresStore``, and the pool both use.

Kept apart from ``postgresql.py`` so each file stays short; ``PostgresStore``
inherits these methods and owns the pool's lifecycle.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from gateway.store import _pg_sql as _sql
from gateway.store.base import (
    AuditEntry,
    ReferralVersion,
    SlotHomeRow,
    StoreUnavailable,
    UnbookedReferral,
    VersionConflict,
)

#: The connection to the server failed or was cut (the server restarted, the network went):
#: the call's transaction, if any, was rolled back; the pool reconnects on the next call.
_LOST = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.AdminShutdownError,
    asyncpg.CannotConnectNowError,
    # statement_timeout (a lock wait beyond it included): nothing was written; try again.
    asyncpg.QueryCanceledError,
)


def _closed(conn: Any) -> bool:
    try:
        return bool(conn.is_closed())
    except asyncpg.InterfaceError:  # the pool detached it: its connection was lost
        return True


def _lost(exc: BaseException) -> StoreUnavailable:
    if isinstance(exc, asyncpg.QueryCanceledError):
        return StoreUnavailable("PostgreSQL cancelled a statement past statement_timeout")
    return StoreUnavailable(f"lost the connection to PostgreSQL: {type(exc).__name__}")


def refused(what: str, exc: asyncpg.PostgresError) -> ValueError:
    """A write the database refused, without the server's detail (it quotes the row)."""
    name = getattr(exc, "constraint_name", None) or getattr(exc, "column_name", None)
    return ValueError(f"{what} refused by the database ({type(exc).__name__}: {name})")


_UPSERT_SLOT_HOMES = """
INSERT INTO slot_homes (key, route, service_id, seen_at)
SELECT k, r, s, $4 FROM unnest($1::text[], $2::text[], $3::text[]) AS t (k, r, s)
ON CONFLICT (key) DO UPDATE SET
    route = excluded.route, service_id = excluded.service_id, seen_at = excluded.seen_at
"""


class PooledReferralsAndAudit:
    """The referral and audit half of the Store Protocol over an asyncpg pool."""

    _pool: Any

    @contextlib.asynccontextmanager
    async def _acquire(self) -> AsyncIterator[Any]:
        """A pooled connection; a lost server is raised as ``StoreUnavailable``."""
        pool = self._pool
        if pool is None:
            raise RuntimeError("PostgresStore is not open")
        try:
            async with pool.acquire() as conn:
                try:
                    yield conn
                except asyncpg.InterfaceError as exc:
                    # E.g. a transaction's exit on a connection the server just closed.
                    if not _closed(conn):
                        raise
                    raise _lost(exc) from None
        except _LOST as exc:
            raise _lost(exc) from None

    # -- referrals -------------------------------------------------------------

    async def add_referral_version(self, version: ReferralVersion) -> None:
        params = _sql.referral_params(version)
        async with self._acquire() as conn:
            try:
                async with conn.transaction():
                    current: int = await conn.fetchval(_sql.CURRENT_REFERRAL, version.referral_id)
                    if version.version != current + 1:
                        raise VersionConflict(
                            f"referral {version.referral_id!r} is at version {current},"
                            f" not {version.version - 1}"
                        )
                    await conn.execute(_sql.INSERT_REFERRAL, *params)
            except asyncpg.UniqueViolationError:
                # Another writer committed this version after we read the current one.
                raise VersionConflict(
                    f"referral {version.referral_id!r} already has version {version.version}"
                ) from None
            except asyncpg.IntegrityConstraintViolationError as exc:
                raise refused("referral version", exc) from None

    async def get_referral(
        self, referral_id: str, version: int | None = None
    ) -> ReferralVersion | None:
        if _sql.has_nul(referral_id):
            return None  # PostgreSQL text cannot hold NUL: nothing stored has it
        if version is None:
            sql = "WHERE r.referral_id = $1 ORDER BY r.version DESC LIMIT 1"
            found = await self._select_referrals(sql, (referral_id,))
        else:
            sql = "WHERE r.referral_id = $1 AND r.version = $2"
            found = await self._select_referrals(sql, (referral_id, version))
        return found[0] if found else None

    async def referral_versions(self, referral_id: str) -> list[ReferralVersion]:
        if _sql.has_nul(referral_id):
            return []  # PostgreSQL text cannot hold NUL: nothing stored has it
        return await self._select_referrals(
            "WHERE r.referral_id = $1 ORDER BY r.version", (referral_id,)
        )

    async def find_referrals_by_nhs_number(self, nhs_number: str) -> list[ReferralVersion]:
        if _sql.has_nul(nhs_number):
            return []  # PostgreSQL text cannot hold NUL: nothing stored has it
        return await self._select_referrals(
            f"WHERE r.nhs_number = $1 AND {_sql.REFERRAL_IS_CURRENT}"
            " ORDER BY r.authored_at, r.referral_id",
            _sql.Redacted((nhs_number,)),
        )

    async def find_referrals_by_appointment(self, appointment_id: str) -> list[ReferralVersion]:
        if _sql.has_nul(appointment_id):
            return []  # PostgreSQL text cannot hold NUL: nothing stored has it
        return await self._select_referrals(
            f"WHERE r.appointment_id = $1 AND {_sql.REFERRAL_IS_CURRENT}"
            " ORDER BY r.authored_at, r.referral_id",
            (appointment_id,),
        )

    async def find_referral_by_document(self, document_id: str) -> ReferralVersion | None:
        if _sql.has_nul(document_id):
            return None  # PostgreSQL text cannot hold NUL: nothing stored has it
        found = await self._select_referrals(
            f"WHERE r.document_id = $1 AND {_sql.REFERRAL_IS_CURRENT}"
            " ORDER BY r.last_modified DESC LIMIT 1",
            (document_id,),
        )
        return found[0] if found else None

    async def link_document(self, document_id: str, appointment_id: str, at: datetime) -> None:
        async with self._acquire() as conn:
            await conn.execute(_sql.LINK_DOCUMENT, document_id, appointment_id, _sql.utc(at))

    async def document_appointment(self, document_id: str) -> str | None:
        if _sql.has_nul(document_id):
            return None  # PostgreSQL text cannot hold NUL: nothing stored has it
        async with self._acquire() as conn:
            found: str | None = await conn.fetchval(_sql.DOCUMENT_APPOINTMENT, document_id)
        return found

    async def unbooked_referrals(self, received_before: datetime) -> list[UnbookedReferral]:
        async with self._acquire() as conn:
            rows = await conn.fetch(_sql.SELECT_UNBOOKED, _sql.utc(received_before))
        return [
            UnbookedReferral(
                row["referral_id"],
                row["service_id"],
                row["document_id"],
                _sql.aware(row["received_at"]),
            )
            for row in rows
        ]

    async def flag_unbooked(self, referral_id: str, at: datetime) -> bool:
        async with self._acquire() as conn:
            status: str = await conn.execute(_sql.FLAG_UNBOOKED, referral_id, _sql.utc(at))
        return status == "INSERT 0 1"

    async def _select_referrals(
        self, where: str, params: tuple[object, ...]
    ) -> list[ReferralVersion]:
        """Run ``SELECT ... FROM referral_versions r <where>``."""
        async with self._acquire() as conn:
            rows = await conn.fetch(f"{_sql.SELECT_REFERRALS} {where}", *params)
        return [_sql.referral_from_row(row) for row in rows]

    # -- audit ---------------------------------------------------------------

    async def record_audit(self, entry: AuditEntry) -> None:
        await self.record_audits([entry])

    async def record_slot_homes(self, homes: Sequence[SlotHomeRow], at: datetime) -> None:
        if not homes:
            return
        # One statement; sorted keys so two replicas upserting overlapping sets cannot
        # deadlock on each other's rows.
        rows = sorted({h.key: h for h in homes}.values(), key=lambda h: h.key)
        async with self._acquire() as conn:
            await conn.execute(
                _UPSERT_SLOT_HOMES,
                [h.key for h in rows],
                [h.route for h in rows],
                [h.service_id for h in rows],
                at,
            )

    async def slot_home(self, key: str) -> SlotHomeRow | None:
        if _sql.has_nul(key):
            return None  # PostgreSQL text cannot hold NUL: nothing stored has it
        async with self._acquire() as conn:
            row = await conn.fetchrow(
                "SELECT key, route, service_id FROM slot_homes WHERE key = $1", key
            )
        return SlotHomeRow(row[0], row[1], row[2]) if row else None

    async def record_audits(self, entries: Sequence[AuditEntry]) -> None:
        params = [_sql.audit_params(entry) for entry in entries]
        if not params:
            return
        async with self._acquire() as conn, conn.transaction():
            await conn.executemany(_sql.INSERT_AUDIT, params)

    async def audit_entries(self, limit: int = 100) -> list[AuditEntry]:
        async with self._acquire() as conn:
            rows = await conn.fetch(
                f"{_sql.SELECT_AUDIT} ORDER BY at DESC, id DESC LIMIT $1", limit
            )
        return [_sql.audit_from_row(row) for row in rows]

    async def audit_of_appointments(self, appointment_ids: Sequence[str]) -> list[AuditEntry]:
        ids = sorted({i for i in appointment_ids if not _sql.has_nul(i)})
        async with self._acquire() as conn:
            rows = await conn.fetch(
                f"{_sql.SELECT_AUDIT} WHERE appointment_id = ANY($1::text[]) ORDER BY at, id",
                ids,
            )
        return [_sql.audit_from_row(row) for row in rows]

    async def audit_between(self, start: datetime, end: datetime) -> list[AuditEntry]:
        async with self._acquire() as conn:
            rows = await conn.fetch(
                f"{_sql.SELECT_AUDIT} WHERE at >= $1 AND at < $2 ORDER BY at, id",
                _sql.utc(start),
                _sql.utc(end),
            )
        return [_sql.audit_from_row(row) for row in rows]
