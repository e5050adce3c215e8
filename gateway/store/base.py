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
from typing import TYPE_CHECKING, Protocol

from adapters.domain import Booking, Referral
from gateway.store.trace import TraceStore

if TYPE_CHECKING:  # messages.py reads rows with _sql, which imports this module
    from gateway.store.messages import MessageRecord


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


@dataclass(frozen=True, slots=True)
class ReferralVersion:
    """One version of one referral (its id and number are ``referral.id``/``.version``)."""

    referral: Referral
    #: The adapter instance (route) serving the referral's service.
    route: str
    last_modified: datetime
    #: ODS code of the organisation that sent or changed it.
    recorded_by: str | None = None

    @property
    def referral_id(self) -> str:
        return self.referral.id

    @property
    def version(self) -> int:
        return self.referral.version


@dataclass(frozen=True, slots=True)
class UnbookedReferral:
    """A live referral linked to no booking (ids only: the operator's journey view)."""

    referral_id: str
    service_id: str
    document_id: str | None
    #: When its first version was stored (the gateway received it).
    received_at: datetime


#: Ledger scopes starting with this are locks (leases on a key while one holder works
#: on it), not records of requests: see ``is_lock``.
LOCK_PREFIX = "lock:"


def is_lock(scope: str) -> bool:
    """Whether claims in ``scope`` are locks, whose rows matter only while their holder runs."""
    return scope.startswith(LOCK_PREFIX)


class ClaimState(enum.Enum):
    NEW = "new"  # first use of this key: go ahead and book
    DONE = "done"  # a booking was already made under this key
    PENDING = "pending"  # a request under this key is still being processed
    #: A pending claim whose holder's lease lapsed (the holder died): now the caller's,
    #: who must resolve it by asking the supplier with the same idempotency key.
    TAKEN_OVER = "taken-over"


@dataclass(frozen=True, slots=True)
class LedgerClaim:
    state: ClaimState
    body_hash: str
    appointment_id: str | None = None
    version: int | None = None
    #: PENDING: the holder's id and when its lease ends unless renewed.
    #: TAKEN_OVER: the id of the holder that lapsed.
    owner: str | None = None
    lease_until: datetime | None = None
    #: Where the request was sent: the route and national service it was claimed for.
    route: str | None = None
    service_id: str | None = None


@dataclass(frozen=True, slots=True)
class InDoubt:
    """A pending claim and the work it was taken for: what a restarted gateway resolves."""

    scope: str
    request_id: str
    owner: str | None
    lease_until: datetime
    #: The request and call context as JSON (holds patient data: never log it).
    work: str


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
    #: Booking rules across borders (gateway/policy/), for a booking, cancel or referral:
    #: the consumer's and the service's regions, the rule that decided, the commissioner
    #: accountable, whether it crossed a border and the out-of-area reason given.
    consumer_region: str | None = None
    provider_region: str | None = None
    policy_rule: str | None = None
    commissioner: str | None = None
    cross_border: bool | None = None
    border_reason: str | None = None


@dataclass(frozen=True, slots=True)
class PointerWork:
    """One entry of the registry journal, leased for delivery: make the registry's pointer
    for ``appointment_id`` what ``version`` implies."""

    seq: int
    appointment_id: str
    version: int
    #: Delivery attempts so far, this one included (more than 1: an earlier one may have
    #: reached the registry).
    attempts: int


@dataclass(frozen=True, slots=True)
class SlotHomeRow:
    """Which route (and national service) a slot or schedule a search offered lives at,
    so a booking naming it finds its supplier at any replica, or after a restart."""

    #: ``slot:<id>`` or ``schedule:<id>`` (gateway/routing.py).
    key: str
    route: str
    service_id: str | None


@dataclass(frozen=True, slots=True)
class RegistryPointer:
    """What the registry holds for one appointment, as last delivered."""

    appointment_id: str
    #: The registry's id of the pointer; None when there is none (deleted, or never made).
    document_id: str | None
    #: Hashes of the pointer's content and of its subject (immutable at the registry).
    content_hash: str | None
    subject_hash: str | None
    #: The appointment version the pointer reflects.
    version: int


@dataclass(frozen=True, slots=True)
class PointerBacklog:
    """The registry journal's undelivered work (for /health and the logs; ids only)."""

    pending: int
    #: Pending entries tried at least ``stuck_after`` times.
    stuck: int
    #: Entries the registry refused as sent (not retried).
    refused: int
    oldest_pending: datetime | None


