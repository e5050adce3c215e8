"""Schema and migrations of the PostgreSQL store.

The tables mirror the SQLite store's (``_sql.MIGRATIONS``) at its current
version, with native types: instants are ``timestamptz``, the ITK answer is
``bytea`` and its referral ids ``text[]``. Each migration is recorded in
``schema_migrations``; ``migrate`` applies the missing ones under a
transaction-scoped advisory lock, so replicas starting together apply each once.
"""

from __future__ import annotations

from typing import Any

from gateway.store import _pg_messages, _pg_trace
from gateway.store._sql import BORDER_COLUMNS

#: ``pg_advisory_xact_lock`` key shared by every gateway migrating this database
#: (an arbitrary constant: the bytes of "uecgwmig").
MIGRATION_LOCK = 0x7565_6367_776D_6967

#: One tuple of statements per schema version: MIGRATIONS[n] takes version n to n+1.
#: Append only; never edit a migration that has shipped.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE appointment_versions (
            appointment_id text NOT NULL,
            version integer NOT NULL CHECK (version >= 1),
            route text NOT NULL,
            supplier_ref text NOT NULL,
            status text NOT NULL,
            nhs_number text,
            start_at timestamptz NOT NULL,
            end_at timestamptz NOT NULL,
            last_modified timestamptz NOT NULL,
            booked_by text,
            booking_json text NOT NULL,
            -- Two writers of one next version: the second insert fails here.
            PRIMARY KEY (appointment_id, version)
        )
        """,
        "CREATE INDEX ix_versions_nhs_end ON appointment_versions (nhs_number, end_at)",
        "CREATE INDEX ix_versions_end ON appointment_versions (end_at)",
        "CREATE INDEX ix_versions_supplier_ref ON appointment_versions (route, supplier_ref)",
        """
        CREATE TABLE idempotency_ledger (
            scope text NOT NULL,
            request_id text NOT NULL,
            body_hash text NOT NULL,
            state text NOT NULL CHECK (state IN ('pending', 'done')),
            appointment_id text,
            version integer,
            claimed_at timestamptz NOT NULL,
            owner text,
            lease_until timestamptz,
            route text,
            service_id text,
            work text,
            PRIMARY KEY (scope, request_id)
        )
        """,
        "CREATE INDEX ix_ledger_in_doubt ON idempotency_ledger (claimed_at)"
        " WHERE state = 'pending' AND work IS NOT NULL",
        """
        CREATE TABLE audit (
            id bigserial PRIMARY KEY,
            at timestamptz NOT NULL,
            interaction text NOT NULL,
            method text NOT NULL,
            path text NOT NULL,
            status integer NOT NULL,
            request_id text,
            correlation_id text,
            trace_id text,
            consumer_asid text,
            organisation_ods text,
            organisation_name text,
            device_id text,
            practitioner_id text,
            appointment_id text,
            outcome text,
            service_id text,
            slot_count integer,
            front_door text NOT NULL DEFAULT 'fhir',
            practitioner_name text,
            practitioner_role text
        )
        """,
        "CREATE INDEX ix_audit_at ON audit (at, id)",
        """
        CREATE TABLE referral_versions (
            referral_id text NOT NULL,
            version integer NOT NULL CHECK (version >= 1),
            route text NOT NULL,
            status text NOT NULL,
            nhs_number text,
            service_id text NOT NULL,
            appointment_id text,
            document_id text,
            authored_at timestamptz NOT NULL,
            last_modified timestamptz NOT NULL,
            recorded_by text,
            referral_json text NOT NULL,
            PRIMARY KEY (referral_id, version)
        )
        """,
        "CREATE INDEX ix_referrals_nhs ON referral_versions (nhs_number, authored_at)",
        "CREATE INDEX ix_referrals_appointment ON referral_versions (appointment_id)",
        "CREATE INDEX ix_referrals_document ON referral_versions (document_id)",
        """
        CREATE TABLE referral_documents (
            document_id text PRIMARY KEY,
            appointment_id text NOT NULL,
            linked_at timestamptz NOT NULL
        )
        """,
        """
        CREATE TABLE unbooked_flags (
            referral_id text PRIMARY KEY,
            flagged_at timestamptz NOT NULL
        )
        """,
        """
        CREATE TABLE pointer_journal (
            seq bigserial PRIMARY KEY,
            appointment_id text NOT NULL,
            version integer NOT NULL,
            recorded_at timestamptz NOT NULL,
            state text NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'delivered', 'refused')),
            attempts integer NOT NULL DEFAULT 0,
            due_at timestamptz NOT NULL,
            owner text,
            lease_until timestamptz,
            last_error text,
            finished_at timestamptz,
            UNIQUE (appointment_id, version)
        )
        """,
        "CREATE INDEX ix_pointer_journal_state ON pointer_journal (state, appointment_id, seq)",
        """
        CREATE TABLE registry_pointers (
            appointment_id text PRIMARY KEY,
            document_id text,
            content_hash text,
            subject_hash text,
            version integer NOT NULL,
            updated_at timestamptz NOT NULL
        )
        """,
        """
        CREATE TABLE itk_receipts (
            tracking_id text PRIMARY KEY,
            envelope_hash text NOT NULL,
            state text NOT NULL CHECK (state IN ('pending', 'answered')),
            owner text,
            lease_until timestamptz,
            received_at timestamptz NOT NULL,
            answered_at timestamptz,
            referral_ids text[],
            answer bytea
        )
        """,
        """
        CREATE TABLE hl7_origins (
            appointment_id text PRIMARY KEY,
            sending_application text NOT NULL,
            sending_facility text NOT NULL,
            placer_id text NOT NULL,
            recorded_at timestamptz NOT NULL
        )
        """,
        """
        CREATE TABLE hl7_outbox (
            seq bigserial PRIMARY KEY,
            appointment_id text NOT NULL,
            version integer NOT NULL,
            recorded_at timestamptz NOT NULL,
            state text NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'delivered', 'held', 'refused')),
            attempts integer NOT NULL DEFAULT 0,
            due_at timestamptz NOT NULL,
            owner text,
            lease_until timestamptz,
            last_error text,
            finished_at timestamptz,
            UNIQUE (appointment_id, version)
        )
        """,
        "CREATE INDEX ix_hl7_outbox_state ON hl7_outbox (state, appointment_id, seq)",
    ),
    (
        # Where each slot and schedule a search offered lives, for a booking sent to
        # another replica (gateway/routing.py; SQLite migration 10).
        """
        CREATE TABLE slot_homes (
            key text PRIMARY KEY,
            route text NOT NULL,
            service_id text,
            seen_at timestamptz NOT NULL
        )
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
    # The journey trace (gateway/store/trace.py; SQLite migration 12).
    _pg_trace.MIGRATION,
    # The message journal of legacy messages in and out (gateway/store/messages.py).
    _pg_messages.TABLE,
    # Booking rules across borders in the audit (SQLite migration 14).
    tuple(
        statement.replace(" TEXT", " text").replace(" BOOLEAN", " boolean")
        for statement in BORDER_COLUMNS
    ),
)

SCHEMA_VERSION = len(MIGRATIONS)

_CREATE_MIGRATIONS = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer gateway than this one."""


def quote_ident(name: str) -> str:
    """``name`` as a PostgreSQL identifier (double quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


async def migrate(conn: Any, schema: str | None) -> int:
    """Bring the schema up to date on ``conn`` and return its version.

    One transaction under ``pg_advisory_xact_lock``: a second replica opening at
    the same moment waits, then finds every migration applied.
    """
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        if schema is not None:
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
        await conn.execute(_CREATE_MIGRATIONS)
        current: int = await conn.fetchval(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"
        )
        if current > SCHEMA_VERSION:
            raise SchemaTooNew(
                f"database schema version {current} is newer than this gateway ({SCHEMA_VERSION})"
            )
        for number in range(current, SCHEMA_VERSION):
            for statement in MIGRATIONS[number]:
                await conn.execute(statement)
            await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", number + 1)
        return SCHEMA_VERSION


async def version(conn: Any) -> int:
    """The schema version recorded in ``schema_migrations`` (0 before any migration)."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return 0
    found: int = await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
    return found
