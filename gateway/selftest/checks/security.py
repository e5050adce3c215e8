"""Refusals of fs_authentication.md: no token, expired, wrong audience, wrong scope."""

from __future__ import annotations

import time

from gateway.examples import booking_body
from gateway.security.interactions import Interaction, Scope
from gateway.selftest._fhir import expect_refusal
from gateway.selftest._http import NO_TOKEN
from gateway.selftest._run import Check, Run, check

CHECKS: list[Check] = []
AUTH = "fs_authentication.md"
SEARCH = Interaction.SLOT_SEARCH


async def _search_with(run: Run, token: str) -> None:
    reply = await run.consumer.send(
        SEARCH, "/Slot", params=f"service={run.options.service}", token=token
    )
    # search_slots.md: "no valid JWT ... or the supplied JWT failed validation" -> 403.
    expect_refusal(reply, (403,), "slot search")


@check(CHECKS, "jwt-missing-403", f"{AUTH}, search_slots.md")
async def missing(run: Run) -> None:
    """A request without a bearer token is refused with 403 and an OperationOutcome."""
    await _search_with(run, NO_TOKEN)


@check(CHECKS, "jwt-expired-403", AUTH)
async def expired(run: Run) -> None:
    """Providers SHALL reject requests with expired tokens."""
    issued = int(time.time()) - 3600
    await _search_with(run, run.consumer.token(Scope.SLOT_READ.value, iat=issued, exp=issued + 300))


@check(CHECKS, "jwt-wrong-audience-403", AUTH)
async def wrong_audience(run: Run) -> None:
    """aud is the provider's service root; a token for another provider is refused."""
    await _search_with(
        run, run.consumer.token(Scope.SLOT_READ.value, aud="https://other-provider.invalid/STU3/1")
    )


@check(CHECKS, "jwt-reason-not-directcare-403", AUTH)
async def wrong_reason(run: Run) -> None:
    """reason_for_request SHALL be directcare."""
    await _search_with(run, run.consumer.token(Scope.SLOT_READ.value, reason_for_request="audit"))


@check(CHECKS, "jwt-malformed-refused", f"{AUTH}, er_overview.md")
async def malformed(run: Run) -> None:
    """A token that is not a JWT: 400 "JWT badly constructed" (er_overview.md) or 403."""
    reply = await run.consumer.send(
        SEARCH, "/Slot", params=f"service={run.options.service}", token="not-a-jwt"
    )
    expect_refusal(reply, (400, 403), "Authorization: Bearer not-a-jwt")


@check(CHECKS, "jwt-wrong-scope-403", AUTH)
async def wrong_scope(run: Run) -> None:
    """A slot.read token cannot book: appointment.write is the scope for Book / Cancel."""
    body = booking_body(run.slot(0))
    reply = await run.consumer.send(
        Interaction.BOOK, "/Appointment", body=body, token=run.consumer.token(Scope.SLOT_READ.value)
    )
    run.booked(reply, "jwt-wrong-scope-403")
    expect_refusal(reply, (403,), "booking with organization/slot.read")
