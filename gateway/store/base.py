"""The store's small interface: versions, the idempotency ledger and the audit.

SQLite (``gateway.store.sqlite``) is the embedded default; a PostgreSQL store
for several replicas implements the same Protocol. Everything here must survive
a restart.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from adapters.domain import Booking


@dataclass(frozen=True, slots=True)
class AppointmentVersion:
    """One version of one appointment, as the gateway serves it."""

    appointment_id: str
    version: int
    booking: Booking
    #: The adapter instance (route) that holds this booking.
    route: str
    last_modified: datetime
    #: ODS code of the consumer organisation that booked it.
    booked_by: str | None = None


class ClaimState(enum.Enum):
    NEW = "new"  # first use of this key: go ahead and book
    DONE = "done"  # a booking was already made under this key
    PENDING = "pending"  # a request under this key is still being processed


@dataclass(frozen=True, slots=True)
class LedgerClaim:
    state: ClaimState
    body_hash: str
    appointment_id: str | None = None
    version: int | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Provenance of one API call (fs_authentication.md). No patient data."""

    at: datetime
    interaction: str
    method: str
    path: str
    status: int
    request_id: str | None = None
    correlation_id: str | None = None
    trace_id: str | None = None
    consumer_asid: str | None = None
    organisation_ods: str | None = None
    organisation_name: str | None = None
    device_id: str | None = None
    practitioner_id: str | None = None
    #: fs_authentication.md, Provenance: the author's name and role (SDS role profile id),
    #: as the JWT's requesting_practitioner gives them. The user's, never the patient's.
    practitioner_name: str | None = None
    practitioner_role: str | None = None
    appointment_id: str | None = None
    outcome: str | None = None
    #: The national service the call was about, when known (for reporting).
    service_id: str | None = None
    #: Slots offered by a slot search (for reporting).
    slot_count: int | None = None
    #: How the call arrived: "fhir" or "hl7v2".
    front_door: str = "fhir"


class VersionConflict(Exception):
    """The appointment's current version is not the one the writer expected."""


class Store(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def add_version(self, version: AppointmentVersion) -> None:
        """Append ``version``; it must be exactly current+1 (1 for a new id).

        Raises ``VersionConflict`` otherwise, atomically, so two writers can
        never both make version N.
        """
        ...

    async def get(
        self, appointment_id: str, version: int | None = None
    ) -> AppointmentVersion | None:
        """The current version, or the one asked for; None if unknown."""
        ...

    async def versions(self, appointment_id: str) -> list[AppointmentVersion]:
        """Every version, oldest first."""
        ...

    async def find_by_nhs_number(
        self, nhs_number: str, not_before: datetime
    ) -> list[AppointmentVersion]:
        """Current versions of appointments for this patient ending at or after ``not_before``."""
        ...

    async def find_by_supplier_ref(
        self, route: str, supplier_ref: str
    ) -> AppointmentVersion | None:
        """The current version of the appointment a supplier knows as ``supplier_ref``."""
        ...

    async def claim_request(
        self, scope: str, request_id: str, body_hash: str, now: datetime, stale_after_s: float
    ) -> LedgerClaim:
        """Atomically claim an idempotency key (scope = consumer ASID or ODS).

        NEW if unseen (or a PENDING claim older than ``stale_after_s``, taken
        over); otherwise the existing claim.
        """
        ...

    async def complete_request(
        self, scope: str, request_id: str, appointment_id: str, version: int
    ) -> None:
        """Record that the key made this booking."""
        ...

    async def release_request(self, scope: str, request_id: str) -> None:
        """Forget a claim whose request failed, so the consumer may retry it."""
        ...

    async def record_audit(self, entry: AuditEntry) -> None: ...

    async def record_audits(self, entries: Sequence[AuditEntry]) -> None:
        """Record several entries in one transaction (the audit trail's group commit)."""
        ...

    async def audit_entries(self, limit: int = 100) -> list[AuditEntry]:
        """The newest entries first."""
        ...

    async def audit_between(self, start: datetime, end: datetime) -> list[AuditEntry]:
        """Entries with start <= at < end, oldest first (for reports)."""
        ...
