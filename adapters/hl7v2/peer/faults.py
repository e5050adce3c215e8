"""Faults the reference PAS can be told to show, one message at a time.

Each fault applies to the next ``times`` messages whose MSH-9 matches
``message_type`` ("SRM^S01", "SQM", or "*"); ``times=0`` means until cleared.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class FaultKind(enum.StrEnum):
    #: wait ``delay_s`` before handling the message
    SLOW = "slow"
    #: answer AR with ERR 207 (application internal error) and do nothing
    NAK = "nak"
    #: do the work, answer nothing
    DROP_ACK = "drop-ack"
    #: do the work, answer with a frame that is not HL7
    GARBLED = "garbled"
    #: do the work, hold the answer until the next message arrives (or ``delay_s``)
    LATE_ACK = "late-ack"
    #: close the connection without reading the message further
    DISCONNECT = "disconnect"


@dataclass
class Fault:
    kind: FaultKind
    message_type: str = "*"
    times: int = 1
    delay_s: float = 0.0

    def matches(self, code: str, trigger: str) -> bool:
        wanted = self.message_type
        return wanted in ("*", code, f"{code}^{trigger}")

    @classmethod
    def parse(cls, text: str) -> Fault:
        """``kind[:message_type[:times[:delay_s]]]``, as the peer's --fault option takes it."""
        parts = text.split(":")
        try:
            kind = FaultKind(parts[0])
        except ValueError:
            allowed = ", ".join(k.value for k in FaultKind)
            raise ValueError(f"unknown fault '{parts[0]}' (one of {allowed})") from None
        message_type = parts[1] if len(parts) > 1 and parts[1] else "*"
        times = int(parts[2]) if len(parts) > 2 and parts[2] else 1
        delay = float(parts[3]) if len(parts) > 3 and parts[3] else 0.0
        return cls(kind, message_type, times, delay)


class FaultPlan:
    """The faults still to be shown, first match wins."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        self._faults.append(fault)

    def clear(self) -> None:
        self._faults.clear()

    def take(self, code: str, trigger: str) -> Fault | None:
        for fault in self._faults:
            if fault.matches(code, trigger):
                if fault.times == 1:
                    self._faults.remove(fault)
                elif fault.times > 1:
                    fault.times -= 1
                return fault
        return None
