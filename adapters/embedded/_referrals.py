"""The embedded diary's referrals: every version it is offered, beside its bookings.

A service with no system of its own holds its referrals here (issue 11, item 4):
one row per referral version, idempotent on (referral, version), with the
gateway's appointment id and the referral document's id, so a booking and its
referral are found together (``bookings.document`` names the same document).
The referral itself is stored as pydantic JSON, never logged. These are the
SQLite statements (run by ``_sqlite`` on its connection's thread); ``_pg`` keeps
the same table in PostgreSQL.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from adapters.domain import Referral
from adapters.embedded._db import Redacted, precise

SCHEMA = """
CREATE TABLE IF NOT EXISTS referrals (
    referral_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    status TEXT NOT NULL,
    service_id TEXT NOT NULL,
    appointment_id TEXT,
    document_id TEXT,
    request_id TEXT NOT NULL,
    received TEXT NOT NULL,
    referral TEXT NOT NULL,
    PRIMARY KEY (referral_id, version)
);
CREATE INDEX IF NOT EXISTS referrals_by_document ON referrals (document_id);
CREATE INDEX IF NOT EXISTS referrals_by_appointment ON referrals (appointment_id);
"""


def insert(conn: sqlite3.Connection, referral: Referral, request_id: str, now: datetime) -> bool:
    """Keep this referral version; False if it was already kept (a resend)."""
    cursor = conn.execute(
        "INSERT INTO referrals (referral_id, version, status, service_id, appointment_id,"
        " document_id, request_id, received, referral) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (referral_id, version) DO NOTHING",
        Redacted(
            (
                referral.id,
                referral.version,
                referral.status.value,
                referral.service_id,
                referral.appointment_id,
                referral.document_identifier,
                request_id,
                precise(now),
                referral.model_dump_json(),
            )
        ),
    )
    return cursor.rowcount == 1


def current(conn: sqlite3.Connection, referral_id: str) -> Referral | None:
    """The latest version of one referral kept here."""
    row = conn.execute(
        "SELECT referral FROM referrals WHERE referral_id = ? ORDER BY version DESC LIMIT 1",
        (referral_id,),
    ).fetchone()
    return None if row is None else Referral.model_validate_json(row[0])


def for_booking(conn: sqlite3.Connection, supplier_ref: str) -> list[Referral]:
    """Latest versions of the referrals whose document the diary's booking carries."""
    rows = conn.execute(
        "SELECT r.referral FROM referrals r JOIN bookings b"
        " ON r.document_id = json_extract(b.document, '$.identifier')"
        " WHERE b.supplier_ref = ? AND r.version = (SELECT MAX(m.version) FROM referrals m"
        " WHERE m.referral_id = r.referral_id) ORDER BY r.referral_id",
        (supplier_ref,),
    ).fetchall()
    return [Referral.model_validate_json(row[0]) for row in rows]
