"""Fault injection for a reference peer: misbehave on purpose, on chosen operations.

Modes (protocol-neutral; each peer decides how a mode looks on its wire):

- ``down``: drop the connection without answering;
- ``slow``: wait ``delay_s`` before answering normally;
- ``5xx``: answer a server error;
- ``malformed``: answer 200 with a body that does not parse;
- ``fault``: answer a business error with ``code``;
- ``slot-taken``: refuse a booking as if someone else had just taken the slot;
- ``lost-response``: do the work, then drop the connection (the answer is lost);
- ``xxe``, ``billion-laughs``, ``oversized``: answer hostile XML (SOAP peer only).

A fault applies to the next ``times`` matching requests (all, if unset). Set it
with ``--fault`` on the command line or ``PUT /_peer/fault`` at run time.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field


class Mode(enum.StrEnum):
    NONE = "none"
    DOWN = "down"
    SLOW = "slow"
    SERVER_ERROR = "5xx"
    MALFORMED = "malformed"
    FAULT = "fault"
    SLOT_TAKEN = "slot-taken"
    LOST_RESPONSE = "lost-response"
    XXE = "xxe"
    BILLION_LAUGHS = "billion-laughs"
    OVERSIZED = "oversized"


class FaultSpec(BaseModel):
    """One fault, as the control endpoint and the command line take it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Mode
    #: Operations it applies to (e.g. "search", "book", "get", "cancel", "ping"); empty = all.
    operations: frozenset[str] = frozenset()
    times: int | None = Field(default=None, ge=1)
    delay_s: float = Field(default=30.0, ge=0, le=600)
    code: str = "CLINIC_CLOSED"


@dataclass
class Switchboard:
    """The peer's current fault and how many more requests it may spoil."""

    spec: FaultSpec | None = None
    left: int | None = None
    fired: dict[str, int] = field(default_factory=dict)

    def set(self, spec: FaultSpec | None) -> None:
        self.spec = None if spec is None or spec.mode is Mode.NONE else spec
        self.left = spec.times if spec is not None else None

    def take(self, operation: str) -> FaultSpec | None:
        """The fault to apply to this request, if any (consumes one of ``times``)."""
        spec = self.spec
        if spec is None or (spec.operations and operation not in spec.operations):
            return None
        if self.left is not None:
            self.left -= 1
            if self.left <= 0:
                self.spec = None
        self.fired[operation] = self.fired.get(operation, 0) + 1
        return spec


def parse_cli(text: str) -> FaultSpec:
    """``MODE[:op,op][@times]`` e.g. ``slow``, ``5xx:book``, ``lost-response:book@1``."""
    text, _, times = text.partition("@")
    mode, _, ops = text.partition(":")
    return FaultSpec(
        mode=Mode(mode),
        operations=frozenset(o for o in ops.split(",") if o),
        times=int(times) if times else None,
    )
