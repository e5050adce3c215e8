"""Schema, migrations and value conversions for the SQLite store.

Kept apart from ``sqlite.py`` so the store reads as behaviour and this file as
data. Every instant is stored as fixed-width ISO-8601 UTC text
(``2024-05-01T09:30:00.000000+00:00``), so text order is time order and range
filters such as ``end_at >= ?`` can use an index.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from adapters.domain import Booking, Referral
from gateway.store import _trace_sql
from gateway.store.base import AppointmentVersion, AuditEntry, ReferralVersion

#: Booking rules across borders in the audit (gateway/policy/; schema migration 14).
BORDER_COLUMNS = (
    "ALTER TABLE audit ADD COLUMN consumer_region TEXT",
    "ALTER TABLE audit ADD COLUMN provider_region TEXT",
    "ALTER TABLE audit ADD COLUMN policy_rule TEXT",
    "ALTER TABLE audit ADD COLUMN commissioner TEXT",
    "ALTER TABLE audit ADD COLUMN cross_border BOOLEAN",
    "ALTER TABLE audit ADD COLUMN border_reason TEXT",
    # The report finds a DNA's booking by its appointment id (gateway/policy/report.py).
    "CREATE INDEX ix_audit_appointment ON audit (appointment_id) WHERE appointment_id IS NOT NULL",
)

#: One tuple of statements per schema version: MIGRATIONS[n] takes version n to n+1.
#: Append only; never edit a migration that has shipped.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE appointment_versions (
            appointment_id TEXT NOT NULL,
            version INTEGER NOT NULL CHECK (version >= 1),
            route TEXT NOT NULL,
            supplier_ref TEXT NOT NULL,
            status TEXT NOT NULL,
            nhs_number TEXT,
            start_at TEXT NOT NULL,
            end_at TEXT NOT NULL,
            last_modified TEXT NOT NULL,
            booked_by TEXT,
            booking_json TEXT NOT NULL,
            PRIMARY KEY (appointment_id, version)
        ) WITHOUT ROWID
        """,
        "CREATE INDEX ix_versions_nhs_end ON appointment_versions (nhs_number, end_at)",
        "CREATE INDEX ix_versions_end ON appointment_versions (end_at)",
        "CREATE INDEX ix_versions_supplier_ref ON appointment_versions (route, supplier_ref)",
        """
        CREATE TABLE idempotency_ledger (
            scope TEXT NOT NULL,
            request_id TEXT NOT NULL,
            body_hash TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'done')),
            appointment_id TEXT,
            version INTEGER,
            claimed_at TEXT NOT NULL,
            PRIMARY KEY (scope, request_id)
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE audit (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            interaction TEXT NOT NULL,
            method TEXT NOT NULL,
            path TEXT NOT NULL,
            status INTEGER NOT NULL,
            request_id TEXT,
            correlation_id TEXT,
            trace_id TEXT,
            consumer_asid TEXT,
            organisation_ods TEXT,
            organisation_name TEXT,
            device_id TEXT,
            practitioner_id TEXT,
            appointment_id TEXT,
            outcome TEXT
        )
        """,
        "CREATE INDEX ix_audit_at ON audit (at)",
    ),
    (
        # Reporting (fs_reporting.md): which service, how many slots offered, which door.
        "ALTER TABLE audit ADD COLUMN service_id TEXT",
        "ALTER TABLE audit ADD COLUMN slot_count INTEGER",
        "ALTER TABLE audit ADD COLUMN front_door TEXT",
    ),
    (
        # fs_authentication.md, Provenance: "author details ..., including name and role".
        "ALTER TABLE audit ADD COLUMN practitioner_name TEXT",
        "ALTER TABLE audit ADD COLUMN practitioner_role TEXT",
    ),
    (
        # A claim names the gateway process holding it and how long that holder is
        # trusted to be alive (renewed while it works); NULL on claims made before.
        "ALTER TABLE idempotency_ledger ADD COLUMN owner TEXT",
        "ALTER TABLE idempotency_ledger ADD COLUMN lease_until TEXT",
        # Where the booking was sent, so a resend after a restart (whose router has
        # not yet learnt the slot from a search) still reaches that supplier.
        "ALTER TABLE idempotency_ledger ADD COLUMN route TEXT",
        "ALTER TABLE idempotency_ledger ADD COLUMN service_id TEXT",
        # The booking while it is in doubt (request and call context, as JSON), so a
        # restarted gateway can resolve it unasked; cleared once the claim is done.
        "ALTER TABLE idempotency_ledger ADD COLUMN work TEXT",
    ),
    (
        # Referrals, versioned like appointments; the NHS number, appointment and
        # document columns are the indexes a referral is found by.
        """
        CREATE TABLE referral_versions (
            referral_id TEXT NOT NULL,
            version INTEGER NOT NULL CHECK (version >= 1),
            route TEXT NOT NULL,
            status TEXT NOT NULL,
            nhs_number TEXT,
            service_id TEXT NOT NULL,
            appointment_id TEXT,
            document_id TEXT,
            authored_at TEXT NOT NULL,
            last_modified TEXT NOT NULL,
            recorded_by TEXT,
            referral_json TEXT NOT NULL,
            PRIMARY KEY (referral_id, version)
        ) WITHOUT ROWID
        """,
        "CREATE INDEX ix_referrals_nhs ON referral_versions (nhs_number, authored_at)",
        "CREATE INDEX ix_referrals_appointment ON referral_versions (appointment_id)",
        "CREATE INDEX ix_referrals_document ON referral_versions (document_id)",
        # A booking's referral document (STU3 contained DocumentReference), so a referral
        # arriving later for that document links to the appointment it made.
        """
        CREATE TABLE referral_documents (
            document_id TEXT PRIMARY KEY,
            appointment_id TEXT NOT NULL,
            linked_at TEXT NOT NULL
        ) WITHOUT ROWID
        """,
    ),
    (
        # The registry journal: one entry per appointment version (written with the
        # version), delivered in order per appointment by the pointer worker.
        """
        CREATE TABLE pointer_journal (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            appointment_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            recorded_at TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'delivered', 'refused')),
            attempts INTEGER NOT NULL DEFAULT 0,
            due_at TEXT NOT NULL,
            owner TEXT,
            lease_until TEXT,
            last_error TEXT,
            finished_at TEXT,
            UNIQUE (appointment_id, version)
        )
        """,
        "CREATE INDEX ix_pointer_journal_state ON pointer_journal (state, appointment_id, seq)",
        # What the registry holds per appointment, as last delivered.
        """
        CREATE TABLE registry_pointers (
            appointment_id TEXT PRIMARY KEY,
            document_id TEXT,
            content_hash TEXT,
            subject_hash TEXT,
            version INTEGER NOT NULL,
            updated_at TEXT NOT NULL
        ) WITHOUT ROWID
        """,
    ),
    (
        # ITK tracking ids received by the ITK door (gateway/itk/): a resent message is
        # answered as the first time and never processed twice, across restarts too.
        """
        CREATE TABLE itk_receipts (
            tracking_id TEXT PRIMARY KEY,
            envelope_hash TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'answered')),
            owner TEXT,
            lease_until TEXT,
            received_at TEXT NOT NULL,
            answered_at TEXT,
            referral_ids TEXT,
            answer BLOB
        ) WITHOUT ROWID
        """,
    ),
    (
        # Referrals whose booking never came within the grace period, flagged once
        # (gateway/journeys.py): the log event is written once, across restarts too.
        """
        CREATE TABLE unbooked_flags (
            referral_id TEXT PRIMARY KEY,
            flagged_at TEXT NOT NULL
        ) WITHOUT ROWID
        """,
    ),
    (
        # Which HL7 v2 consumer made each booking at the HL7 door (MSH-3, MSH-4) and the
        # placer id (ARQ-1) its SRR echoed in SCH-1, so a supplier-side change can be told
        # to it in an SIU with the ids it knows (gateway/hl7/notify.py).
        """
        CREATE TABLE hl7_origins (
            appointment_id TEXT PRIMARY KEY,
            sending_application TEXT NOT NULL,
            sending_facility TEXT NOT NULL,
            placer_id TEXT NOT NULL,
            recorded_at TEXT NOT NULL
        ) WITHOUT ROWID
        """,
        # The HL7 outbox: one entry per supplier-side version of such a booking (written
        # with the version), delivered in order per appointment, like pointer_journal.
        """
        CREATE TABLE hl7_outbox (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            appointment_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            recorded_at TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'delivered', 'held', 'refused')),
            attempts INTEGER NOT NULL DEFAULT 0,
            due_at TEXT NOT NULL,
            owner TEXT,
            lease_until TEXT,
            last_error TEXT,
            finished_at TEXT,
            UNIQUE (appointment_id, version)
        )
        """,
        "CREATE INDEX ix_hl7_outbox_state ON hl7_outbox (state, appointment_id, seq)",
    ),
    (
        # Where each slot and schedule a search offered lives (route, national service),
        # so a booking sent to another replica, or after a restart, reaches its supplier
        # (gateway/routing.py; only written when several routes are configured).
        """
        CREATE TABLE slot_homes (
            key TEXT PRIMARY KEY,
            route TEXT NOT NULL,
            service_id TEXT,
            seen_at TEXT NOT NULL
        ) WITHOUT ROWID
        """,
    ),
    (
        # What the retention purge selects by (gateway/store/_retention.py): each batch
        # finds its rows by index, not by scanning the table.
        "CREATE INDEX ix_ledger_purge ON idempotency_ledger (claimed_at) WHERE state = 'done'",
        "CREATE INDEX ix_pointer_journal_purge ON pointer_journal (finished_at)"
        " WHERE state <> 'pending'",
        "CREATE INDEX ix_hl7_outbox_purge ON hl7_outbox (finished_at) WHERE state <> 'pending'",
        "CREATE INDEX ix_itk_receipts_purge ON itk_receipts (answered_at) WHERE state = 'answered'",
        "CREATE INDEX ix_slot_homes_seen ON slot_homes (seen_at)",
    ),
    # The journey trace: hops hash-chained per journey, and every id they carried
    # (gateway/store/trace.py, docs/ops/trace.md).
    _trace_sql.MIGRATION,
    # The message journal of legacy messages in and out (gateway/store/messages.py).
    (
        """
        CREATE TABLE message_journal (
            id TEXT PRIMARY KEY,
            at TEXT NOT NULL,
            direction TEXT NOT NULL,
            channel TEXT NOT NULL,
            route TEXT NOT NULL,
            sender TEXT NOT NULL,
            control_id TEXT NOT NULL,
            outcome TEXT NOT NULL,
            reason_code TEXT NOT NULL,
            reason TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            payload BLOB,
            sealed INTEGER NOT NULL,
            replays INTEGER NOT NULL DEFAULT 0,
            replayed_at TEXT
        ) WITHOUT ROWID
        """,
        "CREATE INDEX ix_message_journal_at ON message_journal (at)",
        "CREATE INDEX ix_message_journal_control ON message_journal (sender, control_id)",
    ),
    BORDER_COLUMNS,
)

