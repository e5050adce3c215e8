"""Reusable builders for adapter tests: a sample patient, requests and call contexts.

The patient is fictitious but shaped like a real one (a valid NHS number, a
07700 900xxx Ofcom drama number), so leak checks have real-looking values to find.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, date, datetime, timedelta

from adapters.domain import (
    Address,
    BookingRequest,
    CallContext,
    ContactPoint,
    Gender,
    HumanName,
    Patient,
    RequestingOrganisation,
    Slot,
    SlotQuery,
    SupportingDocument,
)

#: A valid (modulus 11) test NHS number.
NHS_NUMBER = "9434765919"
FAMILY_NAME = "Quennell-Ashdown"
GIVEN_NAME = "Perpetua"
BIRTH_DATE = date(1957, 3, 8)
POSTCODE = "FB9 9ZZ"
ADDRESS_LINE = "17 Larkspur Terrace"
PHONE = "07700 900123"

#: Strings that identify the sample patient and must never appear in a log.
PATIENT_IDENTIFIERS: tuple[str, ...] = (
    NHS_NUMBER,
    "943 476 5919",
    FAMILY_NAME,
    GIVEN_NAME,
    BIRTH_DATE.isoformat(),
    BIRTH_DATE.strftime("%Y%m%d"),
    POSTCODE,
    ADDRESS_LINE,
    PHONE,
)


def nhs_number_is_valid(value: str) -> bool:
    """The NHS number modulus 11 check (a check digit of 10 is invalid)."""
    if len(value) != 10 or not value.isdigit():
        return False
    total = sum(
        int(digit) * weight for digit, weight in zip(value[:9], range(10, 1, -1), strict=True)
    )
    check = 11 - total % 11
    check = 0 if check == 11 else check
    return check != 10 and check == int(value[9])


def sample_patient(nhs_number: str | None = NHS_NUMBER) -> Patient:
    return Patient(
        nhs_number=nhs_number,
        nhs_number_verification="01" if nhs_number else None,
        name=HumanName(family=FAMILY_NAME, given=(GIVEN_NAME,), prefix=("Mrs",), use="official"),
        gender=Gender.FEMALE,
        birth_date=BIRTH_DATE,
        address=Address(lines=(ADDRESS_LINE,), city="Fernbrook", postcode=POSTCODE, use="home"),
        telecom=(ContactPoint(system="phone", value=PHONE, use="mobile"),),
    )


def sample_document() -> SupportingDocument:
    return SupportingDocument(
        identifier=str(uuid.uuid4()),
        type_system="http://snomed.info/sct",
        type_code="823691000000103",
        type_display="NHS 111 Report",
        content_type="application/hl7-v3+xml",
        language="en",
    )


def booking_request(
    slot: Slot,
    *,
    patient: Patient | None = None,
    slot_id: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    with_document: bool = True,
) -> BookingRequest:
    """A request to book ``slot`` for its whole length (by its identifier unless told)."""
    return BookingRequest(
        slot_id=slot.identifier if slot_id is None else slot_id,
        start=slot.start if start is None else start,
        end=slot.end if end is None else end,
        description="Reasonable exacerbation of a chronic condition",
        patient=patient or sample_patient(),
        document=sample_document() if with_document else None,
        referral_reference=str(uuid.uuid4()),
    )


def bookable(service_id: str, *, lead: timedelta = timedelta(hours=1)) -> SlotQuery:
    """Free slots of ``service_id`` starting ``lead`` after now or later: bookable at any hour."""
    return SlotQuery(service_id=service_id, start_from=datetime.now(UTC) + lead)


def call_context(request_id: str | None = None, *, deadline_in: float | None = None) -> CallContext:
    """A call context with a fresh UUID request id and an optional deadline in seconds."""
    return CallContext(
        request_id=request_id or str(uuid.uuid4()),
        correlation_id=str(uuid.uuid4()),
        trace_id=str(uuid.uuid4()),
        deadline=None if deadline_in is None else time.monotonic() + deadline_in,
        consumer_asid="200000000115",
        organisation=RequestingOrganisation(ods_code="A91547", name="Test 111 Provider"),
    )
