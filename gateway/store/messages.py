"""The message journal's rows: legacy messages in and out, and the SQLite statements.

One row per message the gateway received or sent over a legacy channel (HL7 v2,
ITK, supplier REST): when, which way, which channel and route, the sender and
control id (MSH-10 and the like), what became of it (``applied``, ``rejected``,
``failed``, ``duplicate``) with a reason code and a reason that names mapping
codes only, never patient data, and the content hash. ``payload`` is the message
sealed with AES-GCM (``sealed``), or in plain text only where the operator said
so, or absent (then the message cannot be replayed). ``gateway/msgjournal``
writes and reads it; ``replays``/``replayed_at`` say what a replay made of it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from gateway.store._sql import from_text, to_text

APPLIED, REJECTED, FAILED, DUPLICATE = "applied", "rejected", "failed", "duplicate"
INBOUND, OUTBOUND = "in", "out"


@dataclass(frozen=True, slots=True)
class MessageRecord:
    id: str
    at: datetime
    direction: str
    channel: str
    route: str
    sender: str
    control_id: str
    outcome: str
    reason_code: str
    reason: str
    content_hash: str
    #: The message sealed (``sealed``), in plain text, or None (metadata only).
    payload: bytes | None
    sealed: bool
    replays: int = 0
    replayed_at: datetime | None = None


COLUMNS = (
    "id",
    "at",
    "direction",
    "channel",
    "route",
    "sender",
    "control_id",
    "outcome",
    "reason_code",
    "reason",
    "content_hash",
    "payload",
    "sealed",
    "replays",
    "replayed_at",
)

_INSERT = (
    f"INSERT INTO message_journal ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
)
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM message_journal"
_SETTLE = (
    "UPDATE message_journal SET outcome = ?, reason_code = ?, reason = ?,"
    " replays = replays + 1, replayed_at = ? WHERE id = ?"
)


def params(record: MessageRecord) -> tuple[object, ...]:
    return (
        record.id,
        to_text(record.at),
        record.direction,
        record.channel,
        record.route,
        record.sender,
        record.control_id,
        record.outcome,
        record.reason_code,
        record.reason,
        record.content_hash,
        record.payload,
        int(record.sealed),
        record.replays,
        None if record.replayed_at is None else to_text(record.replayed_at),
    )


def from_row(row: sqlite3.Row) -> MessageRecord:
    replayed = row["replayed_at"]
    return MessageRecord(
        id=row["id"],
        at=from_text(row["at"]),
        direction=row["direction"],
        channel=row["channel"],
        route=row["route"],
        sender=row["sender"],
        control_id=row["control_id"],
        outcome=row["outcome"],
        reason_code=row["reason_code"],
        reason=row["reason"],
        content_hash=row["content_hash"],
        payload=None if row["payload"] is None else bytes(row["payload"]),
        sealed=bool(row["sealed"]),
        replays=int(row["replays"]),
        replayed_at=None if replayed is None else from_text(replayed),
    )


def record(db: sqlite3.Connection, entry: MessageRecord) -> None:
    db.execute(_INSERT, params(entry))


def one(db: sqlite3.Connection, message_id: str) -> MessageRecord | None:
    row = db.execute(f"{_SELECT} WHERE id = ?", (message_id,)).fetchone()
    return None if row is None else from_row(row)


def between(
    db: sqlite3.Connection, start: datetime, end: datetime, direction: str
) -> list[MessageRecord]:
    sql = f"{_SELECT} WHERE at >= ? AND at < ? AND direction = ? ORDER BY at, id"
    rows = db.execute(sql, (to_text(start), to_text(end), direction)).fetchall()
    return [from_row(row) for row in rows]


def settle(
    db: sqlite3.Connection, message_id: str, outcome: str, code: str, reason: str, at: datetime
) -> None:
    db.execute(_SETTLE, (outcome, code, reason, to_text(at), message_id))
