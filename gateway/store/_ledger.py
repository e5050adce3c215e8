"""The idempotency ledger in SQLite: the statements behind ``SqliteStore``'s claims.

Each function runs on the store's connection thread, inside the transaction (or
the read) the store opened for it. Writes run in ``BEGIN IMMEDIATE``, so of
several processes claiming one key at once the first inserts and the others,
waiting for its commit, find its row. The rules are those of ``_pg_ledger``.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

from gateway.store._sql import Redacted, from_text, to_text
from gateway.store.base import ClaimState, InDoubt, LedgerClaim

_SELECT = (
    "SELECT body_hash, state, appointment_id, version, claimed_at, owner, lease_until,"
    " route, service_id FROM idempotency_ledger WHERE scope = ? AND request_id = ?"
)
_INSERT = (
    "INSERT INTO idempotency_ledger (claimed_at, body_hash, owner, lease_until,"
    " route, service_id, work, scope, request_id, state)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')"
)
_TAKE_OVER = (
    "UPDATE idempotency_ledger SET claimed_at = ?, body_hash = ?, owner = ?,"
    " lease_until = ?, route = COALESCE(?, route), service_id = COALESCE(?,"
    " service_id), work = COALESCE(?, work) WHERE scope = ? AND request_id = ?"
)
_COMPLETE = (
    "UPDATE idempotency_ledger SET state = 'done', appointment_id = ?, version = ?,"
    " work = NULL WHERE scope = ? AND request_id = ? AND state = 'pending'"
)


def claim(
    db: sqlite3.Connection,
    key: tuple[str, str],
    body_hash: str,
    now: datetime,
    lease_s: float,
    owner: str,
    held: tuple[str | None, str | None, str | None],
) -> LedgerClaim:
    """Claim ``key`` (scope, request id); ``held`` is (route, service_id, work)."""
    lease = to_text(now + timedelta(seconds=lease_s))
    values = Redacted((to_text(now), body_hash, owner, lease, *held, *key))
    row = db.execute(_SELECT, key).fetchone()
    if row is None:
        db.execute(_INSERT, values)
        return LedgerClaim(ClaimState.NEW, body_hash)
    found = claim_from_row(row, lease_s)
    if found.state is ClaimState.DONE or (found.lease_until or now) >= now:
        return found
    # The holder stopped renewing its lease, so it has died: the key is the caller's.
    db.execute(_TAKE_OVER, values)
    return LedgerClaim(ClaimState.TAKEN_OVER, body_hash, owner=found.owner)


def find(db: sqlite3.Connection, key: tuple[str, str]) -> LedgerClaim | None:
    row = db.execute(_SELECT, key).fetchone()
    return None if row is None else claim_from_row(row, 0.0)


def in_doubt(db: sqlite3.Connection) -> list[InDoubt]:
    rows = db.execute(
        "SELECT scope, request_id, owner, lease_until, claimed_at, work"
        " FROM idempotency_ledger WHERE state = 'pending' AND work IS NOT NULL"
        " ORDER BY claimed_at"
    ).fetchall()
    return [
        InDoubt(row["scope"], row["request_id"], row["owner"], _lease_end(row, 0.0), row["work"])
        for row in rows
    ]


def renew(db: sqlite3.Connection, key: tuple[str, str], owner: str, until: datetime) -> bool:
    cursor = db.execute(
        "UPDATE idempotency_ledger SET lease_until = ? WHERE scope = ?"
        " AND request_id = ? AND owner = ? AND state = 'pending'",
        (to_text(until), *key, owner),
    )
    return cursor.rowcount == 1


def complete(
    db: sqlite3.Connection, key: tuple[str, str], appointment_id: str, version: int
) -> None:
    """Mark the claim done; a claim already released is left absent, a done one as is."""
    db.execute(_COMPLETE, (appointment_id, version, *key))


def release(db: sqlite3.Connection, key: tuple[str, str], owner: str | None) -> None:
    if owner is None:
        db.execute("DELETE FROM idempotency_ledger WHERE scope = ? AND request_id = ?", key)
        return
    db.execute(
        "DELETE FROM idempotency_ledger WHERE scope = ? AND request_id = ?"
        " AND owner = ? AND state = 'pending'",
        (*key, owner),
    )


def claim_from_row(row: sqlite3.Row, lease_s: float) -> LedgerClaim:
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
        return from_text(row["lease_until"])
    return from_text(row["claimed_at"]) + timedelta(seconds=lease_s)