@dataclass(frozen=True, slots=True)
class ItkReceipt:
    """An ITK tracking id the ITK door has seen: being processed, or answered."""

    tracking_id: str
    #: A hash of the DistributionEnvelope (not of the SOAP headers, which a resend renews).
    envelope_hash: str
    answered: bool
    received_at: datetime
    #: The answer sent (the SOAP bytes), once answered.
    answer: bytes | None = None
    referral_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Hl7Origin:
    """The HL7 v2 consumer that made a booking at the HL7 door, and the ids it holds."""

    appointment_id: str
    #: MSH-3 and MSH-4 of the booking message (its ledger scope is ``hl7:<MSH-3>^<MSH-4>``).
    sending_application: str
    sending_facility: str
    #: ARQ-1 as sent: the SCH-1 placer id the SRR gave back ("" when none was sent).
    placer_id: str
    recorded_at: datetime


class NoticeOutcome(enum.Enum):
    """How an HL7 outbox entry ended."""

    DELIVERED = "delivered"  # the consumer answered AA/CA
    HELD = "held"  # the consumer has no notify endpoint: the change waits for its next query
    REFUSED = "refused"  # the consumer answered AR/CR: not sent again


@dataclass(frozen=True, slots=True)
class NoticeWork:
    """One HL7 outbox entry, leased for delivery: tell the booking's consumer of ``version``."""

    seq: int
    appointment_id: str
    version: int
    #: Delivery attempts so far, this one included (more than 1: a resend, same MSH-10).
    attempts: int


@dataclass(frozen=True, slots=True)
class NoticeState:
    """An HL7 outbox entry as it stands (ids and counts only)."""

    seq: int
    appointment_id: str
    version: int
    #: "pending" or a ``NoticeOutcome`` value.
    state: str
    attempts: int
    last_error: str | None


@dataclass(frozen=True, slots=True)
class PurgeCutoffs:
    """Per kind of kept record, the instant before which finished rows go; None keeps all.

    Only finished rows are ever purged: DONE ledger claims (never pending ones), journal
    and outbox entries that ended (never pending ones), answered ITK receipts (never
    claimed ones). Appointment and referral versions are the record and never go.
    """

    audit: datetime | None = None
    ledger: datetime | None = None
    #: The registry journal (pointer_journal) and the HL7 outbox, by when each entry ended.
    journal: datetime | None = None
    receipts: datetime | None = None
    slot_homes: datetime | None = None
    #: The message journal (legacy messages in and out), by when each was journaled.
    messages: datetime | None = None


@dataclass(frozen=True, slots=True)
class PurgeCounts:
    """How many rows of each kind a purge deleted (or, dry, would delete)."""

    audit: int = 0
    ledger: int = 0
    journal: int = 0
    receipts: int = 0
    slot_homes: int = 0
    messages: int = 0

    @property
    def total(self) -> int:
        kept = self.audit + self.ledger + self.journal + self.receipts + self.slot_homes
        return kept + self.messages

    def as_dict(self) -> dict[str, int]:
        return {
            "audit": self.audit,
            "ledger": self.ledger,
            "journal": self.journal,
            "receipts": self.receipts,
            "slot_homes": self.slot_homes,
            "messages": self.messages,
        }


class VersionConflict(Exception):
    """The appointment's current version is not the one the writer expected."""


class StoreUnavailable(RuntimeError):
    """The store's database cannot be reached (the message names where, never a secret)."""


