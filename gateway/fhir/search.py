"""Slot and appointment search parameters (search_slots.md, search_patient_appointments.md).

Unknown parameters are ignored (implementation_api.md, inter-version
compatibility); known ones that are malformed are 400.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from multidict import MultiDict, MultiMapping
from yarl import URL

from adapters.domain import Slot, SlotQuery, SlotSearchResult, SlotStatus
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
class SlotPage:
    """One page of a slot search: its slots, how many matched in all, where the next starts."""

    result: SlotSearchResult
    total: int
    next_start: datetime | None


@dataclass(frozen=True, slots=True)
class SlotSearch:
    #: What the supplier is asked for: the inclusive start window around ``window``.
    query: SlotQuery
    includes: tuple[str, ...]
    window: Window
    #: Most slots on one page: ``_count``, capped to the configured maximum.
    count: int
    #: Whether the window starts now (no lower bound, or one already past): the
    #: answer then changes as slots start, not only when the diary does.
    from_now: bool = False

    def select(self, result: SlotSearchResult) -> SlotSearchResult:
        """The supplier's slots that the window admits (exclusive bounds, ``end``)."""
        slots = tuple(s for s in result.slots if self.window.admits(s))
        return result.model_copy(update={"slots": slots})

    def page(self, result: SlotSearchResult) -> SlotPage:
        """The first page of the admitted slots, in start order; see ``next_url``."""
        ordered = sorted(self.select(result).slots, key=_slot_order)
        cut = _page_end(ordered, self.count)
        next_start = ordered[cut].start if cut < len(ordered) else None
        slots = tuple(ordered[:cut])
        return SlotPage(result.model_copy(update={"slots": slots}), len(ordered), next_start)

    def next_url(self, self_url: str, next_start: datetime) -> str:
        """This search again from ``next_start`` on: ``start=ge<next_start>`` and the same end."""
        url = URL(self_url)
        query = MultiDict((k, v) for k, v in url.query.items() if k != "start")
        query.add("start", "ge" + next_start.isoformat())
        upper = self.window.start.upper
        if upper is not None:
            query.add("start", ("le" if upper.inclusive else "lt") + upper.at.isoformat())
        return str(url.with_query(query))


def _slot_order(slot: Slot) -> tuple[datetime, str, str]:
    return slot.start, slot.schedule_id, slot.id


def _page_end(ordered: Sequence[Slot], count: int) -> int:
    """Where the first page ends: at most ``count`` slots, never splitting one start time.

    The next page is "the same search from the next start on" (``start=ge``), so
    slots sharing a start must be on the same page; if more than ``count`` share
    the first start, that page holds all of them.
    """
    if len(ordered) <= count:
        return len(ordered)
    cut = count
    while cut > 0 and ordered[cut - 1].start == ordered[cut].start:
        cut -= 1
    if cut == 0:
        cut = count
        while cut < len(ordered) and ordered[cut].start == ordered[0].start:
            cut += 1
    return cut


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


def _count(params: MultiMapping[str], most: int) -> int:
    values = params.getall("_count", [])
    if not values:
        return most
    if len(values) > 1:
        raise _bad("_count", "'_count' may be given once")
    raw = values[0].strip()
    digits = raw.lstrip("0")
    if not (raw.isascii() and raw.isdigit()) or not digits:
        raise _bad("_count", f"'_count={values[0]}' must be a whole number of 1 or more")
    # STU3 search.html (_count): the server may return fewer than asked; at most ``most``.
    return most if len(digits) > 9 else min(int(digits), most)


def slot_search(params: MultiMapping[str], now: datetime, max_count: int = 200) -> SlotSearch:
    wanted = window(params, now)
    start_from, start_to = supplier_bounds(wanted, now)
    lower = wanted.start.lower
    from_now = lower is not None and lower.at == now and lower.inclusive
    if from_now:
        # The supplier is asked from the minute's start (a few more slots, which
        # the window drops), so the same search within a minute is the same query.
        start_from = now.replace(second=0, microsecond=0)
    includes: list[str] = []
    for name in INCLUDE_PARAMS:
        includes.extend(params.getall(name, []))
    query = SlotQuery(
        service_id=_service(params),
        statuses=_statuses(params),
        start_from=start_from,
        start_to=start_to,
    )
    return SlotSearch(
        query=query,
        includes=tuple(includes),
        window=wanted,
        count=_count(params, max_count),
        from_now=from_now,
    )


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
