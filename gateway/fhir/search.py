"""Slot and appointment search parameters (search_slots.md, search_patient_appointments.md).

Unknown parameters are ignored (implementation_api.md, inter-version
compatibility); known ones that are malformed are 400.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from multidict import MultiMapping

from adapters.domain import SlotQuery, SlotSearchResult, SlotStatus
from adapters.nhs import NHS_NUMBER_SYSTEM, is_valid_nhs_number
from gateway.errors import ApiError, ErrorKind
from gateway.fhir._window import Window, supplier_bounds, window

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
    #: What the supplier is asked for: the inclusive start window around ``window``.
    query: SlotQuery
    includes: tuple[str, ...]
    window: Window

    def select(self, result: SlotSearchResult) -> SlotSearchResult:
        """The supplier's slots that the window admits (exclusive bounds, ``end``)."""
        slots = tuple(s for s in result.slots if self.window.admits(s))
        return result.model_copy(update={"slots": slots})


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


def slot_search(params: MultiMapping[str], now: datetime) -> SlotSearch:
    wanted = window(params, now)
    start_from, start_to = supplier_bounds(wanted, now)
    includes: list[str] = []
    for name in INCLUDE_PARAMS:
        includes.extend(params.getall(name, []))
    query = SlotQuery(
        service_id=_service(params),
        statuses=_statuses(params),
        start_from=start_from,
        start_to=start_to,
    )
    return SlotSearch(query=query, includes=tuple(includes), window=wanted)


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
