"""The policy decision of one exchange, for the door's audit entry.

Each front door opens a scope around its request; the booking service notes the
decision it took there (the last one wins: a reschedule's booking over its cancel),
and the door writes it into the audit row (regions, rule, commissioner).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from gateway.policy.engine import Decision


@dataclass
class Noted:
    decision: Decision | None = None


_CURRENT: ContextVar[Noted | None] = ContextVar("policy_decision", default=None)


@contextmanager
def opened() -> Iterator[Noted]:
    noted = Noted()
    token = _CURRENT.set(noted)
    try:
        yield noted
    finally:
        _CURRENT.reset(token)


def note(decision: Decision) -> None:
    """Keep ``decision`` for this exchange's audit (a cancel never hides a booking's)."""
    noted = _CURRENT.get()
    if noted is not None and (noted.decision is None or decision.action != "cancel"):
        noted.decision = decision


def current() -> Decision | None:
    noted = _CURRENT.get()
    return noted.decision if noted else None


def audit_fields(noted: Noted | None = None) -> dict[str, Any]:
    """The decision noted (in ``noted``, else in the open scope) as the audit's columns."""
    decision = noted.decision if noted is not None else current()
    if decision is None or decision.rule == "unrestricted":
        return {}
    return {
        "consumer_region": decision.consumer_region,
        "provider_region": decision.provider_region,
        "policy_rule": decision.rule,
        "commissioner": decision.commissioner,
        "cross_border": decision.cross_border,
        "border_reason": decision.reason,
    }
