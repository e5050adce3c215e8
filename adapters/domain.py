"""The canonical booking model: the only language front doors and adapters share.

Every message, whatever it arrived as (FHIR STU3, HL7 v2, ITK), becomes these
few frozen values; every adapter takes and returns them. Nothing here knows of
FHIR JSON, HL7 segments or HTTP. All instants are timezone-aware UTC
(``fs_times.md``: receivers convert offsets back to UTC).
"""

from __future__ import annotations

import enum
import time
from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _to_utc(value: datetime) -> datetime:
    # fs_times.md: a time with an offset is converted to UTC; a naive time is refused
    # because its zone cannot be known here (adapters read local times in their own zone).
    if value.tzinfo is None:
        raise ValueError("instant has no UTC offset")
    return value.astimezone(UTC)


Instant = Annotated[datetime, AfterValidator(_to_utc)]


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SlotStatus(enum.StrEnum):
    FREE = "free"
    BUSY = "busy"
    BUSY_UNAVAILABLE = "busy-unavailable"
    BUSY_TENTATIVE = "busy-tentative"
    ENTERED_IN_ERROR = "entered-in-error"


class BookingStatus(enum.StrEnum):
    BOOKED = "booked"
    CANCELLED = "cancelled"
    ENTERED_IN_ERROR = "entered-in-error"
    #: The patient did not attend (FHIR STU3/R4 Appointment.status ``noshow``; HL7 v2
    #: SIU^S26, SCH-25 ``Noshow``; a BaRS receiver's did-not-attend update).
    NOSHOW = "noshow"


class DeliveryChannel(enum.StrEnum):
    # fs_deliverychannel.md: in-person, telephone, video; absent means "not supplied".
    IN_PERSON = "In-person"
    TELEPHONE = "Telephone"
    VIDEO = "Video"


class Gender(enum.StrEnum):
    MALE = "male"
    FEMALE = "female"
    OTHER = "other"
    UNKNOWN = "unknown"


class Identifier(_Value):
    system: str
    value: str


class Address(_Value):
    lines: tuple[str, ...] = ()
    city: str | None = None
    district: str | None = None
    postcode: str | None = None
    text: str | None = None
    use: str | None = None


class ContactPoint(_Value):
    system: str
    value: str
    use: str | None = None
    rank: int | None = None


class HumanName(_Value):
    family: str | None = None
    given: tuple[str, ...] = ()
    prefix: tuple[str, ...] = ()
    use: str | None = None


class Organisation(_Value):
    id: str
    ods_code: str
    name: str
    telecom: tuple[ContactPoint, ...] = ()
    address: Address | None = None


class Location(_Value):
    id: str
    name: str
    address: Address | None = None
    managing_organisation_id: str | None = None


class Practitioner(_Value):
    id: str
    name: HumanName
    gender: Gender | None = None
    identifiers: tuple[Identifier, ...] = ()


class PractitionerRole(_Value):
    id: str
    practitioner_id: str | None = None
    organisation_id: str | None = None
    # SDS job role code (CareConnect-SDSJobRoleName-1), e.g. R0260.
    role_code: str
    role_display: str


class HealthcareService(_Value):
    # The national (DoS) service id: the key a consumer searches slots by.
    id: str
    name: str
    organisation_id: str | None = None
    location_id: str | None = None
    local_identifier: Identifier | None = None


class Schedule(_Value):
    id: str
    service_id: str
    practitioner_id: str | None = None
    practitioner_role_id: str | None = None
    location_id: str | None = None
    identifier: Identifier | None = None


class Slot(_Value):
    id: str
    schedule_id: str
    # The slot's UUID (CareConnect-Slot-1 identifier, system rfc4122).
    identifier: str
    status: SlotStatus
    start: Instant
    end: Instant
    delivery_channel: DeliveryChannel | None = None


class SlotQuery(_Value):
    """A search for slots of one national service within a start window."""

    service_id: str
    statuses: frozenset[SlotStatus] = frozenset({SlotStatus.FREE})
    start_from: Instant | None = None
    start_to: Instant | None = None


