"""Slot and appointment search parameters (search_slots.md, search_patient_appointments.md).

Unknown parameters are ignored (implementation_api.md, inter-version
compatibility); known ones that are malformed are 400.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from multidict import MultiMapping

from adapters.domain import SlotQuery, SlotStatus
from adapters.nhs import NHS_NUMBER_SYSTEM, is_valid_nhs_number
from gateway.errors import ApiError, ErrorKind

SERVICE_PARAMS = ("service", "schedule.actor:healthcareservice", "schedule.actor:HealthcareService")
INCLUDE_PARAMS = ("_include", "_include:iterate", "_include:recurse")
PATIENT_PARAMS = (
    "patient:identifier",
    "patient.identifier",
    "Appointment.participant.actor:Patient.identifier",
    "Appointment.participant.actor",
    "actor:Patient.identifier",
    "identifier",
)


@dataclass(frozen=True, slots=True)
class SlotSearch:
    query: SlotQuery
    includes: tuple[str, ...]


def _bad(param: str, message: str) -> ApiError:
    return ApiError(ErrorKind.INVALID_PARAMETER, message, expression=param)


def _token_value(raw: str) -> str:
    # A token may be 'system|code'; the service id is the code.
    return raw.rpartition("|")[2].strip()


def _service(params: MultiMapping[str]) -> str:
    for name in SERVICE_PARAMS:
        values = params.getall(name, [])
        if len(values) > 1:
            raise _bad(name, f"'{name}' may be given once")
        if values:
            value = _token_value(values[0])
            if not value:
                raise _bad(name, f"'{name}' is empty")
            return value
    raise _bad("service", "the 'service' search parameter (the national service id) is required")


def _statuses(params: MultiMapping[str]) -> frozenset[SlotStatus]:
    raw = ",".join(params.getall("status", []))
    if not raw:
        # Choice (docs/spec-choices.md): without 'status' the search is for free slots,
        # the use case search_slots.md describes.
        return frozenset({SlotStatus.FREE})
    statuses = set()
    for item in raw.split(","):
        try:
            statuses.add(SlotStatus(item.strip()))
        except ValueError:
            known = ", ".join(s.value for s in SlotStatus)
            raise _bad("status", f"unknown slot status '{item.strip()}' (known: {known})") from None
    return frozenset(statuses)


def _parse_when(raw: str, upper: bool) -> datetime:
    """A date or dateTime; a bare date covers its whole day (UTC)."""
    if len(raw) == 10:
        day = date.fromisoformat(raw)
        moment = datetime.combine(day, time.min, tzinfo=UTC)
        return moment + timedelta(days=1) - timedelta(microseconds=1) if upper else moment
    value = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    if value.tzinfo is None:
        raise ValueError("a time needs a UTC offset")
    return value.astimezone(UTC)


def _window(params: MultiMapping[str], now: datetime) -> tuple[datetime | None, datetime | None]:
    start_from: datetime | None = None
    start_to: datetime | None = None
    for raw in params.getall("start", []):
        prefix, value = raw[:2], raw[2:]
        if prefix not in ("ge", "gt", "le", "lt", "eq"):
            prefix, value = "eq", raw
        try:
            lower = _parse_when(value, upper=False)
            upper = _parse_when(value, upper=True)
        except ValueError:
            raise _bad(
                "start", f"'start={raw}' is not a valid date or dateTime with offset"
            ) from None
        if prefix in ("ge", "gt", "eq"):
            start_from = lower if prefix != "gt" else lower + timedelta(microseconds=1)
        if prefix in ("le", "lt", "eq"):
            start_to = upper if prefix != "lt" else lower - timedelta(microseconds=1)
    if start_from and start_to and start_from > start_to:
        raise _bad("start", "the start window ends before it begins")
    if start_to is not None and start_to < now:
        # er_overview.md: both ends in the past is 400; a past window start alone is fine.
        raise _bad("start", "the whole start window is in the past")
    # Slots that have already started cannot be booked, so they are never offered.
    return max(start_from, now) if start_from else now, start_to


def slot_search(params: MultiMapping[str], now: datetime) -> SlotSearch:
    start_from, start_to = _window(params, now)
    includes: list[str] = []
    for name in INCLUDE_PARAMS:
        includes.extend(params.getall(name, []))
    query = SlotQuery(
        service_id=_service(params),
        statuses=_statuses(params),
        start_from=start_from,
        start_to=start_to,
    )
    return SlotSearch(query=query, includes=tuple(includes))


def patient_nhs_number(params: MultiMapping[str]) -> str:
    """The NHS number from a patient appointment search (either spelling the spec uses)."""
    found: Sequence[str] = ()
    name = ""
    for name in PATIENT_PARAMS:
        found = params.getall(name, [])
        if found:
            break
    if not found:
        raise _bad(
            "patient:identifier", f"search by 'patient:identifier={NHS_NUMBER_SYSTEM}|<NHS number>'"
        )
    system, sep, value = found[0].rpartition("|")
    if sep and system and system != NHS_NUMBER_SYSTEM:
        raise _bad(name, f"identifier system must be {NHS_NUMBER_SYSTEM}")
    value = value.rstrip("/").rpartition("/")[2]
    if not is_valid_nhs_number(value):
        raise ApiError(
            ErrorKind.INVALID_PARAMETER,
            "the NHS number is not ten digits with a valid check digit",
            expression=name,
        )
    return value
