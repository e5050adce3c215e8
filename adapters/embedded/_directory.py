"""The embedded diary's reference data, loaded from CSV files and cross-checked.

Columns are documented in ``mappings/embedded/README.md``. Every reference is
checked on load: a schedule naming an unknown service is an error with its file,
line and column, never a slot nobody can find.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from adapters._csvtable import DataFileError, Row, read_table, unique_ids
from adapters.domain import (
    Address,
    DeliveryChannel,
    Gender,
    HealthcareService,
    HumanName,
    Identifier,
    Location,
    Organisation,
    Practitioner,
    PractitionerRole,
    Schedule,
)
from adapters.embedded._templates import SlotTemplate, parse_clock, parse_weekdays

SDS_USER_ID = "https://fhir.nhs.uk/Id/sds-user-id"
SDS_ROLE_PROFILE_ID = "https://fhir.nhs.uk/Id/sds-role-profile-id"


@dataclass(frozen=True)
class Directory:
    """Everything a slot leads to, keyed by id, plus the templates that make slots."""

    organisations: Mapping[str, Organisation]
    locations: Mapping[str, Location]
    services: Mapping[str, HealthcareService]
    practitioners: Mapping[str, Practitioner]
    roles: Mapping[str, PractitionerRole]
    schedules: Mapping[str, Schedule]
    templates: tuple[SlotTemplate, ...]
    #: Schedule ids per service id.
    by_service: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def load_directory(folder: Path) -> Directory:
    """Read and cross-check every data file in ``folder``; raises ``DataFileError``."""
    if not folder.is_dir():
        raise DataFileError(str(folder), "data folder not found")
    organisations = {r.id: r for r in map(_organisation, _table(folder, "organisations"))}
    locations = {
        r.id: r for r in (_location(row, organisations) for row in _table(folder, "locations"))
    }
    services = {
        r.id: r
        for r in (_service(row, organisations, locations) for row in _table(folder, "services"))
    }
    practitioners = {r.id: r for r in map(_practitioner, _table(folder, "practitioners"))}
    roles = {
        r.id: r
        for r in (
            _role(row, practitioners, organisations) for row in _table(folder, "practitioner_roles")
        )
    }
    schedules = {
        r.id: r
        for r in (
            _schedule(row, services, practitioners, roles, locations)
            for row in _table(folder, "schedules")
        )
    }
    templates = tuple(_template(row, schedules) for row in _rows(folder, "slot_templates"))
    by_service: dict[str, list[str]] = {}
    for schedule in schedules.values():
        by_service.setdefault(schedule.service_id, []).append(schedule.id)
    return Directory(
        organisations=organisations,
        locations=locations,
        services=services,
        practitioners=practitioners,
        roles=roles,
        schedules=schedules,
        templates=templates,
        by_service={key: tuple(ids) for key, ids in by_service.items()},
    )


_COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # table: (required columns, optional columns)
    "organisations": (("id", "ods_code", "name"), ("phone",)),
    "locations": (
        ("id", "name", "managing_organisation_id"),
        ("line1", "line2", "line3", "city", "district", "postcode"),
    ),
    "services": (("id", "name", "organisation_id"), ("location_id", "local_id", "local_id_system")),
    "practitioners": (
        ("id", "family"),
        ("given", "prefix", "gender", "sds_user_id", "sds_role_profile_id"),
    ),
    "practitioner_roles": (
        ("id", "role_code", "role_display"),
        ("practitioner_id", "organisation_id"),
    ),
    "schedules": (
        ("id", "service_id"),
        ("practitioner_id", "practitioner_role_id", "location_id"),
    ),
    "slot_templates": (("schedule_id", "weekdays", "from", "to", "minutes"), ("delivery_channel",)),
}


def _rows(folder: Path, table: str) -> list[Row]:
    required, optional = _COLUMNS[table]
    return read_table(folder, f"{table}.csv", required, optional)


def _table(folder: Path, table: str) -> list[Row]:
    """Rows of a table whose ``id`` column is unique."""
    return list(unique_ids(_rows(folder, table)).values())


def _organisation(row: Row) -> Organisation:
    phone = row.optional("phone")
    return Organisation.model_validate(
        {
            "id": row.required("id"),
            "ods_code": row.required("ods_code"),
            "name": row.required("name"),
            "telecom": [{"system": "phone", "value": phone, "use": "work"}] if phone else [],
        }
    )


def _location(row: Row, organisations: Mapping[str, Organisation]) -> Location:
    lines = tuple(v for v in (row.optional(f"line{n}") for n in (1, 2, 3)) if v)
    address = Address(
        lines=lines,
        city=row.optional("city"),
        district=row.optional("district"),
        postcode=row.optional("postcode"),
    )
    return Location(
        id=row.required("id"),
        name=row.required("name"),
        address=address if address != Address() else None,
        managing_organisation_id=row.required_reference(
            "managing_organisation_id", organisations, "organisation"
        ),
    )


def _service(
    row: Row, organisations: Mapping[str, Organisation], locations: Mapping[str, Location]
) -> HealthcareService:
    local_id = row.optional("local_id")
    system = row.optional("local_id_system")
    if local_id and not system:
        raise row.error("local_id_system", "a system is required when local_id is given")
    return HealthcareService(
        id=row.required("id"),
        name=row.required("name"),
        organisation_id=row.required_reference("organisation_id", organisations, "organisation"),
        location_id=row.reference("location_id", locations, "location"),
        local_identifier=Identifier(system=system, value=local_id) if local_id and system else None,
    )


def _practitioner(row: Row) -> Practitioner:
    identifiers = [
        Identifier(system=system, value=value)
        for system, value in (
            (SDS_USER_ID, row.optional("sds_user_id")),
            (SDS_ROLE_PROFILE_ID, row.optional("sds_role_profile_id")),
        )
        if value
    ]
    gender = row.optional("gender")
    return Practitioner(
        id=row.required("id"),
        name=HumanName(
            family=row.required("family"),
            given=tuple((row.optional("given") or "").split()),
            prefix=tuple((row.optional("prefix") or "").split()),
            use="official",
        ),
        gender=row.parsed("gender", _gender) if gender else None,
        identifiers=tuple(identifiers),
    )


def _gender(text: str) -> Gender:
    try:
        return Gender(text.lower())
    except ValueError:
        raise ValueError(f"'{text}' is not one of {', '.join(g.value for g in Gender)}") from None


def _role(
    row: Row, practitioners: Mapping[str, Practitioner], organisations: Mapping[str, Organisation]
) -> PractitionerRole:
    return PractitionerRole(
        id=row.required("id"),
        practitioner_id=row.reference("practitioner_id", practitioners, "practitioner"),
        organisation_id=row.reference("organisation_id", organisations, "organisation"),
        role_code=row.parsed("role_code", _role_code),
        role_display=row.required("role_display"),
    )


def _role_code(text: str) -> str:
    # CareConnect-SDSJobRoleName-1 codes are an R and four digits (e.g. R0260).
    if len(text) != 5 or text[0] != "R" or not text[1:].isdigit():
        raise ValueError(f"'{text}' is not an SDS job role code like R0260")
    return text


def _schedule(
    row: Row,
    services: Mapping[str, HealthcareService],
    practitioners: Mapping[str, Practitioner],
    roles: Mapping[str, PractitionerRole],
    locations: Mapping[str, Location],
) -> Schedule:
    service_id = row.required_reference("service_id", services, "service")
    practitioner_id = row.reference("practitioner_id", practitioners, "practitioner")
    role_id = row.reference("practitioner_role_id", roles, "practitioner role")
    role = roles[role_id] if role_id else None
    if role and practitioner_id and role.practitioner_id not in (None, practitioner_id):
        raise row.error(
            "practitioner_role_id",
            f"role '{role_id}' belongs to practitioner '{role.practitioner_id}', "
            f"not '{practitioner_id}'",
        )
    return Schedule(
        id=row.required("id"),
        service_id=service_id,
        practitioner_id=practitioner_id or (role.practitioner_id if role else None),
        practitioner_role_id=role_id,
        location_id=row.reference("location_id", locations, "location")
        or services[service_id].location_id,
    )


def _template(row: Row, schedules: Mapping[str, Schedule]) -> SlotTemplate:
    start = row.parsed("from", parse_clock)
    end = row.parsed("to", parse_clock)
    minutes = row.parsed("minutes", _minutes)
    if end <= start:
        raise row.error("to", f"'{row.required('to')}' is not after '{row.required('from')}'")
    if minutes > end - start:
        raise row.error("minutes", f"{minutes} minutes do not fit between from and to")
    channel = row.optional("delivery_channel")
    return SlotTemplate(
        schedule_id=row.required_reference("schedule_id", schedules, "schedule"),
        weekdays=row.parsed("weekdays", parse_weekdays),
        start=start,
        end=end,
        minutes=minutes,
        delivery_channel=row.parsed("delivery_channel", _channel) if channel else None,
    )


def _minutes(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 24 * 60:
        raise ValueError(f"'{text}' is not a whole number of minutes (1-1440)")
    return int(text)


def _channel(text: str) -> DeliveryChannel:
    for channel in DeliveryChannel:
        if channel.value.lower() == text.lower():
            return channel
    allowed = ", ".join(c.value for c in DeliveryChannel)
    raise ValueError(f"'{text}' is not a delivery channel ({allowed} or empty)")
