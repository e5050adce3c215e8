"""A patient's current appointments: search_patient_appointments.md."""

from __future__ import annotations

from typing import Any

from gateway.examples import EXAMPLE_NHS_NUMBER
from gateway.security.interactions import Interaction
from gateway.selftest._fhir import NHS_NUMBER_SYSTEM, resources, searchset
from gateway.selftest._http import query
from gateway.selftest._run import Check, Run, check, expect

#: Run after booking, and after the cancel.
BOOKED: list[Check] = []
CANCELLED: list[Check] = []
PAGE = "search_patient_appointments.md"


async def _listing(run: Run) -> dict[str, Any]:
    # The page's own query string.
    params = query(
        (
            "Appointment.participant.actor:Patient.identifier",
            f"{NHS_NUMBER_SYSTEM}|{EXAMPLE_NHS_NUMBER}",
        )
    )
    reply = await run.consumer.send(Interaction.SEARCH_APPOINTMENTS, "/Appointment", params=params)
    return searchset(reply, "the patient's appointments")


@check(BOOKED, "patient-appointments-lists-booking", PAGE)
async def lists_booking(run: Run) -> None:
    """The patient's search finds the booked appointment, booked, at its version's fullUrl."""
    booking = run.booking()
    bundle = await _listing(run)
    found = [
        e for e in bundle.get("entry") or [] if (e.get("resource") or {}).get("id") == booking.id
    ]
    expect(found, f"expected Appointment/{booking.id} among {len(resources(bundle))} results")
    status = found[0]["resource"].get("status")
    expect(status == "booked", f"Appointment/{booking.id} is listed as {status!r}")
    # The page's response table: fullUrl is [base]/Appointment/[id]/_history/[version].
    tail = f"/Appointment/{booking.id}/_history/{booking.version}"
    full_url = str(found[0].get("fullUrl") or "")
    expect(full_url.endswith(tail), f"expected fullUrl …{tail}, saw {full_url!r}")


@check(CANCELLED, "patient-appointments-omits-cancelled", PAGE)
async def omits_cancelled(run: Run) -> None:
    """After the cancel the patient's current appointments no longer include it."""
    booking = run.booking()
    expect(run.state.cancelled is not None, "needs the cancel of cancel-200")
    bundle = await _listing(run)
    ids = {r.get("id") for r in resources(bundle, "Appointment")}
    expect(booking.id not in ids, f"cancelled Appointment/{booking.id} is still listed")
