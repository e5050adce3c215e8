"""The diary records (clinic, clinician, slot, patient, appointment), validated as untrusted input.

They are the REST diary's JSON shapes (its "Diary API v2"); the SOAP diary
reads its XML into the same records. Field names are the supplier's
(camelCase, its own ids and codes); nothing
here knows the canonical model. Unknown fields are ignored so a supplier
release that adds fields does not break us; missing or mistyped ones are a
``ValidationError`` that the adapter turns into ``SupplierProtocolError``.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class WireName(_Wire):
    titles: tuple[str, ...] = ()
    forenames: tuple[str, ...] = ()
    surname: str | None = None
    use: str | None = None


class WireAddress(_Wire):
    lines: tuple[str, ...] = ()
    town: str | None = None
    county: str | None = None
    postcode: str | None = None
    text: str | None = None
    use: str | None = None


class WireContact(_Wire):
    kind: str
    value: str
    use: str | None = None
    rank: int | None = None


class WireLocalId(_Wire):
    system: str
    value: str


class WirePatient(_Wire):
    nhsNumber: str | None = None
    nhsNumberStatus: str | None = None
    localId: WireLocalId | None = None
    name: WireName
    sex: str
    dateOfBirth: date
    address: WireAddress
    contacts: tuple[WireContact, ...] = ()


class WireDocument(_Wire):
    documentId: str
    typeSystem: str
    typeCode: str
    typeDisplay: str | None = None
    mimeType: str
    language: str | None = None
    indexedUtc: datetime | None = None


class WireClinician(_Wire):
    staffCode: str = Field(min_length=1, max_length=64)
    title: str | None = None
    forename: str | None = None
    surname: str
    grade: str
    sex: str | None = None
    sdsUserId: str | None = None


class WireSite(_Wire):
    siteCode: str = Field(min_length=1, max_length=64)
    name: str
    addressLines: tuple[str, ...] = ()
    town: str | None = None
    postcode: str | None = None


class WireClinic(_Wire):
    clinicCode: str
    name: str
    site: WireSite


class WireSlot(_Wire):
    apptSlotId: str
    clinicCode: str
    clinician: WireClinician
    startLocal: datetime
    durationMins: int = Field(ge=1, le=1440)
    channel: str | None = None
    state: str


class WireSlotPage(_Wire):
    clinic: WireClinic
    items: tuple[WireSlot, ...]
    page: int = 1
    nextPage: int | None = None


class WireAppointment(_Wire):
    appointmentRef: str = Field(min_length=1, max_length=128)
    status: str
    slot: WireSlot
    reason: str
    patient: WirePatient
    document: WireDocument | None = None
    referralRef: str | None = None
    createdUtc: datetime


class WireError(_Wire):
    errorCode: str = "UNKNOWN"
    message: str = ""
    traceId: str | None = None