UPSERT_SLOT_HOME = """
INSERT INTO slot_homes (key, route, service_id, seen_at) VALUES (?, ?, ?, ?)
ON CONFLICT (key) DO UPDATE SET
    route = excluded.route, service_id = excluded.service_id, seen_at = excluded.seen_at
"""
SELECT_SLOT_HOME = "SELECT key, route, service_id FROM slot_homes WHERE key = ?"

SCHEMA_VERSION = len(MIGRATIONS)

CREATE_SCHEMA_VERSION = "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"

VERSION_COLUMNS = (
    "appointment_id",
    "version",
    "route",
    "supplier_ref",
    "status",
    "nhs_number",
    "start_at",
    "end_at",
    "last_modified",
    "booked_by",
    "booking_json",
)

REFERRAL_COLUMNS = (
    "referral_id",
    "version",
    "route",
    "status",
    "nhs_number",
    "service_id",
    "appointment_id",
    "document_id",
    "authored_at",
    "last_modified",
    "recorded_by",
    "referral_json",
)

AUDIT_FIELDS = (
    "at",
    "interaction",
    "method",
    "path",
    "status",
    "request_id",
    "correlation_id",
    "trace_id",
    "consumer_asid",
    "organisation_ods",
    "organisation_name",
    "device_id",
    "practitioner_id",
    "appointment_id",
    "outcome",
    "service_id",
    "slot_count",
    "front_door",
    "practitioner_name",
    "practitioner_role",
    # Booking rules across borders (gateway/policy/): who booked where, under which rule,
    # and which commissioner pays.
    "consumer_region",
    "provider_region",
    "policy_rule",
    "commissioner",
    "cross_border",
    "border_reason",
)

