"""Readers of each mapping table (``mappings/hl7v2/<supplier>/*.csv``), checked row by row."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

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
from adapters.hl7v2._mapping_values import (
    ERROR_NAMES,
    ScheduleMap,
    StatusMap,
)

_TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "services": (("service_id", "name", "ods_code", "organisation_name"), ("location_code",)),
    "locations": (("pas_location", "id", "name"), ("line1", "city", "postcode")),
    "schedules": (("id", "service_id", "pas_schedule"), ("pas_location",)),
    "staff_types": (("pas_staff_type", "sds_role_code", "sds_role_display"), ()),
    "appointment_types": (("pas_appointment_type",), ("delivery_channel",)),
    "filler_statuses": (("pas_status", "slot_status"), ("booking_status", "query_for")),
    "errors": (("ack_code", "error"), ("error_code", "application_code", "meaning")),
}


def _rows(folder: Path, table: str) -> list[Row]:
    required, optional = _TABLES[table]
    return read_table(folder, f"{table}.csv", required, optional)


def read_locations(folder: Path) -> dict[str, Location]:
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


def read_services(
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


def read_schedules(
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
            line=row.line,
        )
    return out


def read_staff_types(folder: Path) -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for code, row in unique_ids(_rows(folder, "staff_types"), "pas_staff_type").items():
        out[code] = (row.parsed("sds_role_code", _sds_role), row.required("sds_role_display"))
    return out


def _sds_role(text: str) -> str:
    # CareConnect-SDSJobRoleName-1 codes are an R and four digits (e.g. R0260).
    if len(text) != 5 or text[0] != "R" or not text[1:].isdigit():
        raise ValueError(f"'{text}' is not an SDS job role code like R0260")
    return text


def read_appointment_types(folder: Path) -> dict[str, DeliveryChannel | None]:
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


def read_statuses(
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


def read_errors(folder: Path) -> dict[tuple[str, str, str], str]:
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
