"""The message journal in PostgreSQL: the statements behind ``PostgresStore``'s journal methods.

The rows are ``gateway.store.messages.MessageRecord``; instants are ``timestamptz``
and the payload ``bytea``, as the rest of the PostgreSQL store keeps them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.store.messages import COLUMNS, MessageRecord

TABLE = (
    """
    CREATE TABLE message_journal (
        id text PRIMARY KEY,
        at timestamptz NOT NULL,
        direction text NOT NULL,
        channel text NOT NULL,
        route text NOT NULL,
        sender text NOT NULL,
        control_id text NOT NULL,
        outcome text NOT NULL,
        reason_code text NOT NULL,
        reason text NOT NULL,
        content_hash text NOT NULL,
        payload bytea,
        sealed boolean NOT NULL,
        replays integer NOT NULL DEFAULT 0,
        replayed_at timestamptz
    )
    """,
    "CREATE INDEX ix_message_journal_at ON message_journal (at)",
    "CREATE INDEX ix_message_journal_control ON message_journal (sender, control_id)",
)

_INSERT = (
    f"INSERT INTO message_journal ({', '.join(COLUMNS)})"
    f" VALUES ({', '.join(f'${n}' for n in range(1, len(COLUMNS) + 1))})"
)
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM message_journal"
_SETTLE = (
    "UPDATE message_journal SET outcome = $1, reason_code = $2, reason = $3,"
    " replays = replays + 1, replayed_at = $4 WHERE id = $5"
)


def _from(row: Any) -> MessageRecord:
    payload = row["payload"]
    return MessageRecord(
        **{name: row[name] for name in COLUMNS if name != "payload"},
        payload=None if payload is None else bytes(payload),
    )


async def record(conn: Any, entry: MessageRecord) -> None:
    await conn.execute(_INSERT, *(getattr(entry, name) for name in COLUMNS))


async def one(conn: Any, message_id: str) -> MessageRecord | None:
    row = await conn.fetchrow(f"{_SELECT} WHERE id = $1", message_id)
    return None if row is None else _from(row)


async def between(conn: Any, start: datetime, end: datetime, direction: str) -> list[MessageRecord]:
    sql = f"{_SELECT} WHERE at >= $1 AND at < $2 AND direction = $3 ORDER BY at, id"
    return [_from(row) for row in await conn.fetch(sql, start, end, direction)]


async def settle(
    conn: Any, message_id: str, outcome: str, code: str, reason: str, at: datetime
) -> None:
    await conn.execute(_SETTLE, outcome, code, reason, at, message_id)
