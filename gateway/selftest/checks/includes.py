"""The _include chain of search_slots.md: Slot → Schedule → actors → Location, Organization."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from gateway.security.interactions import Interaction
from gateway.selftest._fhir import instant, keys, parse_instant, reference, resources, searchset
from gateway.selftest._http import query
from gateway.selftest._run import Check, Run, check, expect

CHECKS: list[Check] = []
PAGE = "search_slots.md"
ACTORS = ("Practitioner", "PractitionerRole", "HealthcareService")
#: The page's table, colon form (and uec_capability.md lists the same chain).
COLON_CHAIN = (
    ("_include", "Slot:schedule"),
    *(("_include:iterate", f"Schedule:actor:{actor}") for actor in ACTORS),
    ("_include:iterate", "HealthcareService:Location"),
    ("_include:iterate", "HealthcareService:Organization"),
)
#: The page's full query and uec_capability.md's searchInclude spell these dotted.
DOTTED_CHAIN = (
    ("_include", "Slot:schedule"),
    ("_include:iterate", "Schedule:actor:HealthcareService"),
    ("_include:iterate", "HealthcareService.location"),
    ("_include:iterate", "HealthcareService.providedBy"),
)


async def _chain(run: Run, chain: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    """The Bundle for the first free slot's hour with ``chain`` included."""
    first = run.slot(0)
    start = parse_instant(first["start"])
    params = query(
        ("service", run.options.service),
        ("start", f"ge{instant(start)}"),
        ("start", f"le{instant(start + timedelta(hours=1))}"),
        *chain,
    )
    reply = await run.consumer.send(Interaction.SLOT_SEARCH, "/Slot", params=params)
    return searchset(reply, "slot search with _include")


async def _colon_chain(run: Run) -> dict[str, Any]:
    if run.state.chain is None:
        run.state.chain = await _chain(run, COLON_CHAIN)
    return run.state.chain


def _missing(bundle: dict[str, Any], wanted: set[str]) -> list[str]:
    return sorted(wanted - keys(bundle))


def _service_references(bundle: dict[str, Any], field: str) -> set[str]:
    found = set()
    for service in resources(bundle, "HealthcareService"):
        value = service.get(field)
        for item in value if isinstance(value, list) else [value]:
            ref = reference(item)
            if ref:
                found.add(ref)
    return found


@check(CHECKS, "include-slot-schedule", PAGE)
async def slot_schedule(run: Run) -> None:
    """_include=Slot:schedule brings every returned Slot's Schedule."""
    bundle = await _colon_chain(run)
    wanted = {reference(s.get("schedule")) or "?" for s in resources(bundle, "Slot")}
    missing = _missing(bundle, wanted)
    expect(not missing, f"expected the slots' schedules, missing {missing[:3]}")


@check(CHECKS, "include-schedule-actors", PAGE)
async def schedule_actors(run: Run) -> None:
    """Schedule:actor:Practitioner/PractitionerRole/HealthcareService bring those actors."""
    bundle = await _colon_chain(run)
    wanted = set()
    for schedule in resources(bundle, "Schedule"):
        for actor in schedule.get("actor") or []:
            ref = reference(actor)
            if ref and ref.split("/")[0] in ACTORS:
                wanted.add(ref)
    expect(wanted, "the schedules name no Practitioner, PractitionerRole or HealthcareService")
    missing = _missing(bundle, wanted)
    expect(not missing, f"expected the schedules' actors, missing {missing[:3]}")


@check(CHECKS, "include-healthcareservice-colon", PAGE)
async def service_colon(run: Run) -> None:
    """HealthcareService:Location and :Organization bring its location and providedBy."""
    bundle = await _colon_chain(run)
    wanted = _service_references(bundle, "location") | _service_references(bundle, "providedBy")
    missing = _missing(bundle, wanted)
    expect(not missing, f"expected the service's Location/Organization, missing {missing[:3]}")


@check(CHECKS, "include-healthcareservice-dotted", f"{PAGE}, uec_capability.md")
async def service_dotted(run: Run) -> None:
    """HealthcareService.location and .providedBy (the dotted spelling) bring the same."""
    bundle = await _chain(run, DOTTED_CHAIN)
    expect(resources(bundle, "HealthcareService"), "Schedule:actor:HealthcareService brought none")
    wanted = _service_references(bundle, "location") | _service_references(bundle, "providedBy")
    missing = _missing(bundle, wanted)
    expect(not missing, f"expected the service's Location/Organization, missing {missing[:3]}")


def _referenced(bundle: dict[str, Any]) -> set[str]:
    """Every Type/id any resource in the Bundle references (one level deep and in lists)."""
    found = set()
    for resource in resources(bundle):
        for value in resource.values():
            for item in value if isinstance(value, list) else [value]:
                ref = reference(item)
                if ref:
                    found.add(ref)
    return found


@check(CHECKS, "include-related-once", PAGE)
async def related_once(run: Run) -> None:
    """Included resources are related to the Slots and never duplicated."""
    bundle = await _colon_chain(run)
    seen: list[str] = [f"{r.get('resourceType')}/{r.get('id')}" for r in resources(bundle)]
    twice = sorted({k for k in seen if seen.count(k) > 1})
    expect(not twice, f"expected each resource once, saw twice {twice[:3]}")
    strangers = sorted(
        k for k in keys(bundle) if not k.startswith("Slot/") and k not in _referenced(bundle)
    )
    expect(not strangers, f"expected only related resources, saw {strangers[:3]}")
    for entry in bundle.get("entry") or []:
        kind = (entry.get("resource") or {}).get("resourceType")
        mode = (entry.get("search") or {}).get("mode")
        wanted = "match" if kind == "Slot" else "include"
        # The page's sample carries no search.mode; when one is given it must be right.
        expect(mode in (None, wanted), f"a {kind} entry has search.mode {mode!r}, not {wanted!r}")
