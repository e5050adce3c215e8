"""The supplier's mapping tables (``mappings/hl7v2/<supplier>/*.csv``), validated on load.

Columns are documented in ``mappings/hl7v2/README.md``. Every table is read
whole and cross-checked when the adapter is created; a bad row is an error
naming the file, line and column. At run time a code with no row is a
``MappingError`` (never passed through): the lookups below raise it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from adapters import errors
from adapters._csvtable import DataFileError, Row, read_table, unique_ids
from adapters.domain import (
    BookingStatus,
    DeliveryChannel,
    Gender,
    HealthcareService,
    Location,
    Organisation,
    Schedule,
    SlotStatus,
)

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
ID_NAMESPACE = uuid.UUID("0c7d3f52-4f3e-4f0a-9a53-5b7a2f9e1d61")
IDENTIFIER_KINDS = ("nhs-number", "local", "ignore")
#: adapters.errors names an ERR row may translate to (chapter 2.15.5 ERR, table 0357).
ERROR_NAMES = (
    "SlotUnavailable",
    "SlotNotFound",
    "SlotMismatch",
    "BookingNotFound",
    "BookingNotCancellable",
    "BookingRejected",
    "ServiceNotFound",
    "SupplierUnavailable",
    "SupplierProtocolError",
    "MappingError",
)

__all__ = ["DataFileError", "Mappings", "load_mappings"]


@dataclass(frozen=True, slots=True)
class ScheduleMap:
    schedule: Schedule
    pas_schedule: str
    pas_location: str | None


@dataclass(frozen=True, slots=True)
class StatusMap:
    booking: BookingStatus | None
    slot: SlotStatus


@dataclass(frozen=True, slots=True)
class IdentifierMap:
    authority: str
    type_code: str
    system: str
    kind: str


@dataclass(frozen=True)
class Mappings:
    services: Mapping[str, HealthcareService]
    organisations: Mapping[str, Organisation]
    locations: Mapping[str, Location]
    #: keyed by PAS location code (AIL-3.1)
    locations_by_code: Mapping[str, Location]
    #: keyed by PAS schedule code (ARQ-5 / SCH-5)
    schedules: Mapping[str, ScheduleMap]
    schedules_by_location: Mapping[str, tuple[ScheduleMap, ...]]
    staff_types: Mapping[str, tuple[str, str]]
    appointment_types: Mapping[str, DeliveryChannel | None]
    genders_in: Mapping[str, Gender]
    genders_out: Mapping[Gender, str]
    statuses: Mapping[str, StatusMap]
    #: the PAS code sent for each slot status asked for in a query
    statuses_out: Mapping[SlotStatus, tuple[str, ...]]
    identifiers: Mapping[tuple[str, str], IdentifierMap]
    errors: Mapping[tuple[str, str, str], str]

    # -- lookups that raise MappingError -------------------------------------------

    def schedule(self, pas_schedule: str) -> ScheduleMap:
        found = self.schedules.get(pas_schedule)
        if found is None:
            raise errors.MappingError(
                f"no mapping for PAS schedule code '{_bounded(pas_schedule)}'"
            )
        return found

    def schedule_at(self, pas_location: str) -> ScheduleMap:
        found = self.schedules_by_location.get(pas_location, ())
        if len(found) != 1:
            what = "no schedule" if not found else f"{len(found)} schedules"
            raise errors.MappingError(
                f"{what} mapped for PAS location code '{_bounded(pas_location)}'"
            )
        return found[0]

    def location(self, pas_location: str) -> Location:
        found = self.locations_by_code.get(pas_location)
        if found is None:
            raise errors.MappingError(f"no mapping for PAS location '{_bounded(pas_location)}'")
        return found

    def role(self, staff_type: str) -> tuple[str, str]:
        found = self.staff_types.get(staff_type)
        if found is None:
            raise errors.MappingError(f"no mapping for PAS staff type '{_bounded(staff_type)}'")
        return found

    def channel(self, appointment_type: str) -> DeliveryChannel | None:
        if appointment_type not in self.appointment_types:
            raise errors.MappingError(
                f"no mapping for PAS appointment type '{_bounded(appointment_type)}'"
            )
        return self.appointment_types[appointment_type]

    def gender(self, code: str) -> Gender:
        found = self.genders_in.get(code)
        if found is None:
            raise errors.MappingError(f"no mapping for administrative sex '{_bounded(code)}'")
        return found

    def status(self, code: str) -> StatusMap:
        found = self.statuses.get(code)
        if found is None:
            raise errors.MappingError(f"no mapping for filler status '{_bounded(code)}'")
        return found

    def identifier(self, authority: str, type_code: str) -> IdentifierMap:
        found = self.identifiers.get((authority, type_code))
        if found is None:
            raise errors.MappingError(
                f"no mapping for identifier authority '{_bounded(authority)}' "
                f"type '{_bounded(type_code)}'"
            )
        return found

    def identifier_for_system(self, system: str) -> IdentifierMap:
        for item in self.identifiers.values():
            if item.kind != "ignore" and _system_matches(item.system, system):
                return item
        raise errors.MappingError("no mapping for the patient identifier's system")

    @property
    def nhs_number(self) -> IdentifierMap:
        return self.identifier_for_system(NHS_NUMBER_SYSTEM)

    def error_name(self, ack: str, code: str, application: str) -> str | None:
        for key in ((ack, code, application), (ack, code, ""), (ack, "", application)):
            if key in self.errors:
                return self.errors[key]
        return self.errors.get((ack, "", ""))


def _system_matches(pattern: str, system: str) -> bool:
    # A leading '*' matches any prefix: the gateway's own local-patient system
    # is "<service root>/Id/local-patient-identifier", which differs per deployment.
    if pattern.startswith("*"):
        return system.endswith(pattern[1:])
    return pattern == system


def _bounded(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def entity_id(*parts: str) -> str:
    """A FHIR-safe stable id for a PAS entity (practitioner, role) of one supplier."""
    return str(uuid.uuid5(ID_NAMESPACE, "|".join(parts)))


_TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "services": (("service_id", "name", "ods_code", "organisation_name"), ("location_code",)),
    "locations": (("pas_location", "id", "name"), ("line1", "city", "postcode")),
    "schedules": (("id", "service_id", "pas_schedule"), ("pas_location",)),
    "staff_types": (("pas_staff_type", "sds_role_code", "sds_role_display"), ()),
    "appointment_types": (("pas_appointment_type",), ("delivery_channel",)),
    "genders": (("pas_code", "gender"), ("preferred",)),
    "filler_statuses": (("pas_status", "slot_status"), ("booking_status", "query_for")),
    "identifier_systems": (("assigning_authority", "type_code", "system", "kind"), ()),
    "errors": (("ack_code", "error"), ("error_code", "application_code", "meaning")),
}


def _rows(folder: Path, table: str) -> list[Row]:
    required, optional = _TABLES[table]
    return read_table(folder, f"{table}.csv", required, optional)


def load_mappings(folder: Path) -> Mappings:
    """Read and cross-check every table in ``folder``; raises ``DataFileError``."""
    if not folder.is_dir():
        raise DataFileError(str(folder), "mapping folder not found")
    locations = _locations(folder)
    organisations, services = _services(folder, locations)
    schedules = _schedules(folder, services, locations)
    by_location: dict[str, list[ScheduleMap]] = {}
    for item in schedules.values():
        if item.pas_location:
            by_location.setdefault(item.pas_location, []).append(item)
    genders_in, genders_out = _genders(folder)
    statuses, statuses_out = _statuses(folder)
    return Mappings(
        services=services,
        organisations=organisations,
        locations={loc.id: loc for loc in locations.values()},
        locations_by_code=locations,
        schedules=schedules,
        schedules_by_location={k: tuple(v) for k, v in by_location.items()},
        staff_types=_staff_types(folder),
        appointment_types=_appointment_types(folder),
        genders_in=genders_in,
        genders_out=genders_out,
        statuses=statuses,
        statuses_out=statuses_out,
        identifiers=_identifiers(folder),
        errors=_errors(folder),
    )


def _locations(folder: Path) -> dict[str, Location]:
    out: dict[str, Location] = {}
    ids: set[str] = set()
    for code, row in unique_ids(_rows(folder, "locations"), "pas_location").items():
        location_id = row.required("id")
        if location_id in ids:
            raise row.error("id", f"duplicate id '{location_id}'")
        ids.add(location_id)
        lines = (row.optional("line1"),)
        address = {
            "lines": tuple(v for v in lines if v),
            "city": row.optional("city"),
            "postcode": row.optional("postcode"),
        }
        has_address = any(address.values())
        out[code] = Location.model_validate(
            {
                "id": location_id,
                "name": row.required("name"),
                "address": address if has_address else None,
            }
        )
    return out


def _services(
    folder: Path, locations: Mapping[str, Location]
) -> tuple[dict[str, Organisation], dict[str, HealthcareService]]:
    organisations: dict[str, Organisation] = {}
    services: dict[str, HealthcareService] = {}
    for service_id, row in unique_ids(_rows(folder, "services"), "service_id").items():
        ods = row.required("ods_code")
        org_id = f"ods-{ods}"
        organisations.setdefault(
            org_id, Organisation(id=org_id, ods_code=ods, name=row.required("organisation_name"))
        )
        location = row.reference("location_code", locations, "PAS location")
        services[service_id] = HealthcareService(
            id=service_id,
            name=row.required("name"),
            organisation_id=org_id,
            location_id=locations[location].id if location else None,
        )
    return organisations, services


def _schedules(
    folder: Path, services: Mapping[str, HealthcareService], locations: Mapping[str, Location]
) -> dict[str, ScheduleMap]:
    out: dict[str, ScheduleMap] = {}
    ids: set[str] = set()
    for code, row in unique_ids(_rows(folder, "schedules"), "pas_schedule").items():
        schedule_id = row.required("id")
        if schedule_id in ids:
            raise row.error("id", f"duplicate id '{schedule_id}'")
        ids.add(schedule_id)
        service_id = row.required_reference("service_id", services, "service")
        location = row.reference("pas_location", locations, "PAS location")
        out[code] = ScheduleMap(
            schedule=Schedule(
                id=schedule_id,
                service_id=service_id,
                location_id=locations[location].id if location else None,
            ),
            pas_schedule=code,
            pas_location=location,
        )
    return out


def _staff_types(folder: Path) -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for code, row in unique_ids(_rows(folder, "staff_types"), "pas_staff_type").items():
        out[code] = (row.parsed("sds_role_code", _sds_role), row.required("sds_role_display"))
    return out


def _sds_role(text: str) -> str:
    # CareConnect-SDSJobRoleName-1 codes are an R and four digits (e.g. R0260).
    if len(text) != 5 or text[0] != "R" or not text[1:].isdigit():
        raise ValueError(f"'{text}' is not an SDS job role code like R0260")
    return text


def _appointment_types(folder: Path) -> dict[str, DeliveryChannel | None]:
    out: dict[str, DeliveryChannel | None] = {}
    for code, row in unique_ids(_rows(folder, "appointment_types"), "pas_appointment_type").items():
        channel = row.optional("delivery_channel")
        out[code] = row.parsed("delivery_channel", _channel) if channel else None
    return out


def _channel(text: str) -> DeliveryChannel:
    for channel in DeliveryChannel:
        if channel.value.lower() == text.lower():
            return channel
    raise ValueError(f"'{text}' is not one of {', '.join(c.value for c in DeliveryChannel)}")


E = TypeVar("E", Gender, SlotStatus, BookingStatus)


def _enum(kind: type[E]) -> Callable[[str], E]:
    def parse(text: str) -> E:
        try:
            return kind(text.lower())
        except ValueError:
            allowed = ", ".join(v.value for v in kind)
            raise ValueError(f"'{text}' is not one of {allowed}") from None

    return parse


def _flag(row: Row, column: str) -> bool:
    value = (row.optional(column) or "").lower()
    if value not in ("", "y", "yes", "n", "no"):
        raise row.error(column, f"'{value}' is not y or n")
    return value in ("y", "yes")


def _genders(folder: Path) -> tuple[dict[str, Gender], dict[Gender, str]]:
    genders_in: dict[str, Gender] = {}
    genders_out: dict[Gender, str] = {}
    rows = unique_ids(_rows(folder, "genders"), "pas_code")
    for code, row in rows.items():
        gender = row.parsed("gender", _enum(Gender))
        genders_in[code] = gender
        if _flag(row, "preferred"):
            if gender in genders_out:
                raise row.error("preferred", f"a second preferred code for {gender.value}")
            genders_out[gender] = code
    missing = [g.value for g in Gender if g not in genders_out]
    if missing:
        raise DataFileError("genders.csv", f"no preferred code for {', '.join(missing)}")
    return genders_in, genders_out


def _statuses(
    folder: Path,
) -> tuple[dict[str, StatusMap], dict[SlotStatus, tuple[str, ...]]]:
    statuses: dict[str, StatusMap] = {}
    queried: dict[SlotStatus, list[str]] = {}
    for code, row in unique_ids(_rows(folder, "filler_statuses"), "pas_status").items():
        booking = row.optional("booking_status")
        slot = row.parsed("slot_status", _enum(SlotStatus))
        statuses[code] = StatusMap(
            booking=row.parsed("booking_status", _enum(BookingStatus)) if booking else None,
            slot=slot,
        )
        if _flag(row, "query_for"):
            queried.setdefault(slot, []).append(code)
    if SlotStatus.FREE not in queried:
        raise DataFileError("filler_statuses.csv", "no row has query_for=y for slot_status free")
    return statuses, {k: tuple(v) for k, v in queried.items()}


def _identifiers(folder: Path) -> dict[tuple[str, str], IdentifierMap]:
    out: dict[tuple[str, str], IdentifierMap] = {}
    for row in _rows(folder, "identifier_systems"):
        key = (row.required("assigning_authority"), row.required("type_code"))
        if key in out:
            raise row.error("type_code", f"duplicate authority/type {key[0]}/{key[1]}")
        kind = row.required("kind")
        if kind not in IDENTIFIER_KINDS:
            raise row.error("kind", f"'{kind}' is not one of {', '.join(IDENTIFIER_KINDS)}")
        out[key] = IdentifierMap(key[0], key[1], row.required("system"), kind)
    if not any(i.system == NHS_NUMBER_SYSTEM and i.kind == "nhs-number" for i in out.values()):
        raise DataFileError("identifier_systems.csv", f"no nhs-number row for {NHS_NUMBER_SYSTEM}")
    return out


def _errors(folder: Path) -> dict[tuple[str, str, str], str]:
    out: dict[tuple[str, str, str], str] = {}
    for row in _rows(folder, "errors"):
        ack = row.required("ack_code")
        if ack not in ("AE", "AR", "CE", "CR"):
            raise row.error("ack_code", f"'{ack}' is not AE, AR, CE or CR")
        name = row.required("error")
        if name not in ERROR_NAMES:
            raise row.error("error", f"'{name}' is not one of {', '.join(ERROR_NAMES)}")
        key = (ack, row.optional("error_code") or "", row.optional("application_code") or "")
        if key in out:
            raise row.error("ack_code", "duplicate ack/error/application code")
        out[key] = name
    return out
