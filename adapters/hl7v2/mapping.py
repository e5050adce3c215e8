"""The supplier's mapping tables (``mappings/hl7v2/<supplier>/*.csv``), validated on load.

Columns are documented in ``mappings/hl7v2/README.md``. Every table is read
whole and cross-checked when the adapter is created; a bad row is an error
naming the file, line and column. At run time a code with no row is a
``MappingError`` (never passed through): the lookups below raise it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from adapters import errors
from adapters._csvtable import DataFileError
from adapters.domain import (
    DeliveryChannel,
    HealthcareService,
    Location,
    Organisation,
    SlotStatus,
)
from adapters.hl7_toolkit.patients import IDENTIFIER_KINDS as IDENTIFIER_KINDS
from adapters.hl7_toolkit.patients import NHS_NUMBER_SYSTEM as NHS_NUMBER_SYSTEM
from adapters.hl7_toolkit.patients import IdentifierMap as IdentifierMap
from adapters.hl7_toolkit.patients import PatientTables, read_genders, read_identifiers
from adapters.hl7v2 import _mapping_tables as _tables

# Re-exported: these lived here before the values and table readers moved out
# (the patient's tables into the HL7 v2 toolkit, ``adapters.hl7_toolkit.patients``).
from adapters.hl7v2._mapping_values import ERROR_NAMES as ERROR_NAMES
from adapters.hl7v2._mapping_values import ID_NAMESPACE as ID_NAMESPACE
from adapters.hl7v2._mapping_values import ScheduleMap as ScheduleMap
from adapters.hl7v2._mapping_values import StatusMap as StatusMap

__all__ = ["DataFileError", "Mappings", "load_mappings"]


@dataclass(frozen=True)
class Mappings(PatientTables):
    """The PAS's tables; the patient's own (genders, identifiers) come from ``PatientTables``."""

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
    statuses: Mapping[str, StatusMap]
    #: the PAS code sent for each slot status asked for in a query
    statuses_out: Mapping[SlotStatus, tuple[str, ...]]
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

    def status(self, code: str) -> StatusMap:
        found = self.statuses.get(code)
        if found is None:
            raise errors.MappingError(f"no mapping for filler status '{_bounded(code)}'")
        return found

    def error_name(self, ack: str, code: str, application: str) -> str | None:
        for key in ((ack, code, application), (ack, code, ""), (ack, "", application)):
            if key in self.errors:
                return self.errors[key]
        return self.errors.get((ack, "", ""))


def _bounded(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def entity_id(*parts: str) -> str:
    """A FHIR-safe stable id for a PAS entity (practitioner, role) of one supplier."""
    return str(uuid.uuid5(ID_NAMESPACE, "|".join(parts)))


def load_mappings(folder: Path) -> Mappings:
    """Read and cross-check every table in ``folder``; raises ``DataFileError``."""
    if not folder.is_dir():
        raise DataFileError(str(folder), "mapping folder not found")
    locations = _tables.read_locations(folder)
    organisations, services = _tables.read_services(folder, locations)
    schedules = _tables.read_schedules(folder, services, locations)
    by_location: dict[str, list[ScheduleMap]] = {}
    for item in schedules.values():
        if item.pas_location:
            by_location.setdefault(item.pas_location, []).append(item)
    genders_in, genders_out = read_genders(folder)
    statuses, statuses_out = _tables.read_statuses(folder)
    return Mappings(
        services=services,
        organisations=organisations,
        locations={loc.id: loc for loc in locations.values()},
        locations_by_code=locations,
        schedules=schedules,
        schedules_by_location={k: tuple(v) for k, v in by_location.items()},
        staff_types=_tables.read_staff_types(folder),
        appointment_types=_tables.read_appointment_types(folder),
        genders_in=genders_in,
        genders_out=genders_out,
        statuses=statuses,
        statuses_out=statuses_out,
        identifiers=read_identifiers(folder),
        errors=_tables.read_errors(folder),
    )