class SlotSearchResult(_Value):
    """Slots and every resource they lead to, each keyed by id (never duplicated)."""

    slots: tuple[Slot, ...] = ()
    schedules: dict[str, Schedule] = Field(default_factory=dict)
    services: dict[str, HealthcareService] = Field(default_factory=dict)
    practitioners: dict[str, Practitioner] = Field(default_factory=dict)
    roles: dict[str, PractitionerRole] = Field(default_factory=dict)
    locations: dict[str, Location] = Field(default_factory=dict)
    organisations: dict[str, Organisation] = Field(default_factory=dict)
    #: Names the diary state this was read from, where the supplier can say exactly
    #: when its diary changed (the embedded diary can): the same token and the same
    #: query mean the same result, so the gateway may reuse what it rendered for it.
    #: None when the supplier cannot say (a plain REST diary): nothing is reused.
    version: str | None = None


class Patient(_Value):
    """The patient being booked; the NHS number is optional (fs_fhir_overrides.md)."""

    nhs_number: str | None = None
    # CareConnect-NHSNumberVerificationStatus-1 code, e.g. "01".
    nhs_number_verification: str | None = None
    local_identifier: Identifier | None = None
    name: HumanName
    gender: Gender
    birth_date: date
    address: Address
    telecom: tuple[ContactPoint, ...] = ()


class SupportingDocument(_Value):
    """The document (e.g. a CDA POCD_MT200001GB02 report) that travels with a booking."""

    identifier: str
    type_system: str
    type_code: str
    type_display: str | None = None
    content_type: str
    language: str | None = None
    indexed: Instant | None = None


class BookingRequest(_Value):
    slot_id: str
    start: Instant
    end: Instant
    description: str
    patient: Patient
    document: SupportingDocument | None = None
    # Optional identifier of a ReferralRequest (incomingReferral 0..1).
    referral_reference: str | None = None
    #: Why a consumer outside the service's region books here (gateway/policy/): a code of
    #: the policy's ``out_of_area.reasons``, carried in Appointment.reason(Code) or ARQ-7.
    cross_border_reason: str | None = None


class Booking(_Value):
    """A booking as the supplier holds it (the gateway adds id, version, history)."""

    # The supplier's own reference for this booking (opaque to the gateway).
    supplier_ref: str
    status: BookingStatus
    slot: Slot
    service_id: str
    start: Instant
    end: Instant
    description: str
    patient: Patient
    document: SupportingDocument | None = None
    referral_reference: str | None = None
    created: Instant
    #: Why the patient is booked (BaRS Appointment.reasonCode), one code per concept; held
    #: by the gateway (Update-Existing-Booking may change it; no supplier diary carries it).
    reason: tuple[Coding, ...] = ()


class RequestingOrganisation(_Value):
    ods_code: str
    name: str | None = None


class RequestingDevice(_Value):
    identifier: Identifier
    model: str | None = None
    version: str | None = None


class RequestingPractitioner(_Value):
    id: str
    identifiers: tuple[Identifier, ...] = ()
    #: fs_authentication.md: the user's name, which provenance records ("name and role").
    name: HumanName | None = None


