"""The idempotency ledger in PostgreSQL: the statements behind ``PostgresStore``'s claims.

A claim is ``INSERT ... ON CONFLICT DO NOTHING``: of several replicas claiming
one key at once exactly one inserts (the others wait for its commit, then find
its row). An existing row is read ``FOR UPDATE``, so a lapsed claim is taken
over by one claimant only. The rules are the SQLite store's (``sqlite.py``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from gateway.store._pg_sql import Redacted, Row, aware, utc
from gateway.store.base import ClaimState, InDoubt, LedgerClaim

#: A concurrent release can delete the row between our insert and our read: try again.
_CLAIM_ATTEMPTS = 5

_COLUMNS = (
    "body_hash, state, appointment_id, version, claimed_at, owner, lease_until, route, service_id"
)
_INSERT = (
    "INSERT INTO idempotency_ledger (claimed_at, body_hash, owner, lease_until, route,"
    " service_id, work, scope, request_id, state)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending')"
    " ON CONFLICT (scope, request_id) DO NOTHING RETURNING true"
)
_TAKE_OVER = (
    "UPDATE idempotency_ledger SET claimed_at = $1, body_hash = $2, owner = $3,"
    " lease_until = $4, route = COALESCE($5, route), service_id = COALESCE($6, service_id),"
    " work = COALESCE($7, work) WHERE scope = $8 AND request_id = $9"
)
_SELECT = f"SELECT {_COLUMNS} FROM idempotency_ledger WHERE scope = $1 AND request_id = $2"


async def claim(
    conn: Any,
    key: tuple[str, str],
    body_hash: str,
    now: datetime,
    lease_s: float,
    owner: str,
    held: tuple[str | None, str | None, str | None],
) -> LedgerClaim:
    """Claim ``key`` (scope, request id); ``held`` is (route, service_id, work)."""
    at = utc(now)
    values = Redacted((at, body_hash, owner, at + timedelta(seconds=lease_s), *held, *key))
    async with conn.transaction():
        for _ in range(_CLAIM_ATTEMPTS):
            if await conn.fetchval(_INSERT, *values):
                return LedgerClaim(ClaimState.NEW, body_hash)
            row = await conn.fetchrow(f"{_SELECT} FOR UPDATE", *key)
            if row is None:
                continue  # released since our insert found it: claim afresh
            found = claim_from_row(row, lease_s)
            if found.state is ClaimState.DONE or (found.lease_until or at) >= at:
                return found
            # The holder stopped renewing its lease, so it has died: the key is the caller's.
            await conn.execute(_TAKE_OVER, *values)
            return LedgerClaim(ClaimState.TAKEN_OVER, body_hash, owner=found.owner)
    raise RuntimeError("idempotency claim kept racing with releases")


async def find(conn: Any, key: tuple[str, str]) -> LedgerClaim | None:
    row = await conn.fetchrow(_SELECT, *key)
    return None if row is None else claim_from_row(row, 0.0)


async def in_doubt(conn: Any) -> list[InDoubt]:
    rows = await conn.fetch(
        "SELECT scope, request_id, owner, lease_until, claimed_at, work"
        " FROM idempotency_ledger WHERE state = 'pending' AND work IS NOT NULL"
        " ORDER BY claimed_at, scope, request_id"
    )
    return [
        InDoubt(row["scope"], row["request_id"], row["owner"], _lease_end(row, 0.0), row["work"])
        for row in rows
    ]


async def renew(conn: Any, key: tuple[str, str], owner: str, lease_until: datetime) -> bool:
    status: str = await conn.execute(
        "UPDATE idempotency_ledger SET lease_until = $1 WHERE scope = $2"
        " AND request_id = $3 AND owner = $4 AND state = 'pending'",
        utc(lease_until),
        *key,
        owner,
    )
    return status == "UPDATE 1"


async def complete(conn: Any, key: tuple[str, str], appointment_id: str, version: int) -> None:
    """Mark the claim done; a claim already released is left absent, a done one as is."""
    await conn.execute(
        "UPDATE idempotency_ledger SET state = 'done', appointment_id = $1, version = $2,"
        " work = NULL WHERE scope = $3 AND request_id = $4 AND state = 'pending'",
        appointment_id,
        version,
        *key,
    )


async def release(conn: Any, key: tuple[str, str], owner: str | None) -> None:
    if owner is None:
        await conn.execute(
            "DELETE FROM idempotency_ledger WHERE scope = $1 AND request_id = $2", *key
        )
        return
    await conn.execute(
        "DELETE FROM idempotency_ledger WHERE scope = $1 AND request_id = $2"
        " AND owner = $3 AND state = 'pending'",
        *key,
        owner,
    )


def claim_from_row(row: Row, lease_s: float) -> LedgerClaim:
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


def _lease_end(row: Row, lease_s: float) -> datetime:
    """When a pending claim's lease ends; a row without one gets ``lease_s`` from its claim."""
    if row["lease_until"] is not None:
        return aware(row["lease_until"])
    return aware(row["claimed_at"]) + timedelta(seconds=lease_s)
