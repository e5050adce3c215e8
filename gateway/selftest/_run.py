"""What the checks share: the run's state, the check registry and ``expect``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.selftest._http import Consumer, Options, Reply

CheckBody = Callable[["Run"], Awaitable[None]]


class Unmet(Exception):
    """A check's expectation was not met; the message says what was expected and seen."""


def expect(condition: object, detail: str) -> None:
    """Fail the running check with ``detail`` unless ``condition`` holds."""
    if not condition:
        raise Unmet(detail)


@dataclass(frozen=True, slots=True)
class Check:
    """One conformance check: a short name, the spec page it comes from, and its body."""

    name: str
    page: str
    body: CheckBody


def check(registry: list[Check], name: str, page: str) -> Callable[[CheckBody], CheckBody]:
    """Register the decorated coroutine in ``registry`` (checks run in registration order)."""

    def register(body: CheckBody) -> CheckBody:
        registry.append(Check(name, page, body))
        return body

    return register


@dataclass(slots=True)
class Booking:
    """The appointment the run booked for the book/read/cancel checks."""

    id: str
    version: str
    resource: dict[str, Any]
    body: dict[str, Any]
    reply: Reply


@dataclass(slots=True)
class State:
    """What earlier checks found that later ones build on."""

    window: tuple[datetime, datetime]
    formats: list[str] = field(default_factory=list)
    #: Free slots of the service in the window, earliest first.
    slots: list[dict[str, Any]] = field(default_factory=list)
    #: The full colon-form _include chain's Bundle (search_slots.md).
    chain: dict[str, Any] | None = None
    booking: Booking | None = None
    cancelled: dict[str, Any] | None = None
    cancel_sent: tuple[dict[str, Any], dict[str, str]] | None = None
    #: Every appointment the run booked and has not cancelled: id -> where it was seen.
    to_cancel: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Run:
    """One self-test run against one target."""

    consumer: Consumer
    options: Options
    state: State

    def booked(self, reply: Reply, why: str) -> None:
        """Remember an appointment a 201 made, so the run cancels it whatever happens."""
        appointment_id = reply.resource().get("id")
        if reply.status == 201 and isinstance(appointment_id, str):
            self.state.to_cancel[appointment_id] = why

    def slot(self, index: int) -> dict[str, Any]:
        """The index-th free slot found, or an Unmet saying there were too few."""
        found = self.state.slots
        expect(
            len(found) > index,
            f"needs at least {index + 1} free slot(s) of service {self.options.service} "
            f"in the search window; found {len(found)}",
        )
        return found[index]

    def booking(self) -> Booking:
        expect(self.state.booking is not None, "needs the appointment book-201 was to make")
        assert self.state.booking is not None
        return self.state.booking
