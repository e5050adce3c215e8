"""A booking service over the real embedded diary and a real SQLite store, for referral tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from adapters import errors as adapter_errors
from adapters.contract import Capability, Health
from adapters.domain import (
    Booking,
    BookingRequest,
    CallContext,
    ClinicalContent,
    Coding,
    Identifier,
    Patient,
    Referral,
    ReferralRequester,
    ReferralStatus,
    RequestingOrganisation,
    SlotQuery,
    SlotSearchResult,
    TriageOutcome,
)
from adapters.embedded import EmbeddedAdapter
from gateway.service import BookingService
from gateway.store import AppointmentVersion
from tests.contract.builders import booking_request, call_context, sample_patient
from tests.embedded.helpers import UTC_SERVICE, Clock

SCOPE = "A91547"
DX02 = Coding(
    system="https://fhir.nhs.uk/CodeSystem/pathways-dx-codes",
    code="DX02",
    display="Attend Emergency Treatment Centre within 1 hour",
)


def new_referral(
    *,
    patient: Patient | None = None,
    service_id: str = UTC_SERVICE,
    appointment_id: str | None = None,
    document_id: str | None = None,
    summary: str = "Nosebleed for 15 minutes, pressure not applied",
    status: ReferralStatus = ReferralStatus.ACTIVE,
) -> Referral:
    """A 111-to-ED referral as a front door would hand it over (id and version placeholders)."""
    return Referral(
        id="new",
        version=1,
        status=status,
        patient=patient or sample_patient(),
        service_id=service_id,
        reason_text="Nosebleed",
        triage=TriageOutcome(disposition=DX02, text="Pathways assessment"),
        clinical=ClinicalContent(summary=summary, patient_instruction="Call back if worse"),
        requester=ReferralRequester(
            organisation=RequestingOrganisation(ods_code=SCOPE, name="Test 111 Provider")
        ),
        sender_identifier=Identifier(system="https://sender.example/Id/case", value="C-1"),
        document_identifier=document_id,
        appointment_id=appointment_id,
        authored=datetime(2025, 6, 2, 6, 0, tzinfo=UTC),
    )


@dataclass
class ReferringDiary:
    """The embedded diary plus a referral inbox: no real peer takes referrals yet."""

    diary: EmbeddedAdapter
    name: str = "referring"
    received: list[tuple[Referral, str]] = field(default_factory=list)
    refuse: bool = False

    @property
    def capabilities(self) -> frozenset[Capability]:
        return self.diary.capabilities | {Capability.REFERRAL}

    async def send_referral(self, referral: Referral, ctx: CallContext) -> None:
        if self.refuse:
            raise adapter_errors.SupplierUnavailable("referral inbox is down")
        self.received.append((referral, ctx.request_id))

    async def search_slots(self, query: SlotQuery, ctx: CallContext) -> SlotSearchResult:
        return await self.diary.search_slots(query, ctx)

    async def book(self, request: BookingRequest, ctx: CallContext) -> Booking:
        return await self.diary.book(request, ctx)

    async def get(
        self, supplier_ref: str, ctx: CallContext, *, service_id: str | None = None
    ) -> Booking:
        return await self.diary.get(supplier_ref, ctx, service_id=service_id)

    async def cancel(
        self, supplier_ref: str, ctx: CallContext, *, service_id: str | None = None
    ) -> Booking:
        return await self.diary.cancel(supplier_ref, ctx, service_id=service_id)

    def serves(self, service_id: str) -> bool:
        return self.diary.serves(service_id)

    async def health(self) -> Health:
        return await self.diary.health()

    async def close(self) -> None:
        await self.diary.close()


async def book_one(
    service: BookingService,
    clock: Clock,
    *,
    document_id: str | None = None,
    referral_reference: str | None = None,
) -> AppointmentVersion:
    """Book the first free slot starting an hour or more after the clock's now."""
    query = SlotQuery(service_id=UTC_SERVICE, start_from=clock.now + timedelta(hours=1))
    result = await service.search(query, call_context())
    slot = result.slots[0]
    request = booking_request(slot)
    if request.document is not None and document_id is not None:
        request = request.model_copy(
            update={"document": request.document.model_copy(update={"identifier": document_id})}
        )
    request = request.model_copy(update={"referral_reference": referral_reference})
    return await service.book(
        request,
        call_context(),
        scope=SCOPE,
        client_request_id=None,
        schedule_id=slot.schedule_id,
    )
