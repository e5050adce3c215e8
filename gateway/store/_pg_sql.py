"""Statements and value conversions of the PostgreSQL store (versions, referrals, audit).

The column lists are the SQLite store's (``_sql``); placeholders are ``$n``.
Instants go in as aware datetimes (a naive one is refused: its zone is
unknown) and come back from ``timestamptz`` as aware UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from gateway.store import _sql as _rows
from gateway.store._sql import AUDIT_FIELDS, REFERRAL_COLUMNS, VERSION_COLUMNS
from gateway.store._sql import Redacted as Redacted  # one statement-argument wrapper
from gateway.store.base import AppointmentVersion, AuditEntry, ReferralVersion

Row = Mapping[str, Any]


def _placeholders(count: int, start: int = 1) -> str:
    return ", ".join(f"${n}" for n in range(start, start + count))


SELECT_VERSIONS = (
    f"SELECT {', '.join(f'v.{name}' for name in VERSION_COLUMNS)} FROM appointment_versions v"
)
INSERT_VERSION = (
    f"INSERT INTO appointment_versions ({', '.join(VERSION_COLUMNS)})"
    f" VALUES ({_placeholders(len(VERSION_COLUMNS))})"
)
CURRENT_VERSION = (
    "SELECT COALESCE(MAX(version), 0) FROM appointment_versions WHERE appointment_id = $1"
)
NOSHOWS_BETWEEN = _rows.NOSHOWS_BETWEEN.format("$1", "$2")
# The current version is the highest one; the primary key makes this a single seek.
IS_CURRENT = (
    "v.version = (SELECT MAX(m.version) FROM appointment_versions m"
    " WHERE m.appointment_id = v.appointment_id)"
)

SELECT_REFERRALS = (
    f"SELECT {', '.join(f'r.{name}' for name in REFERRAL_COLUMNS)} FROM referral_versions r"
)
INSERT_REFERRAL = (
    f"INSERT INTO referral_versions ({', '.join(REFERRAL_COLUMNS)})"
    f" VALUES ({_placeholders(len(REFERRAL_COLUMNS))})"
)
CURRENT_REFERRAL = "SELECT COALESCE(MAX(version), 0) FROM referral_versions WHERE referral_id = $1"
REFERRAL_IS_CURRENT = (
    "r.version = (SELECT MAX(m.version) FROM referral_versions m"
    " WHERE m.referral_id = r.referral_id)"
)

#: Current versions of live referrals linked to no appointment, with when the first
#: version was stored (the referral's receipt), those received at or before $1 only.
SELECT_UNBOOKED = (
    "SELECT referral_id, service_id, document_id, received_at FROM ("
    " SELECT r.referral_id, r.service_id, r.document_id,"
    "  (SELECT MIN(f.last_modified) FROM referral_versions f"
    "   WHERE f.referral_id = r.referral_id) AS received_at"
    " FROM referral_versions r"
    f" WHERE r.appointment_id IS NULL AND {REFERRAL_IS_CURRENT}"
    " AND r.status NOT IN ('revoked', 'completed', 'entered-in-error')) AS live"
    " WHERE received_at <= $1 ORDER BY received_at, referral_id"
)

LINK_DOCUMENT = (
    "INSERT INTO referral_documents (document_id, appointment_id, linked_at)"
    " VALUES ($1, $2, $3) ON CONFLICT (document_id) DO UPDATE SET"
    " appointment_id = excluded.appointment_id, linked_at = excluded.linked_at"
)
DOCUMENT_APPOINTMENT = "SELECT appointment_id FROM referral_documents WHERE document_id = $1"
FLAG_UNBOOKED = (
    "INSERT INTO unbooked_flags (referral_id, flagged_at) VALUES ($1, $2)"
    " ON CONFLICT (referral_id) DO NOTHING"
)

INSERT_AUDIT = (
    f"INSERT INTO audit ({', '.join(AUDIT_FIELDS)}) VALUES ({_placeholders(len(AUDIT_FIELDS))})"
)
SELECT_AUDIT = f"SELECT {', '.join(AUDIT_FIELDS)} FROM audit"


def utc(value: datetime) -> datetime:
    """``value`` in UTC; naive datetimes are refused (their zone is unknown)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetime has no UTC offset")
    return value.astimezone(UTC)


def aware(value: datetime) -> datetime:
    """A ``timestamptz`` read back, as aware UTC whatever the session's zone."""
    return value.astimezone(UTC)


def version_params(version: AppointmentVersion) -> tuple[object, ...]:
    return _rows.version_params(version, utc)


def version_from_row(row: Row) -> AppointmentVersion:
    return _rows.version_from_row(row, aware)


def referral_params(version: ReferralVersion) -> tuple[object, ...]:
    return _rows.referral_params(version, utc)


def referral_from_row(row: Row) -> ReferralVersion:
    return _rows.referral_from_row(row, aware)


def has_nul(*values: object) -> bool:
    """Whether a text value holds NUL, which PostgreSQL text cannot store."""
    return any(isinstance(v, str) and "\x00" in v for v in values)


def _storable(value: object) -> object:
    return value.replace("\x00", "\ufffd") if isinstance(value, str) else value


def audit_params(entry: AuditEntry) -> tuple[object, ...]:
    """An audit row's values; a NUL a hostile request carried into one becomes U+FFFD."""
    values = tuple(_storable(getattr(entry, name)) for name in AUDIT_FIELDS[1:])
    return (utc(entry.at), *values)


def audit_from_row(row: Row) -> AuditEntry:
    values = {name: row[name] for name in AUDIT_FIELDS}
    values["at"] = aware(row["at"])
    values["front_door"] = row["front_door"] or "fhir"
    return AuditEntry(**values)
