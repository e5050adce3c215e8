"""A supplier's code tables: national ids and codes <-> the supplier's own, from CSV.

One folder of CSV files per supplier instance (layout in
``mappings/rest_diary/README.md``; the SOAP adapter uses the same layout).
Every table is validated on load with file, line and column; at run time a
code with no row is a ``MappingError`` (logged as ``mapping_missed``), never a
silent pass-through.
"""

from __future__ import annotations

import enum
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

import structlog

from adapters._csvtable import DataFileError, Row, read_table
from adapters.domain import BookingStatus, DeliveryChannel, Gender, SlotStatus
from adapters.errors import MappingError

E = TypeVar("E", bound=enum.Enum)
log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class CodeMap(Generic[E]):
    """Supplier code <-> domain value. Many supplier codes may share one value;
    the first row for a value is the code sent to the supplier."""

    table: str
    to_domain: Mapping[str, E]
    to_supplier: Mapping[E, tuple[str, ...]]

    def domain(self, code: str) -> E:
        try:
            return self.to_domain[code]
        except KeyError:
            raise _missed(self.table, "supplier code", code) from None

    def supplier(self, value: E) -> str:
        return self.suppliers((value,))[0]

    def suppliers(self, values: Iterable[E]) -> tuple[str, ...]:
        codes: list[str] = []
        for value in values:
            found = self.to_supplier.get(value)
            if not found:
                raise _missed(self.table, "value", str(value.value))
            codes.extend(found)
        return tuple(codes)


@dataclass(frozen=True, slots=True)
class ServiceEntry:
    """A national (DoS) service and one of the supplier's clinics that serves it."""

    service_id: str
    service_name: str
    supplier_code: str
    ods_code: str
    organisation_name: str


@dataclass(frozen=True, slots=True)
class Role:
    """An SDS job role (CareConnect-SDSJobRoleName-1) for a supplier staff grade."""

    code: str
    display: str


@dataclass(frozen=True)
class Mappings:
    by_code: Mapping[str, ServiceEntry]
    #: National service id -> the supplier codes (clinics) that serve it.
    by_service: Mapping[str, tuple[ServiceEntry, ...]]
    roles: Mapping[str, Role]
    genders: CodeMap[Gender]
    channels: CodeMap[DeliveryChannel]
    slot_statuses: CodeMap[SlotStatus]
    booking_statuses: CodeMap[BookingStatus]

    def service(self, supplier_code: str) -> ServiceEntry:
        try:
            return self.by_code[supplier_code]
        except KeyError:
            raise _missed("services.csv", "supplier code", supplier_code) from None

    def role(self, grade: str) -> Role:
        try:
            return self.roles[grade]
        except KeyError:
            raise _missed("roles.csv", "staff grade", grade) from None


def load_mappings(folder: Path) -> Mappings:
    """Read and check every table in ``folder``; raises ``DataFileError`` (a ValueError)."""
    if not folder.is_dir():
        raise DataFileError(str(folder), "mapping folder not found")
    by_code, by_service = _services(folder)
    return Mappings(
        by_code=by_code,
        by_service=by_service,
        roles=_roles(folder),
        genders=_codes(folder, "genders.csv", "gender", Gender, both_ways=True),
        channels=_codes(folder, "channels.csv", "delivery_channel", DeliveryChannel, False),
        slot_statuses=_codes(folder, "slot_statuses.csv", "status", SlotStatus, False),
        booking_statuses=_codes(folder, "booking_statuses.csv", "status", BookingStatus, False),
    )


