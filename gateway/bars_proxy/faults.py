"""Injected faults: the proxy's (and, through ``status``, anyone's) errors on demand.

``POST /_control/faults`` queues one ``Fault`` for the next ``times`` API requests that
match its method and path (relative to the API root; ``/Appointment`` matches
``/Appointment`` and ``/Appointment/{id}``; null matches any). Faults apply only to
requests that passed the proxy's own checks (token, ids, target), i.e. that would
otherwise be forwarded. The oldest matching fault is used first.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Kind(enum.StrEnum):
    TIMEOUT = "timeout"
    RATE_LIMIT = "rate-limit"
    UNAVAILABLE = "unavailable"
    UNKNOWN_TARGET = "unknown-target"
    SERVER_ERROR = "server-error"
    DROP_AFTER_FORWARD = "drop-after-forward"
    RESET_AFTER_FORWARD = "reset-after-forward"
    SLOW = "slow"
    STATUS = "status"


class Fault(BaseModel):
    """One queued fault, as ``POST /_control/faults`` takes it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fault: Kind
    times: int = Field(default=1, ge=1, le=10_000)
    method: str | None = None
    path: str | None = None
    #: ``slow``: seconds to wait before forwarding.
    delay_s: float = Field(default=0.0, ge=0, le=600)
    #: ``status``: the answer's HTTP status, its code, and an optional Retry-After.
    status: int | None = Field(default=None, ge=400, le=599)
    code: str | None = Field(default=None, pattern=r"^(REC|SEND|PROXY)_[A-Z_]+$")
    retry_after: int | None = Field(default=None, ge=0)
    #: ``status``: the FHIR issue code (default: one that fits the status).
    issue: str | None = None
    diagnostics: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _complete(self) -> Fault:
        if self.fault is Kind.STATUS and (self.status is None or self.code is None):
            raise ValueError("a 'status' fault needs 'status' (400-599) and 'code'")
        if self.fault is Kind.SLOW and self.delay_s <= 0:
            raise ValueError("a 'slow' fault needs 'delay_s' > 0")
        return self

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.path is None:
            return True
        wanted = self.path.rstrip("/")
        return path == wanted or path.startswith(wanted + "/")


@dataclass
class _Queued:
    fault: Fault
    left: int


@dataclass
class FaultQueue:
    """Queued faults, each spent one matching request at a time."""

    _queued: list[_Queued] = field(default_factory=list)

    def add(self, fault: Fault) -> None:
        self._queued.append(_Queued(fault, fault.times))

    def clear(self) -> None:
        self._queued.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The fault for this request (spending one of its times), or None."""
        for item in self._queued:
            if item.fault.matches(method, path):
                item.left -= 1
                if item.left <= 0:
                    self._queued.remove(item)
                return item.fault
        return None

    def pending(self) -> Iterator[dict[str, object]]:
        for item in self._queued:
            yield {**item.fault.model_dump(mode="json"), "left": item.left}
