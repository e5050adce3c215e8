"""Cancelling, version-aware: cancel_an_appointment.md, implementation_api.md, er_overview.md."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from gateway.security.interactions import Interaction
from gateway.selftest._fhir import expect_refusal
from gateway.selftest._http import Reply
from gateway.selftest._run import Booking, Check, Run, check, expect

CHECKS: list[Check] = []
CANCEL = "cancel_an_appointment.md"


async def latest(run: Run, appointment_id: str) -> Reply:
    """fs_xti.md: before updating, the consumer reads the latest version."""
    return await run.consumer.send(Interaction.READ, f"/Appointment/{appointment_id}")


def cancelled_copy(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource as read, with only ``status`` changed (the page's one change)."""
    body = copy.deepcopy(resource)
    body["status"] = "cancelled"
    return body


async def put(
    run: Run, appointment_id: str, body: dict[str, Any], headers: dict[str, str]
) -> Reply:
    reply = await run.consumer.send(
        Interaction.CANCEL, f"/Appointment/{appointment_id}", body=body, headers=headers
    )
    if reply.status == 200 and reply.resource().get("status") == "cancelled":
        run.state.to_cancel.pop(appointment_id, None)
    return reply


def _other_version(version: str) -> str:
    return str(int(version) + 1) if version.isdigit() else f"{version}-other"


async def _current(run: Run) -> tuple[Booking, dict[str, Any]]:
    booking = run.booking()
    reply = await latest(run, booking.id)
    expect(reply.status == 200, f"reading the appointment before the cancel: {reply.seen()}")
    expect(reply.resource().get("status") == "booked", "the appointment is no longer booked")
    return booking, reply.resource()


@check(CHECKS, "cancel-without-if-match-412", CANCEL)
async def without_if_match(run: Run) -> None:
    """An update without If-Match: 412 and an OperationOutcome (nothing cancelled)."""
    booking, current = await _current(run)
    reply = await put(run, booking.id, cancelled_copy(current), {"If-Match": ""})
    expect_refusal(reply, (412,), "a cancel without If-Match")


@check(CHECKS, "cancel-stale-if-match-409", f"{CANCEL}, implementation_api.md")
async def stale_if_match(run: Run) -> None:
    """If-Match naming another version than the current one: 409, nothing cancelled."""
    booking, current = await _current(run)
    other = _other_version(booking.version)
    reply = await put(run, booking.id, cancelled_copy(current), {"If-Match": f'W/"{other}"'})
    expect_refusal(reply, (409,), f'a cancel with If-Match W/"{other}" (current {booking.version})')


@check(CHECKS, "cancel-other-changes-422", CANCEL)
async def other_changes(run: Run) -> None:
    """Changing anything but status ("No other elements ... may be changed"): 422."""
    booking, current = await _current(run)
    body = cancelled_copy(current)
    body["description"] = f"{body.get('description', '')} (changed by the self-test)"
    reply = await put(run, booking.id, body, {"If-Match": f'W/"{booking.version}"'})
    expect_refusal(reply, (422,), "a cancel that also changes description")


@check(CHECKS, "cancel-200", CANCEL)
async def cancel(run: Run) -> None:
    """The read resource with status cancelled and If-Match: 200, Location, a new version."""
    booking, current = await _current(run)
    body = cancelled_copy(current)
    headers = {
        "If-Match": f'W/"{booking.version}"',
        "X-Request-ID": f"selftest-cancel-{uuid.uuid4()}",
    }
    reply = await put(run, booking.id, body, headers)
    run.state.cancel_sent = (body, headers)
    done = reply.resource()
    expect(
        reply.status == 200 and done.get("status") == "cancelled",
        f"expected 200 and a cancelled Appointment, saw {reply.seen()}",
    )
    run.state.cancelled = done
    version = str((done.get("meta") or {}).get("versionId") or "")
    expect(version and version != booking.version, f"expected a new versionId, saw {version!r}")
    location = reply.headers.get("Location", "")
    expect(
        location.startswith(("http://", "https://")) and f"/Appointment/{booking.id}" in location,
        f"expected an absolute Location of the Appointment, saw {location!r}",
    )


def _differences(before: Any, after: Any, at: str = "") -> list[str]:
    """Where two JSON values differ, as paths (``contained[2].status: 'busy' -> 'free'``)."""
    if isinstance(before, dict) and isinstance(after, dict):
        found = []
        for key in sorted(set(before) | set(after)):
            found += _differences(before.get(key), after.get(key), f"{at}.{key}" if at else key)
        return found
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        found = []
        for index, (b, a) in enumerate(zip(before, after, strict=True)):
            found += _differences(b, a, f"{at}[{index}]")
        return found
    return [] if before == after else [f"{at}: {before!r} -> {after!r}"]


@check(CHECKS, "cancel-changes-only-status", f"{CANCEL}, appointment.md")
async def only_status(run: Run) -> None:
    """The cancelled version equals the booked one but for status (and meta)."""
    booking = run.booking()
    expect(run.state.cancelled is not None, "needs the cancel of cancel-200")
    before = {k: v for k, v in booking.resource.items() if k not in ("meta", "status")}
    after = {k: v for k, v in (run.state.cancelled or {}).items() if k not in ("meta", "status")}
    changed = _differences(before, after)
    expect(not changed, f"expected only status to change, saw {'; '.join(changed[:3])}")


@check(CHECKS, "cancel-keeps-history", CANCEL)
async def keeps_history(run: Run) -> None:
    """Providers MUST store previous versions: the booked version is still readable."""
    booking = run.booking()
    expect(run.state.cancelled is not None, "needs the cancel of cancel-200")
    reply = await run.consumer.send(
        Interaction.READ, f"/Appointment/{booking.id}/_history/{booking.version}"
    )
    status = reply.resource().get("status")
    expect(
        reply.status == 200 and status == "booked",
        f"expected version {booking.version} still booked, saw {reply.seen()} status {status!r}",
    )


@check(CHECKS, "cancel-resent-request-id-409", "er_overview.md")
async def resent_cancel(run: Run) -> None:
    """The same cancel again with the same X-Request-ID: 409 (used previously)."""
    booking = run.booking()
    expect(run.state.cancel_sent is not None, "needs the cancel of cancel-200")
    assert run.state.cancel_sent is not None
    body, headers = run.state.cancel_sent
    reply = await put(run, booking.id, body, headers)
    expect_refusal(reply, (409,), "a resent cancel X-Request-ID")
