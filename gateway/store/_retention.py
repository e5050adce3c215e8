"""What retention may purge, table by table, for both stores (``purge`` of each).

Each target names its table, the instant column a cutoff applies to, the condition
that makes a row finished (a row that is not is never purged, whatever its age)
and the key a batch of rows is picked by. Appointment and referral versions are
the record and are no target; nor are registry pointers, HL7 origins, referral
documents or unbooked flags (one row per appointment or referral, needed for as
long as it is).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gateway.store.base import PurgeCounts, PurgeCutoffs

#: Rows deleted per statement: each batch is a short transaction of its own.
BATCH = 5000


@dataclass(frozen=True, slots=True)
class Target:
    #: The ``PurgeCutoffs``/``PurgeCounts`` field.
    kind: str
    table: str
    #: Rows whose ``column`` is before the cutoff go (if ``finished`` holds).
    column: str
    #: SQL condition a row must meet besides its age; "" for none.
    finished: str
    #: The columns identifying a row (for picking a batch).
    key: tuple[str, ...]


TARGETS: tuple[Target, ...] = (
    Target("audit", "audit", "at", "", ("id",)),
    # Only DONE claims: a pending one is a request in flight or in doubt.
    Target("ledger", "idempotency_ledger", "claimed_at", "state = 'done'", ("scope", "request_id")),
    # Delivered, held or refused entries; a pending one is work still to do.
    Target("journal", "pointer_journal", "finished_at", "state <> 'pending'", ("seq",)),
    Target("journal", "hl7_outbox", "finished_at", "state <> 'pending'", ("seq",)),
    # Answered receipts; a claimed one is a message being processed.
    Target("receipts", "itk_receipts", "answered_at", "state = 'answered'", ("tracking_id",)),
    Target("slot_homes", "slot_homes", "seen_at", "", ("key",)),
    # Journaled legacy messages, by when each was received or sent (journal.retention_days).
    Target("messages", "message_journal", "at", "", ("id",)),
)


def eligible(target: Target, placeholder: str) -> str:
    """The WHERE condition of ``target``'s purgeable rows, the cutoff as ``placeholder``."""
    condition = f"{target.column} < {placeholder}"
    return f"{condition} AND {target.finished}" if target.finished else condition


def cutoff(cutoffs: PurgeCutoffs, target: Target) -> datetime | None:
    found: datetime | None = getattr(cutoffs, target.kind)
    return found


def counts(found: dict[str, int]) -> PurgeCounts:
    """``PurgeCounts`` from rows per kind."""
    return PurgeCounts(**found)