SELECT_VERSIONS = (
    f"SELECT {', '.join(f'v.{name}' for name in VERSION_COLUMNS)} FROM appointment_versions v"
)

INSERT_VERSION = (
    f"INSERT INTO appointment_versions ({', '.join(VERSION_COLUMNS)})"
    f" VALUES ({', '.join('?' * len(VERSION_COLUMNS))})"
)

SELECT_REFERRALS = (
    f"SELECT {', '.join(f'r.{name}' for name in REFERRAL_COLUMNS)} FROM referral_versions r"
)

INSERT_REFERRAL = (
    f"INSERT INTO referral_versions ({', '.join(REFERRAL_COLUMNS)})"
    f" VALUES ({', '.join('?' * len(REFERRAL_COLUMNS))})"
)

REFERRAL_IS_CURRENT = (
    "r.version = (SELECT MAX(m.version) FROM referral_versions m"
    " WHERE m.referral_id = r.referral_id)"
)

INSERT_AUDIT = (
    f"INSERT INTO audit ({', '.join(AUDIT_FIELDS)}) VALUES ({', '.join('?' * len(AUDIT_FIELDS))})"
)

#: Versions that made their appointment noshow (both stores; ``{}`` the placeholders).
NOSHOWS_BETWEEN = (
    "WHERE v.status = 'noshow' AND v.last_modified >= {} AND v.last_modified < {}"
    " AND NOT EXISTS (SELECT 1 FROM appointment_versions p"
    " WHERE p.appointment_id = v.appointment_id AND p.version = v.version - 1"
    " AND p.status = 'noshow') ORDER BY v.last_modified, v.appointment_id"
)

