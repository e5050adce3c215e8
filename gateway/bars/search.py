"""BaRS search parameters (api spec getSlots / getAppointment; Failure-Scenarios GET--Slots).

GET /Slot: ``status`` (comma list, required), ``start`` twice (a lower ``ge``/``gt``
and an upper ``le``/``lt`` bound, with offsets, required), ``Schedule.actor:
HealthcareService`` (optional: the target's service) and ``_include`` (at least
``Slot:schedule`` and ``Schedule:actor:HealthcareService``). Includes we cannot
honour are ignored and left out of the Bundle's self link, as the api spec says.
The window itself is read by the STU3 door's reader (gateway/fhir/_window.py).
"""

from __future__ import annotations

from datetime import datetime

from multidict import MultiDict, MultiMapping
from yarl import URL

from gateway.bars.errors import Rec, RecError
from gateway.fhir import bundle as stu3_bundle
from gateway.fhir import search as stu3_search

SERVICE_PARAM = "Schedule.actor:HealthcareService"
#: api spec: the _include values a receiver may be asked for, as written there.
INCLUDES = (
    "Slot:schedule",
    "Schedule:actor:Practitioner",
    "Schedule:actor:PractitionerRole",
    "Schedule:actor:HealthcareService",
    "HealthcareService:providedBy",
    "HealthcareService:location",
)
REQUIRED_INCLUDES = ("Slot:schedule", "Schedule:actor:HealthcareService")
_KNOWN = {stu3_bundle.include_key(i): i for i in INCLUDES}


def _bad(param: str, issue: str, message: str) -> RecError:
    return RecError(Rec.BAD_REQUEST, issue, message, expression=param)


def _service(params: MultiMapping[str], names: frozenset[str]) -> None:
    """``names``: what the target service may be called (our id, the target's value)."""
    values = params.getall(SERVICE_PARAM, []) or params.getall(SERVICE_PARAM.lower(), [])
    if len(values) > 1:
        raise _bad(SERVICE_PARAM, "value", f"'{SERVICE_PARAM}' may be given once")
    if values and values[0].rpartition("|")[2].strip() not in names:
        # GET--Slots: "likely match the value in the NHSD-Target-Identifier header".
        raise _bad(
            SERVICE_PARAM,
            "invariant",
            f"'{SERVICE_PARAM}' names another service than NHSD-Target-Identifier does",
        )


def _start(params: MultiMapping[str]) -> None:
    values = params.getall("start", [])
    lower = [v for v in values if v[:2] in ("ge", "gt")]
    upper = [v for v in values if v[:2] in ("le", "lt")]
    if not values:
        raise _bad("start", "required", "'start' is required twice: start=ge…&start=le…")
    if len(values) != 2 or len(lower) != 1 or len(upper) != 1:
        raise _bad("start", "value", "'start' needs one lower (ge) and one upper (le) bound")


def includes(params: MultiMapping[str]) -> tuple[str, ...]:
    """The includes asked for that we honour, in the spec's spelling; 400 if a required one
    is missing."""
    asked = {stu3_bundle.include_key(v) for v in params.getall("_include", [])}
    for needed in REQUIRED_INCLUDES:
        if stu3_bundle.include_key(needed) not in asked:
            raise _bad("_include", "required", f"_include={needed} is required")
    return tuple(spelling for key, spelling in _KNOWN.items() if key in asked)


def slot_search(
    params: MultiMapping[str],
    target_service: str,
    now: datetime,
    max_count: int,
    target_value: str | None = None,
) -> tuple[stu3_search.SlotSearch, tuple[str, ...]]:
    """The search to run and the includes honoured (STU3 reader, BaRS rules first).

    ``Schedule.actor:HealthcareService`` may name the service as the sender knows it
    (the NHSD-Target-Identifier value, e.g. its DoS id) or by this gateway's own id."""
    if not params.getall("status", []):
        raise _bad("status", "required", "'status' is required (e.g. status=free)")
    _start(params)
    _service(params, frozenset(n for n in (target_service, target_value) if n))
    honoured = includes(params)
    shared: MultiDict[str] = MultiDict(
        (k, v) for k, v in params.items() if k in ("status", "start", "_count")
    )
    shared.add("service", target_service)
    for name in honoured:
        shared.add("_include", name)
    return stu3_search.slot_search(shared, now, max_count), honoured


def self_url(base: str, params: MultiMapping[str], honoured: tuple[str, ...]) -> str:
    """This search's URL with only the includes honoured (api spec: Bundle.link.url)."""
    kept: MultiDict[str] = MultiDict((k, v) for k, v in params.items() if k != "_include")
    for name in honoured:
        kept.add("_include", name)
    return str(URL(f"{base}/Slot").with_query(kept))
