"""ITK receipts in SQLite: the statements behind ``SqliteStore``'s ITK receipt methods.

Each function runs inside a transaction the store already holds. A receipt is
claimed with a lease: a process that dies mid-message leaves a pending row that
the sender's resend takes over once the lease has run out, so nothing is lost
and nothing is done twice (the referral ledger makes each payload's referral
once under the tracking id).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta

import aiosqlite

from gateway.store._sql import from_text, to_text
from gateway.store.base import ItkReceipt


def _receipt(row: aiosqlite.Row) -> ItkReceipt:
    return ItkReceipt(
        tracking_id=row["tracking_id"],
        envelope_hash=row["envelope_hash"],
        answered=row["state"] == "answered",
        received_at=from_text(row["received_at"]),
        answer=None if row["answer"] is None else bytes(row["answer"]),
        referral_ids=tuple(json.loads(row["referral_ids"] or "[]")),
    )


async def claim(
    db: aiosqlite.Connection,
    tracking_id: str,
    envelope_hash: str,
    owner: str,
    now: datetime,
    lease_s: float,
) -> ItkReceipt | None:
    rows = list(
        await db.execute_fetchall(
            "SELECT * FROM itk_receipts WHERE tracking_id = ?", (tracking_id,)
        )
    )
    until = to_text(now + timedelta(seconds=lease_s))
    if not rows:
        await db.execute(
            "INSERT INTO itk_receipts (tracking_id, envelope_hash, state, owner, lease_until,"
            " received_at) VALUES (?, ?, 'pending', ?, ?, ?)",
            (tracking_id, envelope_hash, owner, until, to_text(now)),
        )
        return None
    row = rows[0]
    lapsed = row["lease_until"] is None or from_text(row["lease_until"]) < now
    if row["state"] == "pending" and (lapsed or row["owner"] == owner):
        await db.execute(
            "UPDATE itk_receipts SET owner = ?, lease_until = ?, envelope_hash = ?"
            " WHERE tracking_id = ?",
            (owner, until, envelope_hash, tracking_id),
        )
        return None
    return _receipt(row)


async def answer(
    db: aiosqlite.Connection,
    tracking_id: str,
    owner: str,
    body: bytes,
    referral_ids: Sequence[str],
    now: datetime,
) -> None:
    await db.execute(
        "UPDATE itk_receipts SET state = 'answered', answer = ?, referral_ids = ?,"
        " answered_at = ?, owner = NULL, lease_until = NULL"
        " WHERE tracking_id = ? AND owner = ? AND state = 'pending'",
        (body, json.dumps(list(referral_ids)), to_text(now), tracking_id, owner),
    )


async def release(db: aiosqlite.Connection, tracking_id: str, owner: str) -> None:
    await db.execute(
        "DELETE FROM itk_receipts WHERE tracking_id = ? AND owner = ? AND state = 'pending'",
        (tracking_id, owner),
    )