# The current version is the highest one; the primary key makes this a single seek.
IS_CURRENT = (
    "v.version = (SELECT MAX(m.version) FROM appointment_versions m"
    " WHERE m.appointment_id = v.appointment_id)"
)


def to_text(value: datetime) -> str:
    """Fixed-width ISO-8601 UTC text; naive datetimes are refused (their zone is unknown)."""
    if value.tzinfo is None:
        raise ValueError("datetime has no UTC offset")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def from_text(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


class Redacted(tuple[object, ...]):
    """Statement parameters whose repr hides their values.

    A driver's error or a debugger may repr them; a version's parameters hold the
    patient, which must never reach a log (STYLE.md). Both stores use it.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<{len(self)} redacted parameters>"


#: How a store writes an instant (SQLite: ISO text; PostgreSQL: aware UTC) and reads it back.
Write = Callable[[datetime], object]
Read = Callable[[Any], datetime]


def version_params(version: AppointmentVersion, when: Write = to_text) -> tuple[object, ...]:
    """A version's row values (both stores; ``when`` writes its instants)."""
    booking = version.booking
    return Redacted(
        (
            version.appointment_id,
            version.version,
            version.route,
            booking.supplier_ref,
            booking.status.value,
            booking.patient.nhs_number,
            when(booking.start),
            when(booking.end),
            when(version.last_modified),
            version.booked_by,
            booking.model_dump_json(),
        )
    )


def version_from_row(row: Any, instant: Read = from_text) -> AppointmentVersion:
    return AppointmentVersion(
        appointment_id=row["appointment_id"],
        version=row["version"],
        booking=Booking.model_validate_json(row["booking_json"]),
        route=row["route"],
        last_modified=instant(row["last_modified"]),
        booked_by=row["booked_by"],
    )


def referral_params(version: ReferralVersion, when: Write = to_text) -> tuple[object, ...]:
    """A referral version's row values (both stores)."""
    referral = version.referral
    return Redacted(
        (
            referral.id,
            referral.version,
            version.route,
            referral.status.value,
            referral.patient.nhs_number,
            referral.service_id,
            referral.appointment_id,
            referral.document_identifier,
            when(referral.authored),
            when(version.last_modified),
            version.recorded_by,
            referral.model_dump_json(),
        )
    )


def referral_from_row(row: Any, instant: Read = from_text) -> ReferralVersion:
    return ReferralVersion(
        referral=Referral.model_validate_json(row["referral_json"]),
        route=row["route"],
        last_modified=instant(row["last_modified"]),
        recorded_by=row["recorded_by"],
    )


def audit_params(entry: AuditEntry) -> tuple[object, ...]:
    return (to_text(entry.at), *(getattr(entry, name) for name in AUDIT_FIELDS[1:]))


def audit_from_row(row: sqlite3.Row) -> AuditEntry:
    values = {name: row[name] for name in AUDIT_FIELDS}
    values["at"] = from_text(row["at"])
    values["front_door"] = row["front_door"] or "fhir"
    if values["cross_border"] is not None:
        values["cross_border"] = bool(values["cross_border"])
    return AuditEntry(**values)


#: Current versions of live referrals linked to no appointment, with when the first
#: version was stored (the referral's receipt), those received before ``?`` only.
SELECT_UNBOOKED = (
    "SELECT r.referral_id, r.service_id, r.document_id,"
    " (SELECT MIN(f.last_modified) FROM referral_versions f"
    "  WHERE f.referral_id = r.referral_id) AS received_at"
    " FROM referral_versions r"
    f" WHERE r.appointment_id IS NULL AND {REFERRAL_IS_CURRENT}"
    " AND r.status NOT IN ('revoked', 'completed', 'entered-in-error')"
    " AND received_at <= ? ORDER BY received_at, r.referral_id"
)
