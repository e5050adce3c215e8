"""ITK receipts in SQLite: the statements behind ``SqliteStore``'s ITK receipt methods.

Each function runs on the store's connection thread, inside the transaction the
store opened for it. A receipt is claimed with a lease: a process that dies
mid-message leaves a pending row that the sender's resend takes over once the
lease has run out, so nothing is lost and nothing is done twice (the referral
ledger makes each payload's referral once under the tracking id).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta

from gateway.store._sql import from_text, to_text
from gateway.store.base import ItkReceipt


def _receipt(row: sqlite3.Row) -> ItkReceipt:
    return ItkReceipt(
        tracking_id=row["tracking_id"],
        envelope_hash=row["envelope_hash"],
        answered=row["state"] == "answered",
        received_at=from_text(row["received_at"]),
        answer=None if row["answer"] is None else bytes(row["answer"]),
        referral_ids=tuple(json.loads(row["referral_ids"] or "[]")),
    )


def claim(
    db: sqlite3.Connection,
    tracking_id: str,
    envelope_hash: str,
    owner: str,
    now: datetime,
    lease_s: float,
) -> ItkReceipt | None:
    row = db.execute("SELECT * FROM itk_receipts WHERE tracking_id = ?", (tracking_id,)).fetchone()
    until = to_text(now + timedelta(seconds=lease_s))
    if row is None:
        db.execute(
            "INSERT INTO itk_receipts (tracking_id, envelope_hash, state, owner, lease_until,"
            " received_at) VALUES (?, ?, 'pending', ?, ?, ?)",
            (tracking_id, envelope_hash, owner, until, to_text(now)),
        )
        return None
    lapsed = row["lease_until"] is None or from_text(row["lease_until"]) < now
    if row["state"] == "pending" and (lapsed or row["owner"] == owner):
        db.execute(
            "UPDATE itk_receipts SET owner = ?, lease_until = ?, envelope_hash = ?"
            " WHERE tracking_id = ?",
            (owner, until, envelope_hash, tracking_id),
        )
        return None
    return _receipt(row)


def answer(
    db: sqlite3.Connection,
    tracking_id: str,
    owner: str,
    body: bytes,
    referral_ids: Sequence[str],
    now: datetime,
) -> None:
    db.execute(
        "UPDATE itk_receipts SET state = 'answered', answer = ?, referral_ids = ?,"
        " answered_at = ?, owner = NULL, lease_until = NULL"
        " WHERE tracking_id = ? AND owner = ? AND state = 'pending'",
        (body, json.dumps(list(referral_ids)), to_text(now), tracking_id, owner),
    )


def release(db: sqlite3.Connection, tracking_id: str, owner: str) -> None:
    db.execute(
        "DELETE FROM itk_receipts WHERE tracking_id = ? AND owner = ? AND state = 'pending'",
        (tracking_id, owner),
    )
