"""Diary records (``records``) <-> the canonical model, through the mapping tables.

Shared by the REST and SOAP diary adapters, whose wires carry the same facts.

Local wall-clock times are read in the supplier's zone and become UTC here;
every code goes through a table (a missing row is a ``MappingError``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from adapters.diary_toolkit import records as w
from adapters.diary_toolkit.mappings import Mappings, fhir_id, local_to_utc, utc_to_local
from adapters.domain import (
    Address,
    Booking,
    BookingRequest,
    ContactPoint,
    HealthcareService,
    HumanName,
    Identifier,
    Location,
    Organisation,
    Patient,
    Practitioner,
    PractitionerRole,
    Schedule,
    Slot,
    SlotQuery,
    SlotSearchResult,
    SupportingDocument,
)
from adapters.errors import SupplierProtocolError

SDS_USER_ID = "https://fhir.nhs.uk/Id/sds-user-id"
LOCAL_MINUTE = "%Y-%m-%dT%H:%M"


@dataclass(frozen=True, slots=True)
class Converter:
    """Conversions for one adapter instance: its tables, zone and id prefix."""

    maps: Mappings
    zone: ZoneInfo
    prefix: str

    # -- times ---------------------------------------------------------------------

    def instant(self, wall: datetime) -> datetime:
        try:
            return local_to_utc(wall, self.zone)
        except ValueError as exc:
            raise SupplierProtocolError(f"supplier local time: {exc}") from None

    def local(self, instant: datetime) -> str:
        return utc_to_local(instant, self.zone).strftime(LOCAL_MINUTE)

    # -- slots and what they lead to -------------------------------------------------

    def slot(self, item: w.WireSlot) -> Slot:
        try:
            uuid.UUID(item.apptSlotId)
        except ValueError:
            raise SupplierProtocolError("the supplier sent a slot id that is not a GUID") from None
        start = self.instant(item.startLocal)
        return Slot(
            id=item.apptSlotId,
            schedule_id=self.schedule_id(item.clinicCode, item.clinician.staffCode),
            identifier=item.apptSlotId,
            status=self.maps.slot_statuses.domain(item.state),
            start=start,
            end=start + timedelta(minutes=item.durationMins),
            delivery_channel=self.maps.channels.domain(item.channel) if item.channel else None,
        )

    def schedule_id(self, clinic: str, staff: str) -> str:
        return fhir_id(self.prefix, "sched", clinic, staff)

    def search_result(
        self, query: SlotQuery, pages: Iterable[tuple[w.WireClinic, w.WireSlot]]
    ) -> SlotSearchResult:
        """Slots in the query's window and statuses, start-ordered, with every related resource."""
        slots: dict[str, Slot] = {}
        acc = _Related()
        for clinic, item in pages:
            slot = self.slot(item)
            if slot.id in slots or not _wanted(slot, query):
                continue
            slots[slot.id] = slot
            self._relate(acc, clinic, item.clinician, slot.schedule_id)
        ordered = sorted(slots.values(), key=lambda s: (s.start, s.schedule_id, s.id))
        return SlotSearchResult(
            slots=tuple(ordered),
            schedules=acc.schedules,
            services=acc.services,
            practitioners=acc.practitioners,
            roles=acc.roles,
            locations=acc.locations,
            organisations=acc.organisations,
        )

    def _relate(
        self, acc: _Related, clinic: w.WireClinic, who: w.WireClinician, schedule_id: str
    ) -> None:
        if schedule_id in acc.schedules:
            return
        entry = self.maps.service(clinic.clinicCode)
        org_id = fhir_id("org", entry.ods_code)
        loc_id = fhir_id(self.prefix, "site", clinic.site.siteCode)
        prac_id = fhir_id(self.prefix, "staff", who.staffCode)
        role_id = fhir_id(self.prefix, "role", who.staffCode)
        role = self.maps.role(who.grade)
        acc.organisations[org_id] = Organisation(
            id=org_id, ods_code=entry.ods_code, name=entry.organisation_name
        )
        acc.services.setdefault(
            entry.service_id,
            HealthcareService(id=entry.service_id, name=entry.service_name, organisation_id=org_id),
        )
        acc.locations[loc_id] = Location(
            id=loc_id,
            name=clinic.site.name,
            address=Address(
                lines=clinic.site.addressLines, city=clinic.site.town, postcode=clinic.site.postcode
            ),
            managing_organisation_id=org_id,
        )
        acc.practitioners[prac_id] = Practitioner(
            id=prac_id,
            name=HumanName(
                family=who.surname,
                given=(who.forename,) if who.forename else (),
                prefix=(who.title,) if who.title else (),
            ),
            gender=self.maps.genders.domain(who.sex) if who.sex else None,
            identifiers=(Identifier(system=SDS_USER_ID, value=who.sdsUserId),)
            if who.sdsUserId
            else (),
        )
        acc.roles[role_id] = PractitionerRole(
            id=role_id,
            practitioner_id=prac_id,
            organisation_id=org_id,
            role_code=role.code,
            role_display=role.display,
        )
        acc.schedules[schedule_id] = Schedule(
            id=schedule_id,
            service_id=entry.service_id,
            practitioner_id=prac_id,
            practitioner_role_id=role_id,
            location_id=loc_id,
        )

    # -- bookings --------------------------------------------------------------------

    def booking_body(self, request: BookingRequest, requester: str | None) -> dict[str, Any]:
        """The JSON body of ``POST /appointments`` in the supplier's own words."""
        doc = request.document
        body: dict[str, Any] = {
            "apptSlotId": request.slot_id,
            "startLocal": self.local(request.start),
            "durationMins": _minutes(request.end - request.start),
            "reason": request.description,
            "patient": self.patient_out(request.patient),
            "referralRef": request.referral_reference,
            "bookedByOds": requester,
        }
        if doc is not None:
            body["document"] = {
                "documentId": doc.identifier,
                "typeSystem": doc.type_system,
                "typeCode": doc.type_code,
                "typeDisplay": doc.type_display,
                "mimeType": doc.content_type,
                "language": doc.language,
                "indexedUtc": doc.indexed.isoformat() if doc.indexed else None,
            }
        return body

    def patient_out(self, p: Patient) -> dict[str, Any]:
        local = p.local_identifier
        return {
            "nhsNumber": p.nhs_number,
            "nhsNumberStatus": p.nhs_number_verification,
            "localId": {"system": local.system, "value": local.value} if local else None,
            "name": {
                "titles": list(p.name.prefix),
                "forenames": list(p.name.given),
                "surname": p.name.family,
                "use": p.name.use,
            },
            "sex": self.maps.genders.supplier(p.gender),
            "dateOfBirth": p.birth_date.isoformat(),
            "address": {
                "lines": list(p.address.lines),
                "town": p.address.city,
                "county": p.address.district,
                "postcode": p.address.postcode,
                "text": p.address.text,
                "use": p.address.use,
            },
            "contacts": [
                {"kind": t.system, "value": t.value, "use": t.use, "rank": t.rank}
                for t in p.telecom
            ],
        }

    def booking(self, appt: w.WireAppointment) -> Booking:
        slot = self.slot(appt.slot)
        return Booking(
            supplier_ref=appt.appointmentRef,
            status=self.maps.booking_statuses.domain(appt.status),
            slot=slot,
            service_id=self.maps.service(appt.slot.clinicCode).service_id,
            start=slot.start,
            end=slot.end,
            description=appt.reason,
            patient=self.patient_in(appt.patient),
            document=_document_in(appt.document),
            referral_reference=appt.referralRef,
            created=appt.createdUtc,
        )

    def patient_in(self, p: w.WirePatient) -> Patient:
        return Patient(
            nhs_number=p.nhsNumber,
            nhs_number_verification=p.nhsNumberStatus,
            local_identifier=Identifier(system=p.localId.system, value=p.localId.value)
            if p.localId
            else None,
            name=HumanName(
                family=p.name.surname, given=p.name.forenames, prefix=p.name.titles, use=p.name.use
            ),
            gender=self.maps.genders.domain(p.sex),
            birth_date=p.dateOfBirth,
            address=Address(
                lines=p.address.lines,
                city=p.address.town,
                district=p.address.county,
                postcode=p.address.postcode,
                text=p.address.text,
                use=p.address.use,
            ),
            telecom=tuple(
                ContactPoint(system=c.kind, value=c.value, use=c.use, rank=c.rank)
                for c in p.contacts
            ),
        )


class _Related:
    def __init__(self) -> None:
        self.schedules: dict[str, Schedule] = {}
        self.services: dict[str, HealthcareService] = {}
        self.practitioners: dict[str, Practitioner] = {}
        self.roles: dict[str, PractitionerRole] = {}
        self.locations: dict[str, Location] = {}
        self.organisations: dict[str, Organisation] = {}


def _wanted(slot: Slot, query: SlotQuery) -> bool:
    if slot.status not in query.statuses:
        return False
    if query.start_from is not None and slot.start < query.start_from:
        return False
    return query.start_to is None or slot.start <= query.start_to


def _minutes(delta: timedelta) -> int:
    return max(1, round(delta.total_seconds() / 60))


def _document_in(doc: w.WireDocument | None) -> SupportingDocument | None:
    if doc is None:
        return None
    return SupportingDocument(
        identifier=doc.documentId,
        type_system=doc.typeSystem,
        type_code=doc.typeCode,
        type_display=doc.typeDisplay,
        content_type=doc.mimeType,
        language=doc.language,
        indexed=doc.indexedUtc,
    )