def _services(
    folder: Path,
) -> tuple[dict[str, ServiceEntry], dict[str, tuple[ServiceEntry, ...]]]:
    columns = ("service_id", "service_name", "supplier_code", "ods_code", "organisation_name")
    by_code: dict[str, tuple[ServiceEntry, Row]] = {}
    by_service: dict[str, list[ServiceEntry]] = {}
    for row in read_table(folder, "services.csv", columns):
        entry = ServiceEntry(*(row.required(c) for c in columns))
        if not entry.service_id.isdigit():
            raise row.error("service_id", f"'{entry.service_id}' is not a national service id")
        _unique(row, "supplier_code", entry.supplier_code, {k: r for k, (_, r) in by_code.items()})
        siblings = by_service.setdefault(entry.service_id, [])
        if siblings and (siblings[0].service_name, siblings[0].ods_code) != (
            entry.service_name,
            entry.ods_code,
        ):
            raise row.error("service_name", "differs from an earlier row of the same service_id")
        siblings.append(entry)
        by_code[entry.supplier_code] = (entry, row)
    return {k: e for k, (e, _) in by_code.items()}, {k: tuple(v) for k, v in by_service.items()}


def _roles(folder: Path) -> dict[str, Role]:
    rows = read_table(folder, "roles.csv", ("supplier_code", "sds_role_code", "sds_role_display"))
    roles: dict[str, Role] = {}
    seen: dict[str, Row] = {}
    for row in rows:
        code = row.required("supplier_code")
        _unique(row, "supplier_code", code, seen)
        sds = row.required("sds_role_code")
        if not (len(sds) == 5 and sds[0] == "R" and sds[1:].isdigit()):
            raise row.error("sds_role_code", f"'{sds}' is not an SDS job role code like R0260")
        roles[code] = Role(sds, row.required("sds_role_display"))
        seen[code] = row
    return roles


def _codes(folder: Path, name: str, column: str, kind: type[E], both_ways: bool) -> CodeMap[E]:
    to_domain: dict[str, E] = {}
    to_supplier: dict[E, list[str]] = {}
    seen: dict[str, Row] = {}
    owner: dict[E, Row] = {}
    for row in read_table(folder, name, ("supplier_code", column)):
        code = row.required("supplier_code")
        _unique(row, "supplier_code", code, seen)
        value = row.parsed(column, kind)
        if both_ways and value in owner:
            first = owner[value].line
            raise row.error(column, f"'{value.value}' already mapped on line {first}")
        seen[code], owner[value] = row, row
        to_domain[code] = value
        to_supplier.setdefault(value, []).append(code)
    if both_ways:
        missing = [v.value for v in kind if v not in to_supplier]
        if missing:
            raise DataFileError(name, f"no row for {', '.join(missing)}")
    return CodeMap(name, to_domain, {k: tuple(v) for k, v in to_supplier.items()})


def _unique(row: Row, column: str, value: str, seen: Mapping[str, Row]) -> None:
    if value in seen:
        raise row.error(column, f"duplicate '{value}' (first on line {seen[value].line})")


def local_to_utc(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of a supplier's wall-clock time; ValueError if the clocks skipped it.

    In the repeated hour when clocks go back the first occurrence (fold=0) is
    taken: a supplier that sends local times without an offset cannot say which.
    """
    if wall.tzinfo is not None:
        raise ValueError("a local time must not carry an offset")
    instant = wall.replace(tzinfo=zone).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != wall:
        raise ValueError("that local time does not exist (the clocks went forward)")
    return instant


def utc_to_local(instant: datetime, zone: ZoneInfo) -> datetime:
    """The supplier's naive wall-clock time for a UTC instant."""
    return instant.astimezone(zone).replace(tzinfo=None)


_FHIR_ID = re.compile(r"^[A-Za-z0-9.-]{1,64}$")
_ID_NAMESPACE = uuid.UUID("0b7f5c2e-3f4d-5a1e-9c61-6a0d2b3c4e5f")


def fhir_id(*parts: str) -> str:
    """A FHIR resource id for supplier codes: readable when they allow it, else a hash.

    FHIR ids are ``[A-Za-z0-9-.]{1,64}``; supplier codes may hold anything.
    """
    joined = "-".join(parts)
    return joined if _FHIR_ID.match(joined) else uuid.uuid5(_ID_NAMESPACE, joined).hex


def _missed(table: str, what: str, code: str) -> MappingError:
    # Codes are supplier vocabulary, never patient data, so they may be logged (bounded).
    shown = code[:40]
    log.warning("mapping_missed", table=table, what=what, code=shown)
    return MappingError(f"{table}: no mapping for {what} '{shown}'")
