"""The slot search parameters of search_slots.md (and the errors er_overview.md lists)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.security.interactions import Interaction
from gateway.selftest._fhir import (
    expect_refusal,
    instant,
    parse_instant,
    reference,
    resources,
    searchset,
    slot_ids,
)
from gateway.selftest._http import Reply, query
from gateway.selftest._run import Check, Run, check, expect

CHECKS: list[Check] = []
PAGE = "search_slots.md"
_SEARCH = Interaction.SLOT_SEARCH


async def search(run: Run, *pairs: tuple[str, str], service: str | None = None) -> Reply:
    params = query(("service", service or run.options.service), *pairs)
    return await run.consumer.send(_SEARCH, "/Slot", params=params)


def window(run: Run) -> tuple[tuple[str, str], tuple[str, str]]:
    start, end = run.state.window
    return ("start", f"ge{instant(start)}"), ("start", f"le{instant(end)}")


def _brief(slots: list[dict[str, Any]]) -> str:
    shown = ", ".join(f"{s.get('id')}@{s.get('start')}" for s in slots[:3])
    return shown + (" …" if len(slots) > 3 else "")


@check(CHECKS, "slot-search-free-in-window", PAGE)
async def free_in_window(run: Run) -> None:
    """status=free and a start window: 200, a searchset of free Slots starting in it."""
    reply = await search(run, ("status", "free"), *window(run))
    slots = resources(searchset(reply, "slot search"), "Slot")
    start, end = run.state.window
    wrong = [
        s
        for s in slots
        if s.get("status") != "free" or not start <= parse_instant(s["start"]) <= end
    ]
    expect(not wrong, f"expected free slots starting in the window, saw {_brief(wrong)}")
    missing = [
        s.get("id") for s in slots if not (s.get("identifier") and reference(s.get("schedule")))
    ]
    # fs_fhir_overrides.md: Slot.identifier 1..1; slot.md: schedule 1..1.
    expect(not missing, f"slots without identifier or schedule: {missing[:3]}")
    run.state.slots = sorted(slots, key=lambda s: parse_instant(s["start"]))
    expect(
        slots, f"no free slot of service {run.options.service} in {instant(start)}..{instant(end)}"
    )


@check(CHECKS, "slot-start-ge-le-inclusive", PAGE)
async def ge_le(run: Run) -> None:
    """start=geT&start=leT finds the slots starting exactly at T (both bounds inclusive)."""
    first = run.slot(0)
    reply = await search(run, ("start", f"ge{first['start']}"), ("start", f"le{first['start']}"))
    slots = resources(searchset(reply, "slot search"), "Slot")
    expect(
        any(s.get("id") == first["id"] for s in slots),
        f"slot {first['id']} starting at {first['start']} is missing",
    )
    at = parse_instant(first["start"])
    other = [s for s in slots if parse_instant(s["start"]) != at]
    expect(not other, f"expected only slots starting at {first['start']}, saw {_brief(other)}")


@check(CHECKS, "slot-start-gt-exclusive", PAGE)
async def gt(run: Run) -> None:
    """start=gtT leaves out the slots starting at T."""
    first = run.slot(0)
    reply = await search(run, ("start", f"gt{first['start']}"), window(run)[1])
    slots = resources(searchset(reply, "slot search"), "Slot")
    at = parse_instant(first["start"])
    early = [s for s in slots if parse_instant(s["start"]) <= at]
    expect(not early, f"start=gt{first['start']}: expected later slots only, saw {_brief(early)}")
    later = [s for s in run.state.slots if parse_instant(s["start"]) > at]
    expect(slots or not later, "start=gt found nothing though later free slots exist")


@check(CHECKS, "slot-start-lt-exclusive", PAGE)
async def lt(run: Run) -> None:
    """start=ltT leaves out the slots starting at T, keeps the earlier ones."""
    first = run.slot(0)
    at = parse_instant(first["start"])
    later = [s for s in run.state.slots if parse_instant(s["start"]) > at]
    expect(later, "needs free slots at two different start times in the window")
    bound = later[0]["start"]
    reply = await search(run, window(run)[0], ("start", f"lt{bound}"))
    slots = resources(searchset(reply, "slot search"), "Slot")
    late = [s for s in slots if parse_instant(s["start"]) >= parse_instant(bound)]
    expect(not late, f"start=lt{bound}: expected earlier slots only, saw {_brief(late)}")
    expect(any(s.get("id") == first["id"] for s in slots), f"slot {first['id']} is missing")


@check(CHECKS, "slot-end-parameter", f"{PAGE}, uec_capability.md")
async def end_parameter(run: Run) -> None:
    """end=leT (the declared Slot search parameter end) keeps only slots ending by T."""
    first = run.slot(0)
    bound = parse_instant(first["end"])
    reply = await search(run, *window(run), ("end", f"le{first['end']}"))
    slots = resources(searchset(reply, "slot search"), "Slot")
    late = [s for s in slots if parse_instant(s["end"]) > bound]
    expect(not late, f"end=le{first['end']}: expected slots ending by then, saw {_brief(late)}")
    expect(any(s.get("id") == first["id"] for s in slots), f"slot {first['id']} is missing")


@check(CHECKS, "slot-status-list", PAGE)
async def status_list(run: Run) -> None:
    """status=free,busy is accepted ("Servers must support searching for all statuses")."""
    first = run.slot(0)
    reply = await search(run, ("status", "free,busy"), *window(run))
    found = slot_ids(searchset(reply, "status=free,busy"))
    expect(first["id"] in found, f"free slot {first['id']} is missing from status=free,busy")


@check(CHECKS, "slot-service-parameter-path", PAGE)
async def service_path(run: Run) -> None:
    """schedule.actor:healthcareservice=ID (the page's own query) finds what service=ID does."""
    params = query(("schedule.actor:healthcareservice", run.options.service), *window(run))
    reply = await run.consumer.send(_SEARCH, "/Slot", params=params)
    found = slot_ids(searchset(reply, "schedule.actor:healthcareservice"))
    wanted = {str(s["id"]) for s in run.state.slots}
    expect(found == wanted, f"expected the {len(wanted)} slots of service=, saw {len(found)}")


async def _schedule_services(run: Run, service: str) -> list[str]:
    """Problems: slots of ``service`` whose Schedule names another HealthcareService."""
    reply = await search(run, *window(run), ("_include", "Slot:schedule"), service=service)
    bundle = searchset(reply, f"service={service}")
    schedules = {f"Schedule/{r.get('id')}": r for r in resources(bundle, "Schedule")}
    problems = []
    for slot in resources(bundle, "Slot"):
        schedule = schedules.get(reference(slot.get("schedule")) or "", {})
        actors = {reference(a) for a in schedule.get("actor") or []}
        if f"HealthcareService/{service}" not in actors:
            problems.append(f"slot {slot.get('id')} (schedule actors {sorted(map(str, actors))})")
    return problems


@check(CHECKS, "slot-service-filter", f"{PAGE}, fs_slotmanagement.md")
async def service_filter(run: Run) -> None:
    """Each service's slots are that service's: their Schedule names it as HealthcareService."""
    services = [run.options.service] + (
        [run.options.other_service] if run.options.other_service else []
    )
    for service in services:
        problems = await _schedule_services(run, service)
        expect(
            not problems,
            f"service={service}: expected HealthcareService/{service}, saw {problems[:2]}",
        )


@check(CHECKS, "slot-unknown-service-404", "er_overview.md")
async def unknown_service(run: Run) -> None:
    """A service id that matches no schedule: 404 and an OperationOutcome."""
    unknown = f"9999{random.randrange(10**8):08d}"
    reply = await search(run, *window(run), service=unknown)
    expect_refusal(reply, (404,), f"service={unknown}")


@check(CHECKS, "slot-unknown-parameter-ignored", f"{PAGE}, implementation_api.md")
async def unknown_parameter(run: Run) -> None:
    """Unrecognised search criteria SHALL be ignored: same slots, no error."""
    reply = await search(run, ("status", "free"), *window(run), ("selftest-unknown", "1"))
    found = slot_ids(searchset(reply, "with an unknown parameter"))
    wanted = {str(s["id"]) for s in run.state.slots}
    expect(found == wanted, f"expected the same {len(wanted)} slots, saw {len(found)}")


@check(CHECKS, "slot-invalid-parameter-400", f"{PAGE}, er_overview.md")
async def invalid_parameter(run: Run) -> None:
    """A start that is no dateTime: 400 and an OperationOutcome."""
    reply = await search(run, ("start", "ge2019-13-45T99:00:00+00:00"))
    expect_refusal(reply, (400,), "start=ge2019-13-45T99:00:00+00:00")


@check(CHECKS, "slot-window-in-past-400", "er_overview.md")
async def window_in_past(run: Run) -> None:
    """Both search times in the past: 400 and an OperationOutcome."""
    now = datetime.now(UTC)
    reply = await search(
        run,
        ("start", f"ge{instant(now - timedelta(days=3))}"),
        ("start", f"le{instant(now - timedelta(days=2))}"),
    )
    expect_refusal(reply, (400,), "a window wholly in the past")


@check(CHECKS, "slot-window-start-in-past-ok", "er_overview.md")
async def start_in_past(run: Run) -> None:
    """It is perfectly fine for the start of the window to be in the past."""
    now = datetime.now(UTC)
    reply = await search(run, ("start", f"ge{instant(now - timedelta(days=1))}"), window(run)[1])
    found = slot_ids(searchset(reply, "a window starting yesterday"))
    expect(run.slot(0)["id"] in found, f"slot {run.slot(0)['id']} is missing")