class Store(TraceStore, Protocol):
    #: Whether other processes may use the same store at once (PostgreSQL; a SQLite
    #: file): what one process's memory guarantees must then be taken in the store.
    shared: bool

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def add_version(
        self, version: AppointmentVersion, *, supplier_side: bool = False
    ) -> None:
        """Append ``version``; it must be exactly current+1 (1 for a new id).

        Raises ``VersionConflict`` otherwise, atomically, so two writers can
        never both make version N. ``supplier_side``: the version records a change
        made at the supplier; if an HL7 consumer made the booking (``record_hl7_origin``)
        its outbox entry is written in the same transaction, so no change is missed.
        """
        ...

    async def add_version_and_complete(
        self,
        version: AppointmentVersion,
        scope: str,
        request_id: str | None,
        *,
        document_id: str | None = None,
    ) -> None:
        """``add_version`` (not supplier-side) and, in the same transaction,
        ``complete_request(scope, request_id, ...)`` naming that version (unless
        ``request_id`` is None) and ``link_document(document_id, ...)`` to its appointment
        at its ``last_modified`` (unless ``document_id`` is None).

        One commit for what a request's outcome is made of: either all of it is stored
        or none (a ``VersionConflict`` leaves the claim pending and the document unlinked).
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

    async def find_upcoming(self, not_before: datetime) -> list[AppointmentVersion]:
        """Current versions of every appointment ending at or after ``not_before``, by start
        (a search by demographics filters these: the patient is in the booking)."""
        ...

    async def find_by_supplier_ref(
        self, route: str, supplier_ref: str
    ) -> AppointmentVersion | None:
        """The current version of the appointment a supplier knows as ``supplier_ref``."""
        ...

    async def noshows_between(self, start: datetime, end: datetime) -> list[AppointmentVersion]:
        """Versions that marked their appointment ``noshow`` (the version before was not),
        made at start <= last_modified < end, oldest first (for reports: DNAs)."""
        ...

    # -- referrals (versioned like appointments) -------------------------------

    async def add_referral_version(self, version: ReferralVersion) -> None:
        """Append ``version``; it must be exactly current+1 (1 for a new id).

        Raises ``VersionConflict`` otherwise, atomically.
        """
        ...

    async def get_referral(
        self, referral_id: str, version: int | None = None
    ) -> ReferralVersion | None:
        """The current version, or the one asked for; None if unknown."""
        ...

    async def referral_versions(self, referral_id: str) -> list[ReferralVersion]:
        """Every version, oldest first."""
        ...

    async def find_referrals_by_nhs_number(self, nhs_number: str) -> list[ReferralVersion]:
        """Current versions of this patient's referrals, oldest authored first."""
        ...

    async def find_referrals_by_appointment(self, appointment_id: str) -> list[ReferralVersion]:
        """Current versions of the referrals linked to this appointment."""
        ...

    async def find_referral_by_document(self, document_id: str) -> ReferralVersion | None:
        """The current version of the referral whose current version names this document."""
        ...

    async def link_document(self, document_id: str, appointment_id: str, at: datetime) -> None:
        """Record that a booking carried this referral document.

        The latest booking wins: a rebooking that carries the same document moves the link.
        """
        ...

    async def document_appointment(self, document_id: str) -> str | None:
        """The appointment a booking carrying this referral document made, if any."""
        ...

    async def unbooked_referrals(self, received_before: datetime) -> list[UnbookedReferral]:
        """Live referrals linked to no booking, received at or before ``received_before``."""
        ...

    async def flag_unbooked(self, referral_id: str, at: datetime) -> bool:
        """Mark the referral flagged as unbooked; True only the first time."""
        ...

    async def claim_request(
        self,
        scope: str,
        request_id: str,
        body_hash: str,
        now: datetime,
        lease_s: float,
        owner: str = "",
        *,
        route: str | None = None,
        service_id: str | None = None,
        work: str | None = None,
    ) -> LedgerClaim:
        """Atomically claim an idempotency key (scope = consumer ASID or ODS) for ``owner``.

        NEW if unseen; TAKEN_OVER (now ``owner``'s) if PENDING with a lease that
        ended before ``now``; otherwise the existing claim. A claim made here is
        leased until ``now + lease_s``; a claim without a lease (made before
        leases existed) counts as leased for ``lease_s`` from when it was made.
        ``route`` and ``service_id`` are kept with the claim (see ``find_claim``),
        ``work`` until the claim is done or released (see ``in_doubt_claims``).
        """
        ...

    async def in_doubt_claims(self) -> list[InDoubt]:
        """Pending claims that hold their work, oldest first."""
        ...

    async def find_claim(self, scope: str, request_id: str) -> LedgerClaim | None:
        """The claim of a key as DONE or PENDING, with its route; None if unseen."""
        ...

    async def renew_claim(
        self, scope: str, request_id: str, owner: str, lease_until: datetime
    ) -> bool:
        """Extend ``owner``'s pending claim; False if it is no longer ``owner``'s and pending."""
        ...

    async def complete_request(
        self, scope: str, request_id: str, appointment_id: str, version: int
    ) -> None:
        """Record that the key made this booking."""
        ...

    async def release_request(self, scope: str, request_id: str, owner: str | None = None) -> None:
        """Forget a claim whose request failed, so the consumer may retry it.

        With ``owner``, only a pending claim still held by ``owner`` is forgotten.
        """
        ...

    # -- registry journal (pointers follow appointment versions) -----------------

    async def lease_pointer_work(
        self, owner: str, now: datetime, lease_s: float
    ) -> PointerWork | None:
        """Lease the oldest due journal entry of an appointment with no earlier entry
        undelivered and none leased by a live holder; None if there is none.

        A store opened with its pointer journal on adds one entry per version, in the
        same transaction as ``add_version``, so no version is ever missed.
        """
        ...

    async def finish_pointer_work(
        self, work: PointerWork, now: datetime, pointer: RegistryPointer | None
    ) -> None:
        """Mark ``work`` delivered and, with ``pointer``, record what the registry now holds."""
        ...

    async def retry_pointer_work(self, work: PointerWork, due: datetime, error: str) -> None:
        """Give ``work`` back, to be tried again from ``due``; ``error`` names why (no data)."""
        ...

    async def refuse_pointer_work(self, work: PointerWork, now: datetime, error: str) -> None:
        """Park ``work``: the registry refused it as sent; later entries go on."""
        ...

    async def registry_pointer(self, appointment_id: str) -> RegistryPointer | None:
        """What the registry holds for this appointment, as last delivered; None if nothing."""
        ...

    async def pointer_backlog(self, stuck_after: int) -> PointerBacklog:
        """Counts of undelivered, stuck and refused journal entries."""
        ...

    # -- HL7 origins and outbox (supplier-side changes told to HL7 consumers) ----------

    async def record_hl7_origin(self, origin: Hl7Origin) -> None:
        """Remember which HL7 consumer made the booking; the first record of it stands."""
        ...

    async def hl7_origin(self, appointment_id: str) -> Hl7Origin | None:
        """The HL7 consumer that made this booking; None if it came another way."""
        ...

    async def lease_hl7_notice(
        self, owner: str, now: datetime, lease_s: float
    ) -> NoticeWork | None:
        """Lease the oldest due outbox entry of an appointment with no earlier entry pending
        and none leased by a live holder; None if there is none."""
        ...

    async def finish_hl7_notice(
        self, work: NoticeWork, now: datetime, outcome: NoticeOutcome, error: str = ""
    ) -> None:
        """End ``work`` as ``outcome``; later entries of its appointment go on."""
        ...

    async def retry_hl7_notice(self, work: NoticeWork, due: datetime, error: str) -> None:
        """Give ``work`` back, to be tried again from ``due``; ``error`` names why (no data)."""
        ...

    async def hl7_notices(self, appointment_id: str) -> list[NoticeState]:
        """The outbox entries of one appointment, oldest first."""
        ...

    # -- ITK receipts (the ITK door's tracking ids) ------------------------------

    async def claim_itk_receipt(
        self, tracking_id: str, envelope_hash: str, owner: str, now: datetime, lease_s: float
    ) -> ItkReceipt | None:
        """Claim ``tracking_id`` for ``owner``: None when the claim is now ``owner``'s (new,
        or an earlier claim's lease ran out); otherwise the receipt as held (answered, or
        pending under another's live lease)."""
        ...

    async def answer_itk_receipt(
        self,
        tracking_id: str,
        owner: str,
        answer: bytes,
        referral_ids: Sequence[str],
        now: datetime,
    ) -> None:
        """Record the answer of ``owner``'s claim; later claims get it back."""
        ...

    async def release_itk_receipt(self, tracking_id: str, owner: str) -> None:
        """Forget ``owner``'s pending claim (the message was refused or failed; a resend
        is processed afresh)."""
        ...

    async def record_slot_homes(self, homes: Sequence[SlotHomeRow], at: datetime) -> None:
        """Note (or refresh) where each slot/schedule lives; the last one written wins."""
        ...

    async def slot_home(self, key: str) -> SlotHomeRow | None:
        """Where a slot/schedule key lives, if any search noted it."""
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

    async def audit_of_appointments(self, appointment_ids: Sequence[str]) -> list[AuditEntry]:
        """Every entry naming one of these appointments, oldest first (for reports: the
        booking behind a later change, whenever it was made)."""
        ...

    # -- retention ----------------------------------------------------------------

    # -- message journal (gateway/store/messages.py) ------------------------------

    async def record_message(self, record: MessageRecord) -> None:
        """Journal one legacy message (its id is new)."""
        ...

    async def message(self, message_id: str) -> MessageRecord | None:
        """The journaled message under ``message_id``, if kept."""
        ...

    async def messages_between(
        self, start: datetime, end: datetime, direction: str = "in"
    ) -> list[MessageRecord]:
        """Messages journaled in ``[start, end)`` going ``direction``, oldest first."""
        ...

    async def settle_message(
        self, message_id: str, outcome: str, reason_code: str, reason: str, at: datetime
    ) -> None:
        """Record what a replay at ``at`` made of a journaled message."""
        ...

    async def purge(self, cutoffs: PurgeCutoffs, *, dry_run: bool = False) -> PurgeCounts:
        """Delete the finished rows older than each cutoff (see ``PurgeCutoffs``), in small
        batches; ``dry_run`` counts them and deletes nothing. Safe to run on several
        replicas at once: each row is deleted once, by whichever gets it first."""
        ...