class CallContext(_Value):
    """Who is asking, under which idempotency key, and until when.

    ``request_id`` is the consumer's X-Request-ID (or a legacy MSH-10): it is the
    idempotency key carried all the way out, so a retry is recognised everywhere.
    ``deadline`` is a ``time.monotonic()`` value after which work must stop.
    """

    request_id: str
    correlation_id: str | None = None
    trace_id: str | None = None
    deadline: float | None = None
    consumer_asid: str | None = None
    organisation: RequestingOrganisation | None = None
    device: RequestingDevice | None = None
    practitioner: RequestingPractitioner | None = None

    def remaining(self) -> float | None:
        """Seconds left before the deadline (never negative), or None if unbounded."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - time.monotonic())

    def expired(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline


class ReferralStatus(enum.StrEnum):
    """A referral's state: a subset of the FHIR R4 ServiceRequest ``status`` codes.

    ``draft`` and ``unknown`` are left out: a referral is stored once sent, and
    its state is always known here. ``revoked`` is the sender's cancel.
    """

    ACTIVE = "active"
    ON_HOLD = "on-hold"
    REVOKED = "revoked"
    COMPLETED = "completed"
    ENTERED_IN_ERROR = "entered-in-error"


#: States a referral never leaves (no update or revoke after them).
FINAL_REFERRAL_STATUSES = frozenset(
    {ReferralStatus.REVOKED, ReferralStatus.COMPLETED, ReferralStatus.ENTERED_IN_ERROR}
)


class Coding(_Value):
    """A code from a code system, e.g. NHS Pathways ``pathways-dx-codes`` ``DX02``."""

    system: str
    code: str
    display: str | None = None


class TriageOutcome(_Value):
    """Where triage ended (BaRS CarePlan.activity.outcomeCodeableConcept)."""

    #: The disposition, e.g. an NHS Pathways Dx code.
    disposition: Coding
    #: Other codes of the assessment: symptom group, discriminator, pathway.
    codes: tuple[Coding, ...] = ()
    #: The assessment's narrative (holds patient data: never log it).
    text: str | None = None


class ReferralAttachment(_Value):
    """One piece of clinical content carried opaquely (a resource, a document).

    The gateway stores and hands it on unchanged; ``data`` is the payload as the
    sender gave it (e.g. a QuestionnaireResponse's JSON, a base64 CDA document).
    """

    #: What it is: a FHIR resource type ("QuestionnaireResponse", "Flag", ...) or "document".
    kind: str
    identifier: str
    content_type: str | None = None
    title: str | None = None
    url: str | None = None
    data: str | None = None


class ClinicalContent(_Value):
    """What the referral says clinically: a structured summary plus opaque attachments."""

    summary: str | None = None
    #: Coded findings and conditions (SNOMED CT Conditions, Observations).
    codes: tuple[Coding, ...] = ()
    #: Advice given to the patient (ServiceRequest.patientInstruction).
    patient_instruction: str | None = None
    attachments: tuple[ReferralAttachment, ...] = ()


class ReferralRequester(_Value):
    """Who sent the referral (ServiceRequest.requester and its organisation)."""

    organisation: RequestingOrganisation | None = None
    practitioner: RequestingPractitioner | None = None


class Referral(_Value):
    """A referral (BaRS ServiceRequest; STU3 ReferralRequest/contained DocumentReference).

    ``id`` and ``version`` are the gateway's; every change is a new version.
    """

    id: str
    version: int = Field(ge=1)
    status: ReferralStatus
    patient: Patient
    #: The national (DoS) service the referral is for.
    service_id: str
    reason: tuple[Coding, ...] = ()
    reason_text: str | None = None
    triage: TriageOutcome | None = None
    clinical: ClinicalContent = ClinicalContent()
    requester: ReferralRequester = ReferralRequester()
    #: The sender's own identifier of the referral (e.g. its ServiceRequest.identifier).
    sender_identifier: Identifier | None = None
    #: The referral document's identifier (STU3: the booking's contained DocumentReference).
    document_identifier: str | None = None
    #: The gateway appointment the referral is linked to, once known.
    appointment_id: str | None = None
    #: That booking's reference at the supplier the referral is offered to (the
    #: ``Booking.supplier_ref``), set by the gateway on the copy it offers to the very
    #: adapter holding the booking; never stored.
    appointment_ref: str | None = None
    #: The supplier's own reference of the referral, from its answer to the first offer
    #: (a BaRS receiver's ``ServiceRequest`` id); kept with the versions and given back on
    #: every later one, so an update or revoke names what the supplier holds.
    supplier_ref: str | None = None
    #: e.g. BaRS usecases-categories-bars "a1t1" (111 to ED).
    category: Coding | None = None
    authored: Instant


def utcnow() -> datetime:
    return datetime.now(UTC)
