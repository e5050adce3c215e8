"""The ITK receiver peer's fault injection: misbehave on purpose, for the next N reports.

Modes:

- ``no-ack``: store the report, answer HTTP 202 with no infrastructure ack;
- ``fault``: refuse the report with a SOAP fault carrying ToolkitErrorInfo ``code``;
- ``slow``: wait ``delay_s`` before handling the report;
- ``lost-response``: store the report, then hang up (the answer is lost);
- ``down``: hang up without reading the report;
- ``business-nack``: accept it (infrastructure ack) and post a negative business ack.

Set with ``--fault MODE[:code][@times]`` or ``PUT /_peer/fault`` with
``{"mode": ..., "code": ..., "times": ..., "delay_s": ...}``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field


class Mode(enum.StrEnum):
    NONE = "none"
    NO_ACK = "no-ack"
    FAULT = "fault"
    SLOW = "slow"
    LOST_RESPONSE = "lost-response"
    DOWN = "down"
    BUSINESS_NACK = "business-nack"


class FaultSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Mode
    times: int | None = Field(default=None, ge=1)
    delay_s: float = Field(default=30.0, ge=0, le=600)
    #: The ToolkitErrorInfo code of ``fault``, or the error code of ``business-nack``.
    code: str = Field(default="1000", pattern=r"^[A-Za-z0-9_-]{1,32}$")


def parse_cli(text: str) -> FaultSpec:
    """``MODE[:code][@times]``, e.g. ``fault:2200@1``, ``slow@2``, ``business-nack``."""
    head, _, times = text.partition("@")
    mode, _, code = head.partition(":")
    values: dict[str, object] = {"mode": mode}
    if code:
        values["code"] = code
    if times:
        values["times"] = int(times)
    return FaultSpec.model_validate(values)


@dataclass
class Switchboard:
    """The current fault and how many more reports it may spoil."""

    spec: FaultSpec | None = None
    left: int | None = None

    def set(self, spec: FaultSpec | None) -> None:
        self.spec = None if spec is None or spec.mode is Mode.NONE else spec
        self.left = None if self.spec is None else self.spec.times

    def take(self) -> FaultSpec | None:
        """The fault for this report, counting it down."""
        if self.spec is None:
            return None
        spec = self.spec
        if self.left is not None:
            self.left -= 1
            if self.left <= 0:
                self.set(None)
        return spec
