"""A policy decision as the booking service acts on it: noted for the audit, and a
refusal raised as the door's proper answer (``ErrorKind.POLICY_*``)."""

from __future__ import annotations

from gateway.errors import ApiError, ErrorKind
from gateway.policy import scope
from gateway.policy.engine import Decision, Refusal


def require(decision: Decision) -> Decision:
    """Note the decision for the audit; raise ApiError naming the rule if it refuses."""
    scope.note(decision)
    if decision.allowed:
        return decision
    kind = (
        ErrorKind.POLICY_REASON_REQUIRED
        if decision.refusal is Refusal.REASON_REQUIRED
        else ErrorKind.POLICY_FORBIDDEN
    )
    raise ApiError(
        kind,
        f"booking policy rule '{decision.rule}' of service '{decision.service_id}' does not "
        f"allow this {decision.action}: {decision.why}",
    )
